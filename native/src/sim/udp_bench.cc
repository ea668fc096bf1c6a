// BENCHMARK ONLY (bench/ud-rate.ts): the raw UDP baseline the endpoint's packet rate is
// compared with. One sender (this worker thread, sendmmsg) and one receiver thread (recvmmsg),
// two sockets on 127.0.0.1, through the same UdpSocket code the endpoint uses, so the ratio
// measures what the endpoint adds: packet building, CRCs, checks and dispatch.
#include <napi.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "../export_registry.h"
#include "udp_bench.h"
#include "udp_socket.h"

namespace ipoib::sim {

namespace {

class RawUdpBench : public Napi::AsyncWorker {
 public:
  RawUdpBench(Napi::Env env, size_t datagramBytes, uint32_t durationMs, size_t batch)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)),
        datagramBytes_(datagramBytes), durationMs_(durationMs), batch_(batch) {}
  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    try {
      auto rx = UdpSocket::OpenLoopback(4 << 20);
      auto tx = UdpSocket::OpenLoopback(1 << 16);
      std::atomic<uint64_t> received{0};
      std::thread receiver([&] {
        UdpSocket::Batch b(64, datagramBytes_ + 64);
        while (rx->Wait()) {
          while (rx->Receive(&b) > 0) {
            received.fetch_add(b.size(), std::memory_order_relaxed);
            if (b.size() < 64) break;
          }
        }
      });
      std::vector<uint8_t> datagram(datagramBytes_, 0x5a);
      std::vector<UdpSocket::Datagram> d(batch_, UdpSocket::Datagram{rx->Port(), datagram.data(), datagram.size()});
      result_ = RunSender([&] { tx->Send(d.data(), d.size()); return d.size(); }, received, durationMs_);
      rx->Interrupt();
      receiver.join();
    } catch (const std::exception& e) {
      SetError(std::string("benchRawUdp: ") + e.what());
    }
  }
  void OnOK() override { deferred_.Resolve(ToJs(Env(), result_)); }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  size_t datagramBytes_;
  uint32_t durationMs_;
  size_t batch_;
  BenchResult result_;
};

Napi::Value BenchRawUdp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject()) throw Napi::TypeError::New(env, "benchRawUdp(options) takes an object");
  Napi::Object o = info[0].As<Napi::Object>();
  const uint32_t bytes = BenchUint(o, "datagramBytes", 1, 65000);
  const uint32_t ms = BenchUint(o, "durationMs", 1, 10000);
  const uint32_t batch = BenchUint(o, "batch", 1, 1024);
  auto* w = new RawUdpBench(env, bytes, ms, batch);
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

void InitUdpBench(Napi::Env env, Napi::Object exports) {
  exports.Set("benchRawUdp", Napi::Function::New(env, BenchRawUdp, "benchRawUdp"));
}

const ipoib::RegisterExports kRegister("benchRawUdp", &InitUdpBench);

}  // namespace

BenchResult RunSender(const std::function<size_t()>& sendBatch, const std::atomic<uint64_t>& received, uint32_t durationMs) {
  using Clock = std::chrono::steady_clock;
  BenchResult r;
  // Warm up briefly so caches, socket buffers and the receiver thread are in their steady state.
  const auto warmUntil = Clock::now() + std::chrono::milliseconds(100);
  while (Clock::now() < warmUntil) sendBatch();
  const uint64_t receivedAtStart = received.load(std::memory_order_relaxed);
  const auto start = Clock::now();
  const auto end = start + std::chrono::milliseconds(durationMs);
  while (Clock::now() < end) r.sent += sendBatch();
  const auto stop = Clock::now();
  // Only what arrived while sending counts: a backlog drained afterwards would flatter a slow receiver.
  r.received = received.load(std::memory_order_relaxed) - receivedAtStart;
  r.seconds = std::chrono::duration<double>(stop - start).count();
  // Let the receiver drain before the sockets close.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  return r;
}

Napi::Object ToJs(Napi::Env env, const BenchResult& r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("sent", static_cast<double>(r.sent));
  o.Set("received", static_cast<double>(r.received));
  o.Set("seconds", r.seconds);
  return o;
}

uint32_t BenchUint(const Napi::Object& o, const char* key, uint32_t min, uint32_t max) {
  Napi::Value v = o.Get(key);
  if (!v.IsNumber()) throw Napi::TypeError::New(o.Env(), std::string(key) + " must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= min && d <= max) || static_cast<double>(static_cast<uint32_t>(d)) != d) {
    throw Napi::RangeError::New(o.Env(), std::string(key) + " must be an integer from " + std::to_string(min) + " to " + std::to_string(max));
  }
  return static_cast<uint32_t>(d);
}

}  // namespace ipoib::sim
