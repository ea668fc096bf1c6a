// BENCHMARK ONLY (bench/ud-rate.ts): the endpoint's UD packet rate as a C++ data plane sees
// it (the TUN data plane will use exactly this path): a worker thread calls
// Endpoint::PostSendUd in batches on one endpoint, a C++ QP handler on the other counts what is
// delivered. No JavaScript runs per packet.
#include <napi.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "../export_registry.h"
#include "endpoint.h"
#include "endpoint_binding.h"
#include "udp_bench.h"

namespace ipoib::sim {

namespace {

class EndpointBench : public Napi::AsyncWorker {
 public:
  EndpointBench(Napi::Env env, std::shared_ptr<Endpoint> sender, std::shared_ptr<Endpoint> receiver, UdSendWr wr,
                uint32_t qpn, uint32_t payloadBytes, uint32_t durationMs, uint32_t batch)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), sender_(std::move(sender)),
        receiver_(std::move(receiver)), wr_(wr), qpn_(qpn), payload_(payloadBytes, 0xa5), durationMs_(durationMs),
        batch_(batch) {}
  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    auto received = std::make_shared<std::atomic<uint64_t>>(0);
    try {
      receiver_->SetQpHandler(wr_.dqpn, [received](const UdCompletion*, size_t n) {
        received->fetch_add(n, std::memory_order_relaxed);
      });
      wr_.payload = payload_.data();
      wr_.payloadLen = payload_.size();
      std::vector<UdSendWr> wrs(batch_, wr_);
      result_ = RunSender([&] { sender_->PostSendUd(qpn_, wrs.data(), wrs.size()); return wrs.size(); }, *received, durationMs_);
      receiver_->SetQpHandler(wr_.dqpn, nullptr);
    } catch (const std::exception& e) {
      try {
        receiver_->SetQpHandler(wr_.dqpn, nullptr);
      } catch (const std::exception&) {
        // closed meanwhile: nothing to undo
      }
      SetError(std::string("benchEndpointUd: ") + e.what());
    }
  }
  void OnOK() override { deferred_.Resolve(ToJs(Env(), result_)); }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::shared_ptr<Endpoint> sender_, receiver_;
  UdSendWr wr_;
  uint32_t qpn_;
  std::vector<uint8_t> payload_;
  uint32_t durationMs_, batch_;
  BenchResult result_;
};

// benchEndpointUd(sender, receiver, {qpn, dlid, dqpn, qkey, payloadBytes, durationMs, batch})
Napi::Value BenchEndpointUd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto sender = EndpointOfHandle(info[0]);
  auto receiver = EndpointOfHandle(info[1]);
  if (!info[2].IsObject()) throw Napi::TypeError::New(env, "benchEndpointUd(sender, receiver, options) takes an options object");
  Napi::Object o = info[2].As<Napi::Object>();
  UdSendWr wr;
  const uint32_t qpn = BenchUint(o, "qpn", 1, 0xFFFFFE);
  wr.dlid = static_cast<uint16_t>(BenchUint(o, "dlid", 1, 0xBFFF));
  wr.dqpn = BenchUint(o, "dqpn", 1, 0xFFFFFE);
  wr.qkey = BenchUint(o, "qkey", 0, 0xFFFFFFFF);
  const uint32_t payloadBytes = BenchUint(o, "payloadBytes", 0, 4096);
  const uint32_t durationMs = BenchUint(o, "durationMs", 1, 10000);
  const uint32_t batch = BenchUint(o, "batch", 1, 1024);
  auto* w = new EndpointBench(env, std::move(sender), std::move(receiver), wr, qpn, payloadBytes, durationMs, batch);
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

void InitEndpointBench(Napi::Env env, Napi::Object exports) {
  exports.Set("benchEndpointUd", Napi::Function::New(env, BenchEndpointUd, "benchEndpointUd"));
}

const ipoib::RegisterExports kRegister("benchEndpointUd", &InitEndpointBench);

}  // namespace

}  // namespace ipoib::sim
