// Software TSO and checksum completion for packets the host hands over with a virtio-net header
// (offload_vnet.h):
//
// - PlanSegments / WriteSegment cut one large TCP packet (GSO type TCPV4 or TCPV6) into
//   packets of at most `mtu` octets. Each copies the IP header (IPv4 options and one IPv6
//   hop-by-hop header included) and the TCP header; IPv4 gets its own total length, an
//   identification counting up from the original's, and its header checksum; IPv6 its payload
//   length; TCP its sequence number, FIN and PSH on the last segment only, CWR on the first
//   only, and a checksum computed over the pseudo-header and the whole segment. A packet
//   without GSO comes out as one packet, its checksum completed when NEEDS_CSUM asks.
// - CompleteChecksum does the NEEDS_CSUM job in place: the one's-complement sum from
//   csum_start to the end, complemented, written at csum_start + csum_offset. The host leaves
//   its pseudo-header sum in that field, so the sum covers it without knowing the protocol.
//
// Every length and offset is checked against the packet before anything is read or written;
// a refusal is an OffloadStatus and leaves the outputs untouched. No allocation, no state:
// the data plane writes the segments straight into its send buffers.
#pragma once

#include <cstddef>
#include <cstdint>

#include "offload_vnet.h"

namespace ipoib::tun::offload {

constexpr uint8_t kIpprotoTcp = 6;
constexpr size_t kTcpMinHeaderLen = 20;
constexpr size_t kTcpChecksumAt = 16;  // octets into the TCP header
// TCP flag bits (octet 13 of the header).
constexpr uint8_t kTcpFin = 0x01;
constexpr uint8_t kTcpSyn = 0x02;
constexpr uint8_t kTcpRst = 0x04;
constexpr uint8_t kTcpPsh = 0x08;
constexpr uint8_t kTcpAck = 0x10;
constexpr uint8_t kTcpUrg = 0x20;
constexpr uint8_t kTcpEce = 0x40;
constexpr uint8_t kTcpCwr = 0x80;

// ---- Internet checksum (RFC 1071) pieces

// The one's-complement sum of `len` octets taken as big-endian 16-bit words, an odd last octet
// padded with a zero octet; folded to 16 bits, not complemented.
uint16_t OnesSum(const uint8_t* p, size_t len);
// a + b in one's-complement arithmetic.
uint16_t OnesAdd(uint16_t a, uint16_t b);
// The sum of a part that starts at an odd offset of the stream: its bytes fall in the other
// half of every word, which swaps the two octets of its sum.
inline uint16_t OnesSwap(uint16_t s) { return static_cast<uint16_t>((s << 8) | (s >> 8)); }
// Sums of the pseudo-headers TCP and UDP cover (RFC 9293 §3.1, RFC 8200 §8.1); `len` is the
// upper-layer length.
uint16_t PseudoSumV4(const uint8_t* src4, const uint8_t* dst4, uint8_t protocol, uint32_t len);
uint16_t PseudoSumV6(const uint8_t* src16, const uint8_t* dst16, uint8_t next_header, uint32_t len);

// ---- TCP packets

// Where the parts of an IPv4 or IPv6 packet carrying TCP are.
struct TcpPacket {
  uint8_t family = 0;         // 4 or 6
  uint32_t tcp_offset = 0;    // octets before the TCP header: IP header, options, hop-by-hop header
  uint32_t tcp_header_len = 0;
  uint32_t payload_len = 0;   // TCP payload octets
  uint8_t tcp_flags = 0;
  uint32_t HeadersLen() const { return tcp_offset + tcp_header_len; }
};

// Finds the TCP header of an IP packet of exactly `len` octets. Refuses a length field that
// disagrees with `len`, IPv4 fragments, IPv6 extension headers other than one hop-by-hop
// header, jumbograms, anything but TCP, and a TCP header that does not fit.
OffloadStatus ParseTcpPacket(const uint8_t* p, size_t len, TcpPacket* out);

// ---- checksum completion

// Completes the checksum NEEDS_CSUM asks for, in place; nothing to do without NEEDS_CSUM.
// A result of 0 is written as 0xffff: UDP reserves 0 for "no checksum", and for TCP both
// encodings verify. Refuses a GSO packet (kGsoNeedsSegmentation) and a checksum field outside
// the packet.
OffloadStatus CompleteChecksum(const VnetHdr& h, uint8_t* p, size_t len);

// ---- segmentation

struct SegmentPlan {
  VnetHdr vnet;
  size_t packet_len = 0;
  bool gso = false;              // false: one packet, copied, its checksum completed if asked
  TcpPacket tcp;                 // with gso
  uint32_t segment_payload = 0;  // with gso: payload octets per segment, the last may carry fewer
  uint32_t count = 0;            // packets WriteSegment will produce

  // Octets of packet `k` (k < count).
  uint32_t SegmentLen(uint32_t k) const;
};

// Checks the packet against its vnet header and decides how it is cut. A GSO packet's segments
// carry min(gso_size, mtu - headers) payload octets each: a gso_size that no longer fits (the
// MTU shrank while the host's TCP had segments queued) is cut smaller rather than sent over
// the MTU. hdr_len is not used; the headers are read from the packet.
OffloadStatus PlanSegments(const VnetHdr& h, const uint8_t* p, size_t len, uint32_t mtu, SegmentPlan* plan);

// Writes packet `k` (< plan.count) of the planned packet `p` into `dst`, which has room for
// plan.SegmentLen(k) octets. `p` must be the packet PlanSegments accepted, unchanged.
void WriteSegment(const SegmentPlan& plan, const uint8_t* p, uint32_t k, uint8_t* dst);

}  // namespace ipoib::tun::offload
