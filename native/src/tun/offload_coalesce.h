// Receive coalescing (GRO-like) over one batch of IP packets from the fabric, before they go to
// the host through a TUN device with a virtio-net header: consecutive in-order TCP segments of
// one flow become one large packet whose vnet header says GSO TCPV4/TCPV6 with gso_size = the
// segment size, so the host's TCP takes them in one pass and could cut them again exactly.
//
// A segment joins the open merge of its flow (same addresses and ports, IPv4 or IPv6) when:
//  - it is a plain TCP segment: IPv4 without options and not a fragment, or IPv6 with TCP
//    right after the fixed header; a valid IPv4 header checksum and a valid TCP checksum (so a
//    corrupted segment is never hidden under a fresh checksum); a payload; ACK set and none of
//    SYN, FIN, RST, URG; no TCP options, or exactly NOP, NOP, timestamps;
//  - its sequence number is where the merge ends (no gap, no retransmission);
//  - ACK number, window, ECE, header length and every IP field but the lengths, the IPv4
//    identification and header checksum are those of the merge's first segment (IPv4: TOS,
//    TTL, DF; IPv6: traffic class, flow label, hop limit);
//  - IPv4 identifications count up by one per segment, or, with DF set, stay fixed;
//  - timestamps: the same echo reply, and a value that does not go backwards;
//  - it carries no CWR (CWR may only open a merge), and no more payload than the first
//    segment (that size is gso_size);
//  - the merged packet stays within 65535 octets.
// A merge closes after a segment with PSH or with less payload than the first, and when any
// other packet of the same flow arrives (a pure ACK, a FIN, a segment out of order, one with a
// bad checksum...), so per-flow order is kept. A segment with PSH never opens one.
//
// The output keeps the batch's order by first packet: a merged packet stands where its first
// segment stood; everything else passes through unchanged (vnet header all zero) in place.
// Packets of different flows are never merged; one flow's later segments may move ahead of
// another flow's packets, as GRO does.
//
// The merged packet keeps its first segment's headers (identification, timestamps), with the
// lengths, the IPv4 header checksum, PSH from the last segment, and the TCP checksum set:
//  - kComplete: the whole TCP checksum, vnet flags DATA_VALID (the segments' checksums were
//    verified here). A kernel whose TUN ignores DATA_VALID verifies the checksum itself, which
//    still succeeds, at the cost of a pass over the data;
//  - kPartial: the pseudo-header sum in the TCP checksum field and vnet flags NEEDS_CSUM with
//    csum_start/csum_offset at it, the form Linux itself hands a driver for a GSO packet
//    (cheaper: no sum over the merged payload). Which one the data plane writes to a real TUN is
//    for the integration to decide on the kernels of the lab.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "offload_vnet.h"

namespace ipoib::tun::offload {

// Largest merged IP packet: the IPv4 total-length field's limit, used for both families.
constexpr uint32_t kMaxCoalescedLen = 65535;

enum class CoalesceChecksum : uint8_t { kComplete, kPartial };

struct PacketView {
  const uint8_t* data;
  size_t len;
};

// One packet for the host: `count` inputs starting at `first` (1 = `first` unchanged).
struct CoalescedItem {
  uint32_t first = 0;
  uint32_t last = 0;
  uint32_t count = 0;
  uint32_t length = 0;  // octets of the packet for the host
  VnetHdr vnet;         // all zero for a packet passed through
};

class Coalescer {
 public:
  explicit Coalescer(CoalesceChecksum mode = CoalesceChecksum::kComplete) : mode_(mode) {}

  // Decides which of the `n` packets merge. The views must stay valid until the batch's
  // merged packets are written. Storage is reused from batch to batch.
  void Plan(const PacketView* in, size_t n);
  // The batch's packets for the host, in output order.
  const std::vector<CoalescedItem>& items() const { return items_; }
  // The inputs of item `k` in order: first, then next(first), ... (kNone after the last).
  static constexpr uint32_t kNone = 0xffffffffu;
  uint32_t next(uint32_t input) const { return next_[input]; }
  // Writes item `k` (count > 1) into `dst`, which has room for items()[k].length octets.
  void WriteMerged(const PacketView* in, size_t k, uint8_t* dst) const;

  // What Plan learned of one input (public only so that offload_coalesce.cc's helpers see it).
  struct Segment {
    bool addresses_known = false;  // an IPv4 or IPv6 header with both addresses readable
    bool flow_known = false;       // also the TCP ports (ParseTcpPacket accepted it)
    bool candidate = false;        // may be merged (the rules above)
    uint8_t family = 0;
    uint8_t flags = 0;
    bool has_timestamps = false;
    uint16_t tcp_offset = 0;
    uint16_t tcp_header_len = 0;
    uint16_t window = 0;
    uint16_t ip_id = 0;
    uint16_t payload_sum = 0;  // one's-complement sum of the payload, for kComplete
    uint32_t payload_len = 0;
    uint32_t seq = 0;
    uint32_t ack = 0;
    uint32_t ts_val = 0;
    uint32_t ts_ecr = 0;
  };

 private:
  struct Open {    // a merge that may still grow
    uint32_t item;
    uint32_t head;
    uint32_t last;
    uint32_t next_seq;
    uint32_t gso_size;
    int id_step;   // -1 until the second segment: then 1 (counting up) or 0 (fixed)
  };

  bool CanJoin(const PacketView* in, const Open& o, uint32_t i) const;

  CoalesceChecksum mode_;
  std::vector<Segment> segs_;
  std::vector<uint32_t> next_;
  std::vector<CoalescedItem> items_;
  std::vector<Open> open_;
};

}  // namespace ipoib::tun::offload
