// Punts to JavaScript in batches: the data plane's threads append, one ThreadSafeFunction call
// hands everything queued to JS as deliver(meta: Uint32Array, data: Buffer), kPuntWords words
// per punt (the kPunt* indexes, mirrored in src/ipoib/native/tun-data-plane.ts). Bounded: a
// stalled JS thread makes Punt() return false (the data plane counts the drop) instead of
// growing without limit.
#pragma once

#include <napi.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "data_plane.h"

namespace ipoib::tun {

// Word indexes of one punt in `meta`. Its octets start at data[kPuntDataOffset]: the SGID and
// DGID first (16 octets each) when flag bit 0 says the frame came with a GRH, then kPuntLen
// octets of packet (TX: the IP packet; RX: the IPoIB frame, header included; kRcError: the
// QP's ERROR reason, a NUL, and its detail, in UTF-8).
enum PuntWord : uint32_t {
  kPuntReason,  // index into kPuntReasonNames
  kPuntDataOffset,
  kPuntLen,
  kPuntSlid,
  kPuntDlid,
  kPuntSrcQp,
  kPuntSl,
  kPuntPkey,
  kPuntQkey,
  kPuntFlags,     // bit 0: GRH present; bit 1: the frame came over RC (kPuntRcQpn says which QP)
  kPuntLimit,     // kTooBig: the largest IP packet the path takes
  kPuntRcQpn,     // RX over RC and kRcError: the RC QP
  kPuntRcStatus,  // kRcError: 1 + the failed send's sim::RcSendStatus, 0 when none failed
  kPuntWords
};

class JsPuntQueue final : public PuntSink {
 public:
  static constexpr size_t kMaxPendingPunts = 8192;
  static constexpr size_t kMaxPendingOctets = 32u << 20;

  // The TSFN starts unref'd: punts keep the process alive only while someone listens (Ref()).
  static std::shared_ptr<JsPuntQueue> Create(Napi::Env env, Napi::Function deliver);
  ~JsPuntQueue() override;

  bool Punt(const PuntMeta& meta, const uint8_t* data, size_t len) override;

  void Ref(Napi::Env env);
  void Unref(Napi::Env env);
  // JS thread: stops taking punts and releases the TSFN; `closed` (if given) is resolved once
  // the last queued delivery has run. Idempotent (a later `closed` resolves at once).
  void Shutdown(Napi::Env env, std::optional<Napi::Promise::Deferred> closed);

 private:
  JsPuntQueue() = default;
  void Drain(Napi::Env env, Napi::Function fn);

  std::mutex mu_;
  std::vector<uint32_t>* meta_ = new std::vector<uint32_t>();
  std::vector<uint8_t>* data_ = new std::vector<uint8_t>();
  size_t count_ = 0;
  bool scheduled_ = false;
  bool closing_ = false;  // guarded by mu_: no TSFN call after it is set
  Napi::ThreadSafeFunction tsfn_;
  std::weak_ptr<JsPuntQueue> self_;
  std::optional<Napi::Promise::Deferred> closed_;  // JS thread only
  bool finalized_ = false;                         // JS thread only
};

}  // namespace ipoib::tun
