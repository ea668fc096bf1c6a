/**
 * The HCA abstraction the IPoIB stack talks to. Two providers implement it: `sim` (the
 * simulated subnet in src/fabric/sim/) and, later, `verbs` (libibverbs/librdmacm through the
 * native addon). Nothing above src/fabric/ may know which one it has: it sees only these types.
 *
 * Shapes follow the verbs model (ports, UD QPs with address handles, RC QPs connected by a CM,
 * multicast attach, an SA client), so the verbs provider maps onto it without translation.
 */
import type { McMemberRecord } from '../wire/mcmember-record.js';
import type { PathRecord } from '../wire/path-record.js';

export type ProviderKind = 'sim' | 'verbs';
export type PortState = 'down' | 'init' | 'armed' | 'active';
export type LinkLayer = 'infiniband' | 'ethernet';

/** What a port is, read back from the provider (never cached by callers across events). */
export interface PortAttributes {
  /** Port GUID (the low 64 bits of the port's GID 0). */
  guid: bigint;
  /** GID index 0: subnet prefix + GUID, 16 octets. */
  gid: Buffer;
  lid: number;
  smLid: number;
  state: PortState;
  /** IB MTU code (1 = 256 … 5 = 4096) of the port. */
  activeMtuCode: number;
  linkLayer: LinkLayer;
  /** The P_Key table; index 0 is the default partition. */
  pkeys: readonly number[];
}

/** What the fabric can express, so suites can skip what it cannot (with the reason). */
export interface FabricCapabilities {
  /** An SA answers MCMemberRecord and PathRecord queries. */
  subnetAdministrator: boolean;
  /** More than one P_Key can exist (rxe has only 0xFFFF). */
  partitions: boolean;
  /** RC QPs and a CM are available. */
  connectedMode: boolean;
  /** Every packet can be captured (the sim tap; a sniffer on real HCAs). */
  wireCapture: boolean;
}

export type PortEvent =
  | { type: 'port-active' }
  | { type: 'port-down' }
  | { type: 'pkey-change'; pkeys: readonly number[] }
  | { type: 'lid-change'; lid: number }
  | { type: 'client-reregister' };

/** Where a UD send goes (the verbs address handle plus the remote QP). */
export interface UdDestination {
  dlid: number;
  /** Remote QPN; 0xFFFFFF for multicast. */
  dqpn: number;
  /** Q_Key to put in the DETH; one with the high bit set is replaced by the QP's own Q_Key (IBA). */
  qkey: number;
  sl?: number;
  /** A GRH is sent when present: required for multicast, optional for unicast in one subnet. */
  grh?: { dgid: Buffer; hopLimit?: number; trafficClass?: number; flowLabel?: number };
}

/** One received UD message. */
export interface UdCompletion {
  qpn: number;
  srcQpn: number;
  slid: number;
  sl: number;
  pkey: number;
  qkey: number;
  grh?: { sgid: Buffer; dgid: Buffer; hopLimit: number; trafficClass: number; flowLabel: number };
  payload: Buffer;
}

export interface UdQp {
  readonly qpn: number;
  readonly qkey: number;
  readonly pkeyIndex: number;
  setQkey(qkey: number): void;
  send(to: UdDestination, payload: Buffer): void;
  onReceive(cb: (batch: readonly UdCompletion[]) => void): () => void;
  attachMulticast(mgid: Buffer, mlid: number): void;
  detachMulticast(mgid: Buffer, mlid: number): void;
  close(): Promise<void>;
}

/** JoinState bits as in src/wire/constants.ts (JOIN_STATE_*). */
export interface JoinRequest {
  mgid: Buffer;
  joinState: number;
  /** Components beyond MGID/PortGID/JoinState to send (e.g. P_Key, Q_Key to create a group). */
  record?: Partial<McMemberRecord>;
  timeoutMs?: number;
}

export interface SaClient {
  /** Resolves with the group's record as the SA returned it; rejects with SaError on an SA status. */
  join(req: JoinRequest): Promise<McMemberRecord>;
  leave(mgid: Buffer, joinState: number, timeoutMs?: number): Promise<void>;
  pathTo(dgid: Buffer, pkey: number, timeoutMs?: number): Promise<PathRecord>;
}

export interface HcaPort {
  readonly provider: ProviderKind;
  readonly capabilities: FabricCapabilities;
  attributes(): PortAttributes;
  onEvent(cb: (e: PortEvent) => void): () => void;
  createUdQp(o: { qkey: number; pkeyIndex: number }): Promise<UdQp>;
  readonly sa: SaClient;
  close(): Promise<void>;
}
