#include "rc_packet.h"

namespace ipoib::sim {

namespace {

void Put24(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 16);
  p[1] = static_cast<uint8_t>(v >> 8);
  p[2] = static_cast<uint8_t>(v);
}

uint32_t Get24(const uint8_t* p) { return (uint32_t{p[0]} << 16) | (uint32_t{p[1]} << 8) | p[2]; }

}  // namespace

size_t RcHeaderBytes(const RcPacket& p) { return kBthBytes + (p.hasAeth ? kAethBytes : 0); }

size_t EncodeRcHeaders(const RcPacket& p, uint8_t* out) {
  out[0] = p.opcode;
  out[1] = static_cast<uint8_t>((p.se ? 0x80 : 0) | (PadCount(p.payloadLen) << 4));  // M 0, TVer 0
  out[2] = static_cast<uint8_t>(p.pkey >> 8);
  out[3] = static_cast<uint8_t>(p.pkey);
  out[4] = 0;  // resv8a (FECN/BECN clear)
  Put24(out + 5, p.destQp);
  out[8] = p.ackReq ? 0x80 : 0;
  Put24(out + 9, p.psn);
  if (!p.hasAeth) return kBthBytes;
  out[12] = p.syndrome;
  Put24(out + 13, p.msn);
  return kBthBytes + kAethBytes;
}

bool ParseRcPacket(const uint8_t* wire, size_t len, RcPacket* out, std::string* why) {
  if (len < kBthBytes) {
    *why = "shorter than a BTH";
    return false;
  }
  RcPacket p;
  p.opcode = wire[0];
  p.se = (wire[1] & 0x80) != 0;
  const uint8_t pad = (wire[1] >> 4) & 0x3;
  p.pkey = static_cast<uint16_t>((wire[2] << 8) | wire[3]);
  p.destQp = Get24(wire + 5);
  p.ackReq = (wire[8] & 0x80) != 0;
  p.psn = Get24(wire + 9);
  size_t header = kBthBytes;
  if (p.opcode == kOpRcAcknowledge) {
    if (len < kBthBytes + kAethBytes) {
      *why = "ACKNOWLEDGE shorter than BTH + AETH";
      return false;
    }
    p.hasAeth = true;
    p.syndrome = wire[12];
    p.msn = Get24(wire + 13);
    header += kAethBytes;
  }
  if (len - header < pad) {
    *why = "PadCnt larger than what follows the headers";
    return false;
  }
  p.payload = wire + header;
  p.payloadLen = static_cast<uint32_t>(len - header - pad);
  *out = p;
  return true;
}

uint64_t RnrTimerUs(uint8_t code) {
  code &= 0x1F;
  if (code == 0) return 655360;
  // Codes 1..4 are 10..40 us; from there the steps alternate x1.5 and x4/3 (60, 80, 120, 160, ...).
  const uint64_t tens = code < 2 ? code : (code % 2 == 0 ? uint64_t{1} << (code / 2) : uint64_t{3} << ((code - 3) / 2));
  return 10 * tens;
}

uint64_t LocalAckTimeoutUs(uint8_t exp) {
  if (exp == 0) return 0;
  const uint64_t ns = uint64_t{4096} << (exp & 0x1F);
  return (ns + 999) / 1000;
}

}  // namespace ipoib::sim
