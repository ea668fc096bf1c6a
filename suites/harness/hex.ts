/**
 * Numbers as the RFCs and the IBA print them (QPNs, Q_Keys, P_Keys, MAD fields), for assertion
 * messages and evidence: `0x` and a fixed number of hex digits, so values line up and compare
 * as text.
 */

export const hex = (n: number, digits: number): string => `0x${n.toString(16).padStart(digits, '0')}`;
/** One octet (a JoinState, a MAD method, a flags octet). */
export const hex2 = (n: number): string => hex(n, 2);
/** 16 bits (a P_Key, an EtherType, an MLID). */
export const hex4 = (n: number): string => hex(n, 4);
/** 24 bits (a QPN). */
export const hex6 = (n: number): string => hex(n, 6);
/** 32 bits (a Q_Key). */
export const hex8 = (n: number): string => hex(n, 8);
