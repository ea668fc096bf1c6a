// TEST ONLY: the simulated fabric's CRCs (crc_ib.h) of arbitrary buffers, so tests can check
// them against the TypeScript codecs (src/wire/icrc.ts, vcrc.ts) and each path against the other:
//   simVcrc(data, portable = false) -> uint16
//   simIcrc(covered, global, portable = false) -> uint32
//   simCrcUsesClmul: boolean, whether the default path folds with carry-less multiplication
#include <napi.h>

#include "../args.h"
#include "../export_registry.h"
#include "crc_ib.h"

namespace ipoib::sim {

namespace {

Napi::Uint8Array BytesArgument(const Napi::CallbackInfo& info, const char* what) {
  if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a Buffer or Uint8Array");
  }
  return info[0].As<Napi::Uint8Array>();
}

CrcImpl ImplArgument(const Napi::CallbackInfo& info, size_t index, const char* what) {
  if (info[index].IsUndefined()) return CrcImpl::kBest;
  if (!info[index].IsBoolean()) throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a boolean");
  return info[index].As<Napi::Boolean>().Value() ? CrcImpl::kPortable : CrcImpl::kBest;
}

Napi::Value SimVcrc(const Napi::CallbackInfo& info) {
  RequireArgumentCount(info, "simVcrc", 1, 2);
  Napi::Uint8Array data = BytesArgument(info, "simVcrc(data)");
  const CrcImpl impl = ImplArgument(info, 1, "simVcrc(portable)");
  return Napi::Number::New(info.Env(), ComputeVcrc(data.Data(), data.ByteLength(), impl));
}

Napi::Value SimIcrc(const Napi::CallbackInfo& info) {
  RequireArgumentCount(info, "simIcrc", 2, 3);
  Napi::Uint8Array data = BytesArgument(info, "simIcrc(covered)");
  if (!info[1].IsBoolean()) throw Napi::TypeError::New(info.Env(), "simIcrc(global) must be a boolean");
  const bool global = info[1].As<Napi::Boolean>().Value();
  // ComputeIcrc returns 0 for a buffer shorter than its headers; say so instead.
  if (data.ByteLength() < (global ? 60u : 20u)) {
    throw Napi::RangeError::New(info.Env(), "simIcrc(covered) must hold LRH [+ GRH] + BTH");
  }
  const CrcImpl impl = ImplArgument(info, 2, "simIcrc(portable)");
  return Napi::Number::New(info.Env(), ComputeIcrc(data.Data(), data.ByteLength(), global, impl));
}

void InitCrcIb(Napi::Env env, Napi::Object exports) {
  exports.Set("simVcrc", Napi::Function::New(env, SimVcrc, "simVcrc"));
  exports.Set("simIcrc", Napi::Function::New(env, SimIcrc, "simIcrc"));
  exports.Set("simCrcUsesClmul", Napi::Boolean::New(env, CrcUsesClmul()));
}

const ipoib::RegisterExports kRegister("simCrc", &InitCrcIb);

}  // namespace

}  // namespace ipoib::sim
