// zlib's CRC-32, exposed so tests can cross-check the TypeScript implementation against it.
#pragma once

#include <napi.h>

namespace ipoib {

// crc32(data: Uint8Array, seed = 0) -> uint32. `seed` is a previous result, for chaining:
// crc32(b, crc32(a)) === crc32(a ++ b).
Napi::Value Crc32(const Napi::CallbackInfo& info);

}  // namespace ipoib
