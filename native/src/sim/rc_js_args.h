// Readers for the option objects of the RC test bindings (rc_binding.cc, rc_script_binding.cc).
// Every key is required: a missing or misspelt one is a TypeError naming it, never a default.
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

namespace ipoib::sim {

// `fn` names the exported function in messages ("rcLoopRun: options.seed is missing").
struct JsOptions {
  const char* fn;
  std::string what;  // "options", "steps[3]", ...
  Napi::Object object;

  Napi::Value Required(const char* key) const;
  double Number(const char* key) const;
  // An integer in [0, max] (max at most 2^53); RangeError otherwise.
  uint64_t Integer(const char* key, double max) const;
  bool Boolean(const char* key) const;
  std::string String(const char* key) const;
  // A Buffer or Uint8Array, copied.
  std::vector<uint8_t> Bytes(const char* key) const;
  // The object at `key`, whose own keys are then reported as "<what>.<key>.<child>".
  JsOptions Object(const char* key) const;
};

}  // namespace ipoib::sim
