// The host side of the data plane: a non-blocking file descriptor with packet semantics (one
// IP packet per read() and per write()). Two kinds:
//   TunDevice     a Linux TUN device (IFF_TUN | IFF_NO_PI): the real thing, needs CAP_NET_ADMIN
//   LoopbackPort  a SOCK_SEQPACKET socket pair standing in for the kernel, so the data plane's
//                 classification, punts and counters are testable without root (TEST ONLY)
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace ipoib::tun {

class HostPort {
 public:
  virtual ~HostPort() = default;
  // Non-blocking and close-on-exec; valid until Close().
  virtual int Fd() const = 0;
  // The interface name ("" for a loopback port).
  virtual const std::string& Name() const = 0;
  // The interface MTU (SIOCSIFMTU); a loopback port only records it.
  virtual void SetMtu(uint32_t mtu) = 0;
  // The link's carrier (TUNSETCARRIER); a loopback port only records it.
  virtual void SetCarrier(bool on) = 0;
  // Closes every descriptor; a TUN device disappears with its last descriptor. Idempotent.
  virtual void Close() = 0;
};

struct TunOptions {
  std::string ifname;  // 1..15 characters, no '%' pattern: the exact name wanted
  std::string netns;   // a network namespace file (/run/netns/NAME) to create the device in; "" = ours
  uint32_t mtu = 0;    // set before the link comes up
  bool up = true;      // bring the link up (IFF_UP) after setting the MTU
};

class TunDevice final : public HostPort {
 public:
  // Creates the device (in opts.netns when given, through a short-lived thread that enters the
  // namespace), sets its MTU and, when asked, brings it up. Throws OsError naming the call.
  static std::unique_ptr<TunDevice> Open(const TunOptions& opts);
  ~TunDevice() override;

  int Fd() const override { return fd_; }
  const std::string& Name() const override { return name_; }
  void SetMtu(uint32_t mtu) override;
  void SetCarrier(bool on) override;
  void Close() override;

 private:
  TunDevice(int fd, int ctl, std::string name) : fd_(fd), ctl_(ctl), name_(std::move(name)) {}
  int fd_;
  int ctl_;  // an AF_INET datagram socket created in the device's namespace, for interface ioctls
  std::string name_;
};

// TEST ONLY: the data plane reads and writes one end; the test plays the kernel on the other.
class LoopbackPort final : public HostPort {
 public:
  static std::unique_ptr<LoopbackPort> Open();
  ~LoopbackPort() override;

  int Fd() const override { return fd_; }
  const std::string& Name() const override { return name_; }
  void SetMtu(uint32_t mtu) override { mtu_ = mtu; }
  void SetCarrier(bool on) override { carrier_ = on; }
  void Close() override;

  // As if the host sent `packet` out of the interface. Throws OsError (EAGAIN when full).
  void PeerWrite(const uint8_t* packet, size_t len);
  // Every packet the data plane has written to the host so far.
  std::vector<std::vector<uint8_t>> PeerReadAll();
  uint32_t Mtu() const { return mtu_; }
  bool Carrier() const { return carrier_; }

 private:
  LoopbackPort(int fd, int peer) : fd_(fd), peer_(peer) {}
  int fd_;
  int peer_;
  std::string name_;
  uint32_t mtu_ = 0;
  bool carrier_ = true;
};

}  // namespace ipoib::tun
