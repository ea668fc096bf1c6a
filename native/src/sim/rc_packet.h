// What the RC engine sends and receives: the BTH fields it uses, an optional AETH, and a payload
// view. Building whole IB packets (LRH/GRH, ICRC, VCRC) is the endpoint's job; this file only
// knows the RC transport headers, so the engine stays independent of the link.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace ipoib::sim {

// BTH OpCodes of the RC transport (transport bits 000), as in src/wire/bth.ts.
constexpr uint8_t kOpRcSendFirst = 0x00;
constexpr uint8_t kOpRcSendMiddle = 0x01;
constexpr uint8_t kOpRcSendLast = 0x02;
constexpr uint8_t kOpRcSendOnly = 0x04;
constexpr uint8_t kOpRcAcknowledge = 0x11;

// AETH syndrome octet: bit 7 reserved, bits 6-5 kind, bits 4-0 credit code / RNR timer / NAK code.
constexpr uint8_t kAethKindAck = 0b00;
constexpr uint8_t kAethKindRnrNak = 0b01;
constexpr uint8_t kAethKindNak = 0b11;
// Credit code 31: "no credit count", i.e. end-to-end flow control is not used. This engine always
// sends it and signals an empty receive queue with RNR NAKs instead (see rc_qp.h).
constexpr uint8_t kAethCreditInvalid = 31;
constexpr uint8_t kNakPsnSequenceError = 0;
constexpr uint8_t kNakInvalidRequest = 1;
constexpr uint8_t kNakRemoteAccessError = 2;
constexpr uint8_t kNakRemoteOperationalError = 3;

constexpr uint8_t AethSyndrome(uint8_t kind, uint8_t value) {
  return static_cast<uint8_t>(((kind & 0x3) << 5) | (value & 0x1F));
}
constexpr uint8_t AethKind(uint8_t syndrome) { return (syndrome >> 5) & 0x3; }
constexpr uint8_t AethValue(uint8_t syndrome) { return syndrome & 0x1F; }

constexpr size_t kBthBytes = 12;
constexpr size_t kAethBytes = 4;

// One RC packet as the engine sees it. `payload` is a view: it is valid only for the duration of
// the call that hands the packet over (the emit callback, or RcQp::OnPacket); keep a copy to hold
// on to it. Pad octets are not part of the payload.
struct RcPacket {
  uint8_t opcode = 0;
  bool se = false;       // solicited event
  bool ackReq = false;   // BTH A bit
  uint32_t psn = 0;      // 24 bits
  uint32_t destQp = 0;   // 24 bits
  uint16_t pkey = 0;
  bool hasAeth = false;  // ACKNOWLEDGE packets carry an AETH, requests do not
  uint8_t syndrome = 0;
  uint32_t msn = 0;      // 24 bits
  const uint8_t* payload = nullptr;
  uint32_t payloadLen = 0;
};
using ParsedRcPacket = RcPacket;
using RcPacketOut = RcPacket;

// Pad octets that bring `payloadLen` to a multiple of 4 (the BTH PadCnt).
constexpr uint8_t PadCount(uint32_t payloadLen) { return static_cast<uint8_t>((4 - (payloadLen & 3)) & 3); }

// Octets of BTH (+ AETH) for this packet: 12 or 16.
size_t RcHeaderBytes(const RcPacket& p);

// Writes the BTH (PadCnt from payloadLen, TVer 0, M 0, reserved 0) and, when hasAeth, the AETH to
// `out`, which must hold RcHeaderBytes(p) octets. Returns the octets written.
size_t EncodeRcHeaders(const RcPacket& p, uint8_t* out);

// Reads BTH [+ AETH when the OpCode is ACKNOWLEDGE] + payload + pad from `wire` (no LRH/GRH, no
// ICRC). On success fills `out` (payload points into `wire`) and returns true; otherwise returns
// false with the reason in `why`.
bool ParseRcPacket(const uint8_t* wire, size_t len, RcPacket* out, std::string* why);

// Microseconds an RNR NAK timer code (0..31) asks the requester to wait (IBA table of RNR timer
// values: code 0 is the longest, 655.36 ms; codes 1..31 run from 0.01 ms to 491.52 ms).
uint64_t RnrTimerUs(uint8_t code);

// The local ACK timeout for exponent `exp` (4.096 us * 2^exp), in microseconds rounded up;
// 0 for exp 0, which means "no timeout" (the timer is disabled).
uint64_t LocalAckTimeoutUs(uint8_t exp);

}  // namespace ipoib::sim
