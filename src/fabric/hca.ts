/**
 * The HCA abstraction the IPoIB stack talks to. Two providers implement it: `sim` (the
 * simulated subnet in src/fabric/sim/) and, later, `verbs` (libibverbs/librdmacm through the
 * native addon). Nothing above src/fabric/ may know which one it has: it sees only these types.
 *
 * Shapes follow the verbs model (ports, UD QPs with address handles, RC QPs connected by a CM,
 * multicast attach, an SA client), so the verbs provider maps onto it without translation.
 */
import type { McMemberRecord } from '../wire/mcmember-record.js';
import type { Notice } from '../wire/notice.js';
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

/** Reports of one SA trap to ask for (SubnAdmSet(InformInfo)). */
export interface SaSubscription {
  /** A generic trap number the SA issues: 66 (multicast group created) or 67 (deleted). */
  trap: number;
  /** What the trap is about: an MGID for 66 and 67. Absent: every group. */
  gid?: Buffer;
  timeoutMs?: number;
}

/** A Report from the SA, already answered (SubnAdmReportResp) by the time listeners hear of it. */
export interface SaNotice {
  trap: number;
  /** The GID the trap is about (the group's MGID for 66 and 67); undefined for traps without one. */
  gid: Buffer | undefined;
  notice: Notice;
}

export interface SaClient {
  /** Resolves with the group's record as the SA returned it; rejects with SaError on an SA status. */
  join(req: JoinRequest): Promise<McMemberRecord>;
  leave(mgid: Buffer, joinState: number, timeoutMs?: number): Promise<void>;
  pathTo(dgid: Buffer, pkey: number, timeoutMs?: number): Promise<PathRecord>;
  /**
   * Asks the SA for Reports of `s.trap` (about `s.gid`); rejects with SaError when the SA refuses
   * or never answers. Subscriptions are counted per port: the same trap and GID subscribed twice
   * takes two unsubscribes before the SA is told.
   */
  subscribe(s: SaSubscription): Promise<void>;
  /** Gives one subscription back; the last one out unsubscribes at the SA. */
  unsubscribe(s: SaSubscription): Promise<void>;
  /** Every Report the port receives (each answered once, heard once even when the SA resends it). */
  onNotice(cb: (n: SaNotice) => void): () => void;
}

export interface HcaPort {
  readonly provider: ProviderKind;
  readonly capabilities: FabricCapabilities;
  attributes(): PortAttributes;
  onEvent(cb: (e: PortEvent) => void): () => void;
  createUdQp(o: { qkey: number; pkeyIndex: number }): Promise<UdQp>;
  readonly sa: SaClient;
  close(): Promise<void>;
  /**
   * Answers REQs for `serviceId` with `accept`'s decision (RC connections; see
   * `capabilities.connectedMode`). Throws when the Service ID already has a listener here.
   */
  listenRc(serviceId: bigint, accept: RcAcceptFn): RcListener;
  /**
   * Connects an RC QP to the peer listening on `serviceId`. Rejects with RcRejectedError (a
   * REJ: its reason), RcConnectTimeoutError (no answer through all CM retries) or
   * RcConnectError (anything else, e.g. the port closed).
   */
  connectRc(o: RcConnectOptions): Promise<RcQp>;
}

// ---- RC (reliable connected) QPs, connected through the CM

/** The states an RC QP goes through (IBA; SQD and SQE are not modelled). */
export type RcQpState = 'RESET' | 'INIT' | 'RTR' | 'RTS' | 'ERROR';

/** How an RC send completed: `success` once the peer acknowledged every packet of the message. */
export type RcSendStatus =
  | 'success'
  | 'retry-exceeded'
  | 'rnr-retry-exceeded'
  | 'remote-invalid-request'
  | 'remote-access-error'
  | 'remote-operational-error'
  | 'flushed';

/** What an RC connection was made with: fixed by the CM handshake, the same on both sides' views. */
export interface RcConnectionAttributes {
  serviceId: bigint;
  /** `active` sent the REQ (connectRc); `passive` answered it (listenRc). */
  role: 'active' | 'passive';
  remoteLid: number;
  remoteGid: Buffer;
  remoteQpn: number;
  /** First PSN this QP sends with, and the first it expects. */
  sendPsn: number;
  receivePsn: number;
  pkey: number;
  pkeyIndex: number;
  /** IB MTU code (1 = 256 … 5 = 4096) the messages are segmented by. */
  pathMtuCode: number;
  /** Transport retries after ACK timeouts (0..7), and after RNR NAKs (0..7; 7 = forever). */
  retryCount: number;
  rnrRetry: number;
  /** Local ACK timeout 4.096 µs × 2^ackTimeoutExp (0 = none). */
  ackTimeoutExp: number;
  /** Largest message this QP accepts. */
  maxMessageBytes: number;
  /** The private data the peer sent (its REQ or REP), as received. */
  remotePrivateData: Buffer;
  /** The private data this side sent. */
  localPrivateData: Buffer;
}

/** One end of an RC connection. */
export interface RcQp {
  readonly qpn: number;
  readonly state: RcQpState;
  readonly attributes: RcConnectionAttributes;
  /**
   * Queues a message (0 .. 2^31 octets); resolves when the peer has acknowledged all of it,
   * rejects with RcSendError (its `status` says why) otherwise. Messages arrive in order.
   */
  send(message: Buffer): Promise<void>;
  /** Every message received, in order; those that arrive before the first subscriber are kept for it. */
  onMessage(cb: (message: Buffer) => void): () => void;
  /** The QP went to ERROR by itself (retries exhausted, a NAK, a bad request): an RcQpError. */
  onError(cb: (error: Error) => void): () => void;
  /** The connection ended (a DREQ from either side); the QP is freed by then. */
  onDisconnect(cb: (e: { initiator: 'local' | 'remote' }) => void): () => void;
  /** Disconnects (DREQ, not waited for), flushes what is pending (RcSendError 'flushed') and frees the QP. */
  close(): Promise<void>;
}

/** A REQ as a listener sees it. */
export interface RcConnectRequest {
  readonly serviceId: bigint;
  /** The REQ's private data, as received (92 octets). */
  readonly privateData: Buffer;
  readonly remoteLid: number;
  readonly remoteGid: Buffer;
  readonly remoteQpn: number;
  readonly pkey: number;
  readonly pathMtuCode: number;
}

/** A listener's answer to a REQ. */
export type RcAcceptDecision =
  | {
      accept: true;
      /** REP private data, at most 196 octets. */
      privateData?: Buffer;
      /** Local ACK timeout exponent of the passive QP (default 14: 67 ms). */
      ackTimeoutExp?: number;
      /** Largest message the passive QP accepts (default 65536). */
      maxMessageBytes?: number;
    }
  | {
      accept: false;
      /** REJ reason (CM_REJ_REASONS in src/wire/cm.ts; default consumer-defined, 28). */
      rejectReason?: number;
      /** REJ private data, at most 148 octets. */
      privateData?: Buffer;
    };

export type RcAcceptFn = (req: RcConnectRequest) => RcAcceptDecision | Promise<RcAcceptDecision>;

/** REQs for one Service ID; accepted connections come out of onConnection once in RTS. */
export interface RcListener {
  readonly serviceId: bigint;
  onConnection(cb: (qp: RcQp) => void): () => void;
  /** Stops answering REQs (later ones are rejected as for an unknown Service ID); established connections stay. */
  close(): void;
}

export interface RcConnectOptions {
  serviceId: bigint;
  /** The peer port's GID. */
  dgid: Buffer;
  /** The peer port's LID; looked up with a PathRecord query when left out. */
  dlid?: number;
  /** REQ private data, at most 92 octets. */
  privateData?: Buffer;
  /** Default 0. */
  pkeyIndex?: number;
  /** Default: the port's active MTU. */
  pathMtuCode?: number;
  /** Default 7 each. */
  retryCount?: number;
  rnrRetry?: number;
  /** Local ACK timeout exponent (default 14: 67 ms). */
  ackTimeoutExp?: number;
  /** Largest message the QP accepts (default 65536). */
  maxMessageBytes?: number;
  /**
   * The CM response timeout asked of the peer, ms (rounded up to an IBA exponent; default
   * ≈ 4.3 s, as Linux IPoIB-CM); each wait adds two packet lifetimes. And how often a CM
   * message is resent before connectRc gives up (default 15).
   */
  cmTimeoutMs?: number;
  cmRetries?: number;
  /** The REQ's Starting PSN: the first PSN this QP expects, which the peer sends from (default random; Linux IPoIB-CM sends 0). */
  startingPsn?: number;
  /**
   * Looks at the REP's private data before the connection is made: a refusal answers the REP
   * with a REJ of that reason instead of the RTU, and connectRc rejects with RcConnectError
   * (Linux IPoIB-CM refuses a REP whose receive MTU is 4 or less this way). Default: accept.
   */
  checkReply?: (privateData: Buffer) => { rejectReason: number; privateData?: Buffer } | undefined;
}

