/**
 * The probe: a tester endpoint on the fabric, beside the DUT and its peer, that sends whatever
 * frame a test asks for (any DLID/DQPN/DGID, Q_Key, P_Key index, with or without a GRH, raw
 * payload octets), records everything that reaches its QPs, joins and leaves multicast groups
 * with any JoinState, sends raw MADs (SA, CM) on QP1, and makes and accepts RC connections
 * through the CM (a connected-mode partner for RFC 4755 cases).
 *
 * The probe never judges what it sees; it records. On the sim fabric it is a SimHcaPort of its
 * own (src/lab/probes/sim-probe.ts); on verbs hosts it will be a UD QP on the peer node.
 */
import type { RcAcceptFn, RcConnectOptions, RcListener, RcQp } from '../fabric/hca.js';
import type { McMemberRecord } from '../wire/mcmember-record.js';
import type { PathRecord } from '../wire/path-record.js';

/** The RC side of the probe speaks the fabric API's own types. */
export type { RcAcceptDecision, RcAcceptFn, RcConnectOptions, RcConnectRequest, RcListener, RcQp } from '../fabric/hca.js';

/** Where a probe frame goes. */
export interface ProbeDestination {
  dlid: number;
  /** 0xFFFFFF for multicast. */
  dqpn: number;
  /** Q_Key put in the DETH as given (a value with the high bit set is replaced by the QP's own, as IBA says). */
  qkey: number;
  sl?: number;
  /** Present: the frame carries a GRH (required for multicast). */
  grh?: { dgid: Buffer; hopLimit?: number; trafficClass?: number; flowLabel?: number };
}

/** One UD message that arrived at a probe QP, as the HCA reported it. */
export interface ProbeFrame {
  /** Milliseconds since the probe opened (performance.now() based). */
  atMs: number;
  /** The probe QP it arrived on. */
  qpn: number;
  srcQpn: number;
  slid: number;
  sl: number;
  pkey: number;
  qkey: number;
  grh?: { sgid: Buffer; dgid: Buffer; hopLimit: number; trafficClass: number; flowLabel: number };
  /** The UD payload: for IPoIB, the 4-octet header and what follows. */
  payload: Buffer;
}

export interface ProbeQp {
  readonly qpn: number;
  readonly qkey: number;
  readonly pkeyIndex: number;
  /** The P_Key at pkeyIndex in the probe port's table. */
  readonly pkey: number;
  send(to: ProbeDestination, payload: Buffer): void;
  /** Everything received so far (oldest first), since open or the last clear(). */
  received(): readonly ProbeFrame[];
  /** Resolves with the first frame (already received or arriving) that matches; rejects with ProbeTimeoutError. */
  waitFor(match: (f: ProbeFrame) => boolean, timeoutMs: number): Promise<ProbeFrame>;
  /**
   * Resolves, once windowMs has passed, with every matching frame received since open or the
   * last clear() (so clear() before the stimulus for "nothing arrives" checks).
   */
  collect(match: (f: ProbeFrame) => boolean, windowMs: number): Promise<ProbeFrame[]>;
  clear(): void;
  attachMulticast(mgid: Buffer, mlid: number): void;
  detachMulticast(mgid: Buffer, mlid: number): void;
  close(): Promise<void>;
}

/** A MAD the probe's QP1 received. */
export interface ProbeMad {
  atMs: number;
  slid: number;
  mad: Buffer;
}

export interface Probe {
  /** The probe's name (its fabric node). */
  readonly name: string;
  readonly lid: number;
  readonly gid: Buffer;
  readonly smLid: number;
  /** The probe port's P_Key table, index order. */
  readonly pkeys: readonly number[];

  /** Opens a UD QP; the caller registers `close` with its cleanup stack. */
  openQp(o: { qkey: number; pkeyIndex?: number }): Promise<ProbeQp>;
  /** Index of a P_Key in the probe's table (matched with the membership bit ignored), or -1. */
  pkeyIndexOf(pkey: number): number;

  /** SA join with any JoinState; resolves with the SA's record, rejects with SaError. */
  join(o: { mgid: Buffer; joinState: number; record?: Partial<McMemberRecord>; timeoutMs?: number }): Promise<McMemberRecord>;
  leave(mgid: Buffer, joinState: number): Promise<void>;
  /** SA PathRecord query; this is how the probe learns a DUT's LID from its GID. */
  pathTo(dgid: Buffer, pkey: number): Promise<PathRecord>;
  /** The SA's MCMemberRecords for one MGID (every member's record), via an SA GetTable. */
  groupMembers(mgid: Buffer): Promise<McMemberRecord[]>;

  /**
   * Sends one raw MAD from QP1 to QP1 of `dlid` (SA: the SM LID; CM: the peer), as given: a MAD
   * is 256 octets, but the length is not checked, so a robustness probe can send a bad one.
   */
  sendMad(dlid: number, mad: Buffer, o?: { pkeyIndex?: number }): void;
  /** MADs received on QP1 since open or the last clearMads(), oldest first. */
  mads(): readonly ProbeMad[];
  waitForMad(match: (m: ProbeMad) => boolean, timeoutMs: number): Promise<ProbeMad>;
  clearMads(): void;

  /**
   * Answers REQs for `serviceId` through the probe port's CM (`accept` decides each: REP with
   * any private data, or REJ with any reason); the caller registers the listener's `close`.
   * REQs for Service IDs nobody listens on get the CM's REJ "invalid Service ID".
   */
  listenRc(serviceId: bigint, accept: RcAcceptFn): RcListener;
  /**
   * Sends a REQ for `serviceId` (any value, any private data) and resolves with the RC QP once
   * the REP came and the RTU left; rejects with RcRejectedError (a REJ), RcConnectTimeoutError
   * or RcConnectError. The caller registers the QP's `close` (a DREQ).
   */
  connectRc(o: RcConnectOptions): Promise<RcQp>;

  close(): Promise<void>;
}
