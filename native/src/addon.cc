// The module's exports, and nothing else: every entry point lives in its own file.
// The TypeScript side of this surface is NativeBinding in src/native/addon.ts.
#include <napi.h>

#include "build_info.h"
#include "crc.h"
#include "export_registry.h"
#include "rdma_devices.h"

namespace {

using namespace ipoib;

// NODE_API_MODULE pastes this name into an identifier, so it cannot be namespace-qualified.
Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("abi", Napi::Number::New(env, kNativeAbi));
  exports.Set("hasVerbs", Napi::Boolean::New(env, HasVerbs()));
  exports.Set("buildInfo", Napi::Function::New(env, BuildInfo, "buildInfo"));
  exports.Set("listRdmaDevices", Napi::Function::New(env, ListRdmaDevices, "listRdmaDevices"));
  exports.Set("crc32", Napi::Function::New(env, Crc32, "crc32"));
  // Modules that registered themselves (export_registry.h), e.g. the simulated-fabric endpoint.
  for (const auto& [name, init] : ExportRegistry()) {
    (void)name;
    init(env, exports);
  }
  // The binding is shared by everyone who loads it; nobody gets to patch it.
  exports.Freeze();
  return exports;
}

}  // namespace

NODE_API_MODULE(ipoib_native, Init)
