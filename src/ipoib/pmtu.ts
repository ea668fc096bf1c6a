/**
 * PMTU emulation, as Linux ipoib_cm_skb_too_long does it: in connected mode the host MTU is
 * 65520, but unicast to peers without the RC flag and all multicast go over UD, whose MTU is
 * the broadcast group's (2044 on a 2048 group), and an RC connection's limit is its peer's
 * receive MTU. A host packet longer than its path allows is dropped (tx_dropped, tx_errors)
 * and answered with an ICMP error delivered to the host itself, so its PMTU discovery and TCP
 * adapt: IPv4 destination unreachable / fragmentation needed (type 3 code 4, RFC 1191
 * next-hop MTU), IPv6 packet too big (type 2, RFC 4443). Like the kernel's worker, the MTU
 * it carries is always the UD MTU, whichever limit was exceeded.
 *
 * The kernel calls icmp_send() from inside its own stack; here the error has to enter the
 * host like any received packet, which decides its addresses:
 * - destination: the original packet's source (the host itself);
 * - source: the original destination when that is unicast (a "router" on the path answering);
 *   for an IPv6 multicast destination, the original source (IPv6 accepts a packet from one of
 *   its own addresses); for an IPv4 multicast or broadcast destination, a stand-in on-link
 *   address of the sender's subnet that is not the host's own (IPv4 drops packets from its
 *   own addresses as martians, and a multicast source always). The kernel's icmp_send()
 *   declines errors about multicast packets but updates the route's PMTU directly; the
 *   stand-in gives the host the same result through the only door a TUN device has.
 * - The quoted original is as long as Linux quotes: the error fits in 576 octets (IPv4) or
 *   1280 (IPv6).
 *
 * Rate limit: a token bucket of Linux's global ICMP defaults (icmp_msgs_burst 50,
 * icmp_msgs_per_sec 1000), so a flood of oversized packets cannot become an ICMP storm.
 */
import { encodeToBuffer } from '../wire/codec.js';
import { ETH_P_IP, ETH_P_IPV6, ICMP_CODE_FRAG_NEEDED, ICMP_DEST_UNREACH, ICMPV6_PACKET_TOO_BIG, IPPROTO_ICMP, IPPROTO_ICMPV6 } from '../wire/constants.js';
import { icmpv4Message, icmpv6Message, withIcmpChecksum } from '../wire/icmp.js';
import { formatIpv4, parseIpv4 } from '../wire/ip-text.js';
import { ipv4Header, ipv4Packet, makeIpv4Packet } from '../wire/ipv4.js';
import { IPV6_HEADER_LEN, ipv6Header, ipv6Packet, makeIpv6Packet } from '../wire/ipv6.js';
import type { InterfaceAddress } from './addresses.js';
import type { IpoibClock } from './clock.js';

/** Largest ICMPv4 error Linux sends (RFC 1812's 576), and the IPv6 minimum MTU an ICMPv6 error must fit. TODO(constants) */
const ICMPV4_ERROR_MAX = 576;
const ICMPV6_ERROR_MAX = 1280;
const ICMP_HEADER = 8;
const IPV4_HEADER = 20;
/** Linux's icmp_msgs_burst and icmp_msgs_per_sec defaults. TODO(constants) */
export const PMTU_ICMP_BURST = 50;
export const PMTU_ICMP_PER_SEC = 1000;
const TTL = 64;

/** Why no ICMP was built (the packet is still dropped and counted). */
export type TooBigIcmp = { ok: true; packet: Buffer; etherType: number } | { ok: false; reason: string };

/**
 * The ICMP error telling the host that `packet` (an IPv4 or IPv6 packet it sent) needs an MTU
 * of `mtu`; `ownIpv4` are the host's IPv4 addresses (for the stand-in source).
 */
export function tooBigIcmp(packet: Buffer, mtu: number, ownIpv4: readonly InterfaceAddress[]): TooBigIcmp {
  const version = (packet[0] ?? 0) >> 4;
  try {
    if (version === 4) return fragNeeded(packet, mtu, ownIpv4);
    if (version === 6) return packetTooBig(packet, mtu);
  } catch (e) {
    return { ok: false, reason: `the packet does not parse: ${(e as Error).message}` };
  }
  return { ok: false, reason: `IP version ${version}` };
}

function fragNeeded(packet: Buffer, mtu: number, ownIpv4: readonly InterfaceAddress[]): TooBigIcmp {
  const h = ipv4Header.decode(packet, 0).value;
  const dst = parseIpv4(h.dst);
  const multicast = (dst[0] ?? 0) >= 224;
  const broadcast = h.dst === '255.255.255.255' || ownIpv4.some((a) => a.prefixLen <= 30 && formatIpv4(subnetBroadcast(a)) === h.dst);
  const src = multicast || broadcast ? standIn(h.src, ownIpv4) : h.dst;
  if (src === undefined) return { ok: false, reason: `no on-link address to send it from for ${h.dst}` };
  const original = packet.subarray(0, Math.min(packet.length, ICMPV4_ERROR_MAX - IPV4_HEADER - ICMP_HEADER));
  const icmp = encodeToBuffer(
    icmpv4Message,
    withIcmpChecksum({ type: ICMP_DEST_UNREACH, code: ICMP_CODE_FRAG_NEEDED, checksum: 0, unused: 0, length: 0, nextHopMtu: mtu & 0xffff, original }),
  );
  const out = encodeToBuffer(ipv4Packet, makeIpv4Packet({ src, dst: h.src, protocol: IPPROTO_ICMP, payload: icmp, ttl: TTL }));
  return { ok: true, packet: out, etherType: ETH_P_IP };
}

function packetTooBig(packet: Buffer, mtu: number): TooBigIcmp {
  const h = ipv6Header.decode(packet, 0).value;
  const src = h.dst[0] === 0xff ? h.src : h.dst;
  const original = packet.subarray(0, Math.min(packet.length, ICMPV6_ERROR_MAX - IPV6_HEADER_LEN - ICMP_HEADER));
  const icmp = encodeToBuffer(icmpv6Message, withIcmpChecksum({ type: ICMPV6_PACKET_TOO_BIG, code: 0, checksum: 0, mtu, original }, { src, dst: h.src }));
  const out = encodeToBuffer(ipv6Packet, makeIpv6Packet({ src, dst: h.src, nextHeader: IPPROTO_ICMPV6, payload: icmp, hopLimit: TTL }));
  return { ok: true, packet: out, etherType: ETH_P_IPV6 };
}

function subnetBroadcast(a: InterfaceAddress): Buffer {
  const host = a.prefixLen === 0 ? 0xffffffff : (2 ** (32 - a.prefixLen) - 1) >>> 0;
  const b = Buffer.alloc(4);
  b.writeUInt32BE((a.bytes.readUInt32BE(0) | host) >>> 0, 0);
  return b;
}

/** The lowest host address of the subnet `src` is on that is not one of ours; undefined for /31, /32 or an off-link `src`. */
function standIn(src: string, own: readonly InterfaceAddress[]): string | undefined {
  const s = parseIpv4(src).readUInt32BE(0);
  const mine = new Set(own.map((a) => a.ip));
  for (const a of own) {
    if (a.prefixLen > 30) continue;
    const mask = a.prefixLen === 0 ? 0 : (~(2 ** (32 - a.prefixLen) - 1)) >>> 0;
    const net = (a.bytes.readUInt32BE(0) & mask) >>> 0;
    if (((s & mask) >>> 0) !== net) continue;
    const last = (net | (~mask >>> 0)) >>> 0;
    for (let h = net + 1; h < last; h++) {
      const b = Buffer.alloc(4);
      b.writeUInt32BE(h >>> 0, 0);
      const text = formatIpv4(b);
      if (!mine.has(text)) return text;
    }
  }
  return undefined;
}

/** Linux's global ICMP rate limit: `burst` at once, refilled at `perSec`. */
export class IcmpRateLimit {
  private tokens: number;
  private last: number;

  constructor(
    private readonly clock: IpoibClock,
    private readonly burst = PMTU_ICMP_BURST,
    private readonly perSec = PMTU_ICMP_PER_SEC,
  ) {
    this.tokens = burst;
    this.last = clock.now();
  }

  /** True when one more ICMP may go now (and takes its token). */
  allow(): boolean {
    const now = this.clock.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.perSec) / 1000);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
