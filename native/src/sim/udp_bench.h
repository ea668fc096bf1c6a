// Shared pieces of the benchmark-only exports (udp_bench.cc, endpoint_bench.cc).
#pragma once

#include <napi.h>

#include <atomic>
#include <cstdint>
#include <functional>

namespace ipoib::sim {

struct BenchResult {
  uint64_t sent = 0;
  uint64_t received = 0;  // arrived while the sender was running
  double seconds = 0;     // how long the sender ran (after a 100 ms warm-up)
};

// Calls `sendBatch` (returns how many it sent) for 100 ms of warm-up, then for `durationMs`,
// counting what `received` gained meanwhile.
BenchResult RunSender(const std::function<size_t()>& sendBatch, const std::atomic<uint64_t>& received, uint32_t durationMs);

Napi::Object ToJs(Napi::Env env, const BenchResult& r);

// options[key] as an integer in [min, max], else a TypeError/RangeError naming it.
uint32_t BenchUint(const Napi::Object& o, const char* key, uint32_t min, uint32_t max);

}  // namespace ipoib::sim
