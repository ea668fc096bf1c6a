#include "args.h"

#include <cmath>
#include <string>

namespace ipoib {

void RequireNoArguments(const Napi::CallbackInfo& info, const char* fn) {
  RequireArgumentCount(info, fn, 0, 0);
}

void RequireArgumentCount(const Napi::CallbackInfo& info, const char* fn, size_t min, size_t max) {
  const size_t n = info.Length();
  if (n >= min && n <= max) return;
  std::string expected = min == max ? std::to_string(min) : std::to_string(min) + " to " + std::to_string(max);
  throw Napi::TypeError::New(info.Env(), std::string(fn) + "() takes " + expected + " argument" +
                                             (max == 1 ? "" : "s") + ", got " + std::to_string(n));
}

uint32_t Uint32Argument(const Napi::CallbackInfo& info, size_t index, const char* name) {
  Napi::Value v = info[index];
  if (!v.IsNumber()) {
    throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a number");
  }
  const double d = v.As<Napi::Number>().DoubleValue();
  // The comparisons are false for NaN, so NaN lands here too.
  if (!(d >= 0 && d <= 4294967295.0) || std::trunc(d) != d) {
    throw Napi::RangeError::New(info.Env(), std::string(name) + " must be an integer from 0 to 4294967295");
  }
  return static_cast<uint32_t>(d);
}

}  // namespace ipoib
