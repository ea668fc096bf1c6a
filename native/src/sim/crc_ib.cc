#include "crc_ib.h"

#include <zlib.h>

#include <boost/crc.hpp>
#include <cstring>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define IPOIB_CRC_CLMUL 1
#else
#define IPOIB_CRC_CLMUL 0
#endif

namespace ipoib::sim {

namespace {

constexpr size_t kLrhLen = 8;
constexpr size_t kGrhLen = 40;
constexpr size_t kBthLen = 12;
constexpr size_t kBthResv8aOffset = 4;

// Both CRCs are reflected (octets enter least significant bit first), so both are computed on
// the reflected shift register: octet k of the data meets register bits 8k..8k+7. A state is
// carried between pieces of a packet as that register, before the final XOR.
constexpr uint32_t kIcrcInit = 0xFFFFFFFF;  // zlib's CRC-32: init and final XOR all ones
constexpr uint32_t kIcrcXorOut = 0xFFFFFFFF;
constexpr uint32_t kVcrcInit = 0xFFFF;  // the VCRC: init and final XOR all ones
constexpr uint32_t kVcrcXorOut = 0xFFFF;
// The generator polynomials with their top term, for the folding constants below:
// x^32 + x^26 + x^23 + x^22 + x^16 + x^12 + x^11 + x^10 + x^8 + x^7 + x^5 + x^4 + x^2 + x + 1,
// and x^16 + x^12 + x^3 + x + 1 (0x100B).
constexpr uint64_t kIcrcPoly = 0x104C11DB7ull;
constexpr uint64_t kVcrcPoly = 0x1100Bull;

// ---- Portable path: tables (VCRC) and zlib (ICRC)

// The VCRC's tables come from Boost.CRC: every value in them is a CRC Boost computed (no table
// of ours). Boost's interim remainder is the register in unreflected (MSB-first) orientation,
// whatever the reflection parameters, so each entry is bit-reversed into ours.
using VcrcCore = boost::crc_optimal<16, 0x100B, 0, 0, true, true>;

// Slicing-by-16: 16 octets per step, with 16 table lookups that depend on each other only
// through the first two (the 16-bit state meets only the first two octets), so the CPU runs them
// side by side; Boost's own loop feeds one octet per step, each waiting for the previous one.
constexpr int kVcrcSlices = 16;

uint16_t Reflect16(uint16_t v) {
  uint16_t r = 0;
  for (int i = 0; i < 16; i++) r = static_cast<uint16_t>(r | ((v >> i) & 1u) << (15 - i));
  return r;
}

// table[k][b]: the register after octet b followed by k zero octets, from state 0.
struct VcrcSlicingTables {
  uint16_t table[kVcrcSlices][256];
  VcrcSlicingTables() {
    for (int b = 0; b < 256; b++) {
      VcrcCore c;
      c.process_byte(static_cast<uint8_t>(b));
      for (int k = 0; k < kVcrcSlices; k++) {
        table[k][b] = Reflect16(static_cast<uint16_t>(c.get_interim_remainder()));
        c.process_byte(0);
      }
    }
  }
};
// Built when the addon loads; nothing computes a CRC during static initialisation.
const VcrcSlicingTables kVcrcTables;  // 8 KiB

uint64_t LoadLe64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  v = __builtin_bswap64(v);
#endif
  return v;
}

uint32_t VcrcUpdatePortable(uint32_t reg, const uint8_t* p, size_t len) {
  const auto& t = kVcrcTables.table;
  for (; len >= kVcrcSlices; len -= kVcrcSlices, p += kVcrcSlices) {
    const uint64_t a = LoadLe64(p) ^ reg;
    const uint64_t b = LoadLe64(p + 8);
    reg = t[15][a & 0xFF] ^ t[14][(a >> 8) & 0xFF] ^ t[13][(a >> 16) & 0xFF] ^ t[12][(a >> 24) & 0xFF] ^
          t[11][(a >> 32) & 0xFF] ^ t[10][(a >> 40) & 0xFF] ^ t[9][(a >> 48) & 0xFF] ^ t[8][a >> 56] ^
          t[7][b & 0xFF] ^ t[6][(b >> 8) & 0xFF] ^ t[5][(b >> 16) & 0xFF] ^ t[4][(b >> 24) & 0xFF] ^
          t[3][(b >> 32) & 0xFF] ^ t[2][(b >> 40) & 0xFF] ^ t[1][(b >> 48) & 0xFF] ^ t[0][b >> 56];
  }
  for (; len > 0; len--, p++) reg = (reg >> 8) ^ t[0][(reg ^ *p) & 0xFF];
  return reg;
}

// zlib's crc32 inverts its seed on the way in and its result on the way out.
uint32_t IcrcUpdatePortable(uint32_t reg, const uint8_t* p, size_t len) {
  return ~static_cast<uint32_t>(crc32(~reg & 0xFFFFFFFFu, p, static_cast<uInt>(len)));
}

// ---- Carry-less-multiply path (x86-64 with PCLMULQDQ)
//
// Folding: with the packet's first 16 octets (start state XORed in) as a polynomial A of degree
// < 128 standing D bits before the next 16 octets B, A·x^D + B ≡ A_hi·(x^(D+64) mod P) +
// A_lo·(x^D mod P) + B (mod P), a 128-bit value again: each carry-less multiply of a 64-bit half
// by a constant of degree < 32 folds 64 bits at once, and the CRC of the folded 16 octets is the
// CRC of everything folded into them. Four such values run side by side 64 octets apart
// (D = 512), are folded into one (D = 128), and the last 16 octets plus the tail go through the
// portable path. In the reflected register a product comes out shifted by one bit, hence the
// constants x^(D+63) and x^(D-1), bit-reversed into 64 bits.
constexpr size_t kClmulMinLen = 64;  // below this the portable path is as fast

uint64_t XPowMod(unsigned n, uint64_t poly, int width) {
  uint64_t r = 1;
  for (unsigned i = 0; i < n; i++) {
    r <<= 1;
    if ((r >> width) & 1) r ^= poly;
  }
  return r;
}

uint64_t Reflect64(uint64_t v) {
  uint64_t r = 0;
  for (int i = 0; i < 64; i++) r |= ((v >> i) & 1u) << (63 - i);
  return r;
}

struct FoldConstants {
  uint64_t by128[2];  // {x^191, x^127} mod P, reflected: for the low and high 64-bit halves
  uint64_t by512[2];  // {x^575, x^511} mod P
  FoldConstants(uint64_t poly, int width)
      : by128{Reflect64(XPowMod(191, poly, width)), Reflect64(XPowMod(127, poly, width))},
        by512{Reflect64(XPowMod(575, poly, width)), Reflect64(XPowMod(511, poly, width))} {}
};

#if IPOIB_CRC_CLMUL
const FoldConstants kIcrcFold(kIcrcPoly, 32);
const FoldConstants kVcrcFold(kVcrcPoly, 16);

__attribute__((target("pclmul"))) inline __m128i FoldBy(__m128i x, __m128i k) {
  return _mm_xor_si128(_mm_clmulepi64_si128(x, k, 0x00), _mm_clmulepi64_si128(x, k, 0x11));
}

__attribute__((target("pclmul"))) inline __m128i Load128(const uint8_t* p) {
  return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
}

// Folds whole 16-octet blocks of `p` (len >= 16), starting from register `reg`, into `out`;
// returns how many octets it consumed. The CRC (from state 0) of `out` and then of the rest
// equals the CRC (from `reg`) of all of `p`.
__attribute__((target("pclmul"))) size_t FoldBlocks(const FoldConstants& f, uint32_t reg, const uint8_t* p, size_t len,
                                                    uint8_t out[16]) {
  const __m128i k128 = _mm_set_epi64x(static_cast<long long>(f.by128[1]), static_cast<long long>(f.by128[0]));
  const uint8_t* const start = p;
  __m128i x0 = _mm_xor_si128(Load128(p), _mm_cvtsi32_si128(static_cast<int>(reg)));
  p += 16;
  len -= 16;
  if (len >= 64) {
    const __m128i k512 = _mm_set_epi64x(static_cast<long long>(f.by512[1]), static_cast<long long>(f.by512[0]));
    __m128i x1 = Load128(p), x2 = Load128(p + 16), x3 = Load128(p + 32);
    p += 48;
    len -= 48;
    for (; len >= 64; len -= 64, p += 64) {
      x0 = _mm_xor_si128(FoldBy(x0, k512), Load128(p));
      x1 = _mm_xor_si128(FoldBy(x1, k512), Load128(p + 16));
      x2 = _mm_xor_si128(FoldBy(x2, k512), Load128(p + 32));
      x3 = _mm_xor_si128(FoldBy(x3, k512), Load128(p + 48));
    }
    x0 = _mm_xor_si128(FoldBy(x0, k128), x1);
    x0 = _mm_xor_si128(FoldBy(x0, k128), x2);
    x0 = _mm_xor_si128(FoldBy(x0, k128), x3);
  }
  for (; len >= 16; len -= 16, p += 16) x0 = _mm_xor_si128(FoldBy(x0, k128), Load128(p));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(out), x0);
  return static_cast<size_t>(p - start);
}

bool DetectClmul() {
  __builtin_cpu_init();  // this may run among the library's constructors, before libgcc's own
  return __builtin_cpu_supports("pclmul");
}
const bool kHaveClmul = DetectClmul();
#else
const bool kHaveClmul = false;
#endif

template <uint32_t (*Portable)(uint32_t, const uint8_t*, size_t)>
uint32_t Update(const FoldConstants* fold, uint32_t reg, const uint8_t* p, size_t len, CrcImpl impl) {
#if IPOIB_CRC_CLMUL
  if (impl == CrcImpl::kBest && kHaveClmul && len >= kClmulMinLen) {
    uint8_t folded[16];
    const size_t used = FoldBlocks(*fold, reg, p, len, folded);
    return Portable(Portable(0, folded, sizeof folded), p + used, len - used);
  }
#else
  (void)fold;
  (void)impl;
#endif
  return Portable(reg, p, len);
}

#if IPOIB_CRC_CLMUL
const FoldConstants* const kIcrcFoldOrNull = &kIcrcFold;
const FoldConstants* const kVcrcFoldOrNull = &kVcrcFold;
#else
const FoldConstants* const kIcrcFoldOrNull = nullptr;
const FoldConstants* const kVcrcFoldOrNull = nullptr;
#endif

}  // namespace

bool CrcUsesClmul() { return kHaveClmul; }

uint32_t ComputeIcrc(const uint8_t* covered, size_t len, bool global, CrcImpl impl) {
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
  uint32_t reg = Update<IcrcUpdatePortable>(kIcrcFoldOrNull, kIcrcInit, head, headLen, impl);
  reg = Update<IcrcUpdatePortable>(kIcrcFoldOrNull, reg, covered + headLen, len - headLen, impl);
  return reg ^ kIcrcXorOut;
}

uint16_t ComputeVcrc(const uint8_t* covered, size_t len, CrcImpl impl) {
  return static_cast<uint16_t>(Update<VcrcUpdatePortable>(kVcrcFoldOrNull, kVcrcInit, covered, len, impl) ^ kVcrcXorOut);
}

}  // namespace ipoib::sim
