// One UDP socket on 127.0.0.1 (never any other address) with batched I/O: sendmmsg for
// sends, recvmmsg for receives, and a wake-up eventfd so a receive thread blocked in Wait()
// can be stopped. Errors are std::system_error carrying the failing call's errno.
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace ipoib::sim {

class UdpSocket {
 public:
  // A socket bound to 127.0.0.1 on an ephemeral port, with a receive buffer of about
  // `rcvbufBytes` (the kernel caps it at net.core.rmem_max).
  static std::unique_ptr<UdpSocket> OpenLoopback(int rcvbufBytes);
  ~UdpSocket();
  UdpSocket(const UdpSocket&) = delete;
  UdpSocket& operator=(const UdpSocket&) = delete;

  uint16_t Port() const { return port_; }

  struct Datagram {
    uint16_t port;  // destination UDP port on 127.0.0.1
    const uint8_t* data;
    size_t len;
  };
  // Sends each datagram (sendmmsg, up to 1024 per call); returns how many the kernel refused.
  // Safe to call from several threads at once.
  size_t Send(const Datagram* d, size_t n);

  // Blocks until the socket is readable (true) or Interrupt() was called (false).
  bool Wait();
  // Makes every current and later Wait() return false. Callable from any thread.
  void Interrupt();

  // The receive side: one per socket, used by one thread.
  class Batch {
   public:
    explicit Batch(size_t slots, size_t slotBytes);
    size_t size() const { return count_; }
    const uint8_t* Data(size_t i) const { return buffers_.data() + i * slotBytes_; }
    size_t Length(size_t i) const { return msgs_[i].msg_len; }
    // The datagram was longer than a slot (and was cut).
    bool Truncated(size_t i) const { return (msgs_[i].msg_hdr.msg_flags & MSG_TRUNC) != 0; }
    // The kernel's running count of datagrams dropped for a full receive buffer (SO_RXQ_OVFL),
    // as last reported with this batch; 0 when none reported.
    uint32_t OverflowCount() const { return overflow_; }

   private:
    friend class UdpSocket;
    size_t slotBytes_;
    std::vector<uint8_t> buffers_;
    std::vector<iovec> iovs_;
    std::vector<mmsghdr> msgs_;
    std::vector<uint8_t> control_;
    size_t count_ = 0;
    uint32_t overflow_ = 0;
  };
  // Reads what is queued without blocking (recvmmsg MSG_DONTWAIT) into `batch`; returns the count.
  size_t Receive(Batch* batch);

 private:
  UdpSocket(int fd, int wakeFd, uint16_t port) : fd_(fd), wakeFd_(wakeFd), port_(port) {}
  int fd_;
  int wakeFd_;
  uint16_t port_;
};

}  // namespace ipoib::sim
