#include "udp_socket.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>

namespace ipoib::sim {

namespace {

constexpr size_t kMaxSendBatch = 1024;  // UIO_MAXIOV: the most sendmmsg takes per call
constexpr size_t kControlBytes = CMSG_SPACE(sizeof(uint32_t));

[[noreturn]] void ThrowErrno(const char* op) { throw std::system_error(errno, std::generic_category(), op); }

sockaddr_in Loopback(uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

}  // namespace

std::unique_ptr<UdpSocket> UdpSocket::OpenLoopback(int rcvbufBytes) {
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) ThrowErrno("socket");
  const auto fail = [fd](const char* op) {
    const int err = errno;
    close(fd);
    errno = err;
    ThrowErrno(op);
  };
  // Best effort: a smaller buffer only means drops under bursts, which SO_RXQ_OVFL counts.
  (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbufBytes, sizeof rcvbufBytes);
  const int one = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one) != 0) fail("setsockopt(SO_RXQ_OVFL)");
  sockaddr_in addr = Loopback(0);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) fail("bind");
  socklen_t alen = sizeof addr;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &alen) != 0) fail("getsockname");
  const int wakeFd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wakeFd < 0) fail("eventfd");
  return std::unique_ptr<UdpSocket>(new UdpSocket(fd, wakeFd, ntohs(addr.sin_port)));
}

UdpSocket::~UdpSocket() {
  close(fd_);
  close(wakeFd_);
}

size_t UdpSocket::Send(const Datagram* d, size_t n) {
  size_t refused = 0;
  sockaddr_in addrs[kMaxSendBatch];
  iovec iovs[kMaxSendBatch];
  mmsghdr msgs[kMaxSendBatch];
  while (n > 0) {
    const size_t chunk = std::min(n, kMaxSendBatch);
    for (size_t i = 0; i < chunk; i++) {
      addrs[i] = Loopback(d[i].port);
      iovs[i] = iovec{const_cast<uint8_t*>(d[i].data), d[i].len};
      msgs[i] = mmsghdr{};
      msgs[i].msg_hdr.msg_name = &addrs[i];
      msgs[i].msg_hdr.msg_namelen = sizeof addrs[i];
      msgs[i].msg_hdr.msg_iov = &iovs[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    size_t done = 0;
    while (done < chunk) {
      const int r = sendmmsg(fd_, msgs + done, static_cast<unsigned>(chunk - done), 0);
      if (r > 0) {
        done += static_cast<size_t>(r);
      } else if (r < 0 && errno == EINTR) {
        continue;
      } else if (r < 0 && (errno == EAGAIN || errno == ENOBUFS)) {
        pollfd p{fd_, POLLOUT, 0};
        (void)poll(&p, 1, 10);  // the send buffer drains in microseconds on loopback
      } else {
        // This datagram cannot go (e.g. EMSGSIZE, or ECONNREFUSED left over from an earlier
        // one): skip it so the rest of the batch still goes.
        refused++;
        done++;
      }
    }
    d += chunk;
    n -= chunk;
  }
  return refused;
}

bool UdpSocket::Wait() {
  pollfd p[2] = {{fd_, POLLIN, 0}, {wakeFd_, POLLIN, 0}};
  for (;;) {
    const int r = poll(p, 2, -1);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) ThrowErrno("poll");
    if (p[1].revents != 0) return false;
    if (p[0].revents != 0) return true;
  }
}

void UdpSocket::Interrupt() {
  const uint64_t one = 1;
  (void)!write(wakeFd_, &one, sizeof one);  // an eventfd never fills up short of 2^64 - 2 writes
}

UdpSocket::Batch::Batch(size_t slots, size_t slotBytes)
    : slotBytes_(slotBytes),
      buffers_(slots * slotBytes),
      iovs_(slots),
      msgs_(slots),
      control_(slots * kControlBytes) {}

size_t UdpSocket::Receive(Batch* b) {
  const size_t slots = b->msgs_.size();
  for (size_t i = 0; i < slots; i++) {
    b->iovs_[i] = iovec{b->buffers_.data() + i * b->slotBytes_, b->slotBytes_};
    b->msgs_[i] = mmsghdr{};
    b->msgs_[i].msg_hdr.msg_iov = &b->iovs_[i];
    b->msgs_[i].msg_hdr.msg_iovlen = 1;
    b->msgs_[i].msg_hdr.msg_control = b->control_.data() + i * kControlBytes;
    b->msgs_[i].msg_hdr.msg_controllen = kControlBytes;
  }
  int r;
  do {
    r = recvmmsg(fd_, b->msgs_.data(), static_cast<unsigned>(slots), MSG_DONTWAIT, nullptr);
  } while (r < 0 && errno == EINTR);
  if (r < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) r = 0;
    // ECONNREFUSED and friends are reports about earlier sends to closed ports: not data.
    else if (errno == ECONNREFUSED || errno == EHOSTUNREACH || errno == ENETUNREACH) r = 0;
    else ThrowErrno("recvmmsg");
  }
  b->count_ = static_cast<size_t>(r);
  for (size_t i = 0; i < b->count_; i++) {
    msghdr& h = b->msgs_[i].msg_hdr;
    for (cmsghdr* c = CMSG_FIRSTHDR(&h); c != nullptr; c = CMSG_NXTHDR(&h, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL) {
        std::memcpy(&b->overflow_, CMSG_DATA(c), sizeof(uint32_t));
      }
    }
  }
  return b->count_;
}

}  // namespace ipoib::sim
