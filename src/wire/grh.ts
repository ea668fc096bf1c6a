/**
 * The Global Route Header (IBA vol. 1 §8.3), 40 octets, present when the LRH's LNH is 0b11. It
 * has the IPv6 header's shape:
 *
 *   octets 0-3   IPVer(4) | TClass(8) | FlowLabel(20)
 *   octets 4-5   PayLen: octets after the GRH up to and including the ICRC (VCRC excluded)
 *   octet 6      NxtHdr (0x1B for an IBA transport header)
 *   octet 7      HopLmt
 *   octets 8-23  SGID
 *   octets 24-39 DGID
 *
 * Decoding is faithful: IPVer and NxtHdr are kept as found even when wrong (a receiver drops
 * such a packet, and telling which sender did that is the suite's job); `grhProblems` judges
 * them. GIDs are plain 16-octet Buffers, copied out on decode.
 */
import { type Codec, checkBytes, checkUint, copyBytes, need } from './codec.js';
import { GID_LEN, GRH_IPVER, GRH_LEN, GRH_NEXT_HEADER_IBA } from './constants.js';

export { GID_LEN } from './constants.js';

export interface Grh {
  /** 4 bits, 6 on the wire. */
  ipVer: number;
  /** Traffic class, 8 bits. */
  tClass: number;
  /** Flow label, 20 bits. */
  flowLabel: number;
  /** Octets from the first after the GRH through the ICRC. */
  payLen: number;
  /** 0x1B: an IBA transport header (BTH) follows. */
  nxtHdr: number;
  hopLmt: number;
  sgid: Buffer;
  dgid: Buffer;
}

export const grh: Codec<Grh> = {
  encodingLength: () => GRH_LEN,
  encode(h, buf, offset) {
    checkUint('grh.ipver', offset, h.ipVer, 4);
    checkUint('grh.tclass', offset, h.tClass, 8);
    checkUint('grh.flowlabel', offset + 1, h.flowLabel, 20);
    checkUint('grh.paylen', offset + 4, h.payLen, 16);
    checkUint('grh.nxthdr', offset + 6, h.nxtHdr, 8);
    checkUint('grh.hoplmt', offset + 7, h.hopLmt, 8);
    checkBytes('grh.sgid', offset + 8, h.sgid, GID_LEN);
    checkBytes('grh.dgid', offset + 24, h.dgid, GID_LEN);
    need(buf, offset, GRH_LEN, 'grh');
    // >>> 0: IPVer sits in the sign bit's nibble, keep the word unsigned.
    buf.writeUInt32BE(((h.ipVer << 28) | (h.tClass << 20) | h.flowLabel) >>> 0, offset);
    buf.writeUInt16BE(h.payLen, offset + 4);
    buf.writeUInt8(h.nxtHdr, offset + 6);
    buf.writeUInt8(h.hopLmt, offset + 7);
    h.sgid.copy(buf, offset + 8);
    h.dgid.copy(buf, offset + 24);
    return GRH_LEN;
  },
  decode(buf, offset) {
    need(buf, offset, GRH_LEN, 'grh');
    const w0 = buf.readUInt32BE(offset);
    return {
      value: {
        ipVer: w0 >>> 28,
        tClass: (w0 >>> 20) & 0xff,
        flowLabel: w0 & 0xfffff,
        payLen: buf.readUInt16BE(offset + 4),
        nxtHdr: buf.readUInt8(offset + 6),
        hopLmt: buf.readUInt8(offset + 7),
        sgid: copyBytes(buf, offset + 8, offset + 24),
        dgid: copyBytes(buf, offset + 24, offset + GRH_LEN),
      },
      bytes: GRH_LEN,
    };
  },
};

/** What a sender got wrong in this GRH of an IBA packet (empty when nothing). */
export function grhProblems(h: Grh): string[] {
  const out: string[] = [];
  if (h.ipVer !== GRH_IPVER) out.push(`grh.ipver is ${h.ipVer}, must be ${GRH_IPVER}`);
  if (h.nxtHdr !== GRH_NEXT_HEADER_IBA) {
    out.push(`grh.nxthdr is 0x${h.nxtHdr.toString(16)}, an IBA packet needs 0x${GRH_NEXT_HEADER_IBA.toString(16)}`);
  }
  return out;
}
