/**
 * UD packet rate of the simulated fabric's native endpoint between two ports, beside a raw UDP
 * loopback baseline measured in the same run (not a test; results go in docs/PERFORMANCE.md).
 *
 *   npx tsx bench/ud-rate.ts [--ms 1000] [--batch 64] [--rounds 3]
 *
 * For each payload size (64 and 2044 octets) it measures, each point for --ms of sending after
 * a 100 ms warm-up (each point stays under 3 s), the three paths one after the other, --rounds
 * times, and reports each path's median round: the paths see the same machine state (the
 * 2-core build machines are shared, so a baseline measured once can be off by a third):
 *   raw UDP     C++ sendmmsg on one socket -> recvmmsg on another (datagrams as large as the
 *               UD packet: headers + payload + pad + ICRC + VCRC), no per-packet work
 *   endpoint    C++ thread -> Endpoint::PostSendUd -> UDP -> receive thread (checks, CRCs) ->
 *               C++ QP handler: the path a native data plane (the TUN one) uses
 *   endpoint/JS SimEndpoint.postSendUd with arrays from JS -> ... -> onReceive batches in JS
 * Rates count packets received while the sender ran. Only 127.0.0.1 is used.
 */
import { cpus, release } from 'node:os';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { SimEndpoint } from '../src/fabric/sim/native-endpoint.js';
import { loadNative, nativeBuildInfo, type NativeBenchResult } from '../src/native/addon.js';

const QKEY = 0x0b1b;
const PAYLOADS = [64, 2044] as const;
/** LRH 8 + BTH 12 + DETH 8 + ICRC 4 + VCRC 2 around the padded payload. */
const udPacketBytes = (payload: number): number => 8 + 12 + 8 + Math.ceil(payload / 4) * 4 + 4 + 2;

const { values } = parseArgs({
  options: { ms: { type: 'string', default: '1000' }, batch: { type: 'string', default: '64' }, rounds: { type: 'string', default: '3' } },
});
const durationMs = Number(values.ms);
const batch = Number(values.batch);
const rounds = Number(values.rounds);
if (!Number.isInteger(rounds) || rounds < 1 || rounds > 9) throw new RangeError('--rounds must be 1..9');
if (!Number.isInteger(durationMs) || durationMs < 100 || durationMs > 2800) throw new RangeError('--ms must be 100..2800 (each point stays under 3 s)');
if (!Number.isInteger(batch) || batch < 1 || batch > 1024) throw new RangeError('--batch must be 1..1024');

const native = loadNative();

async function withPair<T>(fn: (a: SimEndpoint, b: SimEndpoint, qa: number, qb: number) => Promise<T>): Promise<T> {
  const gid = (lid: number): Buffer => Buffer.from(`fe800000000000000002c903000000${lid.toString(16).padStart(2, '0')}`, 'hex');
  const a = SimEndpoint.open({ lid: 1, gid: gid(1), mtuCode: 5, pkeys: [0xffff] });
  const b = SimEndpoint.open({ lid: 2, gid: gid(2), mtuCode: 5, pkeys: [0xffff] });
  try {
    a.setRoutes([{ lid: 2, udpPort: b.udpPort }], []);
    const qa = a.createUdQp({ qkey: QKEY, pkeyIndex: 0 });
    const qb = b.createUdQp({ qkey: QKEY, pkeyIndex: 0 });
    return await fn(a, b, qa, qb);
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
}

function rawUdp(payload: number): Promise<NativeBenchResult> {
  return native.benchRawUdp({ datagramBytes: udPacketBytes(payload), durationMs, batch });
}

function endpointNative(payload: number): Promise<NativeBenchResult> {
  return withPair((a, b, qa, qb) =>
    native.benchEndpointUd(a.nativeHandle, b.nativeHandle, { qpn: qa, dlid: 2, dqpn: qb, qkey: QKEY, payloadBytes: payload, durationMs, batch }),
  );
}

function endpointJs(payload: number): Promise<NativeBenchResult> {
  return withPair(async (a, b, qa, qb) => {
    let received = 0;
    b.onReceive((completions) => (received += completions.length));
    const sends = Array.from({ length: batch }, () => ({ dlid: 2, dqpn: qb, qkey: QKEY, payload: Buffer.alloc(payload, 0xa5) }));
    const run = async (ms: number): Promise<number> => {
      let sent = 0;
      const end = performance.now() + ms;
      while (performance.now() < end) {
        for (let i = 0; i < 8; i++) {
          a.postSendUd(qa, sends);
          sent += batch;
        }
        await yieldToLoop(); // lets the receive batches in
      }
      return sent;
    };
    await run(100); // warm-up
    const receivedAtStart = received;
    const started = performance.now();
    const sent = await run(durationMs);
    const seconds = (performance.now() - started) / 1000;
    return { sent, received: received - receivedAtStart, seconds };
  });
}

const rate = (r: NativeBenchResult): number => r.received / r.seconds;
const kpps = (r: NativeBenchResult): string => (rate(r) / 1000).toFixed(0).padStart(7);
const gbps = (r: NativeBenchResult, bytes: number): string => ((rate(r) * bytes * 8) / 1e9).toFixed(2).padStart(6);
const lossPct = (r: NativeBenchResult): string => `${((1 - Math.min(r.received, r.sent) / Math.max(1, r.sent)) * 100).toFixed(1)}%`.padStart(6);

const info = nativeBuildInfo();
const cpu = cpus();
console.log(`machine: ${cpu.length} x ${cpu[0]?.model ?? 'unknown CPU'}, Linux ${release()}, Node ${process.version}, ${info.compiler} ${info.buildType}`);
console.log(`each point: ${durationMs} ms of sending after 100 ms warm-up, batches of ${batch}, median of ${rounds} rounds, 127.0.0.1 only\n`);
console.log('payload  path          wire B    kpps   Gbit/s  unreceived  vs raw');

/** The round with the median rate. */
function median(results: NativeBenchResult[]): NativeBenchResult {
  const sorted = [...results].sort((x, y) => rate(x) - rate(y));
  const m = sorted[Math.floor(sorted.length / 2)];
  if (m === undefined) throw new Error('no rounds');
  return m;
}

for (const payload of PAYLOADS) {
  const bytes = udPacketBytes(payload);
  const runs: Record<'raw' | 'ep' | 'js', NativeBenchResult[]> = { raw: [], ep: [], js: [] };
  for (let round = 0; round < rounds; round++) {
    runs.raw.push(await rawUdp(payload));
    runs.ep.push(await endpointNative(payload));
    runs.js.push(await endpointJs(payload));
  }
  const raw = median(runs.raw);
  const ep = median(runs.ep);
  const js = median(runs.js);
  const row = (name: string, r: NativeBenchResult): void =>
    console.log(
      `${String(payload).padStart(7)}  ${name.padEnd(12)} ${String(bytes).padStart(7)} ${kpps(r)}  ${gbps(r, bytes)}  ${lossPct(r).padStart(10)}  ${(
        (rate(r) / rate(raw)) * 100
      ).toFixed(0).padStart(5)}%`,
    );
  row('raw UDP', raw);
  row('endpoint', ep);
  row('endpoint/JS', js);
}
