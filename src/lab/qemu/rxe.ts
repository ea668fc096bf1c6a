/**
 * Soft-RoCE in a lab VM, over the VM's transport: give the link (eth1) its address, add the
 * rxe device on it, wait for its port to be ACTIVE and read its GID table; and the verbs smoke
 * test between two VMs (rdma-core's ibv_ud_pingpong / ibv_rc_pingpong).
 *
 * Nothing here is journalled in the VM: its disk is a snapshot and its kernel state dies with
 * it, so the VM's teardown undoes all of it.
 */
import { QemuLabError } from '../../errors.js';
import type { RunResult, Transport } from '../transport.js';

export const RXE_DEVICE = 'rxe0';
export const RXE_NETDEV = 'eth1';
export const RXE_PORT = 1;
/** The pingpong tools' TCP port for exchanging QP numbers (their default). */
const PINGPONG_TCP_PORT = 18515;
const COMMAND_TIMEOUT_MS = 30_000;
const POLL_MS = 250;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** One port of `ibv_devinfo -d DEV` as the smoke test and the report need it. */
export interface DevinfoPort {
  port: number;
  /** e.g. "PORT_ACTIVE". */
  state: string;
  activeMtuBytes: number;
  linkLayer: string;
}

/** Reads the port blocks of `ibv_devinfo` (pure). */
export function parseIbvDevinfo(text: string): DevinfoPort[] {
  const ports: DevinfoPort[] = [];
  let cur: DevinfoPort | null = null;
  for (const line of text.split('\n')) {
    const [rawKey, ...rest] = line.split(':');
    const key = (rawKey ?? '').trim();
    const value = rest.join(':').trim();
    if (key === 'port') {
      cur = { port: Number(value), state: '', activeMtuBytes: 0, linkLayer: '' };
      ports.push(cur);
    } else if (cur && key === 'state') cur.state = value.split(/\s+/)[0] ?? '';
    else if (cur && key === 'active_mtu') cur.activeMtuBytes = Number(value.split(/\s+/)[0]);
    else if (cur && key === 'link_layer') cur.linkLayer = value;
  }
  return ports;
}

export interface GidEntry {
  index: number;
  /** As sysfs writes it: eight groups of four hex digits. */
  gid: string;
  /** "RoCE v2", "RoCE v1" or "IB/RoCE v1". */
  type: string;
}

/** Reads the "INDEX GID TYPE" lines the GID_TABLE_SCRIPT prints; unused (all-zero) entries are left out (pure). */
export function parseGidTable(text: string): GidEntry[] {
  const out: GidEntry[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\d+) ([0-9a-f:]{39}) (.+)$/.exec(line.trim());
    if (!m || /^[0:]+$/.test(m[2] as string)) continue;
    out.push({ index: Number(m[1]), gid: m[2] as string, type: (m[3] as string).trim() });
  }
  return out;
}

/**
 * $1 device, $2 port: "INDEX GID TYPE" for the first 16 entries of the GID table (rxe fills it
 * from index 0 up, one entry per address of its netdev; the table has 1024 entries, and a
 * process per entry takes seconds under TCG, so only shell builtins read it).
 */
const GID_TABLE_SCRIPT = `d=/sys/class/infiniband/$1/ports/$2
i=0
while [ "$i" -lt 16 ]; do
  read -r g < "$d/gids/$i" || break
  t=none; read -r t 2>/dev/null < "$d/gid_attrs/types/$i"
  echo "$i $g $t"
  i=$((i+1))
done`;

export interface RxePort {
  node: string;
  device: string;
  port: number;
  netdev: string;
  address: string;
  devinfo: DevinfoPort;
  gids: GidEntry[];
  /** Index of the RoCE v2 GID of the IPv4 address (::ffff:a.b.c.d): what the pingpong uses. */
  ipv4GidIndex: number;
  durationMs: number;
}

function ipv4MappedGid(ipv4: string): string {
  const hex = ipv4.split('.').map((o) => Number(o).toString(16).padStart(2, '0'));
  return `0000:0000:0000:0000:0000:ffff:${hex[0]}${hex[1]}:${hex[2]}${hex[3]}`;
}

async function checked(t: Transport, argv: readonly string[], what: string, timeoutMs = COMMAND_TIMEOUT_MS): Promise<RunResult> {
  const r = await t.run(argv, { timeoutMs });
  if (r.code !== 0) throw new QemuLabError(`${what} failed (exit ${r.code}): ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ')}`, 'The VM console log in the run directory may say more.', t.name);
  return r;
}

/**
 * Puts `cidr` on eth1, adds rxe0 on it (unless it is there), waits until ibv_devinfo reports
 * the port ACTIVE, and reads the GID table.
 */
export async function bringUpRxe(t: Transport, o: { cidr: string; timeoutMs?: number }): Promise<RxePort> {
  const started = performance.now();
  const deadline = Date.now() + (o.timeoutMs ?? 60_000);
  await checked(t, ['ip', 'addr', 'replace', o.cidr, 'dev', RXE_NETDEV], `ip addr replace ${o.cidr} dev ${RXE_NETDEV}`);
  await checked(t, ['ip', 'link', 'set', RXE_NETDEV, 'up'], `ip link set ${RXE_NETDEV} up`);
  const links = await checked(t, ['rdma', '-j', 'link', 'show'], 'rdma link show');
  const existing = (JSON.parse(links.stdout || '[]') as { ifname?: string }[]).some((l) => l.ifname === RXE_DEVICE);
  if (!existing) await checked(t, ['rdma', 'link', 'add', RXE_DEVICE, 'type', 'rxe', 'netdev', RXE_NETDEV], `rdma link add ${RXE_DEVICE} type rxe netdev ${RXE_NETDEV}`);
  let devinfo: DevinfoPort | undefined;
  for (;;) {
    const r = await t.run(['ibv_devinfo', '-d', RXE_DEVICE], { timeoutMs: COMMAND_TIMEOUT_MS });
    devinfo = parseIbvDevinfo(r.stdout).find((p) => p.port === RXE_PORT);
    if (devinfo?.state === 'PORT_ACTIVE') break;
    if (Date.now() > deadline) {
      throw new QemuLabError(`${RXE_DEVICE} port ${RXE_PORT} is ${devinfo?.state || 'not listed'} (ibv_devinfo exit ${r.code}: ${(r.stderr || r.stdout).trim().slice(0, 300)})`, `Is ${RXE_NETDEV} up with carrier in the VM?`, t.name);
    }
    await sleep(POLL_MS);
  }
  const table = await checked(t, ['sh', '-c', GID_TABLE_SCRIPT, 'gid-table', RXE_DEVICE, String(RXE_PORT)], 'reading the GID table');
  const gids = parseGidTable(table.stdout);
  const address = o.cidr.split('/')[0] as string;
  const want = ipv4MappedGid(address);
  const v4 = gids.find((g) => g.gid === want && g.type === 'RoCE v2');
  if (!v4) throw new QemuLabError(`${RXE_DEVICE} has no RoCE v2 GID for ${address} (table: ${gids.map((g) => `${g.index} ${g.gid} ${g.type}`).join('; ')})`, 'The GID appears when the address is on the netdev rxe uses.', t.name);
  return { node: t.name, device: RXE_DEVICE, port: RXE_PORT, netdev: RXE_NETDEV, address, devinfo, gids, ipv4GidIndex: v4.index, durationMs: performance.now() - started };
}

export type PingpongKind = 'ud' | 'rc';

export interface PingpongResult {
  kind: PingpongKind;
  server: string;
  client: string;
  iterations: number;
  /** The client's "N iters in S seconds = U usec/iter" figure. */
  usecPerIter: number;
  durationMs: number;
}

/**
 * One ibv_{ud,rc}_pingpong exchange: the server on `server`, the client on `client` connecting
 * to `serverAddress` (eth1). Both must exit 0 and report every iteration. The UD message is
 * kept under rxe's active MTU (1024); RC segments by itself.
 */
export async function pingpong(
  server: Transport,
  client: Transport,
  o: { kind: PingpongKind; serverAddress: string; gidIndex: number; iterations?: number; timeoutMs?: number },
): Promise<PingpongResult> {
  const started = performance.now();
  const iterations = o.iterations ?? 100;
  const timeoutS = Math.ceil((o.timeoutMs ?? 60_000) / 1000);
  const tool = `ibv_${o.kind}_pingpong`;
  const args = [tool, '-d', RXE_DEVICE, '-i', String(RXE_PORT), '-g', String(o.gidIndex), '-n', String(iterations), ...(o.kind === 'ud' ? ['-s', '512'] : [])];
  // `timeout` in the VM bounds a server whose client never comes.
  const srv = await server.spawn(['timeout', String(timeoutS), ...args]);
  try {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const ss = await server.run(['ss', '-Hltn', `sport = :${PINGPONG_TCP_PORT}`], { timeoutMs: COMMAND_TIMEOUT_MS });
      if (ss.stdout.includes('LISTEN')) break;
      if (Date.now() > deadline) throw new QemuLabError(`${tool} server does not listen on TCP ${PINGPONG_TCP_PORT}`, 'Run it by hand in the VM to see why.', server.name);
      await sleep(POLL_MS);
    }
    const c = await client.run(['timeout', String(timeoutS), ...args, o.serverAddress], { timeoutMs: (timeoutS + 10) * 1000 });
    const s = await srv.exited;
    const iters = /(\d+) iters in [\d.]+ seconds = ([\d.]+) usec\/iter/.exec(c.stdout);
    if (c.code !== 0 || s.code !== 0 || !iters || Number(iters[1]) !== iterations) {
      throw new QemuLabError(
        `${tool} failed: client exit ${c.code} (${(c.stderr || c.stdout).trim().split('\n').slice(-2).join(' | ')}), server exit ${s.code} (${(s.stderr || s.stdout).trim().split('\n').slice(-2).join(' | ')})`,
        'A UD test that hangs usually means the link drops frames: is net.core.rmem_default raised on the host?',
        client.name,
      );
    }
    return { kind: o.kind, server: server.name, client: client.name, iterations, usecPerIter: Number(iters[2]), durationMs: performance.now() - started };
  } finally {
    await srv.stop({ graceMs: 1_000 }).catch(() => undefined);
  }
}
