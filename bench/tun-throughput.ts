/**
 * TCP throughput between two network namespaces through the native TUN data plane at MTU 2044,
 * beside a veth pair between two namespaces measured in the same run (not a test; root only;
 * results go in docs/PERFORMANCE.md).
 *
 *   sudo npx tsx bench/tun-throughput.ts [--seconds 4] [--rounds 3]
 *
 * Paths, each run --rounds times one after the other (median round reported; each point is
 * bounded at --seconds of sending plus setup, under 10 s):
 *   tun   namespace A's kernel -> TUN "ib0" -> data plane TX thread -> simulated-fabric UD
 *         (127.0.0.1 UDP) -> endpoint receive thread (writes to the TUN) -> TUN "ib0" -> namespace B
 *   veth  a veth pair between two other namespaces, MTU 2044 (the kernel-only baseline)
 * The load is iperf3 (one TCP stream) when installed (`apt-get install iperf3`), else a Node
 * TCP sender/receiver pair. CPU: this process's (the data plane's threads and the fabric
 * endpoints) per Gbit/s, from process.cpuUsage(); iperf3 reports its own sender and receiver.
 * Only namespaces this run creates are used, and they are deleted at the end, also on failure.
 */
import { spawn, spawnSync } from 'node:child_process';
import { cpus, release } from 'node:os';
import { parseArgs } from 'node:util';
import { TunDataPlane, type TunCounters } from '../src/ipoib/native/tun-data-plane.js';
import { nativeBuildInfo } from '../src/native/addon.js';
import { BROADCAST_MGID, BROADCAST_MLID, QKEY, withPorts } from '../test/ipoib-native/fabric-ports.js';
import { Netns, type RunResult, sweepStaleNamespaces, tunTestsSkipReason } from '../test/ipoib-native/netns-lab.js';

const MTU = 2044;
const PORT = 5201;

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '4' }, rounds: { type: 'string', default: '3' } } });
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);
if (!Number.isInteger(seconds) || seconds < 1 || seconds > 8) throw new RangeError('--seconds must be 1..8 (each point stays under 10 s)');
if (!Number.isInteger(rounds) || rounds < 1 || rounds > 9) throw new RangeError('--rounds must be 1..9');
const skip = tunTestsSkipReason();
if (skip) {
  console.error(`bench/tun-throughput: ${skip}`);
  process.exit(77);
}
const haveIperf = spawnSync('iperf3', ['--version'], { stdio: 'ignore' }).error === undefined;

interface Point {
  gbps: number;
  /** This process's CPU (user + system) while the point ran, in % of one core. */
  procCpuPct: number;
  /** iperf3's own: sender and receiver CPU in % (undefined with the Node load). */
  senderCpuPct?: number;
  receiverCpuPct?: number;
}

/** Runs argv in `ns` in the background; resolves when it exits. */
function background(ns: Netns, argv: string[]): { done: Promise<RunResult>; kill: () => void } {
  const child = spawn('ip', ['netns', 'exec', ns.name, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const done = new Promise<RunResult>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
  return { done, kill: () => child.kill('SIGKILL') };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The Node load: the receiver counts octets until the sender stops after `seconds`. */
const NODE_SINK = `
let n = 0; let first = 0; let last = 0;
const srv = require('net').createServer((s) => {
  s.on('data', (d) => { if (!first) first = process.hrtime.bigint(); n += d.length; last = process.hrtime.bigint(); });
  s.on('end', () => { console.log(JSON.stringify({ bytes: n, seconds: Number(last - first) / 1e9 })); srv.close(); });
});
srv.listen(${PORT}, process.argv[1]);`;
const NODE_SOURCE = `
const chunk = Buffer.alloc(1 << 20, 0xa5);
const s = require('net').connect(${PORT}, process.argv[1], () => {
  const stop = Date.now() + Number(process.argv[2]) * 1000;
  const pump = () => { while (Date.now() < stop) { if (!s.write(chunk)) return s.once('drain', pump); } s.end(); };
  pump();
});`;

/** One TCP stream from `client` to `server`'s `host` for `seconds`. */
async function measure(server: Netns, client: Netns, host: string): Promise<Point> {
  const srv = haveIperf
    ? background(server, ['iperf3', '-s', '-1', '-B', host, '-p', String(PORT)])
    : background(server, [process.execPath, '-e', NODE_SINK, host]);
  try {
    await sleep(400);
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    const cli = haveIperf
      ? await client.exec(['iperf3', '-c', host, '-p', String(PORT), '-t', String(seconds), '-J'], (seconds + 5) * 1000)
      : await client.exec([process.execPath, '-e', NODE_SOURCE, host, String(seconds)], (seconds + 5) * 1000);
    const wallUs = Number(process.hrtime.bigint() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const procCpuPct = ((cpu.user + cpu.system) / wallUs) * 100;
    if (cli.code !== 0) throw new Error(`load client failed (${String(cli.code)}): ${cli.stderr || cli.stdout}`);
    if (haveIperf) {
      const j = JSON.parse(cli.stdout) as {
        end: { sum_received: { bits_per_second: number }; cpu_utilization_percent: { host_total: number; remote_total: number } };
      };
      return {
        gbps: j.end.sum_received.bits_per_second / 1e9,
        procCpuPct,
        senderCpuPct: j.end.cpu_utilization_percent.host_total,
        receiverCpuPct: j.end.cpu_utilization_percent.remote_total,
      };
    }
    const r = await srv.done;
    const got = JSON.parse(r.stdout.trim()) as { bytes: number; seconds: number };
    return { gbps: (got.bytes * 8) / got.seconds / 1e9, procCpuPct };
  } finally {
    srv.kill();
  }
}

async function withNamespaces<T>(tags: [string, string], body: (a: Netns, b: Netns) => Promise<T>): Promise<T> {
  const made: Netns[] = [];
  try {
    made.push(await Netns.create(tags[0]));
    made.push(await Netns.create(tags[1]));
    return await body(made[0]!, made[1]!);
  } finally {
    for (const ns of made.reverse()) await ns.delete();
  }
}

/** The TUN path: rounds of measure() through two data planes; also their counters at the end. */
async function tunPath(): Promise<{ points: Point[]; counters: TunCounters[] }> {
  return withNamespaces(['ba', 'bb'], (nsA, nsB) =>
    withPorts([2, 3], [{ mlid: BROADCAST_MLID, mgid: BROADCAST_MGID, members: [2, 3] }], async ([a, b]) => {
      const planes: TunDataPlane[] = [];
      try {
        const common = { ifname: 'ib0', qkey: QKEY, pkeyIndex: 0, mtu: MTU };
        planes.push(TunDataPlane.open({ ...common, netns: nsA.name, endpoint: a!.ep, qpn: a!.qpn }));
        planes.push(TunDataPlane.open({ ...common, netns: nsB.name, endpoint: b!.ep, qpn: b!.qpn }));
        await nsA.ip('addr', 'add', '192.0.2.1/24', 'dev', 'ib0');
        await nsB.ip('addr', 'add', '192.0.2.2/24', 'dev', 'ib0');
        planes[0]!.setNeighbour('192.0.2.2', { dlid: 3, dqpn: b!.qpn });
        planes[1]!.setNeighbour('192.0.2.1', { dlid: 2, dqpn: a!.qpn });
        const points: Point[] = [];
        for (let i = 0; i < rounds; i++) points.push(await measure(nsB, nsA, '192.0.2.2'));
        return { points, counters: planes.map((p) => p.counters()) };
      } finally {
        for (const p of planes.reverse()) await p.close();
      }
    }),
  );
}

async function vethPath(): Promise<Point[]> {
  return withNamespaces(['vc', 'vd'], async (nsC, nsD) => {
    // Created inside C with its peer placed in D at once: never visible in our namespace.
    await nsC.ip('link', 'add', 'v0', 'mtu', String(MTU), 'type', 'veth', 'peer', 'name', 'v1', 'mtu', String(MTU), 'netns', nsD.name);
    await nsC.ip('addr', 'add', '192.0.2.1/24', 'dev', 'v0');
    await nsD.ip('addr', 'add', '192.0.2.2/24', 'dev', 'v1');
    await nsC.ip('link', 'set', 'v0', 'up');
    await nsD.ip('link', 'set', 'v1', 'up');
    const points: Point[] = [];
    for (let i = 0; i < rounds; i++) points.push(await measure(nsD, nsC, '192.0.2.2'));
    return points;
  });
}

function median(points: Point[]): Point {
  const sorted = [...points].sort((x, y) => x.gbps - y.gbps);
  return sorted[Math.floor(sorted.length / 2)]!;
}

const fmt = (v: number | undefined, digits = 1): string => (v === undefined ? '-' : v.toFixed(digits));

await sweepStaleNamespaces();
const info = nativeBuildInfo();
console.log(`# tun-throughput: ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), Linux ${release()}, Node ${process.version}, ${info.compiler}, ${info.buildType}`);
console.log(`# load: ${haveIperf ? 'iperf3, one TCP stream' : 'Node TCP sender/receiver (iperf3 not installed)'}; ${seconds} s per point, ${rounds} rounds, MTU ${MTU}`);
const tun = await tunPath();
const veth = await vethPath();
console.log('| path | Gbit/s (median) | all rounds | this process CPU % | its CPU s per Gbit | iperf3 sender / receiver CPU % |');
console.log('|---|---:|---|---:|---:|---|');
for (const [name, points] of [['TUN data plane', tun.points], ['veth', veth]] as const) {
  const m = median(points);
  const perGbit = m.gbps > 0 ? m.procCpuPct / 100 / m.gbps : 0;
  console.log(
    `| ${name} | ${fmt(m.gbps, 2)} | ${points.map((p) => fmt(p.gbps, 2)).join(', ')} | ${fmt(m.procCpuPct)} | ${fmt(perGbit, 2)} | ${fmt(m.senderCpuPct)} / ${fmt(m.receiverCpuPct)} |`,
  );
}
const [ca, cb] = tun.counters;
if (ca && cb) {
  console.log(
    `# data plane A: tx_packets ${ca.tx_packets} in ${ca.tx_batches} batches (${fmt(ca.tx_packets / Math.max(ca.tx_batches, 1))} per PostSendUd), ` +
      `tx_errors ${ca.tx_errors}, rx_dropped ${ca.rx_dropped}; B: rx_packets ${cb.rx_packets}, rx_dropped ${cb.rx_dropped} ` +
      `(host write ${cb.rx_drop_host_write})`,
  );
}
console.log(`# TUN / veth: ${fmt((median(tun.points).gbps / median(veth).gbps) * 100, 0)} %`);
