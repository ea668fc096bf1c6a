/**
 * The address-resolution half of the host side, for one interface: what it does with ARP and
 * ND that arrive, and how it asks for an address.
 * - ARP request for one of our addresses: learn the sender, answer with a unicast reply to the
 *   sender's QPN and GID (through the path table, as ib_ipoib sends ARP); other ARP only
 *   refreshes neighbours we already have; a sender claiming one of our addresses, or 0.0.0.0,
 *   is ignored.
 * - NS for one of our addresses: learn the sender from its source option and answer with a
 *   solicited NA to it; an NS from :: (a DAD probe) is answered to all-nodes.
 * - NA: updates the neighbour of its target (it never creates one); a solicited NA without a
 *   target option (as Linux answers a unicast NS) confirms the address the entry holds.
 * - Asking: an ARP request to the broadcast group, or an NS to the target's solicited-node
 *   group (a send-only join when we are not in it); a revalidation probe is the same request
 *   sent unicast to the cached address over UD (the NS then to the target's own IP address),
 *   as the host's unicast probes go.
 */
import { ARP_OP_REQUEST, ETH_P_ARP, ETH_P_IPV6 } from '../wire/constants.js';
import type { IpoibHwAddr } from '../wire/ipoib-hwaddr.js';
import { formatIpv6, parseIpv4, parseIpv6 } from '../wire/ip-text.js';
import type { InterfaceAddresses } from './addresses.js';
import { buildArpReply, buildArpRequest, parseArp } from './arp-messages.js';
import type { IpoibCounters } from './counters.js';
import type { Defects } from './defects.js';
import { frame } from './frames.js';
import { allNodesAddress, buildNeighborAdvertisement, buildNeighborSolicitation, type NdVerdict, solicitedNodeAddress } from './nd-messages.js';
import type { IpFamily, NeighbourTable } from './neighbours.js';

export interface ResolverEnv {
  readonly counters: IpoibCounters;
  readonly addresses: InterfaceAddresses;
  readonly neigh: NeighbourTable;
  log(line: string): void;
  /** Our link-layer address now (the QPN can change). */
  hwAddr(): IpoibHwAddr;
  broadcastMgid(): Buffer;
  /** The MGID of an IPv6 group on this link. */
  ipv6Mgid(group: Buffer): Buffer;
  sendMulticast(mgid: Buffer, frame: Buffer): void;
  /** Sends an ARP reply or NA to the peer that asked (over UD, through the path table). */
  sendReply(to: IpoibHwAddr, frame: Buffer): void;
  /** Sends a unicast ARP request or NS (a revalidation probe) over UD, through the path table. */
  sendProbe(to: IpoibHwAddr, frame: Buffer): void;
  /** Seeded defects the ARP and ND messages carry (test builds). */
  readonly defects: Defects;
}

export class Resolver {
  constructor(private readonly env: ResolverEnv) {}

  /** An ARP payload arrived; false when it was malformed (the caller counts the drop). */
  receiveArp(payload: Buffer): boolean {
    const v = parseArp(payload);
    if (!v.ok) {
      this.env.log(`dropping ARP: ${v.reason}`);
      return false;
    }
    this.env.counters.inc('rx_arp');
    const p = v.packet;
    if (p.spa === '0.0.0.0' || this.env.addresses.has(p.spa)) return true;
    if (p.op === ARP_OP_REQUEST && this.env.addresses.has(p.tpa)) {
      this.env.neigh.learn(p.spa, 4, p.sha, true);
      const reply = frame(ETH_P_ARP, buildArpReply(this.env.hwAddr(), p.tpa, p.sha, p.spa, this.env.defects));
      this.env.sendReply(p.sha, reply);
      this.env.counters.inc('arp_replies_sent');
      return true;
    }
    this.env.neigh.learn(p.spa, 4, p.sha, false);
    return true;
  }

  /** An NS or NA arrived (parseNd already judged it well formed). */
  receiveNd(nd: Extract<NdVerdict, { kind: 'ns' | 'na' }>): void {
    this.env.counters.inc('rx_nd');
    if (nd.kind === 'na') {
      if (nd.targetHw) this.env.neigh.learn(formatIpv6(nd.target), 6, nd.targetHw, false);
      else if (nd.solicited) this.env.neigh.confirm(formatIpv6(nd.target));
      return;
    }
    if (!this.env.addresses.has(formatIpv6(nd.target))) return;
    const me = this.env.hwAddr();
    if (nd.src.every((b) => b === 0)) {
      // A DAD probe for our address: defend it to all-nodes.
      const na = buildNeighborAdvertisement(nd.target, allNodesAddress(), me, false, this.env.defects);
      this.env.sendMulticast(this.env.ipv6Mgid(allNodesAddress()), frame(ETH_P_IPV6, na));
    } else {
      const src = formatIpv6(nd.src);
      const na = frame(ETH_P_IPV6, buildNeighborAdvertisement(nd.target, nd.src, me, true, this.env.defects));
      if (nd.sourceHw) {
        this.env.neigh.learn(src, 6, nd.sourceHw, true);
        this.env.sendReply(nd.sourceHw, na);
      } else {
        this.env.neigh.send(src, 6, na);
      }
    }
    this.env.counters.inc('nd_adverts_sent');
  }

  /**
   * One ARP request (to the broadcast group) or NS (to the solicited-node group) for `ip`; with
   * `to`, unicast to that address instead (a revalidation probe).
   */
  solicit(ip: string, family: IpFamily, to?: IpoibHwAddr): void {
    const me = this.env.hwAddr();
    if (family === 4) {
      const src = this.env.addresses.sourceFor(4, parseIpv4(ip));
      const request = frame(ETH_P_ARP, buildArpRequest(me, src?.ip ?? '0.0.0.0', ip, this.env.defects));
      if (to) this.env.sendProbe(to, request);
      else this.env.sendMulticast(this.env.broadcastMgid(), request);
      this.env.counters.inc('arp_requests_sent');
      return;
    }
    const target = parseIpv6(ip);
    const src = this.env.addresses.sourceFor(6, target) ?? this.env.addresses.linkLocal;
    if (to) {
      this.env.sendProbe(to, frame(ETH_P_IPV6, buildNeighborSolicitation(src.bytes, target, me, this.env.defects, target)));
    } else {
      const ns = buildNeighborSolicitation(src.bytes, target, me, this.env.defects);
      this.env.sendMulticast(this.env.ipv6Mgid(solicitedNodeAddress(target)), frame(ETH_P_IPV6, ns));
    }
    this.env.counters.inc('nd_solicits_sent');
  }
}
