/**
 * A lab that is up: what a suite gets to work with. The DUT and its peer (each a node transport
 * plus the DUT adapter of its implementation), the probe and the wire capturer when the fabric
 * has them, the sim fabric's own controls on the sim lab, and the lab capabilities the suites
 * gate on. Opened by sim-lab.ts on the simulated fabric; hardware labs get their own opener.
 */
import type { DutAdapter } from './adapters/dut.js';
import type { Capturer } from './capture.js';
import type { FabricKind, LabFile, LabNode } from './lab-file.js';
import type { Probe } from './probe.js';
import type { Transport } from './transport.js';

/**
 * What a lab (not a single node) offers, the names suites put in `requires`. One place, with
 * what each means; node-level capabilities (what doctor probes) are in capabilities.ts.
 */
export const LAB_CAPABILITIES = {
  probe: 'a probe endpoint on the fabric sends and records raw UD frames and MADs',
  'wire-capture': 'every packet on the fabric can be captured (the sim tap; a sniffer on hardware)',
  'fabric-control': 'the test can disturb the fabric: loss, link down/up, SM stop/start, P_Key tables, SA refusals (sim)',
  sa: 'a subnet administrator answers SA queries and joins',
  partitions: 'the lab file lists partitions beyond the default one and the fabric enforces them',
  'ipv4': 'the DUT and the peer have IPv4 addresses on their interfaces',
  'ipv6': 'the DUT and the peer have IPv6 addresses on their interfaces',
  'reference-dut': 'the DUT runs the reference stack (control surface through ipoibctl)',
  'connected-mode': 'the DUT offers connected mode (RFC 4755): the RC flag 0x80 in its interface\'s link-layer address',
  'kernel-dut': 'the DUT runs Linux ib_ipoib',
} as const;
export type LabCapability = keyof typeof LAB_CAPABILITIES;
export const LAB_CAPABILITY_NAMES = Object.keys(LAB_CAPABILITIES) as LabCapability[];

export interface LabNodeHandle {
  /** The node as the lab file describes it. */
  readonly node: LabNode;
  readonly transport: Transport;
  readonly adapter: DutAdapter;
  /** The IPoIB interface the lab file names. */
  readonly ifname: string;
  /** The first IPv4 / IPv6 address of the lab file, without the prefix length; null when absent. */
  readonly ipv4: string | null;
  readonly ipv6: string | null;
  /** The node's port on the fabric, by the fabric's node name (sim: the lab node's name). */
  readonly fabricNode: string;
}

/** The simulated fabric's own controls (the `ipoib-lab fabric` operations), for tests that disturb it. */
export interface SimFabricControl {
  readonly name: string;
  setLoss(node: string, lossRate: number): Promise<void>;
  setLink(node: string, up: boolean): Promise<void>;
  setSmRunning(running: boolean): Promise<void>;
  /** Replaces a port's P_Key table (the SM pushes the change; ports get a P_Key change event). */
  setPkeys(node: string, pkeys: readonly number[]): Promise<void>;
  /** Makes the SA refuse joins with `saError` (or accept again). */
  refuseJoins(on: boolean, saError?: number): Promise<void>;
  /** The manager's `status` answer (ports, groups, members). */
  status(): Promise<unknown>;
}

export interface LabSession {
  readonly lab: LabFile;
  /** The lab file it came from. */
  readonly labPath: string;
  readonly fabric: FabricKind;
  readonly dut: LabNodeHandle;
  readonly peer: LabNodeHandle;
  readonly probe: Probe | null;
  readonly capturer: Capturer | null;
  readonly sim: SimFabricControl | null;
  readonly capabilities: ReadonlySet<LabCapability>;
  /** Seeded defects in the DUT (test builds only; empty for a real certification). */
  readonly defects: readonly string[];
  /** Environment facts for the report (kernel, node names, fabric, versions). */
  readonly environment: Readonly<Record<string, string>>;
  /** Closes the probe and the transports; takes the lab down when this session brought it up. */
  close(): Promise<void>;
}

/** The address part of a CIDR. */
export function addressOf(cidr: string | undefined): string | null {
  if (cidr === undefined) return null;
  return cidr.split('/')[0] ?? null;
}
