/**
 * What a lab node can do, found out by looking at it: the capability names the suites gate on
 * (one table, each with its meaning and how it is probed) and `discoverCapabilities()`, which
 * probes one node through its transport and returns the capabilities present, the facts seen
 * and, for each capability missing, what was seen and how to fix it.
 *
 * Discovery never throws for what it finds: a node that cannot be reached is a result
 * (`reachable` missing), and a probe that fails marks the capabilities it was for as missing
 * with the error as the detail.
 */
import { AuthError, CommandTimeout, HostKeyMismatchError, TransportError } from '../errors.js';
import { hasRc } from '../wire/ipoib-hwaddr.js';
import { KernelIpoibAdapter } from './adapters/kernel-ipoib.js';
import type { DutInterface } from './adapters/dut.js';
import { existingPaths, PROBE_TIMEOUT_MS, parseRdmaPorts, RDMA_PORT_GLOBS, type RdmaPort, readFiles, toolsOnPath } from './doctor-probes.js';
import type { FabricKind, LabNode, LabPartition } from './lab-file.js';
import type { Transport } from './transport.js';

export interface CapabilityDoc {
  meaning: string;
  probe: string;
}

/** Every capability, in the order doctor prints them. */
export const CAPABILITIES = {
  reachable: { meaning: 'commands run on the node', probe: 'open the transport and run `uname -sr`' },
  root: { meaning: 'commands run as root (root login or passwordless sudo)', probe: '`id -u` through the transport (which adds `sudo -n` when the node says sudo) prints 0' },
  'suite-tools': { meaning: 'the tools the suites run on a node are installed: ip, ping, socat, sha256sum', probe: '`command -v` for each' },
  ethtool: { meaning: 'ethtool is installed', probe: '`command -v ethtool`' },
  tcpdump: { meaning: 'tcpdump is installed (captures on the node\'s interface, or the rdma sniffer device)', probe: '`command -v tcpdump`' },
  ibdump: { meaning: 'ibdump is installed (NVIDIA HCA sniffer)', probe: '`command -v ibdump`' },
  sniffer: { meaning: 'some sniffer is installed on the node (tcpdump or ibdump)', probe: 'tcpdump or ibdump present' },
  'rdma-device': { meaning: 'an RDMA device exists (the lab file\'s hca.device when it names one)', probe: 'entries of /sys/class/infiniband' },
  'port-active': { meaning: 'the node\'s RDMA port is ACTIVE', probe: '/sys/class/infiniband/DEV/ports/N/state' },
  'ib-link-layer': { meaning: 'the node\'s RDMA port is InfiniBand (not Ethernet: RoCE or rxe)', probe: '/sys/class/infiniband/DEV/ports/N/link_layer' },
  'sm-reachable': { meaning: 'a subnet manager serves the port: an ACTIVE InfiniBand port with a non-zero SM LID', probe: 'ports/N/{state,link_layer,sm_lid}' },
  'partition-pkeys': { meaning: 'every partition of the lab file is in the port\'s P_Key table', probe: '/sys/class/infiniband/DEV/ports/N/pkeys/*, compared without the membership bit' },
  'ib-ipoib': { meaning: 'the kernel IPoIB module is loaded', probe: '/sys/module/ib_ipoib exists' },
  'ipoib-interface': { meaning: 'the lab file\'s interface is an IPoIB interface of the node (kernel implementation)', probe: 'the kernel adapter\'s interfaces() (`ip -d -j link show`)' },
  'connected-mode': { meaning: 'the interface offers connected mode (kernel implementation)', probe: 'the RC flag 0x80 in the first octet of the interface\'s hardware address' },
  debugfs: { meaning: 'debugfs is mounted and the interface\'s ipoib _mcg/_path files exist (kernel implementation)', probe: 'a debugfs line in /proc/mounts and /sys/kernel/debug/ipoib/IF_{mcg,path}' },
  'native-addon': { meaning: 'this project\'s native addon loads (sim fabric, local nodes)', probe: 'import the addon and call nativeBuildInfo() in this process' },
  tun: { meaning: 'TUN devices can be created (sim fabric: the reference stack\'s data plane)', probe: '/dev/net/tun exists and commands run as root' },
  netns: { meaning: 'network namespaces can be created (sim fabric)', probe: '`unshare --net true` exits 0' },
  tshark: { meaning: 'tshark is installed (decodes captures as a cross-check)', probe: '`command -v tshark`' },
} as const satisfies Record<string, CapabilityDoc>;

export type Capability = keyof typeof CAPABILITIES;

export const CAPABILITY_NAMES = Object.keys(CAPABILITIES) as Capability[];

export interface CapabilityProblem {
  check: Capability;
  /** What was seen. */
  detail: string;
  /** What the user can do about it. */
  fix: string;
}

/** One probed capability, present or not. */
export interface CheckOutcome {
  check: Capability;
  ok: boolean;
  detail: string;
  /** Empty when ok. */
  fix: string;
}

export interface Discovery {
  node: string;
  caps: Set<Capability>;
  facts: Record<string, unknown>;
  problems: CapabilityProblem[];
  /** Every capability that was probed, in CAPABILITIES order. */
  checks: CheckOutcome[];
}

export interface DiscoverOptions {
  /** Which fabric the node is on; decides which probes apply (default: from node.hca, "ib" or "sim"). */
  fabric?: FabricKind;
  /** The lab's partitions, for `partition-pkeys`. */
  partitions?: readonly LabPartition[];
  /** Loads the native addon (sim, local nodes); tests pass their own. */
  loadAddon?: () => Promise<unknown>;
}

/** Which packages hold the tools (Debian / Fedora names). */
const PACKAGES: Readonly<Record<string, string>> = {
  ip: 'iproute2 (dnf: iproute)',
  ping: 'iputils-ping (dnf: iputils)',
  socat: 'socat',
  sha256sum: 'coreutils',
  ethtool: 'ethtool',
  tcpdump: 'tcpdump',
  tshark: 'tshark (dnf: wireshark-cli)',
  ibdump: 'ibdump (from NVIDIA MLNX_OFED / DOCA)',
};
const SUITE_TOOLS = ['ip', 'ping', 'socat', 'sha256sum'] as const;
const ALL_TOOLS = [...SUITE_TOOLS, 'ethtool', 'tcpdump', 'ibdump', 'tshark'];
const DEBUGFS_IPOIB = '/sys/kernel/debug/ipoib';

function installFix(tools: readonly string[]): string {
  return `install ${tools.map((t) => PACKAGES[t] ?? t).join(', ')} on the node (apt-get install / dnf install)`;
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Collects outcomes in CAPABILITIES order and builds the Discovery. */
class Findings {
  private readonly outcomes = new Map<Capability, CheckOutcome>();
  readonly facts: Record<string, unknown> = {};

  constructor(readonly node: string) {}

  pass(check: Capability, detail: string): void {
    this.outcomes.set(check, { check, ok: true, detail, fix: '' });
  }

  fail(check: Capability, detail: string, fix: string): void {
    this.outcomes.set(check, { check, ok: false, detail, fix });
  }

  judge(check: Capability, ok: boolean, detail: string, fix: string): void {
    if (ok) this.pass(check, detail);
    else this.fail(check, detail, fix);
  }

  /** A probe failed: every capability it was for is missing, with the error as the reason. */
  probeFailed(checks: readonly Capability[], e: unknown): void {
    const fix = e instanceof TransportError ? e.hint : 'look at the node: the probe command itself failed';
    for (const c of checks) this.fail(c, `probe failed: ${message(e)}`, fix);
  }

  result(): Discovery {
    const checks = CAPABILITY_NAMES.flatMap((c) => {
      const o = this.outcomes.get(c);
      return o ? [o] : [];
    });
    return {
      node: this.node,
      caps: new Set(checks.filter((c) => c.ok).map((c) => c.check)),
      facts: this.facts,
      problems: checks.filter((c) => !c.ok).map(({ check, detail, fix }) => ({ check, detail, fix })),
      checks,
    };
  }
}

/** How to get an unreachable node back, from the error and the node's transport settings. */
export function reachFix(node: LabNode, e: unknown): string {
  if (e instanceof HostKeyMismatchError || e instanceof AuthError) return e.hint;
  if (e instanceof CommandTimeout) return 'The node did not answer in time: check that it is up and not overloaded, then run doctor again.';
  if (node.transport === 'ssh' && node.ssh) {
    const { host, port, user, knownHosts } = node.ssh;
    return (
      `Check host and port (${host}:${port}) and that sshd runs there (ssh -p ${port} ${user}@${host} true); ` +
      `for a first contact record the host key after checking its fingerprint: ssh-keyscan -p ${port} ${host} >> ${knownHosts.file}.`
    );
  }
  const hint = e instanceof TransportError ? `${e.hint} ` : '';
  return `${hint}${node.netns ? `Check that the network namespace exists (ip netns list; ip netns add ${node.netns}).` : 'Check that sh and uname run on this machine.'}`;
}

/** The discovery of a node that could not be reached: only `reachable`, missing. */
export function unreachableDiscovery(node: LabNode, e: unknown): Discovery {
  const f = new Findings(node.name);
  f.fail('reachable', message(e), reachFix(node, e));
  return f.result();
}

/** The port the node uses: the lab file's hca, else the first ACTIVE InfiniBand port, else the first port. */
function pickPort(node: LabNode, ports: readonly RdmaPort[]): RdmaPort | undefined {
  if (node.hca) {
    const { device, port } = node.hca;
    return ports.find((p) => p.device === device && p.port === port);
  }
  return ports.find((p) => p.linkLayer === 'InfiniBand' && p.state === 'ACTIVE') ?? ports[0];
}

function hex4(n: number): string {
  return `0x${n.toString(16).padStart(4, '0')}`;
}

function portName(p: RdmaPort): string {
  return `${p.device} port ${p.port}`;
}

async function probeRoot(t: Transport, node: LabNode, f: Findings): Promise<boolean> {
  const r = await t.run(['id', '-u'], { timeoutMs: PROBE_TIMEOUT_MS });
  const uid = r.code === 0 ? r.stdout.trim() : null;
  f.facts.uid = uid === null ? null : Number(uid);
  const user = node.ssh?.user ?? 'the user running ipoib-lab';
  if (uid === '0') {
    f.pass('root', node.sudo ? 'uid 0 (through sudo -n when not already root)' : 'uid 0');
    return true;
  }
  if (uid === null) {
    f.fail(
      'root',
      `sudo -n refused: ${r.stderr.trim() || `exit ${r.code}`}`,
      `give ${user} passwordless sudo: a line "${user} ALL=(ALL) NOPASSWD: ALL" in /etc/sudoers.d/ipoib-lab (edit with visudo -f)`,
    );
  } else {
    f.fail('root', `uid ${uid}`, node.sudo ? `give ${user} passwordless sudo (NOPASSWD)` : 'set "sudo": true for this node in the lab file (the user needs passwordless sudo), or run as root');
  }
  return false;
}

async function probeTools(t: Transport, fabric: FabricKind, f: Findings): Promise<void> {
  const have = await toolsOnPath(t, ALL_TOOLS);
  f.facts.tools = Object.fromEntries(ALL_TOOLS.map((x) => [x, have.has(x)]));
  const missing = SUITE_TOOLS.filter((x) => !have.has(x));
  f.judge('suite-tools', missing.length === 0, missing.length ? `missing: ${missing.join(', ')}` : SUITE_TOOLS.join(', '), installFix(missing));
  for (const tool of ['ethtool', 'tcpdump', 'ibdump'] as const) {
    f.judge(tool, have.has(tool), have.has(tool) ? 'installed' : 'not installed', installFix([tool]));
  }
  const sniffers = ['tcpdump', 'ibdump'].filter((x) => have.has(x));
  f.judge('sniffer', sniffers.length > 0, sniffers.length ? sniffers.join(', ') : 'neither tcpdump nor ibdump', `${installFix(['tcpdump'])}; on NVIDIA HCAs ibdump also sees the IB headers`);
  if (fabric === 'sim') f.judge('tshark', have.has('tshark'), have.has('tshark') ? 'installed' : 'not installed', installFix(['tshark']));
}

function judgePorts(node: LabNode, devices: readonly string[], ports: readonly RdmaPort[], partitions: readonly LabPartition[], fabric: FabricKind, f: Findings): void {
  const wanted = node.hca?.device;
  const deviceOk = devices.length > 0 && (wanted === undefined || devices.includes(wanted));
  f.judge(
    'rdma-device',
    deviceOk,
    devices.length === 0 ? 'no RDMA device (/sys/class/infiniband is empty or missing)' : deviceOk ? devices.join(', ') : `no device ${wanted}; the node has ${devices.join(', ')}`,
    devices.length === 0
      ? 'load the HCA driver and the RDMA core (e.g. modprobe mlx5_ib ib_uverbs), or for Soft-RoCE: rdma link add rxe0 type rxe netdev IFACE'
      : `set hca.device in the lab file to one of ${devices.join(', ')} (see rdma link show)`,
  );
  if (fabric === 'sim') return; // the simulated subnet has no kernel ports to judge
  const p = pickPort(node, ports);
  f.facts.port = p ?? null;
  if (!p) {
    const why = node.hca ? `no port ${node.hca.port} on ${node.hca.device}` : 'no RDMA port';
    const fix = devices.length === 0 ? 'make an RDMA device available first (see rdma-device)' : 'set hca.device and hca.port in the lab file to a port rdma link show lists';
    for (const c of ['port-active', 'ib-link-layer', 'sm-reachable', 'partition-pkeys'] as const) f.fail(c, why, fix);
    return;
  }
  const active = p.state === 'ACTIVE';
  const ib = p.linkLayer === 'InfiniBand';
  f.judge('port-active', active, `${portName(p)} is ${p.state ?? 'in an unreadable state'}`, ib ? 'check cable and switch (ibstat); a port stuck in INIT waits for a subnet manager (systemctl start opensm)' : `check the Ethernet link under ${p.device} (rdma link show; ip link)`);
  f.judge(
    'ib-link-layer',
    ib,
    `${portName(p)} link layer ${p.linkLayer ?? 'unknown'}${ib ? '' : ' (RoCE or rxe: no kernel IPoIB, no SM or SA)'}`,
    'use an InfiniBand (or OPA) port for the ib fabric and the kernel implementation; on RoCE/rxe set fabric kind "rxe"',
  );
  const smOk = active && ib && p.smLid !== null && p.smLid !== 0;
  f.judge(
    'sm-reachable',
    smOk,
    smOk ? `SM LID ${hex4(p.smLid ?? 0)}` : !ib ? 'not an InfiniBand port' : !active ? `${portName(p)} is not ACTIVE` : `SM LID ${p.smLid === null ? 'unreadable' : hex4(p.smLid)}`,
    ib ? 'start a subnet manager on the fabric (systemctl start opensm) and wait for the port to become ACTIVE (ibstat)' : 'Ethernet ports have no subnet manager; use an InfiniBand port',
  );
  const missing = partitions.filter((part) => !p.pkeys.some((k) => (k & 0x7fff) === (parseInt(part.pkey.slice(2), 16) & 0x7fff)));
  f.judge(
    'partition-pkeys',
    missing.length === 0,
    missing.length === 0
      ? `${portName(p)} has ${partitions.map((x) => x.pkey).join(', ') || 'no partitions to check'}`
      : `${portName(p)} lacks ${missing.map((x) => `${x.pkey} (${x.name})`).join(', ')}; its table holds ${p.pkeys.map(hex4).join(', ') || 'nothing'}`,
    ib
      ? `add the partitions to the SM's partitions.conf (e.g. "${missing[0]?.name ?? 'name'}=${missing[0]?.pkey ?? '0x8001'}, ipoib : ALL=full;") and restart opensm`
      : 'rxe ports hold only the default P_Key 0xffff: remove the other partitions from the lab file or use an InfiniBand fabric',
  );
}

function judgeInterfaces(node: LabNode, ifaces: readonly DutInterface[], ipoibLoaded: boolean, debugfsMounted: boolean, debugfsFiles: boolean, f: Findings): void {
  f.facts.ipoibInterfaces = ifaces.map((i) => ({ ifname: i.ifname, parent: i.parent, pkey: i.pkey === null ? null : hex4(i.pkey), mode: i.mode, rc: hasRc(i.hwaddr), carrier: i.carrier }));
  const mine = ifaces.find((i) => i.ifname === node.interface);
  const names = ifaces.map((i) => i.ifname);
  f.judge(
    'ipoib-interface',
    mine !== undefined,
    mine ? `${mine.ifname}${mine.pkey === null ? '' : ` P_Key ${hex4(mine.pkey)}`}${mine.carrier ? '' : ', no carrier'}` : `${node.interface} is not an IPoIB interface; the node has ${names.join(', ') || 'none'}`,
    !ipoibLoaded ? 'modprobe ib_ipoib (on an InfiniBand port)' : names.length ? `set interface in the lab file to one of ${names.join(', ')}` : 'ib_ipoib made no interface: it binds only to InfiniBand ports (not RoCE/rxe)',
  );
  if (!mine) {
    f.fail('connected-mode', `${node.interface} not found`, 'see ipoib-interface');
  } else {
    const rc = hasRc(mine.hwaddr);
    f.judge(
      'connected-mode',
      rc,
      rc ? `${mine.ifname} offers RC` : `${mine.ifname}'s address has no RC flag`,
      'connected mode is not offered: mlx5 enhanced IPoIB is datagram-only (mlx5_ib parameter ipoib_enhanced=0 turns it off), or the kernel lacks CONFIG_INFINIBAND_IPOIB_CM; tests that need it skip',
    );
  }
  f.judge(
    'debugfs',
    debugfsMounted && debugfsFiles,
    !debugfsMounted ? 'debugfs is not mounted' : debugfsFiles ? `${DEBUGFS_IPOIB}/${node.interface}_mcg and _path present` : `${DEBUGFS_IPOIB}/${node.interface}_mcg missing`,
    !debugfsMounted ? 'mount -t debugfs none /sys/kernel/debug' : 'the kernel was built without CONFIG_INFINIBAND_IPOIB_DEBUG, or the files need root (set sudo)',
  );
}

async function probeSim(t: Transport, node: LabNode, root: boolean, tunExists: boolean, o: DiscoverOptions, f: Findings): Promise<void> {
  if (node.transport === 'local') {
    const load = o.loadAddon ?? (async () => (await import('../native/addon.js')).nativeBuildInfo());
    try {
      f.facts.nativeBuildInfo = await load();
      f.pass('native-addon', 'loads');
    } catch (e) {
      f.fail('native-addon', message(e), 'build it: npm run build:native (needs cmake and a C++ compiler), then run doctor again');
    }
  }
  f.judge('tun', tunExists && root, !tunExists ? '/dev/net/tun is missing' : root ? '/dev/net/tun present' : '/dev/net/tun present, but commands do not run as root', !tunExists ? 'modprobe tun (in a container: pass --device /dev/net/tun)' : 'see root');
  const r = await t.run(['unshare', '--net', 'true'], { timeoutMs: PROBE_TIMEOUT_MS });
  f.judge(
    'netns',
    r.code === 0,
    r.code === 0 ? 'unshare --net works' : `unshare --net failed: ${r.stderr.trim() || `exit ${r.code}`}`,
    r.code === 127 ? 'install util-linux (unshare) on the node' : 'run as root; in a container allow namespaces (--cap-add SYS_ADMIN or --privileged)',
  );
}

/** Probes one node; see the module comment. `node.name` names the result. */
export async function discoverCapabilities(t: Transport, node: LabNode, o: DiscoverOptions = {}): Promise<Discovery> {
  const fabric: FabricKind = o.fabric ?? (node.hca ? 'ib' : 'sim');
  const f = new Findings(node.name);
  try {
    const r = await t.check(['uname', '-sr'], { timeoutMs: PROBE_TIMEOUT_MS });
    f.facts.kernel = r.stdout.trim();
    f.pass('reachable', r.stdout.trim());
  } catch (e) {
    return unreachableDiscovery(node, e);
  }

  let root = false;
  try {
    root = await probeRoot(t, node, f);
  } catch (e) {
    f.probeFailed(['root'], e);
  }
  try {
    await probeTools(t, fabric, f);
  } catch (e) {
    f.probeFailed(['suite-tools', 'ethtool', 'tcpdump', 'ibdump', 'sniffer', ...(fabric === 'sim' ? (['tshark'] as const) : [])], e);
  }

  const portChecks = ['rdma-device', ...(fabric === 'sim' ? [] : (['port-active', 'ib-link-layer', 'sm-reachable', 'partition-pkeys', 'ib-ipoib'] as const))] as const;
  const ifaceChecks = ['ipoib-interface', 'connected-mode', 'debugfs'] as const;
  const kernel = node.implementation === 'kernel';
  let ipoibLoaded = false;
  let tunExists = false;
  let debugfsMounted = false;
  let debugfsFiles = false;
  try {
    const [files, paths] = await Promise.all([
      readFiles(t, [...RDMA_PORT_GLOBS, '/proc/mounts', '/sys/module/mlx5_ib/parameters/ipoib_enhanced']),
      existingPaths(t, ['/sys/class/infiniband/*', '/sys/module/ib_ipoib', '/dev/net/tun', `${DEBUGFS_IPOIB}/${node.interface}_mcg`]),
    ]);
    const devices = [...paths].filter((p) => p.startsWith('/sys/class/infiniband/')).map((p) => p.slice('/sys/class/infiniband/'.length)).sort();
    const ports = parseRdmaPorts(files);
    f.facts.rdmaDevices = devices;
    f.facts.rdmaPorts = ports;
    const enhanced = files.get('/sys/module/mlx5_ib/parameters/ipoib_enhanced')?.[0]?.trim();
    if (enhanced !== undefined) f.facts.mlx5IpoibEnhanced = enhanced === 'Y' || enhanced === '1';
    ipoibLoaded = paths.has('/sys/module/ib_ipoib');
    tunExists = paths.has('/dev/net/tun');
    debugfsMounted = (files.get('/proc/mounts') ?? []).some((l) => l.split(' ')[2] === 'debugfs');
    debugfsFiles = paths.has(`${DEBUGFS_IPOIB}/${node.interface}_mcg`);
    judgePorts(node, devices, ports, o.partitions ?? [], fabric, f);
    if (fabric !== 'sim') {
      f.judge('ib-ipoib', ipoibLoaded, ipoibLoaded ? 'loaded' : '/sys/module/ib_ipoib is missing', 'modprobe ib_ipoib (it binds only to InfiniBand ports, not RoCE/rxe)');
    }
  } catch (e) {
    f.probeFailed(portChecks, e);
  }

  if (kernel) {
    try {
      const ifaces = ipoibLoaded ? await new KernelIpoibAdapter(t, node.interface).interfaces() : [];
      judgeInterfaces(node, ifaces, ipoibLoaded, debugfsMounted, debugfsFiles, f);
    } catch (e) {
      f.probeFailed(ifaceChecks, e);
    }
  }

  if (fabric === 'sim') {
    try {
      await probeSim(t, node, root, tunExists, o, f);
    } catch (e) {
      f.probeFailed(['native-addon', 'tun', 'netns'], e);
    }
  }
  return f.result();
}
