/**
 * The Local Route Header (IBA vol. 1 §7.7), 8 octets, first on the wire:
 *
 *   octet 0   VL(4) | LVer(4)
 *   octet 1   SL(4) | reserved(2) | LNH(2)
 *   octets 2-3  DLID
 *   octets 4-5  reserved(5) | PktLen(11)
 *   octets 6-7  SLID
 *
 * PktLen counts 4-octet words from the first octet of the LRH up to and including the ICRC;
 * the 2-octet VCRC is not counted (Linux ipath/qib/hfi1 write hdrwords + nwords + 1 ICRC word;
 * Wireshark multiplies the field by 4). A wire packet is therefore PktLen * 4 + 2 octets.
 *
 * Decoding is faithful: reserved bits, LVer and every LID are kept as found; `lrhProblems`
 * judges them.
 */
import { WireError } from '../errors.js';
import { type Codec, checkUint, need } from './codec.js';
import { LID_MULTICAST_BASE, LID_PERMISSIVE, LNH_IBA_LOCAL, LRH_LEN, LRH_MIN_IBA_PKTLEN_WORDS } from './constants.js';

export { LRH_MIN_IBA_PKTLEN_WORDS } from './constants.js';

export interface Lrh {
  /** Virtual lane, 4 bits (15 is the management lane). */
  vl: number;
  /** Link version, 4 bits; 0 is the only version defined. */
  lver: number;
  /** Service level, 4 bits. */
  sl: number;
  /** The 2 reserved bits of octet 1, kept as found. */
  resv2: number;
  /** Link Next Header, 2 bits: 0b11 GRH follows, 0b10 BTH follows, 0b01 raw IPv6, 0b00 raw. */
  lnh: number;
  dlid: number;
  /** The 5 reserved bits above PktLen, kept as found. */
  resv5: number;
  /** Packet length in 4-octet words, LRH through ICRC (VCRC excluded), 11 bits. */
  pktLen: number;
  slid: number;
}

export const lrh: Codec<Lrh> = {
  encodingLength: () => LRH_LEN,
  encode(h, buf, offset) {
    checkUint('lrh.vl', offset, h.vl, 4);
    checkUint('lrh.lver', offset, h.lver, 4);
    checkUint('lrh.sl', offset + 1, h.sl, 4);
    checkUint('lrh.resv2', offset + 1, h.resv2, 2);
    checkUint('lrh.lnh', offset + 1, h.lnh, 2);
    checkUint('lrh.dlid', offset + 2, h.dlid, 16);
    checkUint('lrh.resv5', offset + 4, h.resv5, 5);
    checkUint('lrh.pktlen', offset + 4, h.pktLen, 11);
    checkUint('lrh.slid', offset + 6, h.slid, 16);
    need(buf, offset, LRH_LEN, 'lrh');
    buf.writeUInt8((h.vl << 4) | h.lver, offset);
    buf.writeUInt8((h.sl << 4) | (h.resv2 << 2) | h.lnh, offset + 1);
    buf.writeUInt16BE(h.dlid, offset + 2);
    buf.writeUInt16BE((h.resv5 << 11) | h.pktLen, offset + 4);
    buf.writeUInt16BE(h.slid, offset + 6);
    return LRH_LEN;
  },
  decode(buf, offset) {
    need(buf, offset, LRH_LEN, 'lrh');
    const o0 = buf.readUInt8(offset);
    const o1 = buf.readUInt8(offset + 1);
    const w2 = buf.readUInt16BE(offset + 4);
    return {
      value: {
        vl: o0 >> 4,
        lver: o0 & 0x0f,
        sl: o1 >> 4,
        resv2: (o1 >> 2) & 0x03,
        lnh: o1 & 0x03,
        dlid: buf.readUInt16BE(offset + 2),
        resv5: w2 >> 11,
        pktLen: w2 & 0x07ff,
        slid: buf.readUInt16BE(offset + 6),
      },
      bytes: LRH_LEN,
    };
  },
};

/** Octets a packet with this PktLen occupies on the wire, VCRC included. */
export function wireLengthOfPktLen(pktLen: number): number {
  return pktLen * 4 + 2;
}

/**
 * What a sender got wrong in this LRH (empty when nothing). LID rules: 0 is reserved, a source
 * LID must be unicast (below 0xC000) or the permissive LID.
 */
export function lrhProblems(h: Lrh): string[] {
  const out: string[] = [];
  if (h.lver !== 0) out.push(`lrh.lver is ${h.lver}, only version 0 is defined`);
  if (h.resv2 !== 0) out.push(`lrh.resv2 is ${h.resv2}, must be sent as 0`);
  if (h.resv5 !== 0) out.push(`lrh.resv5 is ${h.resv5}, must be sent as 0`);
  if (h.dlid === 0) out.push('lrh.dlid is 0, a reserved LID');
  if (h.slid === 0) out.push('lrh.slid is 0, a reserved LID');
  if (h.slid >= LID_MULTICAST_BASE && h.slid !== LID_PERMISSIVE) {
    out.push(`lrh.slid 0x${h.slid.toString(16)} is a multicast LID, not a source`);
  }
  if (h.lnh >= LNH_IBA_LOCAL && h.pktLen < LRH_MIN_IBA_PKTLEN_WORDS) {
    out.push(`lrh.pktlen ${h.pktLen} is below ${LRH_MIN_IBA_PKTLEN_WORDS} words, too short for LRH + BTH + ICRC`);
  }
  return out;
}

/** Throws unless the LRH announces an IBA transport packet (LNH 0b10 or 0b11), the only kind with an ICRC. */
export function requireIbaLnh(lnh: number, offset: number): void {
  if (lnh < LNH_IBA_LOCAL) {
    throw new WireError('lrh.lnh', offset + 1, `LNH ${lnh} is a raw packet (no BTH, no ICRC)`, lnh);
  }
}
