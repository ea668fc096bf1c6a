// JS errors for failed C calls, in the one shape the TS layer converts to NativeError.
#pragma once

#include <napi.h>

namespace ipoib {

// An Error with message "<op>: <strerror(err)> (<CODE>)" and the properties
//   .op    the C function that failed, e.g. "ibv_get_device_list"
//   .errno the positive C errno value (Node's own system errors use negative numbers; we do not)
//   .code  its symbolic name, e.g. "EPERM", or "UNKNOWN"
Napi::Error ErrnoError(Napi::Env env, const char* op, int err);

// The symbolic name of a C errno value ("EPERM"), or "UNKNOWN".
const char* ErrnoName(int err);

}  // namespace ipoib
