/**
 * ARP for IPv4 over IPoIB (RFC 4391 §9.2) as the stack sends and accepts it: hardware type 32,
 * protocol 0x0800, hardware length 20, protocol length 4. Requests go to the broadcast group
 * with a zero target hardware address; replies go unicast to the requester's address.
 *
 * What is accepted mirrors the host's ARP code (Linux arp_rcv/arp_process for a device of
 * type 32): the lengths must be 20 and 4 (the codec refuses others), the hardware type must be
 * the device's, the protocol IPv4, the op a request or a reply; the sender address must not be
 * a multicast GID. Anything else is a malformed ARP, dropped and counted by the caller.
 */
import { WireError } from '../errors.js';
import { encodeToBuffer } from '../wire/codec.js';
import { ARP_OP_REPLY, ARP_OP_REQUEST, ARPHRD_INFINIBAND, ETH_P_IP } from '../wire/constants.js';
import { arp, type ArpPacket, arpOverIpoib } from '../wire/arp.js';
import type { IpoibHwAddr } from '../wire/ipoib-hwaddr.js';
import { Defects } from './defects.js';

const ZERO_HWADDR: IpoibHwAddr = { flags: 0, qpn: 0, gid: Buffer.alloc(16) };
/** Seeded defects: the values written instead of 32 and 20 (the codec refuses hlen 6, so it is patched in after encoding). */
const DEFECT_HTYPE = 1;
const DEFECT_HLEN = 6;
const HTYPE_AT = 0;
const HLEN_AT = 4;

/** An ARP request for `tpa` from `sha`/`spa` (56 octets, no IPoIB header). */
export function buildArpRequest(sha: IpoibHwAddr, spa: string, tpa: string, defects: Defects = Defects.NONE): Buffer {
  return withDefects(encodeToBuffer(arp, arpOverIpoib({ op: ARP_OP_REQUEST, sha, spa, tha: ZERO_HWADDR, tpa })), defects);
}

/** An ARP reply from `sha`/`spa` to `tha`/`tpa`. */
export function buildArpReply(sha: IpoibHwAddr, spa: string, tha: IpoibHwAddr, tpa: string, defects: Defects = Defects.NONE): Buffer {
  return withDefects(encodeToBuffer(arp, arpOverIpoib({ op: ARP_OP_REPLY, sha, spa, tha, tpa })), defects);
}

function withDefects(packet: Buffer, defects: Defects): Buffer {
  if (defects.has('arp-htype-1')) packet.writeUInt16BE(DEFECT_HTYPE, HTYPE_AT);
  if (defects.has('arp-hlen-6')) packet.writeUInt8(DEFECT_HLEN, HLEN_AT);
  return packet;
}

export type ArpVerdict = { ok: true; packet: ArpPacket } | { ok: false; reason: string };

/** Decodes and judges a received ARP payload; never throws. */
export function parseArp(payload: Buffer): ArpVerdict {
  let packet: ArpPacket;
  try {
    packet = arp.decode(payload, 0).value;
  } catch (e) {
    if (e instanceof WireError) return { ok: false, reason: e.message };
    throw e;
  }
  if (packet.htype !== ARPHRD_INFINIBAND) return { ok: false, reason: `hardware type ${packet.htype}, want ${ARPHRD_INFINIBAND}` };
  if (packet.ptype !== ETH_P_IP) return { ok: false, reason: `protocol type 0x${packet.ptype.toString(16)}, want 0x0800` };
  if (packet.op !== ARP_OP_REQUEST && packet.op !== ARP_OP_REPLY) return { ok: false, reason: `op ${packet.op} is neither request nor reply` };
  if (packet.sha.gid[0] === 0xff) return { ok: false, reason: 'sender hardware address is a multicast GID' };
  return { ok: true, packet };
}
