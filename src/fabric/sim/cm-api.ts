/**
 * The public surface of the CM service: what its owners pass in (service, connect, accept and
 * reject options), what a listener receives, and the counters it keeps. Types only, plus the
 * zeroed counters.
 */
import type { CmKind, CmRep, CmReq, CM_TRANSPORT_RC, CM_TRANSPORT_UC } from '../../wire/cm.js';
import type { GsiAddress } from '../gsi.js';
import type { CmConnection } from './cm-connection.js';
import type { CmDropReason } from './cm-messages.js';
import type { CmClock } from './cm-timing.js';

export interface CmServiceOptions {
  /** Where time comes from (default: the process clock, timers unref'd). */
  clock?: CmClock;
  /** First comm ID handed out (default: random); later ones count up from it. */
  firstCommId?: number;
  /** Upper 32 bits of every TransactionID this CM starts (default: random). */
  tidHigh?: number;
  /** PacketLifeTime exponent of the paths this CM uses (default 0x12). */
  packetLifeTime?: number;
  /** Time-wait duration, ms (default: two packet lifetimes). */
  timewaitMs?: number;
}

export interface CmConnectOptions {
  serviceId: bigint;
  /** The peer's QP1. */
  dest: GsiAddress;
  /** The local RC (or UC) QP this connection uses. */
  localQpn: number;
  /** First PSN the local QP sends with. */
  startingPsn: number;
  pkey: number;
  /** IB MTU code, 1 (256) .. 5 (4096). */
  pathMtu: number;
  /** At most 92 octets; zero-padded. */
  privateData?: Buffer;
  /** MaxCMRetries, 0..15 (default 15, as Linux IPoIB-CM). */
  retries?: number;
  /** RemoteCMResponseTimeout exponent (default 20, as Linux IPoIB-CM). */
  responseTimeout?: number;
  /**
   * Alternative to `responseTimeout`: a wait in ms, rounded up to the next IBA exponent; that
   * exponent is what the REQ carries and what the CM then waits.
   */
  timeoutMs?: number;
  /** LocalCMResponseTimeout exponent: how fast this side answers a REP (default: `responseTimeout`). */
  localResponseTimeout?: number;
  /** The peer port's GID for the REQ's primary path (default `dest.gid`; one of the two is required). */
  remoteGid?: Buffer;
  /** Default 4 and 0, as Linux IPoIB-CM. */
  responderResources?: number;
  initiatorDepth?: number;
  /** Transport retry counts of the QP (default 7 each). */
  retryCount?: number;
  rnrRetryCount?: number;
  srq?: boolean;
  /** Default RC. */
  transport?: typeof CM_TRANSPORT_RC | typeof CM_TRANSPORT_UC;
  sl?: number;
  /** IB static-rate code (default CM_DEFAULT_PACKET_RATE). */
  packetRate?: number;
  /**
   * Judges the REP before the RTU goes: a refusal answers it with a REJ (MessageRejected REP)
   * instead, and connect() rejects with CmReplyRefusedError. Default: every REP is accepted.
   */
  checkRep?: (rep: CmRep) => CmRepRefusal | undefined;
}

/** Why the active side refuses a REP: the REJ it sends. */
export interface CmRepRefusal {
  /** REJ reason (a CM_REJ_REASONS value). */
  reason: number;
  /** REJ private data, at most 148 octets. */
  privateData?: Buffer;
}

export interface CmAcceptOptions {
  /** The local QP that answers. */
  localQpn: number;
  /** First PSN the local QP sends with. */
  startingPsn: number;
  /** At most 196 octets; zero-padded. */
  privateData?: Buffer;
  /** Defaults: the REQ's initiator depth and responder resources, crossed over. */
  responderResources?: number;
  initiatorDepth?: number;
  /** Default: copied from the REQ, as Linux IPoIB-CM does. */
  rnrRetryCount?: number;
  srq?: boolean;
  targetAckDelay?: number;
  /** 0 accepted, 1 not supported, 2 rejected (default 0). */
  failoverAccepted?: number;
}

export interface CmRejectOptions {
  /** Additional Rejection Information, at most 72 octets. */
  ari?: Buffer;
  /** At most 148 octets. */
  privateData?: Buffer;
}

/** A REQ handed to a listener. Answer with accept() or reject(), now or later. */
export interface CmIncomingRequest {
  readonly req: CmReq;
  /** The REQ's private data (92 octets, as received). */
  readonly privateData: Buffer;
  readonly from: GsiAddress;
  /**
   * Sends the REP (retried until the RTU comes) and resolves when the connection is
   * established. Rejects with CmTimeoutError (no RTU), CmRejectError, CmClosedError, or
   * CmStateError (answered twice, or the peer gave up first). The promise is marked handled,
   * so ignoring it never crashes the process.
   */
  accept(o: CmAcceptOptions): Promise<CmConnection>;
  /**
   * Sends a REJ with `reason` (a CM_REJ_REASONS value). Throws a WireError when the ARI or
   * private data do not fit, and CmStateError when the request was already answered or the
   * peer gave up on it.
   */
  reject(reason: number, o?: CmRejectOptions): void;
}

export type CmListener = (request: CmIncomingRequest) => void;

export type CmPerKind = Record<CmKind, number>;

/** Counters in the spirit of Linux's /sys/class/infiniband_cm/…/cm_{tx_msgs,tx_retries,rx_msgs,rx_duplicates}. */
export interface CmCounters {
  txMsgs: CmPerKind;
  txRetries: CmPerKind;
  rxMsgs: CmPerKind;
  rxDuplicates: CmPerKind;
  /** Received and dropped, by reason; `unmatched` is a CM message for no known connection. */
  dropped: Record<CmDropReason | 'unmatched', number>;
}

export interface CmServiceEvents {
  /** A listener threw, or an owner's event callback did. The CM itself carries on. */
  error: unknown;
}

export function emptyCmCounters(): CmCounters {
  const perKind = (): CmPerKind => ({ REQ: 0, REP: 0, RTU: 0, REJ: 0, DREQ: 0, DREP: 0 });
  return {
    txMsgs: perKind(),
    txRetries: perKind(),
    rxMsgs: perKind(),
    rxDuplicates: perKind(),
    dropped: {
      notCm: 0,
      badLength: 0,
      badBaseVersion: 0,
      badClassVersion: 0,
      badMethod: 0,
      unhandledAttribute: 0,
      unmatched: 0,
    },
  };
}
