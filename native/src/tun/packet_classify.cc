#include "packet_classify.h"

namespace ipoib::tun {

const char* const kPuntReasonNames[static_cast<size_t>(PuntReason::kCount)] = {
    "no-neighbour", "no-group", "too-big", "not-ip", "malformed", "nd", "arp", "nd", "other-type", "rc-pending", "error",
};

const char* const kPuntReasonDirections[static_cast<size_t>(PuntReason::kCount)] = {
    "tx", "tx", "tx", "tx", "tx", "tx", "rx", "rx", "rx", "tx", "rc",
};

IpKey Ipv4Key(const uint8_t* addr4) {
  IpKey k;
  k.family = 4;
  std::memcpy(k.addr.data(), addr4, 4);
  return k;
}

IpKey Ipv6Key(const uint8_t* addr16) {
  IpKey k;
  k.family = 6;
  std::memcpy(k.addr.data(), addr16, 16);
  return k;
}

namespace {

bool IsNd(const uint8_t* ipv6, size_t len) {
  // Only a Next Header of ICMPv6 right after the fixed header: ND messages carry no extension
  // headers in practice, and a packet that hides one behind them is ordinary traffic.
  return len > kIpv6HeaderLen && ipv6[6] == kIpprotoIcmpv6 && ipv6[kIpv6HeaderLen] >= kIcmpv6NdFirst &&
         ipv6[kIpv6HeaderLen] <= kIcmpv6NdLast;
}

TxDecision Punt(PuntReason reason, uint16_t etherType, const IpKey& dst = IpKey{}) {
  return TxDecision{TxKind::kPunt, reason, etherType, dst};
}

}  // namespace

TxDecision ClassifyTx(const uint8_t* p, size_t len, uint32_t mtu) {
  if (len == 0) return Punt(PuntReason::kMalformed, 0);
  const uint8_t version = p[0] >> 4;
  if (version == 4) {
    if (len < kIpv4HeaderMin) return Punt(PuntReason::kMalformed, kEthPIp);
    const IpKey dst = Ipv4Key(p + 16);
    if (len > mtu) return Punt(PuntReason::kTooBig, kEthPIp, dst);
    const bool limitedBroadcast = p[16] == 0xFF && p[17] == 0xFF && p[18] == 0xFF && p[19] == 0xFF;
    const bool multicast = (p[16] & 0xF0) == 0xE0;  // 224.0.0.0/4
    return TxDecision{multicast || limitedBroadcast ? TxKind::kMulticast : TxKind::kUnicast, PuntReason::kCount, kEthPIp, dst};
  }
  if (version == 6) {
    if (len < kIpv6HeaderLen) return Punt(PuntReason::kMalformed, kEthPIpv6);
    const IpKey dst = Ipv6Key(p + 24);
    if (len > mtu) return Punt(PuntReason::kTooBig, kEthPIpv6, dst);
    if (IsNd(p, len)) return Punt(PuntReason::kTxNd, kEthPIpv6, dst);
    return TxDecision{p[24] == 0xFF ? TxKind::kMulticast : TxKind::kUnicast, PuntReason::kCount, kEthPIpv6, dst};
  }
  return Punt(PuntReason::kNotIp, 0);
}

RxDecision ClassifyRx(const uint8_t* f, size_t len) {
  RxDecision d{RxKind::kDropShort, PuntReason::kCount, 0, false};
  if (len < kIpoibHeaderLen) return d;
  d.etherType = static_cast<uint16_t>(f[0] << 8 | f[1]);
  d.reservedNonZero = f[2] != 0 || f[3] != 0;
  const uint8_t* ip = f + kIpoibHeaderLen;
  const size_t ipLen = len - kIpoibHeaderLen;
  switch (d.etherType) {
    case kEthPIp:
      d.kind = ipLen >= kIpv4HeaderMin && (ip[0] >> 4) == 4 ? RxKind::kToHost : RxKind::kDropBadIp;
      return d;
    case kEthPIpv6:
      if (ipLen < kIpv6HeaderLen || (ip[0] >> 4) != 6) {
        d.kind = RxKind::kDropBadIp;
      } else if (IsNd(ip, ipLen)) {
        d.kind = RxKind::kPunt;
        d.reason = PuntReason::kRxNd;
      } else {
        d.kind = RxKind::kToHost;
      }
      return d;
    case kEthPArp:
      d.kind = RxKind::kPunt;
      d.reason = PuntReason::kArp;
      return d;
    default:
      d.kind = RxKind::kPunt;
      d.reason = PuntReason::kOtherType;
      return d;
  }
}

}  // namespace ipoib::tun
