/**
 * Where an IP packet from the host goes on the IPoIB link (the job of the host's neighbour
 * layer plus ib_ipoib's multicast mapping):
 * - IPv4 limited broadcast (255.255.255.255) and the subnet broadcast of a configured prefix →
 *   the broadcast group;
 * - IPv4 224.0.0.0/4 and IPv6 ff00::/8 → the group's MGID, built with the interface's own
 *   P_Key and the broadcast group's scope (so a packet can never leave the partition);
 * - anything else → unicast to that address, resolved by ARP or ND.
 */
import { WireError } from '../errors.js';
import { ETH_P_IP, ETH_P_IPV6 } from '../wire/constants.js';
import { formatIpv6 } from '../wire/ip-text.js';
import { ipv4Header } from '../wire/ipv4.js';
import { ipv6Header } from '../wire/ipv6.js';
import { broadcastMgid, mgidForIpv4Group, mgidForIpv6Group } from '../wire/mgid.js';
import type { IpFamily } from './neighbours.js';

export type TxDestination =
  | { kind: 'unicast'; family: IpFamily; ip: string }
  | { kind: 'multicast'; family: IpFamily; mgid: Buffer }
  | { kind: 'invalid'; reason: string };

export interface TxLink {
  pkey: number;
  scope: number;
  /** Subnet broadcast addresses of the configured IPv4 prefixes. */
  ipv4Broadcasts: ReadonlySet<string>;
}

export function txDestination(packet: Buffer, etherType: number, link: TxLink): TxDestination {
  try {
    if (etherType === ETH_P_IP) {
      const dst = ipv4Header.decode(packet, 0).value.dst;
      if (dst === '255.255.255.255' || link.ipv4Broadcasts.has(dst)) {
        return { kind: 'multicast', family: 4, mgid: broadcastMgid(link.pkey, link.scope) };
      }
      const first = Number(dst.split('.')[0]);
      if (first >= 224 && first <= 239) return { kind: 'multicast', family: 4, mgid: mgidForIpv4Group(dst, link.pkey, link.scope) };
      return { kind: 'unicast', family: 4, ip: dst };
    }
    if (etherType === ETH_P_IPV6) {
      const dst = ipv6Header.decode(packet, 0).value.dst;
      const text = formatIpv6(dst);
      if (dst[0] === 0xff) return { kind: 'multicast', family: 6, mgid: mgidForIpv6Group(text, link.pkey, link.scope) };
      return { kind: 'unicast', family: 6, ip: text };
    }
  } catch (e) {
    if (e instanceof WireError) return { kind: 'invalid', reason: e.message };
    throw e;
  }
  return { kind: 'invalid', reason: `EtherType 0x${etherType.toString(16).padStart(4, '0')} is neither IPv4 nor IPv6` };
}
