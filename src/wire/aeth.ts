/**
 * The ACK Extended Transport Header (IBA vol. 1 §9.3.5), 4 octets: Syndrome(8) | MSN(24).
 *
 * The syndrome octet is bit 7 reserved, bits 6-5 the kind (00 ACK, 01 RNR NAK, 10 reserved,
 * 11 NAK) and bits 4-0 a value whose meaning depends on the kind: the credit count code of an
 * ACK, the RNR timer code of an RNR NAK, or the NAK code. The codec keeps the octet whole and
 * `classifySyndrome` reads it, so a reserved kind or bit is reported rather than refused.
 */
import { type Codec, checkUint, need } from './codec.js';
import {
  AETH_CREDIT_INVALID,
  AETH_KIND_ACK,
  AETH_KIND_NAK,
  AETH_KIND_RNR_NAK,
  AETH_LEN,
} from './constants.js';

// The syndrome kinds and codes live in constants.ts; re-exported for existing importers.
export {
  AETH_CREDIT_INVALID,
  AETH_KIND_ACK,
  AETH_KIND_NAK,
  AETH_KIND_RNR_NAK,
  NAK_INVALID_RD_REQUEST,
  NAK_INVALID_REQUEST,
  NAK_PSN_SEQUENCE_ERROR,
  NAK_REMOTE_ACCESS_ERROR,
  NAK_REMOTE_OPERATIONAL_ERROR,
} from './constants.js';

export interface Aeth {
  syndrome: number;
  /** Message sequence number, 24 bits. */
  msn: number;
}

export const aeth: Codec<Aeth> = {
  encodingLength: () => AETH_LEN,
  encode(h, buf, offset) {
    checkUint('aeth.syndrome', offset, h.syndrome, 8);
    checkUint('aeth.msn', offset + 1, h.msn, 24);
    need(buf, offset, AETH_LEN, 'aeth');
    buf.writeUInt8(h.syndrome, offset);
    buf.writeUIntBE(h.msn, offset + 1, 3);
    return AETH_LEN;
  },
  decode(buf, offset) {
    need(buf, offset, AETH_LEN, 'aeth');
    return { value: { syndrome: buf.readUInt8(offset), msn: buf.readUIntBE(offset + 1, 3) }, bytes: AETH_LEN };
  },
};

export type NakName =
  | 'psn-sequence-error'
  | 'invalid-request'
  | 'remote-access-error'
  | 'remote-operational-error'
  | 'invalid-rd-request';

const NAK_NAMES: readonly NakName[] = [
  'psn-sequence-error',
  'invalid-request',
  'remote-access-error',
  'remote-operational-error',
  'invalid-rd-request',
];

/** A syndrome, read. `reservedBit` is bit 7, which must be 0 in every kind. */
export type AethSyndrome =
  | { kind: 'ack'; creditCode: number; credits: number | null; reservedBit: boolean }
  | { kind: 'rnr-nak'; timerCode: number; timerUsec: number; reservedBit: boolean }
  | { kind: 'nak'; code: number; name: NakName | null; reservedBit: boolean }
  | { kind: 'reserved'; value: number; reservedBit: boolean };

/**
 * The 5-bit codes of ACK credits and RNR timers share one logarithmic scale: 0-4 are themselves,
 * then each step alternates x1.5 and x4/3 (4, 6, 8, 12, 16, 24, ... up to 49152 for code 31).
 */
function logScale(code: number): number {
  if (code < 2) return code;
  return code % 2 === 0 ? 2 ** (code / 2) : 3 * 2 ** ((code - 3) / 2);
}

/**
 * Credits an ACK's credit code grants: 0, 1, 2, 3, 4, 6, 8, 12, ... 32768 for codes 0-30; null
 * for code 31, which carries no credit count.
 */
export function creditsOfCode(code: number): number | null {
  return code === AETH_CREDIT_INVALID ? null : logScale(code);
}

/** Microseconds an RNR NAK's timer code asks the requester to wait: 655360 for code 0, then 10, 20, 30, 40, 60, ... 491520. */
export function rnrTimerUsec(code: number): number {
  return code === 0 ? 655_360 : 10 * logScale(code);
}

export function classifySyndrome(syndrome: number): AethSyndrome {
  const reservedBit = (syndrome & 0x80) !== 0;
  const kind = (syndrome >> 5) & 0x03;
  const value = syndrome & 0x1f;
  switch (kind) {
    case AETH_KIND_ACK:
      return { kind: 'ack', creditCode: value, credits: creditsOfCode(value), reservedBit };
    case AETH_KIND_RNR_NAK:
      return { kind: 'rnr-nak', timerCode: value, timerUsec: rnrTimerUsec(value), reservedBit };
    case AETH_KIND_NAK:
      return { kind: 'nak', code: value, name: NAK_NAMES[value] ?? null, reservedBit };
    default:
      return { kind: 'reserved', value, reservedBit };
  }
}

/** The syndrome octet of an ACK with this credit code (31 = no credit count). */
export function ackSyndrome(creditCode: number): number {
  checkUint('aeth.syndrome.credit', -1, creditCode, 5);
  return (AETH_KIND_ACK << 5) | creditCode;
}

/** The syndrome octet of an RNR NAK with this timer code. */
export function rnrNakSyndrome(timerCode: number): number {
  checkUint('aeth.syndrome.timer', -1, timerCode, 5);
  return (AETH_KIND_RNR_NAK << 5) | timerCode;
}

/** The syndrome octet of a NAK with this code (0-4 defined, 5-31 reserved but encodable for probes). */
export function nakSyndrome(code: number): number {
  checkUint('aeth.syndrome.nak', -1, code, 5);
  return (AETH_KIND_NAK << 5) | code;
}

/** What a sender got wrong in this AETH's syndrome (empty when nothing). */
export function aethProblems(h: Aeth): string[] {
  const s = classifySyndrome(h.syndrome);
  const out: string[] = [];
  if (s.reservedBit) out.push('aeth.syndrome has reserved bit 7 set');
  if (s.kind === 'reserved') out.push(`aeth.syndrome kind 0b10 is reserved (syndrome 0x${h.syndrome.toString(16)})`);
  if (s.kind === 'nak' && s.name === null) out.push(`aeth.syndrome NAK code ${s.code} is reserved`);
  return out;
}
