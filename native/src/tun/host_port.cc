#include "host_port.h"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <exception>
#include <thread>

#include "os_error.h"

namespace ipoib::tun {

namespace {

// Descriptors that close themselves unless released: keeps Open()'s error paths leak-free.
struct ScopedFd {
  int fd = -1;
  explicit ScopedFd(int f) : fd(f) {}
  ~ScopedFd() {
    if (fd >= 0) ::close(fd);
  }
  int Release() {
    const int f = fd;
    fd = -1;
    return f;
  }
};

ifreq NamedRequest(const std::string& name) {
  ifreq ifr;
  std::memset(&ifr, 0, sizeof ifr);
  std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
  return ifr;
}

void SetMtuWith(int ctl, const std::string& name, uint32_t mtu) {
  ifreq ifr = NamedRequest(name);
  ifr.ifr_mtu = static_cast<int>(mtu);
  if (::ioctl(ctl, SIOCSIFMTU, &ifr) < 0) ThrowErrno("SIOCSIFMTU");
}

void BringUpWith(int ctl, const std::string& name) {
  ifreq ifr = NamedRequest(name);
  if (::ioctl(ctl, SIOCGIFFLAGS, &ifr) < 0) ThrowErrno("SIOCGIFFLAGS");
  ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
  if (::ioctl(ctl, SIOCSIFFLAGS, &ifr) < 0) ThrowErrno("SIOCSIFFLAGS");
}

struct Opened {
  int fd = -1;
  int ctl = -1;
  std::string name;
};

// Everything that must happen inside the device's network namespace: the TUN device is
// created in the namespace of the thread that calls TUNSETIFF, and a socket belongs to the
// namespace of the thread that creates it.
Opened OpenInThisNamespace(const TunOptions& o) {
  ScopedFd fd(::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC));
  if (fd.fd < 0) ThrowErrno("open /dev/net/tun");
  ifreq ifr = NamedRequest(o.ifname);
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  if (::ioctl(fd.fd, TUNSETIFF, &ifr) < 0) ThrowErrno("TUNSETIFF");
  ScopedFd ctl(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (ctl.fd < 0) ThrowErrno("socket");
  const std::string name(ifr.ifr_name);
  SetMtuWith(ctl.fd, name, o.mtu);
  if (o.up) BringUpWith(ctl.fd, name);
  Opened r;
  r.name = name;
  r.ctl = ctl.Release();
  r.fd = fd.Release();
  return r;
}

}  // namespace

// ---- TunDevice

std::unique_ptr<TunDevice> TunDevice::Open(const TunOptions& o) {
  Opened r;
  if (o.netns.empty()) {
    r = OpenInThisNamespace(o);
  } else {
    // setns() changes only the calling thread's namespace; a thread of its own keeps every
    // other thread of the process (and this one) where it was.
    std::exception_ptr failure;
    std::thread t([&] {
      try {
        ScopedFd ns(::open(o.netns.c_str(), O_RDONLY | O_CLOEXEC));
        if (ns.fd < 0) ThrowErrno("open " + o.netns);
        if (::setns(ns.fd, CLONE_NEWNET) < 0) ThrowErrno("setns");
        r = OpenInThisNamespace(o);
      } catch (...) {
        failure = std::current_exception();
      }
    });
    t.join();
    if (failure) std::rethrow_exception(failure);
  }
  return std::unique_ptr<TunDevice>(new TunDevice(r.fd, r.ctl, std::move(r.name)));
}

TunDevice::~TunDevice() { Close(); }

void TunDevice::SetMtu(uint32_t mtu) {
  if (fd_ < 0) throw OsError("SIOCSIFMTU", EBADF);
  SetMtuWith(ctl_, name_, mtu);
}

void TunDevice::SetCarrier(bool on) {
  if (fd_ < 0) throw OsError("TUNSETCARRIER", EBADF);
  int v = on ? 1 : 0;
  if (::ioctl(fd_, TUNSETCARRIER, &v) < 0) ThrowErrno("TUNSETCARRIER");
}

void TunDevice::Close() {
  if (fd_ >= 0) ::close(fd_);
  if (ctl_ >= 0) ::close(ctl_);
  fd_ = ctl_ = -1;
}

// ---- LoopbackPort

std::unique_ptr<LoopbackPort> LoopbackPort::Open() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) < 0) ThrowErrno("socketpair");
  return std::unique_ptr<LoopbackPort>(new LoopbackPort(fds[0], fds[1]));
}

LoopbackPort::~LoopbackPort() { Close(); }

void LoopbackPort::Close() {
  if (fd_ >= 0) ::close(fd_);
  if (peer_ >= 0) ::close(peer_);
  fd_ = peer_ = -1;
}

void LoopbackPort::PeerWrite(const uint8_t* packet, size_t len) {
  if (peer_ < 0) throw OsError("send", EBADF);
  // Like the kernel handing packets to a TUN reader, nothing is lost: a full socket waits (up
  // to a second) for the data plane to read.
  for (int tries = 0;; tries++) {
    if (::send(peer_, packet, len, MSG_NOSIGNAL) >= 0) return;
    if (errno != EAGAIN || tries == 100) ThrowErrno("send");
    pollfd p{peer_, POLLOUT, 0};
    (void)::poll(&p, 1, 10);
  }
}

std::vector<std::vector<uint8_t>> LoopbackPort::PeerReadAll() {
  std::vector<std::vector<uint8_t>> out;
  if (peer_ < 0) return out;
  std::vector<uint8_t> buf(1 << 16);
  for (;;) {
    const ssize_t n = ::recv(peer_, buf.data(), buf.size(), 0);
    if (n < 0) break;  // EAGAIN: drained
    out.emplace_back(buf.begin(), buf.begin() + n);
  }
  return out;
}

}  // namespace ipoib::tun
