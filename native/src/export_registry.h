// Lets each native module register its own exports, so adding a module never means editing
// addon.cc. Registration happens in static initialisers, which all run at dlopen time, before
// the module's Init is called.
#pragma once

#include <napi.h>

#include <utility>
#include <vector>

namespace ipoib {

using ExportFn = void (*)(Napi::Env env, Napi::Object exports);

inline std::vector<std::pair<const char*, ExportFn>>& ExportRegistry() {
  static std::vector<std::pair<const char*, ExportFn>> registry;  // function-local: no init-order issue
  return registry;
}

// Usage, at namespace scope in a module's .cc file:
//   static const ipoib::RegisterExports kRegister("simEndpoint", &InitSimEndpoint);
struct RegisterExports {
  RegisterExports(const char* name, ExportFn fn) { ExportRegistry().emplace_back(name, fn); }
};

}  // namespace ipoib
