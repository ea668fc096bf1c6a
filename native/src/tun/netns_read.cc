#include "netns_read.h"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <exception>
#include <thread>

#include "os_error.h"

namespace ipoib::tun {

namespace {

constexpr size_t kReadChunk = 16384;

ProcNetFile ReadOne(const std::string& name) {
  const std::string path = "/proc/thread-self/net/" + name;
  ProcNetFile out;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return out;
    ThrowErrno("open " + path);
  }
  out.found = true;
  char buf[kReadChunk];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      throw OsError("read " + path, err);
    }
    if (n == 0) break;
    out.text.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

std::vector<ProcNetFile> ReadAll(const std::vector<std::string>& names) {
  std::vector<ProcNetFile> out;
  out.reserve(names.size());
  for (const std::string& name : names) out.push_back(ReadOne(name));
  return out;
}

}  // namespace

std::vector<ProcNetFile> ReadProcNetIn(const std::string& netnsPath, const std::vector<std::string>& names) {
  if (netnsPath.empty()) return ReadAll(names);
  std::vector<ProcNetFile> out;
  std::exception_ptr failure;
  // The thread ends inside the namespace; no other thread of the process ever enters it.
  std::thread t([&] {
    try {
      const int ns = ::open(netnsPath.c_str(), O_RDONLY | O_CLOEXEC);
      if (ns < 0) ThrowErrno("open " + netnsPath);
      const int rc = ::setns(ns, CLONE_NEWNET);
      const int err = errno;
      ::close(ns);
      if (rc < 0) throw OsError("setns", err);
      out = ReadAll(names);
    } catch (...) {
      failure = std::current_exception();
    }
  });
  t.join();
  if (failure) std::rethrow_exception(failure);
  return out;
}

}  // namespace ipoib::tun
