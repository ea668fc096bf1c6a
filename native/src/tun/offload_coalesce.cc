#include "offload_coalesce.h"

#include <cstring>

#include "offload_segment.h"

namespace ipoib::tun::offload {

namespace {

constexpr uint16_t kIpv4Df = 0x4000;
constexpr size_t kIpv4HeaderLen = 20;  // merging takes IPv4 without options only
constexpr size_t kIpv6HeaderLen = 40;
// NOP, NOP, then timestamps (kind 8, length 10): the layout TCP stacks send timestamps in.
constexpr uint8_t kTimestampPrefix[4] = {1, 1, 8, 10};
constexpr size_t kTimestampOptionsLen = 12;

uint16_t Be16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
uint32_t Be32(const uint8_t* p) {
  return (static_cast<uint32_t>(p[0]) << 24) | (static_cast<uint32_t>(p[1]) << 16) |
         (static_cast<uint32_t>(p[2]) << 8) | p[3];
}
void PutBe16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v & 0xff);
}

using Segment = Coalescer::Segment;

// Where the address pair starts and how long it is.
size_t AddressesAt(uint8_t family) { return family == 4 ? 12 : 8; }
size_t AddressesLen(uint8_t family) { return family == 4 ? 8 : 32; }

Segment Analyze(const PacketView& v) {
  Segment s;
  const uint8_t* p = v.data;
  if (v.len == 0) return s;
  const uint8_t version = p[0] >> 4;
  if (version == 4 && v.len >= kIpv4HeaderLen) s.family = 4;
  else if (version == 6 && v.len >= kIpv6HeaderLen) s.family = 6;
  else return s;
  s.addresses_known = true;

  TcpPacket t;
  if (ParseTcpPacket(p, v.len, &t) != OffloadStatus::kOk) return s;
  s.flow_known = true;
  s.tcp_offset = static_cast<uint16_t>(t.tcp_offset);
  s.tcp_header_len = static_cast<uint16_t>(t.tcp_header_len);
  s.payload_len = t.payload_len;
  s.flags = t.tcp_flags;
  const uint8_t* th = p + t.tcp_offset;
  s.seq = Be32(th + 4);
  s.ack = Be32(th + 8);
  s.window = Be16(th + 14);

  // Only plain segments are merged: IPv4 without options, IPv6 without extension headers.
  if (t.tcp_offset != (s.family == 4 ? kIpv4HeaderLen : kIpv6HeaderLen)) return s;
  if (s.payload_len == 0) return s;
  if ((s.flags & kTcpAck) == 0 || (s.flags & (kTcpSyn | kTcpFin | kTcpRst | kTcpUrg)) != 0) return s;
  if (t.tcp_header_len == kTcpMinHeaderLen + kTimestampOptionsLen &&
      std::memcmp(th + kTcpMinHeaderLen, kTimestampPrefix, sizeof kTimestampPrefix) == 0) {
    s.has_timestamps = true;
    s.ts_val = Be32(th + kTcpMinHeaderLen + 4);
    s.ts_ecr = Be32(th + kTcpMinHeaderLen + 8);
  } else if (t.tcp_header_len != kTcpMinHeaderLen) {
    return s;
  }

  // Checksums are verified before merging: the merged packet gets a fresh TCP checksum (or the
  // host is told none is needed), which would otherwise launder a corrupted segment.
  uint16_t pseudo;
  if (s.family == 4) {
    if (OnesSum(p, kIpv4HeaderLen) != 0xffff) return s;
    s.ip_id = Be16(p + 4);
    pseudo = PseudoSumV4(p + 12, p + 16, kIpprotoTcp, t.tcp_header_len + t.payload_len);
  } else {
    pseudo = PseudoSumV6(p + 8, p + 24, kIpprotoTcp, t.tcp_header_len + t.payload_len);
  }
  // The payload starts at an even offset of the segment (the TCP header is whole words), so
  // its sum adds to the header's without a swap.
  const uint16_t header_sum = OnesSum(th, t.tcp_header_len);
  s.payload_sum = OnesSum(th + t.tcp_header_len, t.payload_len);
  if (OnesAdd(OnesAdd(pseudo, header_sum), s.payload_sum) != 0xffff) return s;
  s.candidate = true;
  return s;
}

bool SameAddresses(const PacketView* in, const Segment& a, uint32_t ia, const Segment& b, uint32_t ib) {
  if (a.family != b.family) return false;
  const size_t at = AddressesAt(a.family);
  return std::memcmp(in[ia].data + at, in[ib].data + at, AddressesLen(a.family)) == 0;
}

bool SameFlow(const PacketView* in, const Segment& a, uint32_t ia, const Segment& b, uint32_t ib) {
  return SameAddresses(in, a, ia, b, ib) &&
         std::memcmp(in[ia].data + a.tcp_offset, in[ib].data + b.tcp_offset, 4) == 0;  // both ports
}

// The IP fields that must not change within a merge: all but the lengths, the IPv4
// identification and header checksum.
bool SameIpFields(const uint8_t* a, const uint8_t* b, uint8_t family) {
  if (family == 4) {
    return a[1] == b[1] && a[8] == b[8] && (Be16(a + 6) & kIpv4Df) == (Be16(b + 6) & kIpv4Df);
  }
  return std::memcmp(a, b, 4) == 0 && a[7] == b[7];  // version, traffic class, flow label; hop limit
}

}  // namespace

bool Coalescer::CanJoin(const PacketView* in, const Open& o, uint32_t i) const {
  const Segment& s = segs_[i];
  const Segment& h = segs_[o.head];
  const Segment& l = segs_[o.last];
  if (!s.candidate || s.family != h.family || s.tcp_header_len != h.tcp_header_len) return false;
  if (s.seq != o.next_seq || s.ack != h.ack || s.window != h.window) return false;
  // Same flags but PSH, which may end the merge; CWR may only be on the first segment.
  if ((s.flags & ~kTcpPsh) != (h.flags & ~(kTcpPsh | kTcpCwr))) return false;
  if (s.payload_len > o.gso_size) return false;
  if (items_[o.item].length + s.payload_len > kMaxCoalescedLen) return false;
  if (!SameIpFields(in[o.head].data, in[i].data, s.family)) return false;
  if (s.family == 4) {
    const uint16_t step = static_cast<uint16_t>(s.ip_id - l.ip_id);
    const bool df = (Be16(in[i].data + 6) & kIpv4Df) != 0;
    if (o.id_step < 0) {
      if (!(step == 1 || (step == 0 && df))) return false;
    } else if (step != o.id_step) {
      return false;
    }
  }
  if (s.has_timestamps) {
    if (s.ts_ecr != l.ts_ecr) return false;
    if (static_cast<int32_t>(s.ts_val - l.ts_val) < 0) return false;  // serial-number order
  }
  return true;
}

void Coalescer::Plan(const PacketView* in, size_t n) {
  segs_.resize(n);
  next_.assign(n, kNone);
  items_.clear();
  open_.clear();
  auto close = [this](size_t at) {
    open_[at] = open_.back();
    open_.pop_back();
  };

  for (uint32_t i = 0; i < n; i++) {
    const Segment& s = segs_[i] = Analyze(in[i]);
    if (!s.flow_known) {
      // Its ports are unknown (an IPv4 fragment, say), so it may belong to any open merge
      // between the same addresses: close them, so nothing of theirs moves ahead of it.
      if (s.addresses_known) {
        for (size_t k = open_.size(); k-- > 0;) {
          if (SameAddresses(in, segs_[open_[k].head], open_[k].head, s, i)) close(k);
        }
      }
      items_.push_back({i, i, 1, static_cast<uint32_t>(in[i].len), VnetHdr{}});
      continue;
    }

    size_t found = open_.size();
    for (size_t k = 0; k < open_.size(); k++) {
      if (SameFlow(in, segs_[open_[k].head], open_[k].head, s, i)) {
        found = k;
        break;
      }
    }
    if (found < open_.size()) {
      Open& o = open_[found];
      if (CanJoin(in, o, i)) {
        CoalescedItem& item = items_[o.item];
        next_[o.last] = i;
        item.last = i;
        item.count++;
        item.length += s.payload_len;
        if (o.id_step < 0) o.id_step = static_cast<uint16_t>(s.ip_id - segs_[o.last].ip_id);
        o.last = i;
        o.next_seq = s.seq + s.payload_len;
        if ((s.flags & kTcpPsh) != 0 || s.payload_len < o.gso_size) close(found);
        continue;
      }
      close(found);  // anything else of this flow ends its merge, keeping the flow's order
    }

    items_.push_back({i, i, 1, static_cast<uint32_t>(in[i].len), VnetHdr{}});
    if (s.candidate && (s.flags & kTcpPsh) == 0) {
      open_.push_back({static_cast<uint32_t>(items_.size() - 1), i, i, s.seq + s.payload_len, s.payload_len, -1});
    }
  }

  for (CoalescedItem& item : items_) {
    if (item.count < 2) continue;
    const Segment& h = segs_[item.first];
    VnetHdr& v = item.vnet;
    v.gso_type = static_cast<uint8_t>((h.family == 4 ? kGsoTcpv4 : kGsoTcpv6) | ((h.flags & kTcpCwr) != 0 ? kGsoEcn : 0));
    v.gso_size = static_cast<uint16_t>(h.payload_len);
    v.hdr_len = static_cast<uint16_t>(h.tcp_offset + h.tcp_header_len);
    if (mode_ == CoalesceChecksum::kComplete) {
      v.flags = kVnetFlagDataValid;
    } else {
      v.flags = kVnetFlagNeedsCsum;
      v.csum_start = h.tcp_offset;
      v.csum_offset = kTcpChecksumAt;
    }
  }
}

void Coalescer::WriteMerged(const PacketView* in, size_t k, uint8_t* dst) const {
  const CoalescedItem& item = items_[k];
  const Segment& h = segs_[item.first];
  const uint32_t headers = static_cast<uint32_t>(h.tcp_offset) + h.tcp_header_len;
  std::memcpy(dst, in[item.first].data, headers);

  uint32_t pos = headers;
  uint16_t payload_sum = 0;
  uint8_t last_flags = h.flags;
  for (uint32_t i = item.first; i != kNone; i = next_[i]) {
    const Segment& s = segs_[i];
    std::memcpy(dst + pos, in[i].data + s.tcp_offset + s.tcp_header_len, s.payload_len);
    // A part that starts at an odd offset of the payload has its sum's octets swapped.
    payload_sum = OnesAdd(payload_sum, ((pos - headers) & 1) != 0 ? OnesSwap(s.payload_sum) : s.payload_sum);
    pos += s.payload_len;
    last_flags = s.flags;
  }

  const uint32_t tcp_len = pos - h.tcp_offset;
  uint16_t pseudo;
  if (h.family == 4) {
    PutBe16(dst + 2, static_cast<uint16_t>(pos));
    PutBe16(dst + 10, 0);
    PutBe16(dst + 10, static_cast<uint16_t>(~OnesSum(dst, kIpv4HeaderLen)));
    pseudo = PseudoSumV4(dst + 12, dst + 16, kIpprotoTcp, tcp_len);
  } else {
    PutBe16(dst + 4, static_cast<uint16_t>(pos - kIpv6HeaderLen));
    pseudo = PseudoSumV6(dst + 8, dst + 24, kIpprotoTcp, tcp_len);
  }
  uint8_t* th = dst + h.tcp_offset;
  th[13] = static_cast<uint8_t>(h.flags | (last_flags & kTcpPsh));
  PutBe16(th + kTcpChecksumAt, 0);
  if (mode_ == CoalesceChecksum::kComplete) {
    const uint16_t sum = OnesAdd(pseudo, OnesAdd(OnesSum(th, h.tcp_header_len), payload_sum));
    PutBe16(th + kTcpChecksumAt, static_cast<uint16_t>(~sum));
  } else {
    PutBe16(th + kTcpChecksumAt, pseudo);
  }
}

}  // namespace ipoib::tun::offload
