// What the data plane decides for one packet, without side effects: where an IP packet from
// the host goes (TX), and what a received IPoIB frame is (RX). Byte layouts: IPv4 destination
// at octet 16, IPv6 destination at 24 and Next Header at 6 (RFC 791, RFC 8200); the IPoIB
// header is a 16-bit EtherType then 16 reserved bits (RFC 4391 §6).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>

namespace ipoib::tun {

// EtherTypes and sizes, mirrored from src/wire/constants.ts (a test compares them).
constexpr uint16_t kEthPIp = 0x0800;
constexpr uint16_t kEthPArp = 0x0806;
constexpr uint16_t kEthPIpv6 = 0x86DD;
constexpr size_t kIpoibHeaderLen = 4;
constexpr size_t kIpv4HeaderMin = 20;
constexpr size_t kIpv6HeaderLen = 40;
constexpr uint8_t kIpprotoIcmpv6 = 58;
// ICMPv6 Neighbor Discovery types: Router Solicitation (133) .. Redirect (137), RFC 4861.
constexpr uint8_t kIcmpv6NdFirst = 133;
constexpr uint8_t kIcmpv6NdLast = 137;

// An IP address as a table key: family 4 (first 4 octets used, rest zero) or 6.
struct IpKey {
  uint8_t family = 0;
  std::array<uint8_t, 16> addr{};
  bool operator==(const IpKey& o) const { return family == o.family && addr == o.addr; }
};

struct IpKeyHash {
  size_t operator()(const IpKey& k) const {
    uint64_t a, b;
    std::memcpy(&a, k.addr.data(), 8);
    std::memcpy(&b, k.addr.data() + 8, 8);
    return std::hash<uint64_t>()(a * 0x9E3779B97F4A7C15ull ^ b ^ k.family);
  }
};

IpKey Ipv4Key(const uint8_t* addr4);
IpKey Ipv6Key(const uint8_t* addr16);

// Why the fast path hands a packet to JavaScript (the order is the JS-visible code; the names
// are kPuntReasonNames). TX reasons come from packets the host sent, RX ones from the fabric.
enum class PuntReason : uint8_t {
  kNoNeighbour,  // TX: unicast destination without a neighbour entry
  kNoGroup,      // TX: multicast or limited-broadcast destination without a group entry
  kTooBig,       // TX: longer than the interface MTU, the UD MTU (UD) or the connection's (RC)
  kNotIp,        // TX: the version nibble is neither 4 nor 6
  kMalformed,    // TX: shorter than the fixed IP header its version needs
  kTxNd,         // TX: an ICMPv6 Neighbor Discovery message (the IPoIB link-layer option is JS's job)
  kArp,          // RX: EtherType ARP
  kRxNd,         // RX: an IPv6 Neighbor Discovery message
  kOtherType,    // RX: any EtherType but IPv4, IPv6 and ARP
  kRcPending,    // TX: the neighbour is to be reached over RC, and its connection is not ready
  kRcError,      // RC: an attached RC QP went to ERROR (or a send on it failed); no packet
  kCount
};
extern const char* const kPuntReasonNames[static_cast<size_t>(PuntReason::kCount)];
// Which packets a reason applies to, as JS spells it: "tx", "rx" or "rc" (kPuntReasonNames' order).
extern const char* const kPuntReasonDirections[static_cast<size_t>(PuntReason::kCount)];

// ---- TX: an IP packet the host sent

enum class TxKind : uint8_t { kUnicast, kMulticast, kPunt };
struct TxDecision {
  TxKind kind;
  PuntReason reason;  // when kPunt
  uint16_t etherType;
  IpKey dst;
};
// `mtu` is the interface MTU: longer packets are punted as kTooBig.
TxDecision ClassifyTx(const uint8_t* packet, size_t len, uint32_t mtu);

// ---- RX: an IPoIB frame (4-octet header + payload) that arrived on the interface's QP

enum class RxKind : uint8_t {
  kToHost,     // an IPv4/IPv6 packet: write frame + 4 to the host
  kPunt,       // hand to JS with `reason`
  kDropShort,  // shorter than the IPoIB header
  kDropBadIp,  // IP EtherType, but the packet is shorter than its fixed header or of the other version
};
struct RxDecision {
  RxKind kind;
  PuntReason reason;  // when kPunt
  uint16_t etherType;
  bool reservedNonZero;  // the header's reserved field was not 0 (kept, as receivers ignore it)
};
RxDecision ClassifyRx(const uint8_t* frame, size_t len);

}  // namespace ipoib::tun
