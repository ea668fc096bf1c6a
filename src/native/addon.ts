/**
 * The one TypeScript file that loads the C++ addon (native/, built by `npm run build:native`)
 * and declares its whole surface. The C++ side of that surface is native/src/addon.cc.
 *
 * Use the wrapped functions (`nativeBuildInfo`, `listRdmaDevices`, `nativeCrc32`): they check
 * arguments here first and turn native failures into NativeError carrying op/errno/code and the
 * caller's stack. `loadNative()` hands out the raw binding for tests and for new wrappers.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { types } from 'node:util';
import { NativeError } from '../errors.js';

/** Version of the native surface; must equal kNativeAbi in native/src/build_info.h. */
export const NATIVE_ABI = 1;

/** What `buildInfo()` reports about the binary. */
export interface NativeBuildInfo {
  /** The package version the binary was built from (package.json `version`). */
  readonly version: string;
  /** Compiler id and version, e.g. "GNU 12.2.0". */
  readonly compiler: string;
  /** The N-API version the binary was compiled against. */
  readonly napiVersion: number;
  /** Whether the libibverbs parts were compiled in (same as `hasVerbs`). */
  readonly verbs: boolean;
  /** The zlib the addon's calls bind to at run time (Node's bundled one when Node exports it). */
  readonly zlibVersion: string;
  /** The zlib header version the addon was compiled against. */
  readonly zlibHeaderVersion: string;
  /** CMake build type, e.g. "Release". */
  readonly buildType: string;
}

export type RdmaNodeType =
  | 'ca'
  | 'switch'
  | 'router'
  | 'rnic'
  | 'usnic'
  | 'usnic-udp'
  | 'unspecified'
  | 'unknown';
export type RdmaTransport = 'ib' | 'iwarp' | 'usnic' | 'usnic-udp' | 'unspecified' | 'unknown';

/** One device as libibverbs lists it. */
export interface RdmaDevice {
  /** Kernel device name, e.g. "mlx5_0". */
  readonly name: string;
  /** Node GUID: 16 lowercase hex digits, most significant first. */
  readonly guid: string;
  readonly nodeType: RdmaNodeType;
  readonly transport: RdmaTransport;
}

/** Everything ipoib_native.node exports. */
export interface NativeBinding {
  /** Checked against NATIVE_ABI at load. */
  readonly abi: number;
  /** Whether the libibverbs parts were compiled in; without them listRdmaDevices() is always []. */
  readonly hasVerbs: boolean;
  buildInfo(): NativeBuildInfo;
  /** [] on a kernel without RDMA; other failures throw an Error with op/errno/code. */
  listRdmaDevices(): RdmaDevice[];
  /** zlib's CRC-32 of `data`, continuing from `seed` (a previous result; default 0). */
  crc32(data: Uint8Array, seed?: number): number;
  /**
   * TEST ONLY: the simulated fabric's C++ CRCs (native/src/sim/crc_ib.h), to check them against
   * src/wire/vcrc.ts and icrc.ts; `portable` forces the table/zlib path instead of the default
   * (carry-less multiplication where `simCrcUsesClmul`). simIcrc throws RangeError below LRH [+ GRH] + BTH.
   */
  simVcrc(data: Uint8Array, portable?: boolean): number;
  simIcrc(covered: Uint8Array, global: boolean, portable?: boolean): number;
  readonly simCrcUsesClmul: boolean;
  /**
   * TEST ONLY: the offload engine (native/src/tun/offload_segment.h, offload_coalesce.h) on
   * buffers; the data plane calls the C++ directly. Use src/ipoib/native/offload.ts, which
   * validates and types everything. Refusals throw an Error whose .code is a name in
   * `offloadRefusals`.
   */
  offloadSegment(vnetHdr: Uint8Array, packet: Uint8Array, mtu: number): Buffer[];
  offloadComplete(vnetHdr: Uint8Array, packet: Uint8Array): Buffer;
  offloadCoalesce(packets: readonly Uint8Array[], partialChecksum: boolean): Array<{ vnetHdr: Buffer; packet: Buffer; members: number[] }>;
  /** The virtio-net header's size and constants the engine was built with (checked by the wrapper at load). */
  readonly offloadLayout: {
    readonly vnetHdrLen: number;
    readonly flagNeedsCsum: number;
    readonly flagDataValid: number;
    readonly gsoNone: number;
    readonly gsoTcpv4: number;
    readonly gsoUdp: number;
    readonly gsoTcpv6: number;
    readonly gsoEcn: number;
    readonly maxCoalescedLen: number;
  };
  /** Refusal names; index i is native code i + 1 (code 0 is "ok"). */
  readonly offloadRefusals: readonly string[];
  /**
   * TEST AND BENCHMARK ONLY: runs two RC QPs over a simulated lossy link (native/src/sim/rc_loop_harness.h).
   * Every option is required; use runRcLoop() in src/fabric/sim/rc-harness.ts, which validates and fills them.
   */
  rcLoopRun(messages: readonly Uint8Array[], options: NativeRcLoopOptions): NativeRcLoopResult;
  /**
   * TEST ONLY: drives one RC QP through `steps` and records what it does (native/src/sim/rc_script.h).
   * Use runRcQpScript() in src/fabric/sim/rc-harness.ts, which validates and fills every field.
   */
  rcQpScript(steps: readonly NativeRcScriptStep[]): NativeRcScriptResult;
  /**
   * Opens a port endpoint of the simulated fabric (native/src/sim/endpoint_binding.h); use
   * SimEndpoint in src/fabric/sim/native-endpoint.ts, which validates every argument first.
   * `deliver` gets batches of completions: `simEndpointLayout.completionWords` words each in
   * `meta`, their octets in `data`.
   */
  openSimEndpoint(config: NativeSimEndpointConfig, deliver: (meta: Uint32Array, data: Buffer) => void): NativeSimEndpoint;
  /** Names of the endpoint counters, in the order native/src/sim/endpoint_counters.h lists them. */
  readonly simEndpointCounterNames: readonly string[];
  /** Sizes of the flat arrays that cross the boundary (checked by the wrapper at load). */
  readonly simEndpointLayout: { readonly completionWords: number; readonly sendWords: number; readonly sendDgidOctet: number };
  /**
   * Opens the RC side of an endpoint (native/src/sim/endpoint_rc_binding.cc): RC QPs run inside
   * the endpoint; `deliver` gets their completions and state changes in batches. One per
   * endpoint; use SimRcPort in src/fabric/sim/native-rc.ts, which validates every argument.
   */
  openSimRcPort(endpoint: NativeSimEndpoint, deliver: (events: NativeRcEvent[]) => void): NativeSimRcPort;
  /** BENCHMARK ONLY: a raw UDP sendmmsg/recvmmsg pair on 127.0.0.1 (native/src/sim/udp_bench.cc). */
  benchRawUdp(options: NativeRawUdpBenchOptions): Promise<NativeBenchResult>;
  /** BENCHMARK ONLY: a C++ sender thread posting UD sends on `sender`, counted by a C++ handler on `receiver`. */
  benchEndpointUd(sender: NativeSimEndpoint, receiver: NativeSimEndpoint, options: NativeEndpointBenchOptions): Promise<NativeBenchResult>;
  /**
   * Starts the IPoIB TUN data plane on a UD QP of a simulated-fabric endpoint
   * (native/src/tun/data_plane.h); use TunDataPlane in src/ipoib/native/tun-data-plane.ts, which
   * validates every argument first. `deliver` gets batches of punts: `tunDataPlaneLayout.puntWords`
   * words each in `meta`, their octets in `data`.
   */
  openTunDataPlane(options: NativeTunDataPlaneOptions, deliver: (meta: Uint32Array, data: Buffer) => void): NativeTunDataPlane;
  /**
   * Files of /proc/net (`names`, e.g. "igmp") as the network namespace `netnsPath` ("" = ours)
   * sees them, read by a thread that enters it (native/src/tun/netns_read.h): no child process.
   * null for a file the namespace lacks; failures reject with .op/.errno/.code. Use
   * readProcNet() in src/ipoib/native/proc-net.ts.
   */
  readProcNet(netnsPath: string, names: readonly string[]): Promise<(string | null)[]>;
  /** Names of the data plane's counters, in the order native/src/tun/data_plane_counters.h lists them. */
  readonly tunDataPlaneCounterNames: readonly string[];
  /** Punt reasons by code (the index), each with the direction of the packets it applies to. */
  readonly tunPuntReasons: ReadonlyArray<{ readonly name: string; readonly direction: 'tx' | 'rx' | 'rc' }>;
  /** Word counts and wire constants the data plane was built with (checked by the wrapper at load). */
  readonly tunDataPlaneLayout: {
    readonly puntWords: number;
    readonly txBatch: number;
    readonly ethPIp: number;
    readonly ethPArp: number;
    readonly ethPIpv6: number;
    readonly ipoibHeaderLen: number;
    /** The tag in the work request IDs of the data plane's RC sends (bit 52). */
    readonly rcWrIdTag: number;
    /** RC send statuses by code (a punt's rc-status word is 1 + the code). */
    readonly rcSendStatuses: readonly string[];
  };
}

/** openTunDataPlane's options; every key is required (null where the comment says so). */
export interface NativeTunDataPlaneOptions {
  /** "tun": a Linux TUN device; "loopback" (TEST ONLY): a socket pair the test drives. */
  host: 'tun' | 'loopback';
  ifname: string;
  /** A network namespace file to create the device in; "" for the process's own. */
  netns: string;
  up: boolean;
  /** The `nativeHandle` of a SimEndpoint. */
  endpoint: NativeSimEndpoint;
  qpn: number;
  qkey: number;
  pkeyIndex: number;
  mtu: number;
  /** The largest IP packet sent over UD. */
  udMtu: number;
  localLid: number;
  localGid: Uint8Array;
  broadcastMgid: Uint8Array | null;
  deliverOwnMulticast: boolean;
  /** The reserved field of the IPoIB header the TX path writes: 0, or a seeded defect's value (TEST ONLY). */
  txHeaderReserved: number;
}

export interface NativeTunGrh {
  dgid: Uint8Array;
  hopLimit: number;
  tclass: number;
  flowLabel: number;
}

/** The handle openTunDataPlane returns: thin calls into the C++ data plane. */
export interface NativeTunDataPlane {
  readonly ifname: string;
  /** `ip`: 4 or 16 octets. */
  setNeighbour(
    ip: Uint8Array,
    entry: {
      dlid: number;
      dqpn: number;
      flags: number;
      sl: number;
      grh: NativeTunGrh | null;
      /** Send over this attached RC QP while 4 + length <= mtu. */
      rc: { qpn: number; mtu: number } | null;
      connecting: boolean;
    },
  ): void;
  deleteNeighbour(ip: Uint8Array): boolean;
  setMulticast(ip: Uint8Array, entry: { mlid: number; sl: number; grh: NativeTunGrh }): void;
  deleteMulticast(ip: Uint8Array): boolean;
  tableSizes(): { neighbours: number; groups: number };
  /** The keys (4 or 16 octets) of the entries the TX path looked up since the last call. */
  takeUsed(): { neighbours: Buffer[]; groups: Buffer[] };
  injectToHost(packet: Uint8Array): void;
  sendUd(dest: { dlid: number; dqpn: number; qkey: number; sl: number; grh: NativeTunGrh | null }, payload: Uint8Array): void;
  counters(): Record<string, number>;
  setQkey(qkey: number): void;
  setMtu(mtu: number): void;
  setLocalLid(lid: number): void;
  setCarrier(on: boolean): void;
  setDeliverOwnMulticast(on: boolean): void;
  setUdMtu(mtu: number): void;
  /** Takes over the RC QP's events (native/src/tun/rc_path.h); .code ENOENT (no such QP), EEXIST (attached). */
  attachRc(qpn: number, recvDepth: number): void;
  /** False when `qpn` was not attached. */
  detachRc(qpn: number): boolean;
  rcAttached(): number[];
  /** False when the send queue is full; .code ENOENT (not attached, or gone), EINVAL (not in RTS). */
  sendRc(qpn: number, frame: Uint8Array): boolean;
  /** .code ENOENT when `qpn` is not attached. */
  injectRcFrame(qpn: number, frame: Uint8Array): void;
  ref(): void;
  unref(): void;
  /** Settles once the threads, the host device and the punt channel are gone. */
  close(): Promise<void>;
  /** TEST ONLY (host "loopback"): as if the host sent `packet` out of the interface. */
  loopbackWrite(packet: Uint8Array): void;
  /** TEST ONLY (host "loopback"): the packets written to the host since the last call. */
  loopbackRead(): Buffer[];
  /** TEST ONLY (host "loopback"): the MTU and carrier the data plane set. */
  loopbackState(): { mtu: number; carrier: boolean };
}

/** Options of rcLoopRun, all required (the C++ side has no defaults, so a misspelt key is an error). */
export interface NativeRcLoopOptions {
  mtuBytes: number;
  lossRate: number;
  duplicateRate: number;
  reorderRate: number;
  seed: number;
  latencyUs: number;
  reorderDelayUs: number;
  startPsn: number;
  retryCount: number;
  rnrRetry: number;
  timeoutExp: number;
  minRnrTimer: number;
  recvQueueDepth: number;
  recvBufferBytes: number;
  recvPostDelayUs: number;
  sendWindowPackets: number;
  ackReqEveryPackets: number;
  postSpacingUs: number;
  sendQueueDepth: number;
  dropPsns: readonly number[];
  duplicatePsns: readonly number[];
  recordPackets: number;
  maxSimTimeUs: number;
  collectDelivered: boolean;
}

/** What rcLoopRun returns; the meaning of each field is documented in src/fabric/sim/rc-harness.ts. */
export interface NativeRcLoopResult {
  delivered: Buffer[];
  deliveredCount: number;
  deliveredBytes: number;
  deliveredInOrder: boolean;
  sendStatus: Array<string | null>;
  recvStatus: string[];
  stats: Record<string, number>;
  errors: string[];
  requesterState: string;
  responderState: string;
  packets: Array<{ timeUs: number; from: string; fate: string; headers: Buffer; payloadBytes: number }>;
}

/** The configuration of one RC QP (native/src/sim/rc_qp.h RcQpConfig), every field required. */
export interface NativeRcQpConfig {
  qpn: number;
  destQpn: number;
  pkey: number;
  pathMtuBytes: number;
  sqPsn: number;
  rqPsn: number;
  retryCount: number;
  rnrRetry: number;
  timeoutExp: number;
  minRnrTimer: number;
  recvQueueDepth: number;
  sendQueueDepth: number;
  sendWindowPackets: number;
  ackReqEveryPackets: number;
}

/** One call rcQpScript makes on the QP. */
export type NativeRcScriptStep =
  | { op: 'modify'; to: string; config: NativeRcQpConfig }
  | { op: 'postSend'; wrId: number; message: Uint8Array }
  | { op: 'postRecv'; wrId: number; capacityBytes: number }
  | { op: 'packet'; wire: Uint8Array }
  | { op: 'timer' | 'clock'; nowUs: number };

/** What rcQpScript returns; documented in src/fabric/sim/rc-harness.ts. */
export interface NativeRcScriptResult {
  events: Array<Record<string, unknown>>;
  state: string;
  nextDeadlineUs: number | null;
  errorDetail: string;
  stats: Record<string, number>;
}

/** openSimEndpoint's configuration; every field is required. */
export interface NativeSimEndpointConfig {
  lid: number;
  gid: Uint8Array;
  mtuCode: number;
  pkeys: readonly number[];
  active: boolean;
}

/** The handle openSimEndpoint returns: thin calls into the C++ endpoint. */
export interface NativeSimEndpoint {
  readonly udpPort: number;
  setLid(lid: number): void;
  setPkeyTable(pkeys: readonly number[]): void;
  setActive(active: boolean): void;
  setMtuCode(mtuCode: number): void;
  setRoutes(
    unicast: ReadonlyArray<{ lid: number; udpPort: number }>,
    multicast: ReadonlyArray<{ mlid: number; udpPorts: readonly number[] }>,
  ): void;
  /** qpn 0 allocates one. */
  createUdQp(qkey: number, pkeyIndex: number, qpn: number): number;
  modifyUdQp(qpn: number, qkey: number | undefined, pkeyIndex: number | undefined): void;
  destroyQp(qpn: number): void;
  qps(): Array<{ qpn: number; qkey: number; pkeyIndex: number }>;
  attachMulticast(qpn: number, mgid: Uint8Array, mlid: number): void;
  detachMulticast(qpn: number, mgid: Uint8Array, mlid: number): void;
  /** `descriptors` holds `simEndpointLayout.sendWords` words per entry of `payloads`. */
  postSendUd(qpn: number, descriptors: Uint32Array, payloads: readonly Uint8Array[]): void;
  counters(): Record<string, number>;
  resetCounters(): void;
  setFaults(lossRate: number | undefined, delayMs: number | undefined, seed: number | undefined): void;
  /** udpPort 0 removes the tap; direction 0 both, 1 send, 2 receive. */
  setTap(udpPort: number, direction: number): void;
  setDeliverRaw(raw: boolean): void;
  /** Whether pending deliveries keep the event loop alive. */
  ref(): void;
  unref(): void;
  /** Settles once the receive thread, the socket and the delivery channel are gone. */
  close(): Promise<void>;
}

/** createQp's options (native/src/sim/endpoint_rc.h RcQpCreateOptions), every field required. */
export interface NativeRcQpCreate {
  /** 0 allocates one. */
  qpn: number;
  pkeyIndex: number;
  /** Capacity of every receive buffer posted. */
  maxRecvBytes: number;
  recvQueueDepth: number;
  sendQueueDepth: number;
  sendWindowPackets: number;
  ackReqEveryPackets: number;
}

/** modifyQp's attributes (endpoint_rc.h RcQpAttrs), every field required; the whole set is taken at INIT, RTR and RTS. */
export interface NativeRcQpAttrs {
  destQpn: number;
  dlid: number;
  sl: number;
  hasGrh: boolean;
  /** 16 octets (zeros without a GRH). */
  dgid: Uint8Array;
  hopLimit: number;
  tclass: number;
  flowLabel: number;
  pathMtuCode: number;
  sqPsn: number;
  rqPsn: number;
  retryCount: number;
  rnrRetry: number;
  timeoutExp: number;
  minRnrTimer: number;
}

/** One event of an RC QP, as the RC port delivers it. */
export type NativeRcEvent =
  | { type: 'send'; qpn: number; wrId: number; status: string }
  | { type: 'recv'; qpn: number; status: string; message: Buffer; srcQp: number }
  | { type: 'state'; qpn: number; from: string; to: string; reason: string; detail: string };

/** qpInfo's answer. */
export interface NativeRcQpInfo {
  qpn: number;
  state: string;
  pkeyIndex: number;
  pkey: number;
  maxRecvBytes: number;
  attrs: Omit<NativeRcQpAttrs, 'dgid'> & { dgid: Buffer };
  stats: Record<string, number>;
  errorDetail: string;
  recvsPosted: number;
}

/** The handle openSimRcPort returns. */
export interface NativeSimRcPort {
  createQp(o: NativeRcQpCreate): number;
  modifyQp(qpn: number, to: string, attrs: NativeRcQpAttrs): void;
  /** false: the send queue is full and nothing was queued. */
  postSend(qpn: number, wrId: number, message: Uint8Array): boolean;
  /** Returns how many receive buffers were posted. */
  postRecv(qpn: number, count: number): number;
  destroyQp(qpn: number): void;
  qpInfo(qpn: number): NativeRcQpInfo;
  qpns(): number[];
  /** Whether pending deliveries keep the event loop alive. */
  ref(): void;
  unref(): void;
  /** Destroys every RC QP of the endpoint; settles once the delivery channel is gone. */
  close(): Promise<void>;
}

export interface NativeRawUdpBenchOptions {
  datagramBytes: number;
  durationMs: number;
  batch: number;
}

export interface NativeEndpointBenchOptions {
  qpn: number;
  dlid: number;
  dqpn: number;
  qkey: number;
  payloadBytes: number;
  durationMs: number;
  batch: number;
}

/** Datagrams or packets sent and received in `seconds` of sending. */
export interface NativeBenchResult {
  sent: number;
  received: number;
  seconds: number;
}

const BINARY_NAME = 'ipoib_native.node';
const BUILD_FIX = 'run `npm run build:native`; needs cmake and a C++ compiler';
const requireNative = createRequire(import.meta.url);

/** The nearest directory at or above this module that holds a package.json (source or dist). */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new NativeError(`no package.json above ${fileURLToPath(import.meta.url)}`, 'load');
    dir = parent;
  }
}

/** Where cmake-js puts the binary, in the order the loader tries them. */
export function nativeCandidates(root: string = packageRoot()): string[] {
  return ['Release', 'Debug'].map((config) => join(root, 'native', 'build', config, BINARY_NAME));
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Why `mod` is not a usable binding, or undefined when it is. */
function bindingProblem(mod: unknown): string | undefined {
  if (typeof mod !== 'object' || mod === null) return `exports a ${typeof mod}, not an object`;
  const m = mod as Record<string, unknown>;
  if (m.abi !== NATIVE_ABI) {
    return `abi ${String(m.abi)}, expected ${NATIVE_ABI}: the binary is stale or foreign, rebuild it`;
  }
  if (typeof m.hasVerbs !== 'boolean') return 'hasVerbs is not a boolean';
  for (const fn of ['buildInfo', 'listRdmaDevices', 'crc32']) {
    if (typeof m[fn] !== 'function') return `${fn} is not a function`;
  }
  return undefined;
}

/**
 * Loads the first of `paths` that is a binding with the right ABI (no caching). When none is,
 * throws one NativeError (op "load") naming every path tried, why each failed, and the fix.
 */
export function loadNativeFrom(paths: readonly string[]): NativeBinding {
  const failures: string[] = [];
  for (const path of paths) {
    if (!existsSync(path)) {
      failures.push(`${path}: not found`);
      continue;
    }
    let mod: unknown;
    try {
      mod = requireNative(path);
    } catch (e) {
      failures.push(`${path}: ${messageOf(e)}`);
      continue;
    }
    const problem = bindingProblem(mod);
    if (problem === undefined) return mod as NativeBinding;
    failures.push(`${path}: ${problem}`);
  }
  const tried = failures.length > 0 ? failures.map((f) => `  ${f}`) : ['  (no candidate paths)'];
  throw new NativeError([`cannot load the native addon ${BINARY_NAME}; tried:`, ...tried, `fix: ${BUILD_FIX}`].join('\n'), 'load');
}

let loaded: NativeBinding | undefined;

/** The raw binding from native/build/{Release,Debug}, loaded once. Throws NativeError when absent. */
export function loadNative(): NativeBinding {
  loaded ??= loadNativeFrom(nativeCandidates());
  return loaded;
}

/**
 * Runs one native call. TypeError/RangeError (bad arguments: a bug on our side) pass through
 * unchanged; any other failure becomes a NativeError with the native op/errno/code when the
 * addon supplied them (else op = `op`), created here so its stack shows the caller.
 */
export function callNative<T>(op: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof TypeError || e instanceof RangeError) throw e;
    const fields = typeof e === 'object' && e !== null ? (e as Record<string, unknown>) : {};
    const err = new NativeError(
      messageOf(e),
      typeof fields.op === 'string' ? fields.op : op,
      typeof fields.errno === 'number' ? fields.errno : undefined,
      typeof fields.code === 'string' ? fields.code : undefined,
    );
    err.cause = e;
    throw err;
  }
}

/** Facts about the loaded binary. */
export function nativeBuildInfo(): NativeBuildInfo {
  const native = loadNative();
  return callNative('buildInfo', () => native.buildInfo());
}

/** RDMA devices libibverbs sees; [] without RDMA in the kernel or without verbs compiled in. */
export function listRdmaDevices(): RdmaDevice[] {
  const native = loadNative();
  return callNative('listRdmaDevices', () => native.listRdmaDevices());
}

/** zlib's CRC-32 of `data` continuing from `seed`: the independent reference for CRC checks. */
export function nativeCrc32(data: Uint8Array, seed = 0): number {
  if (!types.isUint8Array(data)) throw new TypeError(`nativeCrc32: data must be a Buffer or Uint8Array, got ${typeof data}`);
  if (typeof seed !== 'number') throw new TypeError(`nativeCrc32: seed must be a number, got ${typeof seed}`);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new RangeError(`nativeCrc32: seed must be an integer from 0 to 0xffffffff, got ${String(seed)}`);
  }
  const native = loadNative();
  return callNative('crc32', () => native.crc32(data, seed));
}
