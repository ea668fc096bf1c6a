/**
 * How an interface finds its P_Key in the port's P_Key table, as Linux ib_ipoib does:
 * - a parent takes the value at index 0, with the full-membership bit (0x8000) ORed in;
 * - a child's P_Key is fixed (what it was created with, 0x8000 ORed in);
 * - the QP uses the index `ib_find_pkey` returns: an entry with the same low 15 bits, a
 *   full-member one preferred, a limited one otherwise;
 * - a P_Key whose low 15 bits are 0 is invalid, and one absent from the table leaves the
 *   interface up without carrier until a P_Key change brings it.
 * The 0x8000 bit therefore shapes MGIDs, SA records and what `pkey` shows, not necessarily
 * the P_Key on the wire (that is whatever table entry was found).
 */
import { PKEY_BASE_MASK, PKEY_FULL_MEMBER_BIT } from '../wire/constants.js';

/** The interface P_Key for a requested one: 0x8000 always ORed in. */
export function withFullBit(pkey: number): number {
  return (pkey | PKEY_FULL_MEMBER_BIT) & 0xffff;
}

/** A parent's P_Key: table index 0 with 0x8000; undefined when the table is empty or index 0 is invalid. */
export function parentPkey(table: readonly number[]): number | undefined {
  const first = table[0];
  if (first === undefined || (first & PKEY_BASE_MASK) === 0) return undefined;
  return withFullBit(first);
}

/** The table index for `pkey` (full member first, then limited); undefined when absent or invalid. */
export function findPkeyIndex(table: readonly number[], pkey: number): number | undefined {
  const base = pkey & PKEY_BASE_MASK;
  if (base === 0) return undefined;
  let limited: number | undefined;
  for (const [i, entry] of table.entries()) {
    if ((entry & PKEY_BASE_MASK) !== base) continue;
    if ((entry & PKEY_FULL_MEMBER_BIT) !== 0) return i;
    limited ??= i;
  }
  return limited;
}
