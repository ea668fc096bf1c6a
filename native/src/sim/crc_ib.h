// The two CRCs of an InfiniBand packet, byte-compatible with src/wire/icrc.ts and vcrc.ts.
//   ICRC: CRC-32 (zlib's crc32) over LRH..last pad octet with the variant fields set to ones;
//         stored least significant octet first.
//   VCRC: CRC-16, poly 0x100B, init 0xFFFF, reflected in and out, xorout 0xFFFF (Boost.CRC),
//         over LRH..ICRC; stored least significant octet first.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ipoib::sim {

// How to compute: kBest folds with carry-less multiplication where the CPU has it (x86-64
// PCLMULQDQ) and uses the portable code for the rest; kPortable uses only the portable code
// (zlib for the ICRC, slicing-by-16 tables built by Boost.CRC for the VCRC). Both give the same
// result; kPortable is there so tests can compare them.
enum class CrcImpl : uint8_t { kBest, kPortable };

// Whether kBest uses carry-less multiplication on this CPU.
bool CrcUsesClmul();

// ICRC of `covered` (the packet from the LRH through the last pad octet, no CRCs). `global`
// says whether a GRH follows the LRH (LNH 0b11). `len` must cover LRH [+ GRH] + BTH.
uint32_t ComputeIcrc(const uint8_t* covered, size_t len, bool global, CrcImpl impl = CrcImpl::kBest);

// VCRC of `covered` (the packet from the LRH through the ICRC).
uint16_t ComputeVcrc(const uint8_t* covered, size_t len, CrcImpl impl = CrcImpl::kBest);

inline void StoreLe32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
  p[2] = static_cast<uint8_t>(v >> 16);
  p[3] = static_cast<uint8_t>(v >> 24);
}
inline void StoreLe16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
}
inline uint32_t LoadLe32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 | static_cast<uint32_t>(p[2]) << 16 |
         static_cast<uint32_t>(p[3]) << 24;
}
inline uint16_t LoadLe16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | p[1] << 8); }

}  // namespace ipoib::sim
