/**
 * One CM connection: the record the CM service keeps (state, both comm IDs, what each side
 * offered, the message being retried) and the read-only view its owner gets.
 *
 * States, as in the IBA CM state diagrams (MRA and LAP states left out):
 *   active:  IDLE → REQ_SENT → ESTABLISHED → DREQ_SENT → TIMEWAIT → IDLE
 *   passive: IDLE → REQ_RCVD → REP_SENT → ESTABLISHED → …
 *   either side on a DREQ: ESTABLISHED → TIMEWAIT (the DREP goes out at once), → IDLE
 * A REJ, or a retry count running out during the handshake, returns to IDLE directly.
 */
import type { CmRep, CmReq } from '../../wire/cm.js';
import type { CmKind } from '../../wire/cm.js';
import type { GsiAddress } from '../gsi.js';
import type { CmError } from './cm-errors.js';
import type { Listeners } from './cm-listeners.js';
import type { CmTimerHandle } from './cm-timing.js';
import type { CmRepRefusal } from './cm-api.js';

export type CmState = 'IDLE' | 'REQ_SENT' | 'REQ_RCVD' | 'REP_SENT' | 'ESTABLISHED' | 'DREQ_SENT' | 'TIMEWAIT';

/** Active: sent the REQ. Passive: answered one. */
export type CmRole = 'active' | 'passive';

export interface CmDisconnectResult {
  /** Who sent the DREQ that ended the connection ('remote' also covers a REJ after establishment). */
  initiator: 'local' | 'remote';
  /** Whether the peer confirmed (a DREP, or its own DREQ crossing ours). */
  confirmed: boolean;
}

export interface CmDisconnectedEvent extends CmDisconnectResult {
  /** Private data of the peer's DREQ or DREP (zeros when there was none). */
  privateData: Buffer;
}

export interface CmConnectionEvents {
  established: CmConnection;
  disconnected: CmDisconnectedEvent;
  /** The peer rejected after establishment, or a disconnect went unanswered. */
  error: CmError;
  /** Time-wait is over: the comm ID is free again. */
  idle: CmConnection;
}

/** A message the CM is (re)sending until its answer comes. */
export interface PendingSend {
  kind: CmKind;
  mad: Buffer;
  /** Sends so far. */
  attempts: number;
  timer: CmTimerHandle;
  onGiveUp: () => void;
}

/** The CM service's record of one connection (mutable; the owner only sees CmConnection). */
export interface ConnectionRecord {
  role: CmRole;
  state: CmState;
  serviceId: bigint;
  localCommId: number;
  /** 0 until the peer's comm ID is known (the active side learns it from the REP). */
  remoteCommId: number;
  /** TransactionID of the current exchange: REQ/REP/RTU share one, each DREQ/DREP another. */
  transactionId: bigint;
  /** The peer's QP1. */
  remote: GsiAddress;
  remoteCaGuid: bigint;
  remoteGid: Buffer;
  localQpn: number;
  /** 0 until known. */
  remoteQpn: number;
  /** First PSN this side sends with. */
  sendPsn: number;
  /** First PSN this side expects. */
  receivePsn: number;
  pkey: number;
  /** IB MTU code (1..5). */
  pathMtu: number;
  /** Wait after each send of REQ/REP/DREQ, ms, and how many resends are allowed. */
  waitMs: number;
  maxRetries: number;
  req?: CmReq;
  rep?: CmRep;
  /** Active side: the owner's judgement of the REP (CmConnectOptions.checkRep). */
  checkRep?: (rep: CmRep) => CmRepRefusal | undefined;
  /** Sent messages kept to answer duplicates: the REP (to a repeated REQ), the RTU (to a repeated REP), the DREP. */
  repMad?: Buffer;
  rtuMad?: Buffer;
  drepMad?: Buffer;
  retry?: PendingSend;
  timewaitTimer?: CmTimerHandle;
  /** connect() or accept() waiting for the handshake to end. */
  handshake?: { resolve: (c: CmConnection) => void; reject: (e: Error) => void };
  /** disconnect() waiting for a DREP. */
  disconnecting?: { promise: Promise<CmDisconnectResult>; resolve: (r: CmDisconnectResult) => void };
  disconnectResult?: CmDisconnectResult;
  /** Why a passive connection died before its owner answered the REQ. */
  failure?: Error;
  events: Listeners<CmConnectionEvents>;
  view?: CmConnection;
}

/** What the owner of a connection sees and can do. */
export class CmConnection {
  readonly #rec: ConnectionRecord;
  readonly #disconnect: (privateData?: Buffer) => Promise<CmDisconnectResult>;

  constructor(rec: ConnectionRecord, disconnect: (privateData?: Buffer) => Promise<CmDisconnectResult>) {
    this.#rec = rec;
    this.#disconnect = disconnect;
  }

  get role(): CmRole {
    return this.#rec.role;
  }
  get state(): CmState {
    return this.#rec.state;
  }
  get serviceId(): bigint {
    return this.#rec.serviceId;
  }
  get localCommId(): number {
    return this.#rec.localCommId;
  }
  get remoteCommId(): number {
    return this.#rec.remoteCommId;
  }
  get remote(): Readonly<GsiAddress> {
    return this.#rec.remote;
  }
  get remoteCaGuid(): bigint {
    return this.#rec.remoteCaGuid;
  }
  get remoteGid(): Buffer {
    return Buffer.from(this.#rec.remoteGid);
  }
  get localQpn(): number {
    return this.#rec.localQpn;
  }
  get remoteQpn(): number {
    return this.#rec.remoteQpn;
  }
  get sendPsn(): number {
    return this.#rec.sendPsn;
  }
  get receivePsn(): number {
    return this.#rec.receivePsn;
  }
  get pkey(): number {
    return this.#rec.pkey;
  }
  get pathMtu(): number {
    return this.#rec.pathMtu;
  }
  /** The REQ of the handshake (sent by the active side, received by the passive one). */
  get req(): CmReq | undefined {
    return this.#rec.req;
  }
  /** The REP of the handshake. */
  get rep(): CmRep | undefined {
    return this.#rec.rep;
  }
  /** The private data the peer sent in its REQ (passive) or REP (active). */
  get remotePrivateData(): Buffer {
    const pd = this.#rec.role === 'active' ? this.#rec.rep?.privateData : this.#rec.req?.privateData;
    return Buffer.from(pd ?? Buffer.alloc(0));
  }

  on<K extends keyof CmConnectionEvents>(event: K, cb: (payload: CmConnectionEvents[K]) => void): () => void {
    return this.#rec.events.on(event, cb);
  }

  /**
   * Sends a DREQ (retried like the handshake) and resolves once the peer answers or the retries
   * run out; either way the connection is then in time-wait. Never rejects: a disconnect the
   * peer did not confirm resolves with `confirmed: false`.
   */
  disconnect(privateData?: Buffer): Promise<CmDisconnectResult> {
    return this.#disconnect(privateData);
  }
}
