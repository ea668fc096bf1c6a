// A failed system call of the TUN data plane: which call (`op`, e.g. "TUNSETIFF") and its errno.
// The binding turns it into the same JS error shape as errno_error.h (message, .op, .errno,
// .code), so the TypeScript side sees one kind of native failure.
#pragma once

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace ipoib::tun {

class OsError : public std::runtime_error {
 public:
  OsError(std::string op, int err)
      : std::runtime_error(op + ": " + std::strerror(err)), op_(std::move(op)), err_(err) {}
  const std::string& op() const { return op_; }
  int err() const { return err_; }

 private:
  std::string op_;
  int err_;
};

// Throws OsError(op, errno): call right after the failing system call.
[[noreturn]] inline void ThrowErrno(const std::string& op) { throw OsError(op, errno); }

}  // namespace ipoib::tun
