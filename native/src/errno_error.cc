#include "errno_error.h"

#include <cerrno>
#include <cstring>
#include <string>

namespace ipoib {

namespace {

// A portable fallback for C libraries without strerrorname_np: the errnos verbs and sysfs
// calls plausibly report. Unlisted values read as "UNKNOWN".
const char* ErrnoNameFromTable(int err) {
  switch (err) {
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case EINTR: return "EINTR";
    case EIO: return "EIO";
    case ENXIO: return "ENXIO";
    case EBADF: return "EBADF";
    case EAGAIN: return "EAGAIN";
    case ENOMEM: return "ENOMEM";
    case EACCES: return "EACCES";
    case EFAULT: return "EFAULT";
    case EBUSY: return "EBUSY";
    case EEXIST: return "EEXIST";
    case ENODEV: return "ENODEV";
    case EINVAL: return "EINVAL";
    case EMFILE: return "EMFILE";
    case ENOSPC: return "ENOSPC";
    case ENOSYS: return "ENOSYS";
    case EPROTONOSUPPORT: return "EPROTONOSUPPORT";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case ETIMEDOUT: return "ETIMEDOUT";
    default: return "UNKNOWN";
  }
}

}  // namespace

const char* ErrnoName(int err) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
  // glibc >= 2.32 knows every name; g++ defines _GNU_SOURCE, which declares it.
  if (const char* name = strerrorname_np(err)) return name;
#endif
  return ErrnoNameFromTable(err);
}

Napi::Error ErrnoError(Napi::Env env, const char* op, int err) {
  const char* code = ErrnoName(err);
  const std::string reason = err == 0 ? "failed without setting errno" : std::strerror(err);
  Napi::Error e = Napi::Error::New(env, std::string(op) + ": " + reason + " (" + code + ")");
  e.Set("op", op);
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("code", code);
  return e;
}

}  // namespace ipoib
