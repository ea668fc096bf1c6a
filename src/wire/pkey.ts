/**
 * Partition keys: membership bit, base, validity, the IBA matching rule, and the text forms.
 * A P_Key is bit 15 = full member (1) or limited member (0), bits 14..0 = the partition base.
 */
import { WireError } from '../errors.js';
import { PKEY_BASE_MASK, PKEY_FULL_MEMBER_BIT, PKEY_INVALID_BASE } from './constants.js';

/** Throws unless `p` is an integer in [0, 0xffff]; the helpers below take only such values. */
function checkPkey(p: number, field = 'pkey'): void {
  if (!Number.isInteger(p) || p < 0 || p > 0xffff) {
    throw new WireError(field, -1, `${String(p)} does not fit 16 unsigned bits`, p);
  }
}

/** True when the full-membership bit (0x8000) is set. */
export function isFullMember(p: number): boolean {
  checkPkey(p);
  return (p & PKEY_FULL_MEMBER_BIT) !== 0;
}

/** The partition base: the low 15 bits. */
export function baseOf(p: number): number {
  checkPkey(p);
  return p & PKEY_BASE_MASK;
}

/**
 * A judge, so it never throws: false for anything that is not a 16-bit integer, and for
 * base 0 (0x0000 and 0x8000 are the invalid P_Keys).
 */
export function isValidPkey(p: number): boolean {
  return Number.isInteger(p) && p >= 0 && p <= 0xffff && (p & PKEY_BASE_MASK) !== PKEY_INVALID_BASE;
}

/**
 * IBA matching rule: equal bases and at least one of the two a full member. Two limited
 * members of the same partition cannot talk, and an invalid key matches nothing.
 */
export function pkeysMatch(a: number, b: number): boolean {
  checkPkey(a);
  checkPkey(b);
  if (!isValidPkey(a) || !isValidPkey(b)) return false;
  return baseOf(a) === baseOf(b) && (isFullMember(a) || isFullMember(b));
}

/** What Linux ib_ipoib stores for a requested P_Key: it always ORs in the full-member bit. */
export function linuxPkey(p: number): number {
  checkPkey(p);
  return p | PKEY_FULL_MEMBER_BIT;
}

const PKEY_TEXT = /^(0[xX])?([0-9a-fA-F]{1,4})$/;

/**
 * Reads a P_Key written in hex, with or without `0x` (`0x8001`, `8001`, `7fff`). Bare digits
 * are hex because that is how P_Keys are shown everywhere (interface names `ib0.8001`, sysfs
 * `pkey`, OpenSM partitions). Decimal is deliberately not accepted.
 *
 * Beware: the kernel's `create_child` and `ip link ... pkey` read with base auto-detection,
 * so a bare `8001` written there means decimal 8001 and a leading `0` means octal. Never pass
 * user text through; write `formatPkey(parsePkey(text))`, which both read as intended.
 *
 * Only syntax and range are checked here; whether the key is usable is `isValidPkey`'s job.
 */
export function parsePkey(text: string): number {
  const m = PKEY_TEXT.exec(text.trim());
  if (!m || m[2] === undefined) {
    throw new WireError('pkey.text', -1, `"${text}" is not a hex P_Key (0x0000..0xffff)`, text);
  }
  return parseInt(m[2], 16);
}

/** `0x8001` form (lower-case, four digits), as sysfs `pkey` and `ip -d link` print it. */
export function formatPkey(p: number): string {
  checkPkey(p);
  return `0x${p.toString(16).padStart(4, '0')}`;
}
