#include "crc_ib.h"

#include <zlib.h>

#include <boost/crc.hpp>
#include <cstring>

namespace ipoib::sim {

namespace {

constexpr size_t kLrhLen = 8;
constexpr size_t kGrhLen = 40;
constexpr size_t kBthLen = 12;
constexpr size_t kBthResv8aOffset = 4;

// The VCRC model; Boost builds its table from these parameters (no table of ours).
using VcrcModel = boost::crc_optimal<16, 0x100B, 0xFFFF, 0xFFFF, true, true>;
// The same CRC without initial value and final XOR: its state is linear over GF(2) in the
// starting state and in the data, which is what lets independent chunks be combined.
using VcrcCore = boost::crc_optimal<16, 0x100B, 0, 0, true, true>;

// Boost feeds one octet at a time through its table; each step waits for the previous one
// (~6 cycles per octet). Running kVcrcLanes chunks side by side gives the CPU independent work:
// a packet of 2 KiB costs about half as much. kVcrcChunk * kVcrcLanes octets make one group.
constexpr size_t kVcrcChunk = 64;
constexpr int kVcrcLanes = 8;

// The state after kVcrcChunk zero octets, as a linear map of the state before: the images of
// the 16 one-bit states, each computed by Boost itself. (State = Boost's interim remainder.)
struct ZeroChunkShift {
  uint16_t image[16];
  ZeroChunkShift() {
    const uint8_t zeros[kVcrcChunk] = {};
    for (int bit = 0; bit < 16; bit++) {
      VcrcCore c(static_cast<uint16_t>(1u << bit));
      c.process_bytes(zeros, kVcrcChunk);
      image[bit] = static_cast<uint16_t>(c.get_interim_remainder());
    }
  }
  uint16_t operator()(uint16_t state) const {
    uint16_t out = 0;
    for (int bit = 0; bit < 16; bit++) out ^= static_cast<uint16_t>(-((state >> bit) & 1u) & image[bit]);
    return out;
  }
};

}  // namespace

uint32_t ComputeIcrc(const uint8_t* covered, size_t len, bool global) {
  // Mask a private copy of the headers; the payload is never masked, so it is fed as is.
  uint8_t head[kLrhLen + kGrhLen + kBthLen];
  const size_t headLen = kLrhLen + (global ? kGrhLen : 0) + kBthLen;
  if (len < headLen) return 0;  // callers check lengths first; this keeps a bad call harmless
  std::memcpy(head, covered, headLen);
  if (global) {
    std::memset(head, 0xFF, kLrhLen);                // routers rebuild the whole LRH
    head[kLrhLen] |= 0x0F;                           // TClass high nibble (IPVer kept)
    std::memset(head + kLrhLen + 1, 0xFF, 3);        // TClass low nibble + FlowLabel
    head[kLrhLen + 7] = 0xFF;                        // HopLmt
    head[kLrhLen + kGrhLen + kBthResv8aOffset] = 0xFF;
  } else {
    head[0] |= 0xF0;                                 // VL
    head[kLrhLen + kBthResv8aOffset] = 0xFF;
  }
  uLong crc = crc32(0L, Z_NULL, 0);
  crc = crc32(crc, head, static_cast<uInt>(headLen));
  crc = crc32(crc, covered + headLen, static_cast<uInt>(len - headLen));
  return static_cast<uint32_t>(crc);
}

uint16_t ComputeVcrc(const uint8_t* covered, size_t len) {
  static const ZeroChunkShift shift;
  constexpr size_t kGroup = kVcrcChunk * kVcrcLanes;
  // The head (shorter than a group) goes through Boost directly, from the real initial value.
  const size_t head = len % kGroup;
  VcrcModel c;
  c.process_bytes(covered, head);
  uint16_t state = static_cast<uint16_t>(c.get_interim_remainder());
  // Each later chunk: state' = shift(state) XOR (the chunk's CRC from state 0), by linearity.
  for (const uint8_t* p = covered + head; p < covered + len; p += kGroup) {
    VcrcCore lane[kVcrcLanes];
    for (size_t i = 0; i < kVcrcChunk; i++) {
      for (int l = 0; l < kVcrcLanes; l++) lane[l].process_byte(p[l * kVcrcChunk + i]);
    }
    for (int l = 0; l < kVcrcLanes; l++) state = shift(state) ^ static_cast<uint16_t>(lane[l].get_interim_remainder());
  }
  c.reset(state);  // Boost applies the final XOR (and any reflection) itself
  return static_cast<uint16_t>(c.checksum());
}

}  // namespace ipoib::sim
