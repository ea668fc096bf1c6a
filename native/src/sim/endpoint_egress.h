// The way out of an endpoint: the loss and delay faults, the tap mirror of sent packets, and
// the batched sends. Order is kept: a packet never overtakes one submitted before it, whatever
// the delay setting was when each was submitted (a shortened delay makes later packets wait
// behind earlier ones rather than pass them).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <vector>

#include "endpoint_counters.h"
#include "udp_socket.h"

namespace ipoib::sim {

// Packets built by one send call and where each goes (several UDP ports for multicast).
struct EgressBatch {
  struct Packet {
    size_t offset, len;
    uint32_t destBegin, destCount;
  };
  std::vector<uint8_t> bytes;
  std::vector<Packet> packets;
  std::vector<uint16_t> dests;
  bool empty() const { return packets.empty(); }
};

enum class TapDirection : uint8_t { kBoth, kSend, kReceive };

struct FaultSettings {
  double lossRate = 0;   // 0..1, per packet (all copies of a multicast packet share the fate)
  uint32_t delayMs = 0;  // fixed extra latency
  uint64_t seed = 1;     // of the loss PRNG; setting it restarts the sequence
};

class Egress {
 public:
  Egress(UdpSocket* socket, Counters* counters);
  ~Egress();
  Egress(const Egress&) = delete;
  Egress& operator=(const Egress&) = delete;

  // Fields left empty keep their value; a seed restarts the loss sequence.
  void SetFaults(std::optional<double> lossRate, std::optional<uint32_t> delayMs, std::optional<uint64_t> seed);
  FaultSettings Faults() const;

  // Tap port on 127.0.0.1, or 0 for none.
  void SetTap(uint16_t port, TapDirection direction);
  // The tap port that wants packets going `direction`, or 0.
  uint16_t TapFor(TapDirection direction) const;

  // Mirrors to the tap (before loss: the port did send), then drops by the loss fault, then
  // sends now or after the delay. Safe from any thread; a no-op after Close().
  void Submit(std::shared_ptr<EgressBatch> batch);

  // Stops the delay thread; queued packets are discarded. Idempotent.
  void Close();

 private:
  struct Delayed {
    std::chrono::steady_clock::time_point due;
    std::shared_ptr<EgressBatch> batch;
    std::vector<UdpSocket::Datagram> datagrams;
  };
  void DelayLoop();
  void SendCounted(const std::vector<UdpSocket::Datagram>& d);

  UdpSocket* socket_;
  Counters* counters_;
  mutable std::mutex mu_;  // guards everything below; held while sending, which is what keeps order
  std::condition_variable cv_;
  FaultSettings faults_;
  std::mt19937_64 rng_{1};
  std::deque<Delayed> queue_;
  std::thread delayThread_;
  bool closed_ = false;
  uint16_t tapPort_ = 0;
  TapDirection tapDirection_ = TapDirection::kBoth;
};

}  // namespace ipoib::sim
