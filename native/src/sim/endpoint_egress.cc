#include "endpoint_egress.h"

namespace ipoib::sim {

Egress::Egress(UdpSocket* socket, Counters* counters) : socket_(socket), counters_(counters) {}

Egress::~Egress() { Close(); }

void Egress::SetFaults(std::optional<double> lossRate, std::optional<uint32_t> delayMs, std::optional<uint64_t> seed) {
  std::lock_guard<std::mutex> lock(mu_);
  if (lossRate) faults_.lossRate = *lossRate;
  if (delayMs) faults_.delayMs = *delayMs;
  if (seed) {
    faults_.seed = *seed;
    rng_.seed(*seed);
  }
  // The delay thread exists only once a delay was asked for.
  if (faults_.delayMs > 0 && !delayThread_.joinable() && !closed_) delayThread_ = std::thread([this] { DelayLoop(); });
  cv_.notify_all();
}

FaultSettings Egress::Faults() const {
  std::lock_guard<std::mutex> lock(mu_);
  return faults_;
}

void Egress::SetTap(uint16_t port, TapDirection direction) {
  std::lock_guard<std::mutex> lock(mu_);
  tapPort_ = port;
  tapDirection_ = direction;
}

uint16_t Egress::TapFor(TapDirection direction) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (tapPort_ == 0) return 0;
  return tapDirection_ == TapDirection::kBoth || tapDirection_ == direction ? tapPort_ : 0;
}

void Egress::SendCounted(const std::vector<UdpSocket::Datagram>& d) {
  if (d.empty()) return;
  const size_t refused = socket_->Send(d.data(), d.size());
  if (refused > 0) Bump(counters_->sendErrors, refused);
}

void Egress::Submit(std::shared_ptr<EgressBatch> batch) {
  std::unique_lock<std::mutex> lock(mu_);
  if (closed_ || batch->empty()) return;
  std::vector<UdpSocket::Datagram> out;
  out.reserve(batch->dests.size());
  const bool tapSends = tapPort_ != 0 && tapDirection_ != TapDirection::kReceive;
  std::vector<UdpSocket::Datagram> tap;
  uint64_t lost = 0;
  for (const EgressBatch::Packet& p : batch->packets) {
    const uint8_t* data = batch->bytes.data() + p.offset;
    if (tapSends) tap.push_back({tapPort_, data, p.len});
    // 53 random bits as a double in [0, 1): rate 0 never drops, rate 1 always does.
    if (faults_.lossRate > 0 && static_cast<double>(rng_() >> 11) * 0x1.0p-53 < faults_.lossRate) {
      lost++;
      continue;
    }
    for (uint32_t i = 0; i < p.destCount; i++) out.push_back({batch->dests[p.destBegin + i], data, p.len});
  }
  if (lost > 0) Bump(counters_->lossFaultDrops, lost);
  SendCounted(tap);
  if (out.empty()) return;
  if (faults_.delayMs == 0 && queue_.empty()) {
    SendCounted(out);
    return;
  }
  const auto due = std::chrono::steady_clock::now() + std::chrono::milliseconds(faults_.delayMs);
  queue_.push_back(Delayed{due, std::move(batch), std::move(out)});
  cv_.notify_all();
}

void Egress::DelayLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!closed_) {
    if (queue_.empty()) {
      cv_.wait(lock);
      continue;
    }
    if (std::chrono::steady_clock::now() < queue_.front().due) {
      cv_.wait_until(lock, queue_.front().due);
      continue;
    }
    Delayed d = std::move(queue_.front());
    queue_.pop_front();
    SendCounted(d.datagrams);  // under the lock: a direct send cannot slip in before it
  }
}

void Egress::Close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    queue_.clear();
    cv_.notify_all();
  }
  if (delayThread_.joinable()) delayThread_.join();
}

}  // namespace ipoib::sim
