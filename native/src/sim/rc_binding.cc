// JS entry point of the RC loop harness: rcLoopRun(messages, options). TEST AND BENCHMARK ONLY
// (see rc_loop_harness.h); the TypeScript wrapper is src/fabric/sim/rc-harness.ts, which checks
// the arguments first and passes every option explicitly. Here every option is required, so a
// misspelt key is a TypeError rather than a silent default.
//
// The run is synchronous: it is CPU-bound, uses a simulated clock and finishes in milliseconds for
// the sizes tests use; the benchmark bounds its own runs.
#include <napi.h>

#include <cmath>
#include <string>
#include <vector>

#include "../args.h"
#include "../export_registry.h"
#include "rc_js_args.h"
#include "rc_loop_harness.h"

namespace ipoib::sim {

namespace {

constexpr const char* kFn = "rcLoopRun";

std::vector<uint32_t> PsnList(const JsOptions& o, const char* key) {
  const Napi::Value v = o.Required(key);
  if (!v.IsArray()) throw Napi::TypeError::New(v.Env(), std::string(kFn) + ": options." + key + " must be an array");
  const Napi::Array a = v.As<Napi::Array>();
  std::vector<uint32_t> out;
  out.reserve(a.Length());
  for (uint32_t i = 0; i < a.Length(); ++i) {
    const Napi::Value e = a.Get(i);
    const double d = e.IsNumber() ? e.As<Napi::Number>().DoubleValue() : -1;
    if (!(d >= 0 && d <= 0xFFFFFF) || std::trunc(d) != d) {
      throw Napi::RangeError::New(v.Env(), std::string(kFn) + ": options." + key + "[" + std::to_string(i) +
                                               "] must be a PSN (integer from 0 to 16777215)");
    }
    out.push_back(static_cast<uint32_t>(d));
  }
  return out;
}

RcLoopOptions ReadOptions(const JsOptions& o) {
  RcLoopOptions r;
  r.mtuBytes = static_cast<uint32_t>(o.Integer("mtuBytes", 4096));
  r.lossRate = o.Number("lossRate");
  r.duplicateRate = o.Number("duplicateRate");
  r.reorderRate = o.Number("reorderRate");
  r.seed = static_cast<uint32_t>(o.Integer("seed", 4294967295.0));
  r.latencyUs = static_cast<uint32_t>(o.Integer("latencyUs", 1e9));
  r.reorderDelayUs = static_cast<uint32_t>(o.Integer("reorderDelayUs", 1e9));
  r.startPsn = static_cast<uint32_t>(o.Integer("startPsn", 0xFFFFFF));
  r.retryCount = static_cast<uint8_t>(o.Integer("retryCount", 7));
  r.rnrRetry = static_cast<uint8_t>(o.Integer("rnrRetry", 7));
  r.timeoutExp = static_cast<uint8_t>(o.Integer("timeoutExp", 31));
  r.minRnrTimer = static_cast<uint8_t>(o.Integer("minRnrTimer", 31));
  r.recvQueueDepth = static_cast<uint32_t>(o.Integer("recvQueueDepth", 1e6));
  r.recvBufferBytes = static_cast<uint32_t>(o.Integer("recvBufferBytes", 4294967295.0));
  r.recvPostDelayUs = o.Integer("recvPostDelayUs", 1e15);
  r.sendWindowPackets = static_cast<uint32_t>(o.Integer("sendWindowPackets", 1e6));
  r.ackReqEveryPackets = static_cast<uint32_t>(o.Integer("ackReqEveryPackets", 1e6));
  r.postSpacingUs = o.Integer("postSpacingUs", 1e12);
  r.sendQueueDepth = static_cast<uint32_t>(o.Integer("sendQueueDepth", 1e6));
  r.dropPsns = PsnList(o, "dropPsns");
  r.duplicatePsns = PsnList(o, "duplicatePsns");
  r.recordPackets = static_cast<uint32_t>(o.Integer("recordPackets", 1e7));
  r.maxSimTimeUs = o.Integer("maxSimTimeUs", 1e15);
  r.collectDelivered = o.Boolean("collectDelivered");
  const std::string problem = RcLoopOptionsProblem(r);
  if (!problem.empty()) throw Napi::RangeError::New(o.object.Env(), std::string(kFn) + ": " + problem);
  return r;
}

// Views of the callers' buffers: the run is synchronous, so they stay alive and in place.
std::vector<RcLoopMessage> ReadMessages(Napi::Env env, const Napi::Value& v) {
  if (!v.IsArray()) throw Napi::TypeError::New(env, std::string(kFn) + ": messages must be an array of Buffers");
  const Napi::Array a = v.As<Napi::Array>();
  std::vector<RcLoopMessage> out;
  out.reserve(a.Length());
  for (uint32_t i = 0; i < a.Length(); ++i) {
    const Napi::Value e = a.Get(i);
    if (!e.IsTypedArray() || e.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
      throw Napi::TypeError::New(
          env, std::string(kFn) + ": messages[" + std::to_string(i) + "] must be a Buffer or Uint8Array");
    }
    const Napi::Uint8Array bytes = e.As<Napi::Uint8Array>();
    out.push_back(RcLoopMessage{bytes.Data(), bytes.ByteLength()});
  }
  return out;
}

Napi::Buffer<uint8_t> CopyOut(Napi::Env env, const std::vector<uint8_t>& bytes) {
  return Napi::Buffer<uint8_t>::Copy(env, bytes.data(), bytes.size());
}

Napi::Object StatsObject(Napi::Env env, const RcLoopStats& s) {
  Napi::Object o = Napi::Object::New(env);
  auto set = [&](const char* key, uint64_t v) { o.Set(key, Napi::Number::New(env, static_cast<double>(v))); };
  set("packetsSent", s.packetsSent);
  set("retransmissions", s.retransmissions);
  set("naks", s.naks);
  set("rnrNaks", s.rnrNaks);
  set("invalidRequestNaks", s.invalidRequestNaks);
  set("acks", s.acks);
  set("timeouts", s.timeouts);
  set("duplicatesReceived", s.duplicatesReceived);
  set("outOfSequenceDropped", s.outOfSequenceDropped);
  set("staleAcks", s.staleAcks);
  set("ghostAcks", s.ghostAcks);
  set("linkLost", s.linkLost);
  set("linkDuplicated", s.linkDuplicated);
  set("linkReordered", s.linkReordered);
  set("simulatedTimeUs", s.simulatedTimeUs);
  return o;
}

Napi::Object ResultObject(Napi::Env env, const RcLoopResult& r) {
  Napi::Object out = Napi::Object::New(env);
  Napi::Array delivered = Napi::Array::New(env, r.delivered.size());
  for (uint32_t i = 0; i < r.delivered.size(); ++i) delivered.Set(i, CopyOut(env, r.delivered[i]));
  out.Set("delivered", delivered);
  out.Set("deliveredCount", Napi::Number::New(env, static_cast<double>(r.deliveredCount)));
  out.Set("deliveredBytes", Napi::Number::New(env, static_cast<double>(r.deliveredBytes)));
  out.Set("deliveredInOrder", Napi::Boolean::New(env, r.deliveredInOrder));

  Napi::Array sendStatus = Napi::Array::New(env, r.sendStatus.size());
  for (uint32_t i = 0; i < r.sendStatus.size(); ++i) {
    sendStatus.Set(i, r.sendCompleted[i] ? Napi::Value(Napi::String::New(env, RcSendStatusName(r.sendStatus[i])))
                                         : env.Null());
  }
  out.Set("sendStatus", sendStatus);
  Napi::Array recvStatus = Napi::Array::New(env, r.recvStatus.size());
  for (uint32_t i = 0; i < r.recvStatus.size(); ++i) recvStatus.Set(i, RcRecvStatusName(r.recvStatus[i]));
  out.Set("recvStatus", recvStatus);

  out.Set("stats", StatsObject(env, r.stats));
  Napi::Array errors = Napi::Array::New(env, r.errors.size());
  for (uint32_t i = 0; i < r.errors.size(); ++i) errors.Set(i, r.errors[i]);
  out.Set("errors", errors);
  out.Set("requesterState", RcQpStateName(r.requesterState));
  out.Set("responderState", RcQpStateName(r.responderState));

  Napi::Array packets = Napi::Array::New(env, r.packets.size());
  for (uint32_t i = 0; i < r.packets.size(); ++i) {
    const RcLoopPacket& p = r.packets[i];
    Napi::Object o = Napi::Object::New(env);
    o.Set("timeUs", Napi::Number::New(env, static_cast<double>(p.timeUs)));
    o.Set("from", p.fromRequester ? "requester" : "responder");
    o.Set("fate", p.fate);
    o.Set("headers", CopyOut(env, p.headers));
    o.Set("payloadBytes", Napi::Number::New(env, p.payloadBytes));
    packets.Set(i, o);
  }
  out.Set("packets", packets);
  return out;
}

Napi::Value RcLoopRun(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireArgumentCount(info, kFn, 2, 2);
  const std::vector<RcLoopMessage> messages = ReadMessages(env, info[0]);
  if (!info[1].IsObject()) throw Napi::TypeError::New(env, std::string(kFn) + ": options must be an object");
  const RcLoopOptions options = ReadOptions(JsOptions{kFn, "options", info[1].As<Napi::Object>()});
  const RcLoopResult result = RunRcLoop(messages, options);
  return ResultObject(env, result);
}

void InitRcLoop(Napi::Env env, Napi::Object exports) {
  exports.Set("rcLoopRun", Napi::Function::New(env, RcLoopRun, "rcLoopRun"));
}

const ipoib::RegisterExports kRegisterRcLoop("rcLoopRun", &InitRcLoop);

}  // namespace

}  // namespace ipoib::sim
