/**
 * Issue 4's benchmark: TCP throughput, ping latency and CPU per Gbit/s between two network
 * namespaces through the reference stack (two IpoibNodes on a simulated fabric in this
 * process), beside two baselines measured in the same run (not a test; root only; results go
 * in docs/PERFORMANCE.md):
 *
 *   sudo npx tsx bench/stack-throughput.ts [--seconds 4] [--rounds 3] [--sockbuf 4194304] [--only bridge]
 *
 * --sockbuf: SO_RCVBUF/SO_SNDBUF the bridge asks for (0: the system default); --only: run only
 * the paths whose name starts with this (bridge, stack, veth).
 *
 * Paths (each a pair of namespaces this run creates and deletes, also on failure):
 *   stack 2044   IpoibNode ib0 on the Default partition (broadcast group MTU 2048)
 *   stack 4092   IpoibNode ib0 on a partition with mtu=5 (group MTU 4096)
 *   bridge 2044  baseline (a): bench/baseline/tun-udp-bridge.c, one process per namespace, TUN
 *   bridge 4092  device <-> UDP on 127.0.0.1, 4-octet header, blocking, one packet per syscall
 *   veth 2044    a veth pair: the kernel alone
 * Load: one iperf3 TCP stream for --seconds (apt-get install iperf3), --rounds rounds per path,
 * median reported; latency: 200 pings 2 ms apart (iputils ping), average and 99th percentile.
 * Loss: iperf3's count of retransmitted segments, and the TX drops of the sending namespace's
 * device over the run (a TUN device drops when its queue is full).
 * CPU: utime + stime from /proc/<pid>/stat before and after each iperf3 run, of this process for
 * the stack (data planes, endpoints, control plane, fabric manager) and of the two bridge
 * processes for baseline (a). Kernel work done in other contexts (iperf3's sockets, softirqs
 * of veth) is in none of them; veth has no process at all, so it gets no CPU figure.
 * Every point is bounded (--seconds ≤ 8 plus setup, under 10 s); the run stops starting new
 * points after 170 s.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, release, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { FabricManager } from '../src/fabric/sim/fabric-manager.js';
import { SimHcaPort } from '../src/fabric/sim/provider.js';
import { openManagerEndpoint, openPortEndpoint, openTapWriter } from '../src/fabric/sim/endpoint-factory.js';
import { ensurePrivateDir, fabricPaths } from '../src/fabric/sim/run-dir.js';
import { parsePartitionsConf } from '../src/fabric/sim/partitions-conf.js';
import { IpoibNode } from '../src/ipoib/node.js';
import { nativeBuildInfo } from '../src/native/addon.js';
import { Netns, sweepStaleNamespaces, tunTestsSkipReason } from '../test/ipoib-native/netns-lab.js';

const IPERF_PORT = 5201;
const BUDGET_MS = 170_000;
const PINGS = 200;
/** Default: group MTU 2048 (IPoIB MTU 2044); big: mtu=5, group MTU 4096 (IPoIB MTU 4092). */
const PARTITIONS = `
Default=0x7fff, ipoib : ALL=full ;
big=0x8001, ipoib, mtu=5 : ALL=full ;
`;

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '4' }, rounds: { type: 'string', default: '3' }, sockbuf: { type: 'string', default: String(4 << 20) }, only: { type: 'string', default: '' } } });
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);
const sockbuf = Number(values.sockbuf);
if (!Number.isInteger(sockbuf) || sockbuf < 0 || sockbuf > 1 << 30) throw new RangeError('--sockbuf must be 0..2^30 octets');
if (!Number.isInteger(seconds) || seconds < 1 || seconds > 8) throw new RangeError('--seconds must be 1..8 (each point stays under 10 s)');
if (!Number.isInteger(rounds) || rounds < 1 || rounds > 5) throw new RangeError('--rounds must be 1..5 (the run stays under 3 min)');
const skip = tunTestsSkipReason();
if (skip) {
  console.error(`bench/stack-throughput: ${skip}`);
  process.exit(77);
}
for (const tool of [['iperf3', '--version'], ['ping', '-V'], ['cc', '--version']]) {
  if (spawnSync(tool[0]!, tool.slice(1), { stdio: 'ignore' }).error !== undefined) {
    console.error(`bench/stack-throughput: ${tool[0]!} is missing (apt-get install iperf3 iputils-ping gcc)`);
    process.exit(77);
  }
}
const started = Date.now();
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

interface Point {
  gbps: number;
  /** CPU seconds (user + system) of the attributed processes over the iperf3 run, and its wall time. */
  cpuS?: number;
  wallS: number;
  senderCpuPct: number;
  receiverCpuPct: number;
  /** TCP segments the sender retransmitted (iperf3), and packets the client side's tunnel device dropped on transmit. */
  retransmits: number;
  txDropped?: number;
}
interface Latency {
  avgUs: number;
  p99Us: number;
  lost: number;
}
interface PathResult {
  name: string;
  mtu: number;
  points: Point[];
  latency?: Latency;
  note?: string;
}

/** utime + stime of `pid` (all its threads) in seconds. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After "pid (comm) ": state is field 3, so utime (14) and stime (15) are at 11 and 12.
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const outOfTime = (): boolean => Date.now() - started > BUDGET_MS;

/** TX drops of `dev` in `ns` (a TUN device drops when its queue is full: it has no flow control). */
async function txDropped(ns: Netns, dev: string): Promise<number | undefined> {
  const r = await ns.exec(['ip', '-s', '-j', 'link', 'show', 'dev', dev], 5000);
  if (r.code !== 0) return undefined;
  const [link] = JSON.parse(r.stdout) as { stats64?: { tx?: { dropped?: number } } }[];
  return link?.stats64?.tx?.dropped;
}

/** One iperf3 TCP stream from `client` to `host` in `server`; CPU of `pids` around it, drops of `dev`. */
async function measure(server: Netns, client: Netns, host: string, pids: number[], dev: string): Promise<Point> {
  const srv = spawn('ip', ['netns', 'exec', server.name, 'iperf3', '-s', '-1', '-B', host, '-p', String(IPERF_PORT)], { stdio: 'ignore' });
  try {
    await sleep(300);
    const drops0 = await txDropped(client, dev);
    const cpu0 = pids.reduce((s, p) => s + cpuSeconds(p), 0);
    const t0 = process.hrtime.bigint();
    const cli = await client.exec(['iperf3', '-c', host, '-p', String(IPERF_PORT), '-t', String(seconds), '-J'], (seconds + 5) * 1000);
    const wallS = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu1 = pids.reduce((s, p) => s + cpuSeconds(p), 0);
    const drops1 = await txDropped(client, dev);
    if (cli.code !== 0) throw new Error(`iperf3 client failed (${String(cli.code)}): ${cli.stderr || cli.stdout}`);
    const j = JSON.parse(cli.stdout) as {
      end: { sum_sent: { retransmits?: number }; sum_received: { bits_per_second: number }; cpu_utilization_percent: { host_total: number; remote_total: number } };
    };
    return {
      gbps: j.end.sum_received.bits_per_second / 1e9,
      ...(pids.length > 0 ? { cpuS: cpu1 - cpu0 } : {}),
      wallS,
      senderCpuPct: j.end.cpu_utilization_percent.host_total,
      receiverCpuPct: j.end.cpu_utilization_percent.remote_total,
      retransmits: j.end.sum_sent.retransmits ?? 0,
      ...(drops0 !== undefined && drops1 !== undefined ? { txDropped: drops1 - drops0 } : {}),
    };
  } finally {
    srv.kill('SIGKILL');
  }
}

/** 200 pings 2 ms apart; per-reply times from ping's own lines. */
async function latency(client: Netns, host: string): Promise<Latency> {
  const r = await client.exec(['ping', '-4', '-n', '-c', String(PINGS), '-i', '0.002', '-W', '1', host], 9000);
  const times = [...r.stdout.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]) * 1000).sort((a, b) => a - b);
  if (times.length === 0) throw new Error(`no ping replies from ${host}: ${r.stdout} ${r.stderr}`);
  return {
    avgUs: times.reduce((s, t) => s + t, 0) / times.length,
    p99Us: times[Math.min(times.length - 1, Math.ceil(times.length * 0.99) - 1)]!,
    lost: PINGS - times.length,
  };
}

/** Latency, then the iperf3 rounds (skipped once the run's budget is spent). */
async function runPoints(name: string, mtu: number, server: Netns, client: Netns, host: string, pids: number[], dev: string): Promise<PathResult> {
  // Warm up: neighbour resolution (ARP through the stack's control plane) before timing.
  await client.exec(['ping', '-4', '-c', '3', '-i', '0.2', '-W', '2', host], 5000);
  const lat = await latency(client, host);
  const points: Point[] = [];
  for (let i = 0; i < rounds && !outOfTime(); i++) points.push(await measure(server, client, host, pids, dev));
  return { name, mtu, points, latency: lat };
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

/** (i) Two IpoibNodes on a fresh fabric in this process, on the partition `pkey`. */
async function stackPath(mtu: number, pkey: number): Promise<PathResult> {
  const base = mkdtempSync(path.join(tmpdir(), 'ipoib-lab-bench-'));
  const paths = fabricPaths('b', base);
  ensurePrivateDir(paths.dir);
  let mgr: FabricManager | undefined;
  const ports: SimHcaPort[] = [];
  const nodes: IpoibNode[] = [];
  try {
    mgr = await FabricManager.start({ paths, nodes: 2, partitions: parsePartitionsConf(PARTITIONS), openEndpoint: openManagerEndpoint, openTap: openTapWriter });
    for (const n of ['node1', 'node2']) ports.push(await SimHcaPort.open({ socketPath: paths.socket, node: n, openEndpoint: openPortEndpoint }));
    return await withNamespaces(['sa', 'sb'], async (nsA, nsB) => {
      try {
        nodes.push(await IpoibNode.open({ port: ports[0]!, ifname: 'ib0', netns: nsA.name, pkey, addresses: ['192.0.2.1/24'] }));
        nodes.push(await IpoibNode.open({ port: ports[1]!, ifname: 'ib0', netns: nsB.name, pkey, addresses: ['192.0.2.2/24'] }));
        const deadline = Date.now() + 8000;
        while (!nodes.every((n) => n.iface.carrier && n.plane.mtu === mtu)) {
          if (Date.now() > deadline) throw new Error(`no carrier at MTU ${mtu} (MTUs ${nodes.map((n) => n.plane.mtu).join(', ')})`);
          await sleep(20);
        }
        const result = await runPoints('reference stack', mtu, nsB, nsA, '192.0.2.2', [process.pid], 'ib0');
        const [a, b] = nodes.map((n) => n.plane.counters());
        // Frames per PostSendUd: how much each wake-up of the sending side's TX thread carried.
        return {
          ...result,
          note: `A: ${a!.tx_packets} frames in ${a!.tx_batches} sends (${(a!.tx_packets / Math.max(a!.tx_batches, 1)).toFixed(1)} per call), tx_errors ${a!.tx_errors}; B: rx_dropped ${b!.rx_dropped}`,
        };
      } finally {
        for (const n of nodes.reverse()) await n.close();
      }
    });
  } finally {
    for (const p of ports.reverse()) await p.close();
    await mgr?.close();
    rmSync(base, { recursive: true, force: true });
  }
}

/** Starts one bridge and resolves once its TUN device exists. */
async function startBridge(bin: string, ns: Netns, local: number, peer: number): Promise<ChildProcess> {
  const child = spawn(bin, [ns.name, 'tb0', String(local), String(peer)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the bridge did not start in 5 s')), 5000);
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      if (d.includes('ready')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the bridge exited (${String(code)}): ${err}`));
    });
  });
  return child;
}

/** (ii) Baseline (a): two bridge processes, namespace A's TUN <-> UDP loopback <-> namespace B's TUN. */
async function bridgePath(bin: string, mtu: number): Promise<PathResult> {
  return withNamespaces(['ua', 'ub'], async (nsA, nsB) => {
    const bridges: ChildProcess[] = [];
    try {
      bridges.push(await startBridge(bin, nsA, 47001, 47002));
      bridges.push(await startBridge(bin, nsB, 47002, 47001));
      for (const [ns, addr] of [[nsA, '192.0.2.1/24'], [nsB, '192.0.2.2/24']] as const) {
        await ns.ip('link', 'set', 'tb0', 'mtu', String(mtu));
        await ns.ip('addr', 'add', addr, 'dev', 'tb0');
        await ns.ip('link', 'set', 'tb0', 'up');
      }
      const pids = bridges.map((b) => b.pid!);
      return await runPoints('baseline (a) C bridge', mtu, nsB, nsA, '192.0.2.2', pids, 'tb0');
    } finally {
      for (const b of bridges) b.kill('SIGKILL');
    }
  });
}

/** (iii) A veth pair; its work is kernel time in softirq and iperf3's contexts, attributable to no process. */
async function vethPath(mtu: number): Promise<PathResult> {
  return withNamespaces(['va', 'vb'], async (nsA, nsB) => {
    // Created inside A with its peer placed in B at once: never visible in our namespace.
    await nsA.ip('link', 'add', 'v0', 'mtu', String(mtu), 'type', 'veth', 'peer', 'name', 'v1', 'mtu', String(mtu), 'netns', nsB.name);
    await nsA.ip('addr', 'add', '192.0.2.1/24', 'dev', 'v0');
    await nsB.ip('addr', 'add', '192.0.2.2/24', 'dev', 'v1');
    await nsA.ip('link', 'set', 'v0', 'up');
    await nsB.ip('link', 'set', 'v1', 'up');
    return { ...(await runPoints('veth', mtu, nsB, nsA, '192.0.2.2', [], 'v0')), note: 'kernel only; not attributable' };
  });
}

/** Builds the baseline into a temp dir (never into the tree). */
function buildBridge(dir: string): string {
  const src = fileURLToPath(new URL('./baseline/tun-udp-bridge.c', import.meta.url));
  const bin = path.join(dir, 'tun-udp-bridge');
  const r = spawnSync('cc', ['-O2', '-Wall', `-DBRIDGE_SOCKBUF=${sockbuf}`, '-o', bin, src, '-lpthread'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cc failed: ${r.stderr}`);
  return bin;
}

function median(points: Point[]): Point | undefined {
  const sorted = [...points].sort((x, y) => x.gbps - y.gbps);
  return sorted[Math.floor(sorted.length / 2)];
}
const fmt = (v: number | undefined, digits = 2): string => (v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(digits));
/** CPU seconds per Gbit/s: the attributed processes' CPU fraction (cores) divided by Gbit/s. */
const cpuPerGbit = (p: Point | undefined): number | undefined => (p?.cpuS === undefined || p.gbps <= 0 ? undefined : p.cpuS / p.wallS / p.gbps);

await sweepStaleNamespaces();
const buildDir = mkdtempSync(path.join(tmpdir(), 'ipoib-lab-bridge-'));
const results: PathResult[] = [];
try {
  const bin = buildBridge(buildDir);
  const iperfVersion = spawnSync('iperf3', ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0] ?? '?';
  console.log(`# stack-throughput: ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), Linux ${release()}, Node ${process.version}, native ${nativeBuildInfo().compiler} ${nativeBuildInfo().buildType}, ${iperfVersion}`);
  console.log(`# one iperf3 TCP stream, ${seconds} s per point, ${rounds} rounds per path (median); ${PINGS} pings at 2 ms; bridge socket buffers ${sockbuf > 0 ? String(sockbuf) : 'system default'}`);
  const plan: [string, () => Promise<PathResult>][] = [
    ['bridge 2044', () => bridgePath(bin, 2044)],
    ['stack 2044', () => stackPath(2044, 0x7fff)],
    ['bridge 4092', () => bridgePath(bin, 4092)],
    ['stack 4092', () => stackPath(4092, 0x8001)],
    ['veth 2044', () => vethPath(2044)],
  ];
  for (const [what, run] of plan) {
    if (!what.startsWith(values.only)) continue;
    if (outOfTime()) {
      console.log(`# ${what}: skipped, the run's ${BUDGET_MS / 1000} s budget is spent`);
      continue;
    }
    const t = Date.now();
    results.push(await run());
    console.log(`# ${what}: ${((Date.now() - t) / 1000).toFixed(1)} s`);
  }
} finally {
  rmSync(buildDir, { recursive: true, force: true });
}

const baseline = (mtu: number): Point | undefined => median(results.find((r) => r.name.startsWith('baseline') && r.mtu === mtu)?.points ?? []);
console.log('');
console.log('| path | MTU | Gbit/s (median) | rounds | vs (a) | CPU s per Gbit | vs (a) | attributed CPU % | iperf3 snd / rcv CPU % | ping avg / p99 µs (lost) | TCP retransmits / device TX drops |');
console.log('|---|---:|---:|---|---:|---:|---:|---:|---|---|---|');
for (const r of results) {
  const m = median(r.points);
  // veth and the stack at 4092 are compared with baseline (a) at their own MTU (veth: 2044).
  const b = baseline(r.mtu);
  const ratio = m && b ? m.gbps / b.gbps : undefined;
  const cpg = cpuPerGbit(m);
  const cpgB = cpuPerGbit(b);
  const cpuPct = m?.cpuS === undefined ? undefined : (m.cpuS / m.wallS) * 100;
  console.log(
    `| ${r.name} | ${r.mtu} | ${fmt(m?.gbps)} | ${r.points.map((p) => fmt(p.gbps)).join(', ')} | ${fmt(ratio)}× | ${r.name === 'veth' ? (r.note ?? '-') : fmt(cpg)} | ${
      cpg !== undefined && cpgB !== undefined ? `${fmt(cpg / cpgB)}×` : '-'
    } | ${fmt(cpuPct, 0)} | ${fmt(m?.senderCpuPct, 0)} / ${fmt(m?.receiverCpuPct, 0)} | ${fmt(r.latency?.avgUs, 0)} / ${fmt(r.latency?.p99Us, 0)} (${String(r.latency?.lost ?? '-')}) | ${String(m?.retransmits ?? '-')} / ${String(m?.txDropped ?? '-')} |`,
  );
}
for (const r of results) if (r.name === 'reference stack' && r.note) console.log(`# ${r.name} ${r.mtu}: ${r.note}`);
console.log(`# total ${((Date.now() - started) / 1000).toFixed(0)} s`);
