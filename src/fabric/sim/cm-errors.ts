/**
 * What a CM operation fails with. TODO(errors): these belong in src/errors.ts with every other
 * error class; they live here until that shared file can take them.
 */
import type { CmRej } from '../../wire/cm.js';
import type { CmKind } from '../../wire/cm.js';
import { cmRejReasonName } from './cm-messages.js';

/** Base of every CM failure, so a caller can narrow with one `instanceof`. */
export class CmError extends Error {
  override readonly name: string = 'CmError';
}

/** The peer answered with a REJ. */
export class CmRejectError extends CmError {
  override readonly name = 'CmRejectError';
  /** REJ reason code (CM_REJ_REASONS). */
  readonly reason: number;
  /** The reason's name, e.g. `invalidServiceId`, or `unknown(N)`. */
  readonly reasonName: string;
  /** The meaningful part of the Additional Rejection Information (RejectedInfoLength octets). */
  readonly ari: Buffer;
  /** Which message the peer rejected (CM_REJ_MSG_*). */
  readonly messageRejected: number;
  /** The whole decoded REJ body. */
  readonly rej: CmRej;

  constructor(rej: CmRej) {
    const reasonName = cmRejReasonName(rej.reason);
    super(`cm: rejected by the peer: ${reasonName} (${rej.reason})`);
    this.reason = rej.reason;
    this.reasonName = reasonName;
    this.ari = Buffer.from(rej.ari.subarray(0, Math.min(rej.rejectedInfoLength, rej.ari.length)));
    this.messageRejected = rej.messageRejected;
    this.rej = rej;
  }
}

/** A message went unanswered through all its retries. */
export class CmTimeoutError extends CmError {
  override readonly name = 'CmTimeoutError';
  constructor(
    /** The message that got no answer (REQ, REP or DREQ). */
    readonly unanswered: CmKind,
    /** How many times it was sent (1 + retries). */
    readonly attempts: number,
    /** The wait after each attempt, in ms. */
    readonly waitMs: number,
  ) {
    super(`cm: no answer to ${unanswered} after ${attempts} sends, ${waitMs} ms apart`);
  }
}

/** The CM service was closed while the operation was pending. */
export class CmClosedError extends CmError {
  override readonly name = 'CmClosedError';
}

/** An operation that the connection's or service's state does not allow (accept twice, listen twice, …). */
export class CmStateError extends CmError {
  override readonly name = 'CmStateError';
}
