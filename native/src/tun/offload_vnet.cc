// <linux/virtio_net.h> names a field `class` (struct virtio_net_ctrl_hdr), which C++ cannot
// parse; the macro renames it for this one include, which comes before every other header so
// the rename reaches nothing else. Only this file includes it.
#define class virtio_net_ctrl_class
#include <linux/virtio_net.h>
#undef class

#include "offload_vnet.h"

#include <cstddef>

namespace ipoib::tun::offload {

static_assert(kVnetHdrLen == sizeof(struct virtio_net_hdr), "TUN's default vnet header");
static_assert(kVnetFlagNeedsCsum == VIRTIO_NET_HDR_F_NEEDS_CSUM);
static_assert(kVnetFlagDataValid == VIRTIO_NET_HDR_F_DATA_VALID);
static_assert(kGsoNone == VIRTIO_NET_HDR_GSO_NONE);
static_assert(kGsoTcpv4 == VIRTIO_NET_HDR_GSO_TCPV4);
static_assert(kGsoUdp == VIRTIO_NET_HDR_GSO_UDP);
static_assert(kGsoTcpv6 == VIRTIO_NET_HDR_GSO_TCPV6);
static_assert(kGsoEcn == VIRTIO_NET_HDR_GSO_ECN);

namespace {

uint16_t Le16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }

void PutLe16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v & 0xff);
  p[1] = static_cast<uint8_t>(v >> 8);
}

struct StatusInfo {
  const char* name;
  const char* text;
};

constexpr StatusInfo kStatusInfo[] = {
    {"ok", "accepted"},
    {"vnet-header-short", "the virtio-net header needs 10 octets"},
    {"vnet-flags-unknown", "the virtio-net header has flag bits other than NEEDS_CSUM and DATA_VALID"},
    {"gso-type-unsupported", "only GSO types TCPV4 and TCPV6 (with or without ECN) are segmented; UDP fragmentation (UFO), UDP_L4 and unknown types are not"},
    {"gso-size-zero", "a GSO packet needs a gso_size above 0"},
    {"gso-family-mismatch", "the GSO type names the other IP version than the packet's"},
    {"gso-needs-segmentation", "a GSO packet is cut into segments, not checksummed whole"},
    {"not-ip", "the packet's version nibble is neither 4 nor 6"},
    {"ip-header-truncated", "the IP header does not fit in the packet"},
    {"ip-length-mismatch", "the IP length field disagrees with the packet's length"},
    {"ip-fragment", "an IPv4 fragment cannot be segmented"},
    {"ipv6-extension-header", "IPv6 extension headers other than one hop-by-hop header are not supported"},
    {"ipv6-jumbogram", "an IPv6 payload length of 0 with data after the header (a jumbogram) is not supported"},
    {"not-tcp", "the GSO type is TCP but the packet does not carry TCP"},
    {"tcp-header-truncated", "the TCP data offset is below 5 words or runs past the packet"},
    {"gso-tcp-flags", "a TCP segment to be cut must not carry SYN, RST or URG"},
    {"csum-not-tcp", "NEEDS_CSUM on a TCP GSO packet must point at the TCP checksum (csum_start = TCP header, csum_offset = 16)"},
    {"csum-start-out-of-bounds", "csum_start is at or past the end of the packet"},
    {"csum-offset-out-of-bounds", "the checksum field at csum_start + csum_offset does not fit in the packet"},
    {"mtu-too-small", "the MTU leaves no room for payload after the headers"},
    {"exceeds-mtu", "a packet without GSO is longer than the MTU"},
};
static_assert(sizeof(kStatusInfo) / sizeof(kStatusInfo[0]) == static_cast<size_t>(OffloadStatus::kCount),
              "one name and text per OffloadStatus");

}  // namespace

bool ReadVnetHdr(const uint8_t* p, size_t len, VnetHdr* out) {
  if (len < kVnetHdrLen) return false;
  out->flags = p[offsetof(virtio_net_hdr, flags)];
  out->gso_type = p[offsetof(virtio_net_hdr, gso_type)];
  out->hdr_len = Le16(p + offsetof(virtio_net_hdr, hdr_len));
  out->gso_size = Le16(p + offsetof(virtio_net_hdr, gso_size));
  out->csum_start = Le16(p + offsetof(virtio_net_hdr, csum_start));
  out->csum_offset = Le16(p + offsetof(virtio_net_hdr, csum_offset));
  return true;
}

void WriteVnetHdr(const VnetHdr& h, uint8_t* p) {
  p[offsetof(virtio_net_hdr, flags)] = h.flags;
  p[offsetof(virtio_net_hdr, gso_type)] = h.gso_type;
  PutLe16(p + offsetof(virtio_net_hdr, hdr_len), h.hdr_len);
  PutLe16(p + offsetof(virtio_net_hdr, gso_size), h.gso_size);
  PutLe16(p + offsetof(virtio_net_hdr, csum_start), h.csum_start);
  PutLe16(p + offsetof(virtio_net_hdr, csum_offset), h.csum_offset);
}

const char* OffloadStatusName(OffloadStatus s) {
  const auto i = static_cast<size_t>(s);
  return i < static_cast<size_t>(OffloadStatus::kCount) ? kStatusInfo[i].name : "unknown";
}

const char* OffloadStatusText(OffloadStatus s) {
  const auto i = static_cast<size_t>(s);
  return i < static_cast<size_t>(OffloadStatus::kCount) ? kStatusInfo[i].text : "unknown status";
}

}  // namespace ipoib::tun::offload
