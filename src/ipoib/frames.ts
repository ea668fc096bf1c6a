/**
 * IPoIB frames on the UD QP (and on RC connections): the 4-octet header (EtherType, 16 reserved bits sent as zero)
 * in front of an IP, ARP or ND packet, and the receive-side classification of what arrives.
 *
 * Receive checks, in order:
 * 1. the self-loop filter of ib_ipoib: a message from our own LID and QPN is our own
 *    multicast copy coming back, dropped, unless its GRH names a source port whose interface
 *    ID differs from ours (another port behind the same LID);
 * 2. at least the 4-octet header;
 * 3. EtherType IPv4, IPv6 or ARP (the host side speaks nothing else);
 * the reserved field is ignored (RFC 4391 §6) but reported, since a peer that sets it is a finding.
 */
import type { UdCompletion } from '../fabric/hca.js';
import { ETH_P_ARP, ETH_P_IP, ETH_P_IPV6, IPOIB_HEADER_LEN } from '../wire/constants.js';
import { ipoibHeader } from '../wire/ipoib-header.js';
import { Defects } from './defects.js';

/** Header + payload, reserved field zero. */
export function frame(etherType: number, payload: Buffer): Buffer {
  const out = Buffer.alloc(IPOIB_HEADER_LEN + payload.length);
  ipoibHeader.encode({ type: etherType, reserved: 0 }, out, 0);
  payload.copy(out, IPOIB_HEADER_LEN);
  return out;
}

const RESERVED_AT = 2;

/** A copy of an IPoIB frame with its reserved field set to `reserved` (seeded defect header-reserved-set). */
export function withHeaderReserved(f: Buffer, reserved: number): Buffer {
  const out = Buffer.from(f);
  out.writeUInt16BE(reserved, RESERVED_AT);
  return out;
}

export type RxVerdict =
  | { action: 'drop'; reason: 'own-echo' | 'short' | 'ethertype'; etherType?: number }
  | { action: 'arp' | 'ipv4' | 'ipv6'; etherType: number; payload: Buffer; reserved: number };

/** Who we are, for the self-loop filter. */
export interface RxSelf {
  lid: number;
  qpn: number;
  /** Our port GID (index 0). */
  gid: Buffer;
}

const INTERFACE_ID_AT = 8;

export function classifyReceived(c: UdCompletion, self: RxSelf, defects: Defects = Defects.NONE): RxVerdict {
  // Seeded defect mcast-echo: no self-loop filter.
  if (c.slid === self.lid && c.srcQpn === self.qpn && !defects.has('mcast-echo')) {
    const otherPort = c.grh !== undefined && !c.grh.sgid.subarray(INTERFACE_ID_AT).equals(self.gid.subarray(INTERFACE_ID_AT));
    if (!otherPort) return { action: 'drop', reason: 'own-echo' };
  }
  return classifyFrame(c.payload);
}

/** Checks 2 and 3 alone: a frame from an RC connection, which has one peer and no echo. */
export function classifyFrame(f: Buffer): RxVerdict {
  if (f.length < IPOIB_HEADER_LEN) return { action: 'drop', reason: 'short' };
  const { type, reserved } = ipoibHeader.decode(f, 0).value;
  const payload = f.subarray(IPOIB_HEADER_LEN);
  switch (type) {
    case ETH_P_IP:
      return { action: 'ipv4', etherType: type, payload, reserved };
    case ETH_P_IPV6:
      return { action: 'ipv6', etherType: type, payload, reserved };
    case ETH_P_ARP:
      return { action: 'arp', etherType: type, payload, reserved };
    default:
      return { action: 'drop', reason: 'ethertype', etherType: type };
  }
}

/** The kernel's `multicast` counter: the DGID is an MGID, but not the broadcast group's. */
export function isNonBroadcastMulticast(c: UdCompletion, broadcastMgid: Buffer): boolean {
  return c.grh !== undefined && c.grh.dgid[0] === 0xff && !c.grh.dgid.equals(broadcastMgid);
}
