// The virtio-net header (struct virtio_net_hdr from <linux/virtio_net.h>) that a TUN device
// opened with IFF_VNET_HDR puts before every packet it hands over, and expects before every
// packet it is given. From the host it says what work the packet still needs (a partial checksum
// to complete, a large TCP segment to cut); to the host it says what was done (checksum already
// verified) and how a large packet was built (so the host's TCP sees one GSO packet).
//
// The layout is the 10-octet header TUN uses unless TUNSETVNETHDRSZ changes it. Its 16-bit
// fields are little-endian: TUN's default on little-endian hosts, and always with TUNSETVNETLE.
// The data plane must never turn TUNSETVNETBE on.
//
// Also here: the reasons the offload engine refuses a packet, shared by segmentation, checksum
// completion and the binding (the names are what JavaScript sees as the error's code).
#pragma once

#include <cstddef>
#include <cstdint>

namespace ipoib::tun::offload {

// The values of <linux/virtio_net.h>. That header cannot be included from C++ everywhere (a
// field of its control header is named `class`), so offload_vnet.cc includes it alone and checks
// every value and the layout below against it at compile time.
constexpr size_t kVnetHdrLen = 10;  // sizeof(struct virtio_net_hdr)
constexpr uint8_t kVnetFlagNeedsCsum = 1;  // VIRTIO_NET_HDR_F_NEEDS_CSUM
constexpr uint8_t kVnetFlagDataValid = 2;  // VIRTIO_NET_HDR_F_DATA_VALID
constexpr uint8_t kGsoNone = 0;            // VIRTIO_NET_HDR_GSO_NONE
constexpr uint8_t kGsoTcpv4 = 1;           // VIRTIO_NET_HDR_GSO_TCPV4
constexpr uint8_t kGsoUdp = 3;             // VIRTIO_NET_HDR_GSO_UDP (UFO; refused)
constexpr uint8_t kGsoTcpv6 = 4;           // VIRTIO_NET_HDR_GSO_TCPV6
// VIRTIO_NET_HDR_GSO_ECN: not a type but a flag on the TCP types, saying the packet carries
// CWR, which only the first segment keeps.
constexpr uint8_t kGsoEcn = 0x80;

// The header's fields in host order. `gso_type` keeps the ECN flag; GsoKind() drops it.
struct VnetHdr {
  uint8_t flags = 0;
  uint8_t gso_type = kGsoNone;
  uint16_t hdr_len = 0;      // octets of headers; a hint only, never trusted for bounds
  uint16_t gso_size = 0;     // payload octets per segment (the MSS)
  uint16_t csum_start = 0;   // with NEEDS_CSUM: where summing starts
  uint16_t csum_offset = 0;  // with NEEDS_CSUM: where the result goes, counted from csum_start

  uint8_t GsoKind() const { return static_cast<uint8_t>(gso_type & ~kGsoEcn); }
  bool NeedsCsum() const { return (flags & kVnetFlagNeedsCsum) != 0; }
};

// Reads the first kVnetHdrLen octets of `p`; false (and *out untouched) when `len` is shorter.
bool ReadVnetHdr(const uint8_t* p, size_t len, VnetHdr* out);
// Writes kVnetHdrLen octets at `p`.
void WriteVnetHdr(const VnetHdr& h, uint8_t* p);

// Why the engine refused a packet. The order is the code JavaScript sees by index in
// `offloadRefusals`; names and texts are in offload_vnet.cc.
enum class OffloadStatus : uint8_t {
  kOk,
  kVnetHeaderShort,       // fewer than 10 octets of vnet header
  kVnetFlagsUnknown,      // flag bits other than NEEDS_CSUM and DATA_VALID
  kGsoTypeUnsupported,    // UDP (UFO), UDP_L4 or an unknown GSO type
  kGsoSizeZero,           // a GSO packet with gso_size 0
  kGsoFamilyMismatch,     // TCPV4 on an IPv6 packet or TCPV6 on an IPv4 one
  kGsoNeedsSegmentation,  // checksum completion asked of a GSO packet
  kNotIp,                 // the version nibble is neither 4 nor 6
  kIpHeaderTruncated,     // the IP header (with options) does not fit the packet
  kIpLengthMismatch,      // IPv4 total length or IPv6 payload length disagrees with the packet
  kIpFragment,            // an IPv4 fragment (MF set or a fragment offset)
  kIpv6ExtensionHeader,   // an IPv6 extension header other than one hop-by-hop header
  kIpv6Jumbogram,         // IPv6 payload length 0 with octets after the header
  kNotTcp,                // a TCP GSO type, but the packet is not TCP
  kTcpHeaderTruncated,    // data offset below 5 or past the packet
  kGsoTcpFlags,           // SYN, RST or URG in a packet to be segmented
  kCsumNotTcp,            // NEEDS_CSUM on a TCP GSO packet not pointing at the TCP checksum
  kCsumStartOutOfBounds,  // csum_start at or past the end of the packet
  kCsumOffsetOutOfBounds, // csum_start + csum_offset + 2 past the end of the packet
  kMtuTooSmall,           // the headers leave no room for a payload octet under the MTU
  kExceedsMtu,            // a packet without GSO that is longer than the MTU
  kCount
};

// "csum-offset-out-of-bounds": stable, kebab-case, what JavaScript sees as the error code.
const char* OffloadStatusName(OffloadStatus s);
// One sentence saying what was wrong.
const char* OffloadStatusText(OffloadStatus s);

}  // namespace ipoib::tun::offload
