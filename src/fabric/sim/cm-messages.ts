/**
 * CM MADs in and out, for the CM service: wraps a message body (src/wire/cm.ts) in the common
 * MAD header the CM class uses, and sorts a received datagram into "a CM message this CM
 * handles" or the reason it is dropped. No state and no I/O.
 *
 * Every CM message is a Send (method 0x03) of class 0x07, class version 2, with status,
 * ClassSpecific and AttributeModifier zero (Linux cm.c formats its headers the same way; the
 * attribute modifier is only used by the ECE extension, which this CM does not speak).
 */
import { WireError } from '../../errors.js';
import { CM_REJ_REASONS, type CmMessage, decodeCmMessage, encodeCmMessage } from '../../wire/cm.js';
import { encodeToBuffer } from '../../wire/codec.js';
import { CM_CLASS_VERSION, MAD_LEN, MAD_METHOD_SEND, MGMT_CLASS_CM } from '../../wire/constants.js';
import { MAD_BASE_VERSION, type MadHeader, mad, parseMad } from '../../wire/mad.js';

/** Why a datagram received on QP1 was not handled as a CM message. */
export type CmDropReason =
  /** Another management class (SA, performance, …): not for the CM. */
  | 'notCm'
  /** Not 256 octets (e.g. truncated inside the private data). */
  | 'badLength'
  | 'badBaseVersion'
  | 'badClassVersion'
  /** A CM MAD whose method is not Send. */
  | 'badMethod'
  /** MRA, LAP, APR, SIDR and unassigned attributes: this CM does not implement them. */
  | 'unhandledAttribute';

export type ParsedCmMad = { ok: true; header: MadHeader; msg: CmMessage } | { ok: false; reason: CmDropReason };

/** One whole CM MAD (256 octets) carrying `msg`. Encode errors name the body field (`cm.req.…`). */
export function buildCmMad(msg: CmMessage, transactionId: bigint): Buffer {
  const { attributeId, data } = encodeCmMessage(msg);
  return encodeToBuffer(mad, {
    header: {
      baseVersion: MAD_BASE_VERSION,
      mgmtClass: MGMT_CLASS_CM,
      classVersion: CM_CLASS_VERSION,
      method: MAD_METHOD_SEND,
      status: 0,
      classSpecific: 0,
      transactionId,
      attributeId,
      reserved: 0,
      attributeModifier: 0,
    },
    data,
  });
}

/** Sorts one received datagram; never throws. */
export function parseCmMad(buf: Buffer): ParsedCmMad {
  if (buf.length !== MAD_LEN) return { ok: false, reason: 'badLength' };
  if (buf.readUInt8(1) !== MGMT_CLASS_CM) return { ok: false, reason: 'notCm' };
  let header: MadHeader;
  let msg: CmMessage;
  try {
    const m = parseMad(buf);
    header = m.header;
    if (header.classVersion !== CM_CLASS_VERSION) return { ok: false, reason: 'badClassVersion' };
    if (header.method !== MAD_METHOD_SEND) return { ok: false, reason: 'badMethod' };
    msg = decodeCmMessage(m);
  } catch (e) {
    if (!(e instanceof WireError)) throw e;
    if (e.field === 'mad.baseVersion') return { ok: false, reason: 'badBaseVersion' };
    // decodeCmMessage refuses only attributes it has no body codec for.
    return { ok: false, reason: 'unhandledAttribute' };
  }
  return { ok: true, header, msg };
}

const REASON_NAMES: ReadonlyMap<number, string> = new Map(
  Object.entries(CM_REJ_REASONS).map(([name, code]) => [code, name]),
);

/** The name of a REJ reason code (`invalidServiceId`, …), or `unknown(N)`. */
export function cmRejReasonName(code: number): string {
  return REASON_NAMES.get(code) ?? `unknown(${code})`;
}

/**
 * A private-data (or ARI) field of exactly `len` octets: `data` followed by zeros. Throws a
 * WireError naming `field` when `data` is longer than the field.
 */
export function paddedField(field: string, offset: number, data: Buffer | undefined, len: number): Buffer {
  const out = Buffer.alloc(len);
  if (data === undefined) return out;
  if (!Buffer.isBuffer(data) || data.length > len) {
    const got = Buffer.isBuffer(data) ? `${data.length} octets` : typeof data;
    throw new WireError(field, offset, `at most ${len} octets fit, got ${got}`, data);
  }
  data.copy(out);
  return out;
}
