/**
 * The 4-octet IPoIB encapsulation header (RFC 4391 §6): Type (an EtherType) then 16 reserved
 * bits. Decoding keeps a non-zero reserved value: receivers must ignore it and senders must
 * send zero, and judging which side got that wrong is the suite's job, not the decoder's.
 */
import { type Codec, checkUint, need } from './codec.js';
import { ETH_P_ARP, ETH_P_IP, ETH_P_IPV6, ETH_P_RARP, IPOIB_HEADER_LEN } from './constants.js';

export interface IpoibHeader {
  /** EtherType of the payload (0x0800, 0x0806, 0x8035, 0x86dd, or anything a probe sends). */
  type: number;
  /** Sent as zero; kept as found on decode. */
  reserved: number;
}

export const ipoibHeader: Codec<IpoibHeader> = {
  encodingLength: () => IPOIB_HEADER_LEN,
  encode(h, buf, offset) {
    checkUint('encap.type', offset, h.type, 16);
    checkUint('encap.reserved', offset + 2, h.reserved, 16);
    need(buf, offset, IPOIB_HEADER_LEN, 'encap');
    buf.writeUInt16BE(h.type, offset);
    buf.writeUInt16BE(h.reserved, offset + 2);
    return IPOIB_HEADER_LEN;
  },
  decode(buf, offset) {
    need(buf, offset, IPOIB_HEADER_LEN, 'encap');
    return {
      value: { type: buf.readUInt16BE(offset), reserved: buf.readUInt16BE(offset + 2) },
      bytes: IPOIB_HEADER_LEN,
    };
  },
};

/** The EtherTypes RFC 4391 carries, by name; other values are legal on the wire but out of scope. */
export const IPOIB_ETHERTYPE_NAMES: Readonly<Record<number, string>> = {
  [ETH_P_IP]: 'IPv4',
  [ETH_P_ARP]: 'ARP',
  [ETH_P_RARP]: 'RARP',
  [ETH_P_IPV6]: 'IPv6',
};

/** `IPv4`, `ARP`, ... or `0x88cc` for a type without a name here. */
export function etherTypeName(type: number): string {
  return IPOIB_ETHERTYPE_NAMES[type] ?? `0x${type.toString(16).padStart(4, '0')}`;
}

/** What a sender got wrong in this header (empty when nothing): today only the reserved field. */
export function ipoibHeaderProblems(h: IpoibHeader): string[] {
  const problems: string[] = [];
  if (h.reserved !== 0) problems.push(`reserved 0x${h.reserved.toString(16).padStart(4, '0')}, want 0`);
  return problems;
}
