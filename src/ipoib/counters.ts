/**
 * Interface statistics. The first eight are the counters Linux ib_ipoib reports through
 * `ethtool -S`, in its order and with its names; they count what the kernel counts:
 * - rx_packets / rx_bytes: frames handed up after the link checks (ARP and ND included), the
 *   bytes without the 4-octet IPoIB header, as the kernel adds skb->len after pulling it;
 * - tx_packets / tx_bytes: UD sends posted, the bytes with the 4-octet header;
 * - multicast: received frames whose DGID is an MGID other than the broadcast group's.
 * rx_dropped also counts the frames this stack drops because its host side is the IP stack
 * (unknown EtherType, malformed ARP or ND); the kernel leaves those to the network core.
 * The rest are extras with the reason in the name.
 */

export const ETHTOOL_STAT_NAMES = [
  'rx_packets',
  'tx_packets',
  'rx_bytes',
  'tx_bytes',
  'tx_errors',
  'rx_dropped',
  'tx_dropped',
  'multicast',
] as const;

export const EXTRA_STAT_NAMES = [
  /** Frames shorter than the 4-octet IPoIB header. */
  'rx_dropped_short',
  /** Frames whose EtherType is not IPv4, IPv6 or ARP. */
  'rx_dropped_ethertype',
  /** ARP that does not parse or is not IPv4 over IB (htype 32, ptype 0x0800, op 1 or 2). */
  'rx_dropped_arp',
  /** ND that does not parse, fails its checksum or hop limit, or has a bad link-layer option. */
  'rx_dropped_nd',
  /** IPv4/IPv6 frames whose IP header does not parse. */
  'rx_dropped_ip',
  /** Our own multicast copies, dropped by the self-loop filter (source LID and QPN are ours). */
  'rx_own_echo',
  /** Frames accepted with a non-zero reserved field in the IPoIB header (a finding, not a drop). */
  'rx_header_reserved_nonzero',
  /** ARP and ND messages the stack consumed. */
  'rx_arp',
  'rx_nd',
  /** Sends refused while the interface had no carrier. */
  'tx_dropped_no_carrier',
  /** The 4th and later packets for a neighbour still resolving (queue of 3). */
  'tx_dropped_neigh_queue',
  /** Packets dropped because address resolution (ARP/ND) failed. */
  'tx_dropped_unresolved',
  /** Packets dropped because the SA had no path to the destination GID. */
  'tx_dropped_no_path',
  /** Multicast packets dropped: queue of 64 full, send-only join failed, no broadcast group. */
  'tx_dropped_mcast',
  /** Packets longer than the multicast MTU allows (the kernel counts these in tx_errors too). */
  'tx_dropped_too_long',
  /** Host packets that are neither IPv4 nor IPv6, or whose IP header does not parse. */
  'tx_dropped_bad_packet',
  'arp_requests_sent',
  'arp_replies_sent',
  'nd_solicits_sent',
  'nd_adverts_sent',
  'mcast_joins',
  'mcast_join_failures',
  'mcast_leaves',
  /** Groups skipped because umcast is set and another consumer of the port holds them. */
  'mcast_umcast_skipped',
  /** SA subscriptions to a group's create/delete Reports (traps 66/67) that were refused or unanswered. */
  'mcast_subscribe_failures',
  /** Reports of group creation or deletion that made the stack act (join at once, forget an MLID). */
  'mcast_reports',
  'path_queries',
  'path_query_failures',
  /** Neighbours removed by garbage collection after being idle. */
  'neigh_gc_removed',
  /** Connected mode, sending side: REQs started, connections made, attempts that failed (REJ, timeout). */
  'cm_tx_requests',
  'cm_tx_connections',
  'cm_tx_failures',
  /** REPs refused with a REJ (a receive MTU too small for a minimum-size IPv6 packet). */
  'cm_tx_reply_refused',
  /** Our REQs the larger side of a crossing rejected (RFC 4755 §3.3), asked again at once. */
  'cm_tx_crossing_retries',
  /** Frames dropped while their connection was being made (beyond the 3 that wait, or when it failed). */
  'cm_tx_queue_dropped',
  /** Sending connections ended (flush, mode change, peer DREQ, error), and those ended by an error. */
  'cm_tx_disconnects',
  'cm_tx_errors',
  /** Receiving side: connections accepted, REQs refused with REJ 1 (no QP) at the cap, connections ended, idle ones reaped. */
  'cm_rx_connections',
  'cm_rx_rejected_no_qp',
  /** Crossing REQs refused with REJ 28 because our address is the larger (RFC 4755 §3.3). */
  'cm_rx_rejected_crossing',
  'cm_rx_disconnects',
  'cm_rx_reaped',
  /** PMTU emulation: ICMP "fragmentation needed" / "packet too big" delivered to the host, and those the rate limit held back. */
  'pmtu_icmp_sent',
  'pmtu_icmp_suppressed',
] as const;

export type EthtoolStatName = (typeof ETHTOOL_STAT_NAMES)[number];
export type ExtraStatName = (typeof EXTRA_STAT_NAMES)[number];
export type IpoibStatName = EthtoolStatName | ExtraStatName;

export class IpoibCounters {
  private readonly values = new Map<IpoibStatName, number>();

  inc(name: IpoibStatName, by = 1): void {
    this.values.set(name, (this.values.get(name) ?? 0) + by);
  }

  get(name: IpoibStatName): number {
    return this.values.get(name) ?? 0;
  }

  /** The eight `ethtool -S` counters, in the kernel's order. */
  ethtool(): Array<[EthtoolStatName, number]> {
    return ETHTOOL_STAT_NAMES.map((n) => [n, this.get(n)]);
  }

  /** Every counter by name, the eight first. */
  snapshot(): Record<IpoibStatName, number> {
    const out = {} as Record<IpoibStatName, number>;
    for (const n of [...ETHTOOL_STAT_NAMES, ...EXTRA_STAT_NAMES]) out[n] = this.get(n);
    return out;
  }
}
