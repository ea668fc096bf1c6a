// Counters of one TUN data plane. The first eight carry the names and order of the kernel
// ib_ipoib's `ethtool -S` statistics and count UD and RC traffic alike; the rest say why a
// packet was punted or dropped (rc_* only the RC part). All are 64-bit, updated with relaxed
// atomics from the TX thread, the endpoint's threads and the JS thread.
//
// Octet counters count IPoIB frames: the 4-octet IPoIB header plus the IP packet, i.e. the UD
// payload or RC message on the wire. As in the kernel's PMTU emulation, a packet punted as
// too-big against the UD MTU or an RC connection's counts in tx_dropped and tx_errors too.
#pragma once

#include <atomic>
#include <cstdint>

namespace ipoib::tun {

// X(name, meaning): the one list; the binding and src/ipoib/native/tun-data-plane.ts follow its order.
#define IPOIB_TUN_COUNTERS(X)                                                                           \
  X(rx_packets, "frames received (UD QP, attached RC QPs) and accepted: written to the host or punted") \
  X(tx_packets, "frames posted: on the UD QP (fast path, sendUd) and RC QPs (fast path, sendRc)")     \
  X(rx_bytes, "octets of the frames in rx_packets (IPoIB header included)")                            \
  X(tx_bytes, "octets of the frames in tx_packets (IPoIB header included)")                            \
  X(tx_errors, "frames refused (e.g. QP gone, P_Key index or MTU out of range), failed RC sends, UD/RC too-big") \
  X(rx_dropped, "received frames dropped: the sum of the rx_drop_* counters")                          \
  X(tx_dropped, "host packets dropped: tx_drop_*, rc_tx_queue_full, and UD/RC too-big punts")         \
  X(multicast, "accepted frames whose DGID is multicast but not the broadcast MGID")                   \
  X(tx_punt_no_neighbour, "unicast packets punted: no neighbour entry")                                \
  X(tx_punt_no_group, "multicast or broadcast packets punted: no group entry")                         \
  X(tx_punt_too_big, "packets punted: longer than the interface MTU, the UD MTU or the RC connection's") \
  X(tx_punt_not_ip, "packets punted: IP version neither 4 nor 6")                                      \
  X(tx_punt_malformed, "packets punted: shorter than their fixed IP header")                           \
  X(tx_punt_nd, "IPv6 Neighbor Discovery messages from the host, punted")                              \
  X(tx_drop_punt_queue_full, "packets to punt dropped: JS had not taken the earlier punts")            \
  X(tx_batches, "PostSendUd calls of the fast path (tx_packets / tx_batches = frames per call)")       \
  X(rx_punt_arp, "ARP frames punted")                                                                   \
  X(rx_punt_nd, "IPv6 Neighbor Discovery frames punted")                                                \
  X(rx_punt_other_type, "frames of any other EtherType punted")                                        \
  X(rx_drop_short, "frames shorter than the 4-octet IPoIB header")                                      \
  X(rx_drop_bad_ip, "IPv4/IPv6 frames shorter than their fixed IP header or of the other version")    \
  X(rx_drop_own_echo, "frames this interface sent (its own multicast coming back)")                    \
  X(rx_drop_punt_queue_full, "frames to punt dropped: JS had not taken the earlier punts")             \
  X(rx_drop_host_write, "frames the host device refused (write() failed)")                             \
  X(rx_reserved_nonzero, "accepted frames whose IPoIB header reserved field was not zero")             \
  X(host_read_errors, "read() failures on the host device other than 'nothing to read'")              \
  X(host_injected_packets, "packets JS wrote to the host with injectToHost()")                         \
  X(host_injected_bytes, "octets of those packets")                                                   \
  X(rc_tx_packets, "frames posted on attached RC QPs: the fast path's and sendRc()'s (also in tx_packets)") \
  X(rc_tx_bytes, "octets of the frames in rc_tx_packets (also in tx_bytes)")                          \
  X(rc_rx_packets, "frames received on attached RC QPs and accepted (also in rx_packets)")            \
  X(rc_rx_bytes, "octets of the frames in rc_rx_packets (also in rx_bytes)")                          \
  X(rc_tx_errors, "RC frames refused by the QP or whose send completed with an error (also in tx_errors)") \
  X(rc_tx_punt_pending, "packets punted: their neighbour's RC connection is not ready")                \
  X(rc_tx_queue_full, "packets dropped: the RC QP's send queue was full (also in tx_dropped)")

struct CounterSnapshot {
#define IPOIB_TUN_COUNTER_FIELD(name, meaning) uint64_t name = 0;
  IPOIB_TUN_COUNTERS(IPOIB_TUN_COUNTER_FIELD)
#undef IPOIB_TUN_COUNTER_FIELD
};

struct Counters {
#define IPOIB_TUN_COUNTER_FIELD(name, meaning) std::atomic<uint64_t> name{0};
  IPOIB_TUN_COUNTERS(IPOIB_TUN_COUNTER_FIELD)
#undef IPOIB_TUN_COUNTER_FIELD

  CounterSnapshot Snapshot() const {
    CounterSnapshot s;
#define IPOIB_TUN_COUNTER_READ(name, meaning) s.name = name.load(std::memory_order_relaxed);
    IPOIB_TUN_COUNTERS(IPOIB_TUN_COUNTER_READ)
#undef IPOIB_TUN_COUNTER_READ
    return s;
  }
};

inline void Add(std::atomic<uint64_t>& c, uint64_t n = 1) { c.fetch_add(n, std::memory_order_relaxed); }

}  // namespace ipoib::tun
