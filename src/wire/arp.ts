/**
 * ARP over IPoIB for IPv4 (RFC 4391 §9.2, RFC 826 field order):
 * htype(2) ptype(2) hlen(1) plen(1) op(2) sha(20) spa(4) tha(20) tpa(4) = 56 octets.
 *
 * hlen and plen define the layout, so decode refuses any other value (`arp.hlen`, `arp.plen`):
 * it could not say where the addresses are. htype, ptype and op are kept as found, and
 * `arpProblems()` judges them, so robustness tests can decode what a bad peer sent.
 */
import { WireError } from '../errors.js';
import { type Codec, checkUint, need } from './codec.js';
import {
  ARP_OP_INREPLY,
  ARP_OP_INREQUEST,
  ARP_OP_REPLY,
  ARP_OP_REQUEST,
  ARP_OP_RREPLY,
  ARP_OP_RREQUEST,
  ARPHRD_INFINIBAND,
  ETH_P_IP,
  IPOIB_FLAGS_RESERVED_MASK,
  IPOIB_HWADDR_LEN,
  MCAST_QPN,
  QPN_GSI,
  QPN_SMI,
} from './constants.js';
import { type IpoibHwAddr, ipoibHwAddrCodec } from './ipoib-hwaddr.js';
import { formatIpv4, IPV4_ADDR_LEN, parseIpv4 } from './ip-text.js';

const ARP_FIXED_LEN = 8;
/** 8 + 2 * (20 + 4). */
export const ARP_IPOIB_LEN = ARP_FIXED_LEN + 2 * (IPOIB_HWADDR_LEN + IPV4_ADDR_LEN);

export interface ArpPacket {
  htype: number;
  ptype: number;
  /** Always 20 (encode and decode refuse anything else). */
  hlen: number;
  /** Always 4 (encode and decode refuse anything else). */
  plen: number;
  op: number;
  sha: IpoibHwAddr;
  /** Sender IPv4 address, dotted quad. */
  spa: string;
  tha: IpoibHwAddr;
  /** Target IPv4 address, dotted quad. */
  tpa: string;
}

export const ARP_OP_NAMES: Readonly<Record<number, string>> = {
  [ARP_OP_REQUEST]: 'request',
  [ARP_OP_REPLY]: 'reply',
  [ARP_OP_RREQUEST]: 'RARP request',
  [ARP_OP_RREPLY]: 'RARP reply',
  [ARP_OP_INREQUEST]: 'InARP request',
  [ARP_OP_INREPLY]: 'InARP reply',
};

/** `request`, `reply`, ... or `op 7` for an op without a name here. */
export function arpOpName(op: number): string {
  return ARP_OP_NAMES[op] ?? `op ${op}`;
}

/** Fills the four fixed header fields with the IPoIB/IPv4 values. */
export function arpOverIpoib(p: Pick<ArpPacket, 'op' | 'sha' | 'spa' | 'tha' | 'tpa'>): ArpPacket {
  return { htype: ARPHRD_INFINIBAND, ptype: ETH_P_IP, hlen: IPOIB_HWADDR_LEN, plen: IPV4_ADDR_LEN, ...p };
}

const sha = ipoibHwAddrCodec('arp.sha');
const tha = ipoibHwAddrCodec('arp.tha');

export const arp: Codec<ArpPacket> = {
  encodingLength: () => ARP_IPOIB_LEN,
  encode(p, buf, offset) {
    checkUint('arp.htype', offset, p.htype, 16);
    checkUint('arp.ptype', offset + 2, p.ptype, 16);
    if (p.hlen !== IPOIB_HWADDR_LEN) {
      throw new WireError('arp.hlen', offset + 4, `hlen ${String(p.hlen)}, want ${IPOIB_HWADDR_LEN}`, p.hlen);
    }
    if (p.plen !== IPV4_ADDR_LEN) {
      throw new WireError('arp.plen', offset + 5, `plen ${String(p.plen)}, want ${IPV4_ADDR_LEN}`, p.plen);
    }
    checkUint('arp.op', offset + 6, p.op, 16);
    const spa = parseIpv4(p.spa, 'arp.spa');
    const tpa = parseIpv4(p.tpa, 'arp.tpa');
    need(buf, offset, ARP_IPOIB_LEN, 'arp');
    buf.writeUInt16BE(p.htype, offset);
    buf.writeUInt16BE(p.ptype, offset + 2);
    buf.writeUInt8(p.hlen, offset + 4);
    buf.writeUInt8(p.plen, offset + 5);
    buf.writeUInt16BE(p.op, offset + 6);
    let o = offset + ARP_FIXED_LEN;
    o += sha.encode(p.sha, buf, o);
    o += spa.copy(buf, o);
    o += tha.encode(p.tha, buf, o);
    o += tpa.copy(buf, o);
    return o - offset;
  },
  decode(buf, offset) {
    need(buf, offset, ARP_FIXED_LEN, 'arp');
    const hlen = buf.readUInt8(offset + 4);
    const plen = buf.readUInt8(offset + 5);
    if (hlen !== IPOIB_HWADDR_LEN) {
      throw new WireError('arp.hlen', offset + 4, `hlen ${hlen}, want ${IPOIB_HWADDR_LEN}`, hlen);
    }
    if (plen !== IPV4_ADDR_LEN) {
      throw new WireError('arp.plen', offset + 5, `plen ${plen}, want ${IPV4_ADDR_LEN}`, plen);
    }
    need(buf, offset, ARP_IPOIB_LEN, 'arp');
    let o = offset + ARP_FIXED_LEN;
    const s = sha.decode(buf, o).value;
    o += IPOIB_HWADDR_LEN;
    const spa = formatIpv4(buf.subarray(o, o + IPV4_ADDR_LEN));
    o += IPV4_ADDR_LEN;
    const t = tha.decode(buf, o).value;
    o += IPOIB_HWADDR_LEN;
    const tpa = formatIpv4(buf.subarray(o, o + IPV4_ADDR_LEN));
    return {
      value: {
        htype: buf.readUInt16BE(offset),
        ptype: buf.readUInt16BE(offset + 2),
        hlen,
        plen,
        op: buf.readUInt16BE(offset + 6),
        sha: s,
        spa,
        tha: t,
        tpa,
      },
      bytes: ARP_IPOIB_LEN,
    };
  },
};

const hex = (v: number, digits: number): string => `0x${v.toString(16).padStart(digits, '0')}`;

/**
 * What is wrong with an ARP packet for IPv4 over IPoIB, one readable line each (empty when
 * nothing). Judges the fixed fields and the sender's address; `tha` is left alone because
 * what a request carries there is up to the implementation.
 */
export function arpProblems(p: ArpPacket): string[] {
  const problems: string[] = [];
  if (p.htype !== ARPHRD_INFINIBAND) problems.push(`htype ${p.htype}, want ${ARPHRD_INFINIBAND}`);
  if (p.ptype !== ETH_P_IP) problems.push(`ptype ${hex(p.ptype, 4)}, want ${hex(ETH_P_IP, 4)}`);
  if (p.hlen !== IPOIB_HWADDR_LEN) problems.push(`hlen ${p.hlen}, want ${IPOIB_HWADDR_LEN}`);
  if (p.plen !== IPV4_ADDR_LEN) problems.push(`plen ${p.plen}, want ${IPV4_ADDR_LEN}`);
  if (p.op !== ARP_OP_REQUEST && p.op !== ARP_OP_REPLY) {
    problems.push(`op ${p.op} (${arpOpName(p.op)}), want ${ARP_OP_REQUEST} (request) or ${ARP_OP_REPLY} (reply)`);
  }
  const reserved = p.sha.flags & IPOIB_FLAGS_RESERVED_MASK;
  if (reserved !== 0) problems.push(`sha reserved flag bits ${hex(reserved, 2)} set, want 0`);
  if (p.sha.qpn === QPN_SMI || p.sha.qpn === QPN_GSI || p.sha.qpn === MCAST_QPN) {
    problems.push(`sha QPN ${hex(p.sha.qpn, 6)} cannot receive IPoIB unicast`);
  }
  if (p.sha.gid[0] === 0xff) problems.push('sha GID is a multicast GID, want a port GID');
  if (p.sha.gid.every((b) => b === 0)) problems.push('sha GID is all zero, want a port GID');
  return problems;
}
