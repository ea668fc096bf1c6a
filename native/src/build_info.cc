#include "build_info.h"

#include <zlib.h>

#include "args.h"
#include "build_config.h"

namespace ipoib {

bool HasVerbs() { return IPOIB_HAVE_VERBS != 0; }

Napi::Value BuildInfo(const Napi::CallbackInfo& info) {
  RequireNoArguments(info, "buildInfo");
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  out.Set("version", IPOIB_NATIVE_VERSION);
  out.Set("compiler", IPOIB_COMPILER);
  // The N-API version this binary was compiled against (not the one the running Node offers).
  out.Set("napiVersion", Napi::Number::New(env, NAPI_VERSION));
  out.Set("verbs", Napi::Boolean::New(env, HasVerbs()));
  // zlibVersion() names the zlib our calls actually bind to. Under a Node binary that exports
  // its bundled zlib (the official builds do), that copy wins over the system libz we link,
  // so it can differ from the header version we compiled against.
  out.Set("zlibVersion", zlibVersion());
  out.Set("zlibHeaderVersion", ZLIB_VERSION);
  out.Set("buildType", IPOIB_BUILD_TYPE);
  return out;
}

}  // namespace ipoib
