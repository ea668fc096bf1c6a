/**
 * RC throughput through the simulated fabric (not a test; results go in docs/PERFORMANCE.md):
 * 65,524-octet messages (the IPoIB-CM maximum) over one RC connection between two ports of a
 * fabric manager running in this process, through a 4096-octet path MTU, at 0 % and 1 % loss
 * (the manager's `fault` op on both ports, seeded), beside a raw UDP loopback baseline measured
 * in the same run.
 *
 *   npx tsx bench/rc-fabric.ts [--ms 2000] [--window 32] [--rounds 3] [--json]
 *
 * What runs where:
 *   raw UDP   C++ sendmmsg on one socket -> recvmmsg on another, 4096-octet datagrams, batches
 *             of 64 (benchRawUdp, the same socket code the endpoints use), reported in Gbit/s
 *             of datagram octets
 *   RC        HcaPort.connectRc, then RcQp.send from JS with `--window` messages outstanding;
 *             segmentation, ACKs, retransmission and timers in the endpoints' C++ threads;
 *             each message is counted when the passive side's onMessage gets it (its length
 *             and sequence number checked), reported in Gbit/s of message payload
 * Each point runs --ms (at most 2800) after a 200 ms warm-up; the paths run one after the
 * other, --rounds times, and each path's median round is reported. Only 127.0.0.1 is used.
 */
import { cpus, release, tmpdir } from 'node:os';
import { mkdtempSync, rmSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { RcQp } from '../src/fabric/hca.js';
import { openManagerEndpoint, openPortEndpoint, openTapWriter } from '../src/fabric/sim/endpoint-factory.js';
import { FabricClient } from '../src/fabric/sim/fabric-client.js';
import { FabricManager } from '../src/fabric/sim/fabric-manager.js';
import { parsePartitionsConf } from '../src/fabric/sim/partitions-conf.js';
import { SimHcaPort } from '../src/fabric/sim/provider.js';
import { ensurePrivateDir, fabricPaths } from '../src/fabric/sim/run-dir.js';
import { loadNative, nativeBuildInfo } from '../src/native/addon.js';
import { IPOIB_CM_MAX_MESSAGE_BYTES } from '../src/wire/constants.js';

const LOSS_RATES = [0, 0.01] as const;
const DATAGRAM_BYTES = 4096;
const WARMUP_MS = 200;
/** Local ACK timeout of the bench's QPs: 4.096 µs × 2^12 ≈ 17 ms (the default, 14, is 67 ms). */
const ACK_TIMEOUT_EXP = 12;

const { values } = parseArgs({
  options: {
    ms: { type: 'string', default: '2000' },
    window: { type: 'string', default: '32' },
    rounds: { type: 'string', default: '3' },
    json: { type: 'boolean', default: false },
  },
});
const durationMs = Number(values.ms);
const window = Number(values.window);
const rounds = Number(values.rounds);
if (!Number.isInteger(durationMs) || durationMs < 100 || durationMs > 2800) throw new RangeError('--ms must be 100..2800 (each point stays under 3 s)');
if (!Number.isInteger(window) || window < 1 || window > 1024) throw new RangeError('--window must be 1..1024');
if (!Number.isInteger(rounds) || rounds < 1 || rounds > 9) throw new RangeError('--rounds must be 1..9');

interface Point {
  path: string;
  lossRate: number;
  gbitPerSecond: number;
  messagesPerSecond?: number;
  retransmittedShare?: number;
  timeouts?: number;
  cpuSeconds: number;
}

const native = loadNative();

async function rawUdp(): Promise<Point> {
  const cpu = process.cpuUsage();
  const r = await native.benchRawUdp({ datagramBytes: DATAGRAM_BYTES, durationMs, batch: 64 });
  const used = process.cpuUsage(cpu);
  return { path: 'raw UDP', lossRate: 0, gbitPerSecond: (r.received * DATAGRAM_BYTES * 8) / r.seconds / 1e9, cpuSeconds: (used.user + used.system) / 1e6 };
}

/** A fabric of two ports and one RC connection, for the duration of `fn`. */
async function withConnection<T>(fn: (o: { active: RcQp; passive: RcQp; a: SimHcaPort; ctl: FabricClient }) => Promise<T>): Promise<T> {
  const base = mkdtempSync(path.join(tmpdir(), 'ipoib-lab-bench-rc-'));
  const paths = fabricPaths('bench', base);
  ensurePrivateDir(paths.dir);
  const mgr = await FabricManager.start({
    paths,
    nodes: 2,
    partitions: parsePartitionsConf('Default=0x7fff, ipoib : ALL=full ;\n'),
    openEndpoint: openManagerEndpoint,
    openTap: openTapWriter,
  });
  const ports: SimHcaPort[] = [];
  const ctl = await FabricClient.connect(paths.socket);
  try {
    for (const node of ['node1', 'node2']) ports.push(await SimHcaPort.open({ socketPath: paths.socket, node, openEndpoint: openPortEndpoint }));
    const [a, b] = ports as [SimHcaPort, SimHcaPort];
    const listener = b.listenRc(0x1000_0000_00be_0c00n, () => ({ accept: true, ackTimeoutExp: ACK_TIMEOUT_EXP }));
    const passive = new Promise<RcQp>((resolve) => listener.onConnection(resolve));
    const active = await a.connectRc({ serviceId: listener.serviceId, dgid: b.attributes().gid, dlid: b.attributes().lid, ackTimeoutExp: ACK_TIMEOUT_EXP });
    return await fn({ active, passive: await passive, a, ctl });
  } finally {
    ctl.close();
    for (const p of ports) await p.close();
    await mgr.close();
    rmSync(base, { recursive: true, force: true });
  }
}

function rc(lossRate: number): Promise<Point> {
  return withConnection(async ({ active, passive, a, ctl }) => {
    if (lossRate > 0) {
      for (const node of ['node1', 'node2']) await ctl.request({ op: 'fault', node, lossRate, seed: 12345 });
      await new Promise((r) => setTimeout(r, 50)); // the pushes reach the ports
    }
    const template = Buffer.alloc(IPOIB_CM_MAX_MESSAGE_BYTES, 0xa5);
    let nextSeq = 0;
    let expected = 0;
    let received = 0;
    let problem: string | undefined;
    passive.onMessage((m) => {
      if (m.length !== IPOIB_CM_MAX_MESSAGE_BYTES || m.readUInt32BE(0) !== expected) {
        problem ??= `message ${expected} arrived as ${m.length} octets with sequence ${m.readUInt32BE(0)}`;
      }
      expected++;
      received++;
    });
    let stopping = false;
    let failure: unknown;
    // Keep `window` messages outstanding: each completion posts the next.
    const pump = (): void => {
      if (stopping) return;
      const m = Buffer.from(template);
      m.writeUInt32BE(nextSeq++ >>> 0, 0);
      active.send(m).then(pump, (e: unknown) => {
        failure ??= e;
      });
    };
    for (let i = 0; i < window; i++) pump();
    await new Promise((r) => setTimeout(r, WARMUP_MS));
    const statsBefore = a.rcQpInfo(active.qpn).stats;
    const receivedBefore = received;
    const cpu = process.cpuUsage();
    const started = performance.now();
    await new Promise((r) => setTimeout(r, durationMs));
    const seconds = (performance.now() - started) / 1000;
    const used = process.cpuUsage(cpu);
    const messages = received - receivedBefore;
    const statsAfter = a.rcQpInfo(active.qpn).stats;
    stopping = true;
    if (failure !== undefined) throw new Error(`a send failed at loss ${lossRate}: ${String(failure)}`);
    if (problem !== undefined) throw new Error(`at loss ${lossRate}: ${problem}`);
    const sent = (statsAfter.packetsSent ?? 0) - (statsBefore.packetsSent ?? 0);
    const resent = (statsAfter.retransmissions ?? 0) - (statsBefore.retransmissions ?? 0);
    return {
      path: 'RC',
      lossRate,
      gbitPerSecond: (messages * IPOIB_CM_MAX_MESSAGE_BYTES * 8) / seconds / 1e9,
      messagesPerSecond: messages / seconds,
      retransmittedShare: sent > 0 ? resent / sent : 0,
      timeouts: (statsAfter.timeouts ?? 0) - (statsBefore.timeouts ?? 0),
      cpuSeconds: (used.user + used.system) / 1e6,
    };
  });
}

function median(points: Point[]): Point {
  const sorted = [...points].sort((x, y) => x.gbitPerSecond - y.gbitPerSecond);
  const m = sorted[Math.floor(sorted.length / 2)];
  if (m === undefined) throw new Error('no rounds');
  return m;
}

const runs: Point[][] = [[], ...LOSS_RATES.map(() => [])];
for (let round = 0; round < rounds; round++) {
  runs[0]!.push(await rawUdp());
  for (const [i, loss] of LOSS_RATES.entries()) runs[i + 1]!.push(await rc(loss));
}
const results = runs.map(median);
const raw = results[0]!;

const info = nativeBuildInfo();
const cpu = cpus();
const machine = `${cpu.length} x ${cpu[0]?.model ?? 'unknown CPU'}, Linux ${release()}, Node ${process.version}, ${info.compiler} ${info.buildType}`;
if (values.json) {
  console.log(JSON.stringify({ machine, durationMs, window, rounds, messageBytes: IPOIB_CM_MAX_MESSAGE_BYTES, points: results }, null, 2));
} else {
  console.log(`machine: ${machine}`);
  console.log(`each point: ${durationMs} ms after ${WARMUP_MS} ms warm-up, median of ${rounds} rounds; RC: ${IPOIB_CM_MAX_MESSAGE_BYTES}-octet messages, 4096-octet path MTU, ${window} outstanding, ACK timeout 2^${ACK_TIMEOUT_EXP}; 127.0.0.1 only\n`);
  console.log('path      loss   Gbit/s   messages/s   retransmitted   timeouts   CPU s   vs raw');
  for (const p of results) {
    console.log(
      [
        p.path.padEnd(8),
        `${(p.lossRate * 100).toFixed(0)} %`.padStart(5),
        p.gbitPerSecond.toFixed(2).padStart(8),
        (p.messagesPerSecond === undefined ? '-' : p.messagesPerSecond.toFixed(0)).padStart(12),
        (p.retransmittedShare === undefined ? '-' : `${(p.retransmittedShare * 100).toFixed(1)} %`).padStart(15),
        (p.timeouts === undefined ? '-' : String(p.timeouts)).padStart(10),
        p.cpuSeconds.toFixed(2).padStart(7),
        `${((p.gbitPerSecond / raw.gbitPerSecond) * 100).toFixed(0)} %`.padStart(8),
      ].join(' '),
    );
  }
}
