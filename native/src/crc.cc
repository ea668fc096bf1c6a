#include "crc.h"

#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <limits>

#include "args.h"

namespace ipoib {

Napi::Value Crc32(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireArgumentCount(info, "crc32", 1, 2);
  // A Buffer is a Uint8Array; other views would make "bytes" ambiguous, so they are refused.
  if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    throw Napi::TypeError::New(env, "crc32(data) must be a Buffer or Uint8Array");
  }
  const uint32_t seed = info[1].IsUndefined() ? 0 : Uint32Argument(info, 1, "crc32(seed)");

  Napi::Uint8Array data = info[0].As<Napi::Uint8Array>();
  const uint8_t* p = data.Data();
  size_t left = data.ByteLength();
  // zlib returns its initial value (0) for a null pointer whatever the seed, and an empty or
  // detached array may have one: the CRC of no bytes is the seed itself.
  uLong crc = seed;
  // zlib's length parameter is a uInt: feed larger arrays in pieces.
  constexpr size_t kMaxChunk = std::numeric_limits<uInt>::max();
  while (left > 0) {
    const size_t n = std::min(left, kMaxChunk);
    crc = crc32(crc, p, static_cast<uInt>(n));
    p += n;
    left -= n;
  }
  return Napi::Number::New(env, static_cast<uint32_t>(crc));
}

}  // namespace ipoib
