#include "offload_segment.h"

#include <algorithm>
#include <cstring>

namespace ipoib::tun::offload {

namespace {

constexpr size_t kIpv4MinHeaderLen = 20;
constexpr size_t kIpv6HeaderLen = 40;
constexpr uint8_t kIpv6HopByHop = 0;
constexpr uint16_t kIpv4FragmentBits = 0x3fff;  // MF and the 13-bit offset; DF may be set

uint16_t Be16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
uint32_t Be32(const uint8_t* p) {
  return (static_cast<uint32_t>(p[0]) << 24) | (static_cast<uint32_t>(p[1]) << 16) |
         (static_cast<uint32_t>(p[2]) << 8) | p[3];
}
void PutBe16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v & 0xff);
}
void PutBe32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

uint16_t Fold(uint64_t s) {
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return static_cast<uint16_t>(s);
}

// IPv6 extension headers (IANA "IPv6 Extension Header Types"): a packet with any of these
// between the fixed header and TCP is refused rather than misread.
bool IsIpv6ExtensionHeader(uint8_t nh) {
  switch (nh) {
    case 0: case 43: case 44: case 50: case 51: case 60: case 135: case 139: case 140: case 253: case 254:
      return true;
    default:
      return false;
  }
}

bool KnownGsoType(uint8_t gso_type) {
  const uint8_t kind = static_cast<uint8_t>(gso_type & ~kGsoEcn);
  if (kind == kGsoNone) return gso_type == kGsoNone;  // ECN means nothing without a TCP type
  return kind == kGsoTcpv4 || kind == kGsoTcpv6;
}

OffloadStatus CheckFlags(const VnetHdr& h) {
  if ((h.flags & ~(kVnetFlagNeedsCsum | kVnetFlagDataValid)) != 0) return OffloadStatus::kVnetFlagsUnknown;
  if (!KnownGsoType(h.gso_type)) return OffloadStatus::kGsoTypeUnsupported;
  return OffloadStatus::kOk;
}

OffloadStatus CheckCsumBounds(const VnetHdr& h, size_t len) {
  if (h.csum_start >= len) return OffloadStatus::kCsumStartOutOfBounds;
  if (static_cast<size_t>(h.csum_start) + h.csum_offset + 2 > len) return OffloadStatus::kCsumOffsetOutOfBounds;
  return OffloadStatus::kOk;
}

// The NEEDS_CSUM job on a packet whose bounds were checked.
void FillPartialChecksum(const VnetHdr& h, uint8_t* p, size_t len) {
  uint16_t v = static_cast<uint16_t>(~OnesSum(p + h.csum_start, len - h.csum_start));
  if (v == 0) v = 0xffff;
  PutBe16(p + h.csum_start + h.csum_offset, v);
}

}  // namespace

uint16_t OnesSum(const uint8_t* p, size_t len) {
  // Words are summed in host order and the result swapped once at the end: the one's-complement
  // sum does not care which octet of a word is the high one, as long as every word is read the
  // same way (RFC 1071 §2). And since 2^16 = 1 modulo 0xffff, a 32-bit word adds the same as
  // its two halves, so wide loads need no splitting until the final fold.
  uint64_t acc = 0;
  size_t i = 0;
  for (; i + 8 <= len; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    acc += (w & 0xffffffffu) + (w >> 32);
  }
  if (i + 4 <= len) {
    uint32_t w;
    std::memcpy(&w, p + i, 4);
    acc += w;
    i += 4;
  }
  if (i + 2 <= len) {
    uint16_t w;
    std::memcpy(&w, p + i, 2);
    acc += w;
    i += 2;
  }
  if (i < len) {
    const uint8_t last[2] = {p[i], 0};  // the odd octet is the high half of a zero-padded word
    uint16_t w;
    std::memcpy(&w, last, 2);
    acc += w;
  }
  const uint16_t s = Fold(acc);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  return OnesSwap(s);
#else
  return s;
#endif
}

uint16_t OnesAdd(uint16_t a, uint16_t b) { return Fold(static_cast<uint32_t>(a) + b); }

uint16_t PseudoSumV4(const uint8_t* src4, const uint8_t* dst4, uint8_t protocol, uint32_t len) {
  uint8_t ph[12] = {};
  std::memcpy(ph, src4, 4);
  std::memcpy(ph + 4, dst4, 4);
  ph[9] = protocol;
  PutBe16(ph + 10, static_cast<uint16_t>(len));
  return OnesSum(ph, sizeof ph);
}

uint16_t PseudoSumV6(const uint8_t* src16, const uint8_t* dst16, uint8_t next_header, uint32_t len) {
  uint8_t ph[40] = {};
  std::memcpy(ph, src16, 16);
  std::memcpy(ph + 16, dst16, 16);
  PutBe32(ph + 32, len);
  ph[39] = next_header;
  return OnesSum(ph, sizeof ph);
}

OffloadStatus ParseTcpPacket(const uint8_t* p, size_t len, TcpPacket* out) {
  if (len == 0) return OffloadStatus::kIpHeaderTruncated;
  TcpPacket t;
  size_t off = 0;
  const uint8_t version = p[0] >> 4;
  if (version == 4) {
    t.family = 4;
    if (len < kIpv4MinHeaderLen) return OffloadStatus::kIpHeaderTruncated;
    const size_t ihl = static_cast<size_t>(p[0] & 0x0f) * 4;
    if (ihl < kIpv4MinHeaderLen || ihl > len) return OffloadStatus::kIpHeaderTruncated;
    if (Be16(p + 2) != len) return OffloadStatus::kIpLengthMismatch;
    if ((Be16(p + 6) & kIpv4FragmentBits) != 0) return OffloadStatus::kIpFragment;
    if (p[9] != kIpprotoTcp) return OffloadStatus::kNotTcp;
    off = ihl;
  } else if (version == 6) {
    t.family = 6;
    if (len < kIpv6HeaderLen) return OffloadStatus::kIpHeaderTruncated;
    const size_t payload = Be16(p + 4);
    if (payload == 0 && len > kIpv6HeaderLen) return OffloadStatus::kIpv6Jumbogram;
    if (kIpv6HeaderLen + payload != len) return OffloadStatus::kIpLengthMismatch;
    uint8_t nh = p[6];
    off = kIpv6HeaderLen;
    if (nh == kIpv6HopByHop) {
      if (off + 8 > len) return OffloadStatus::kIpHeaderTruncated;
      const size_t ext_len = (static_cast<size_t>(p[off + 1]) + 1) * 8;
      if (off + ext_len > len) return OffloadStatus::kIpHeaderTruncated;
      nh = p[off];
      off += ext_len;
    }
    if (nh != kIpprotoTcp) return IsIpv6ExtensionHeader(nh) ? OffloadStatus::kIpv6ExtensionHeader : OffloadStatus::kNotTcp;
  } else {
    return OffloadStatus::kNotIp;
  }
  if (off + kTcpMinHeaderLen > len) return OffloadStatus::kTcpHeaderTruncated;
  const size_t doff = static_cast<size_t>(p[off + 12] >> 4) * 4;
  if (doff < kTcpMinHeaderLen || off + doff > len) return OffloadStatus::kTcpHeaderTruncated;
  t.tcp_offset = static_cast<uint32_t>(off);
  t.tcp_header_len = static_cast<uint32_t>(doff);
  t.payload_len = static_cast<uint32_t>(len - off - doff);
  t.tcp_flags = p[off + 13];
  *out = t;
  return OffloadStatus::kOk;
}

OffloadStatus CompleteChecksum(const VnetHdr& h, uint8_t* p, size_t len) {
  if (const OffloadStatus s = CheckFlags(h); s != OffloadStatus::kOk) return s;
  if (h.GsoKind() != kGsoNone) return OffloadStatus::kGsoNeedsSegmentation;
  if (!h.NeedsCsum()) return OffloadStatus::kOk;
  if (const OffloadStatus s = CheckCsumBounds(h, len); s != OffloadStatus::kOk) return s;
  FillPartialChecksum(h, p, len);
  return OffloadStatus::kOk;
}

uint32_t SegmentPlan::SegmentLen(uint32_t k) const {
  if (!gso) return static_cast<uint32_t>(packet_len);
  const uint32_t done = k * segment_payload;
  const uint32_t left = tcp.payload_len > done ? tcp.payload_len - done : 0;
  return tcp.HeadersLen() + std::min(segment_payload, left);
}

OffloadStatus PlanSegments(const VnetHdr& h, const uint8_t* p, size_t len, uint32_t mtu, SegmentPlan* plan) {
  if (const OffloadStatus s = CheckFlags(h); s != OffloadStatus::kOk) return s;
  SegmentPlan out;
  out.vnet = h;
  out.packet_len = len;
  if (h.GsoKind() == kGsoNone) {
    if (h.NeedsCsum()) {
      if (const OffloadStatus s = CheckCsumBounds(h, len); s != OffloadStatus::kOk) return s;
    }
    if (len > mtu) return OffloadStatus::kExceedsMtu;
    out.count = 1;
    *plan = out;
    return OffloadStatus::kOk;
  }
  if (h.gso_size == 0) return OffloadStatus::kGsoSizeZero;
  if (const OffloadStatus s = ParseTcpPacket(p, len, &out.tcp); s != OffloadStatus::kOk) return s;
  if (out.tcp.family != (h.GsoKind() == kGsoTcpv4 ? 4 : 6)) return OffloadStatus::kGsoFamilyMismatch;
  if (h.NeedsCsum() && (h.csum_start != out.tcp.tcp_offset || h.csum_offset != kTcpChecksumAt)) {
    return OffloadStatus::kCsumNotTcp;
  }
  if ((out.tcp.tcp_flags & (kTcpSyn | kTcpRst | kTcpUrg)) != 0) return OffloadStatus::kGsoTcpFlags;
  const uint32_t headers = out.tcp.HeadersLen();
  if (mtu <= headers) return OffloadStatus::kMtuTooSmall;
  out.gso = true;
  out.segment_payload = std::min<uint32_t>(h.gso_size, mtu - headers);
  const uint32_t payload = out.tcp.payload_len;
  out.count = payload == 0 ? 1 : (payload + out.segment_payload - 1) / out.segment_payload;
  *plan = out;
  return OffloadStatus::kOk;
}

void WriteSegment(const SegmentPlan& plan, const uint8_t* p, uint32_t k, uint8_t* dst) {
  if (!plan.gso) {
    std::memcpy(dst, p, plan.packet_len);
    if (plan.vnet.NeedsCsum()) FillPartialChecksum(plan.vnet, dst, plan.packet_len);
    return;
  }
  const TcpPacket& t = plan.tcp;
  const uint32_t headers = t.HeadersLen();
  const uint32_t done = k * plan.segment_payload;
  const uint32_t n = plan.SegmentLen(k) - headers;
  std::memcpy(dst, p, headers);
  std::memcpy(dst + headers, p + headers + done, n);

  const uint32_t tcp_len = t.tcp_header_len + n;
  uint16_t pseudo;
  if (t.family == 4) {
    PutBe16(dst + 2, static_cast<uint16_t>(headers + n));
    PutBe16(dst + 4, static_cast<uint16_t>(Be16(p + 4) + k));  // IDs count up, wrapping at 2^16
    PutBe16(dst + 10, 0);
    PutBe16(dst + 10, static_cast<uint16_t>(~OnesSum(dst, t.tcp_offset)));
    pseudo = PseudoSumV4(dst + 12, dst + 16, kIpprotoTcp, tcp_len);
  } else {
    PutBe16(dst + 4, static_cast<uint16_t>(t.tcp_offset - kIpv6HeaderLen + tcp_len));
    pseudo = PseudoSumV6(dst + 8, dst + 24, kIpprotoTcp, tcp_len);
  }

  uint8_t* th = dst + t.tcp_offset;
  PutBe32(th + 4, Be32(p + t.tcp_offset + 4) + done);
  uint8_t flags = th[13];
  if (k + 1 != plan.count) flags = static_cast<uint8_t>(flags & ~(kTcpFin | kTcpPsh));
  if (k != 0) flags = static_cast<uint8_t>(flags & ~kTcpCwr);
  th[13] = flags;
  PutBe16(th + kTcpChecksumAt, 0);
  PutBe16(th + kTcpChecksumAt, static_cast<uint16_t>(~OnesAdd(pseudo, OnesSum(th, tcp_len))));
}

}  // namespace ipoib::tun::offload
