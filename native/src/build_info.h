// What this build of the addon is: its ABI number and buildInfo().
#pragma once

#include <napi.h>

namespace ipoib {

// The JS-visible surface version. Bump it whenever an export changes shape, together with
// NATIVE_ABI in src/native/addon.ts; the loader refuses a binary whose abi differs.
constexpr int kNativeAbi = 1;

// True when the libibverbs parts were compiled in (IPOIB_WITH_VERBS resolved to ON).
bool HasVerbs();

// buildInfo() -> { version, compiler, napiVersion, verbs, zlibVersion, zlibHeaderVersion, buildType }
Napi::Value BuildInfo(const Napi::CallbackInfo& info);

}  // namespace ipoib
