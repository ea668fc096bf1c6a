// Cheap argument checks shared by the exported functions. The TS layer validates first; these
// make a direct call with bad arguments a TypeError/RangeError instead of undefined behaviour.
#pragma once

#include <napi.h>

namespace ipoib {

// Throws a TypeError naming `fn` when any argument was passed.
void RequireNoArguments(const Napi::CallbackInfo& info, const char* fn);

// Throws a TypeError unless fn got between min and max arguments.
void RequireArgumentCount(const Napi::CallbackInfo& info, const char* fn, size_t min, size_t max);

// Reads argument `index` as a uint32: TypeError when not a number, RangeError when not an
// integer in [0, 2^32 - 1]. `name` is used in the message, e.g. "crc32(seed)".
uint32_t Uint32Argument(const Napi::CallbackInfo& info, size_t index, const char* name);

}  // namespace ipoib
