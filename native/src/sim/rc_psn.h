// 24-bit packet sequence numbers (IBA BTH PSN): arithmetic modulo 2^24 and the half-space
// comparison RC uses to tell "behind" from "ahead".
#pragma once

#include <cstdint>

namespace ipoib::sim {

constexpr uint32_t kPsnMask = 0xFFFFFF;
// Half the PSN space: a PSN less than this far ahead of a reference counts as "ahead", anything
// else as "behind" (the responder's duplicate window and the requester's stale-ACK test).
constexpr uint32_t kPsnHalf = 0x800000;

constexpr uint32_t PsnAdd(uint32_t psn, uint32_t n) { return (psn + n) & kPsnMask; }

// How far `to` is ahead of `from`, modulo 2^24 (0 .. 2^24-1).
constexpr uint32_t PsnDistance(uint32_t from, uint32_t to) { return (to - from) & kPsnMask; }

// True when `psn` lies strictly ahead of `ref` (by 1 .. 2^23-1).
constexpr bool PsnAhead(uint32_t psn, uint32_t ref) {
  const uint32_t d = PsnDistance(ref, psn);
  return d != 0 && d < kPsnHalf;
}

}  // namespace ipoib::sim
