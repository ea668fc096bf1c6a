/**
 * What a CM operation fails with. The family lives in src/errors.ts and is re-exported here, all
 * but CmRejectError: it names the REJ reason with cmRejReasonName (runtime code of this layer),
 * which errors.ts must not import.
 */
import { CmError } from '../../errors.js';
import type { CmRej } from '../../wire/cm.js';
import { cmRejReasonName } from './cm-messages.js';

export { CmClosedError, CmError, CmReplyRefusedError, CmStateError, CmTimeoutError } from '../../errors.js';

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
