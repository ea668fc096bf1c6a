// JS entry point of the single-QP script runner: rcQpScript(steps). TEST ONLY (see rc_script.h);
// the TypeScript wrapper is runRcQpScript in src/fabric/sim/rc-harness.ts, which fills every
// field. Config fields are range-checked only as far as their C++ type needs, so tests can hand
// the engine values it must refuse itself.
#include <napi.h>

#include <string>
#include <vector>

#include "../args.h"
#include "../export_registry.h"
#include "rc_js_args.h"
#include "rc_script.h"

namespace ipoib::sim {

namespace {

constexpr const char* kFn = "rcQpScript";
constexpr double kU8 = 255;
constexpr double kU16 = 65535;
constexpr double kU32 = 4294967295.0;
constexpr double kMaxSafeInteger = 9007199254740991.0;

RcQpState StateNamed(const JsOptions& o, const char* key) {
  const std::string name = o.String(key);
  for (RcQpState s : {RcQpState::kReset, RcQpState::kInit, RcQpState::kRtr, RcQpState::kRts, RcQpState::kError}) {
    if (name == RcQpStateName(s)) return s;
  }
  throw Napi::RangeError::New(o.object.Env(), std::string(kFn) + ": " + o.what + "." + key +
                                                  " must be RESET, INIT, RTR, RTS or ERROR, not '" + name + "'");
}

RcQpConfig ReadConfig(const JsOptions& c) {
  RcQpConfig r;
  r.qpn = static_cast<uint32_t>(c.Integer("qpn", kU32));
  r.destQpn = static_cast<uint32_t>(c.Integer("destQpn", kU32));
  r.pkey = static_cast<uint16_t>(c.Integer("pkey", kU16));
  r.pathMtuBytes = static_cast<uint32_t>(c.Integer("pathMtuBytes", kU32));
  r.sqPsn = static_cast<uint32_t>(c.Integer("sqPsn", kU32));
  r.rqPsn = static_cast<uint32_t>(c.Integer("rqPsn", kU32));
  r.retryCount = static_cast<uint8_t>(c.Integer("retryCount", kU8));
  r.rnrRetry = static_cast<uint8_t>(c.Integer("rnrRetry", kU8));
  r.timeoutExp = static_cast<uint8_t>(c.Integer("timeoutExp", kU8));
  r.minRnrTimer = static_cast<uint8_t>(c.Integer("minRnrTimer", kU8));
  r.recvQueueDepth = static_cast<uint32_t>(c.Integer("recvQueueDepth", kU32));
  r.sendQueueDepth = static_cast<uint32_t>(c.Integer("sendQueueDepth", kU32));
  r.sendWindowPackets = static_cast<uint32_t>(c.Integer("sendWindowPackets", kU32));
  r.ackReqEveryPackets = static_cast<uint32_t>(c.Integer("ackReqEveryPackets", kU32));
  return r;
}

RcScriptStep ReadStep(const JsOptions& s) {
  RcScriptStep step;
  const std::string op = s.String("op");
  if (op == "modify") {
    step.kind = RcScriptStep::Kind::kModify;
    step.to = StateNamed(s, "to");
    step.config = ReadConfig(s.Object("config"));
  } else if (op == "postSend") {
    step.kind = RcScriptStep::Kind::kPostSend;
    step.wrId = s.Integer("wrId", kMaxSafeInteger);
    step.bytes = s.Bytes("message");
  } else if (op == "postRecv") {
    step.kind = RcScriptStep::Kind::kPostRecv;
    step.wrId = s.Integer("wrId", kMaxSafeInteger);
    step.capacityBytes = static_cast<uint32_t>(s.Integer("capacityBytes", kU32));
  } else if (op == "packet") {
    step.kind = RcScriptStep::Kind::kPacket;
    step.bytes = s.Bytes("wire");
  } else if (op == "timer" || op == "clock") {
    step.kind = op == "timer" ? RcScriptStep::Kind::kTimer : RcScriptStep::Kind::kClock;
    step.nowUs = s.Integer("nowUs", kMaxSafeInteger);
  } else {
    throw Napi::RangeError::New(s.object.Env(), std::string(kFn) + ": " + s.what +
                                                    ".op must be modify, postSend, postRecv, packet, timer or clock, "
                                                    "not '" + op + "'");
  }
  return step;
}

Napi::Object StatsObject(Napi::Env env, const RcQpStats& s) {
  Napi::Object o = Napi::Object::New(env);
  auto set = [&](const char* key, uint64_t v) { o.Set(key, Napi::Number::New(env, static_cast<double>(v))); };
  set("packetsSent", s.packetsSent);
  set("retransmissions", s.retransmissions);
  set("timeouts", s.timeouts);
  set("acksReceived", s.acksReceived);
  set("staleAcks", s.staleAcks);
  set("ghostAcks", s.ghostAcks);
  set("naksReceived", s.naksReceived);
  set("rnrNaksReceived", s.rnrNaksReceived);
  set("requestsAccepted", s.requestsAccepted);
  set("messagesDelivered", s.messagesDelivered);
  set("acksSent", s.acksSent);
  set("naksSent", s.naksSent);
  set("rnrNaksSent", s.rnrNaksSent);
  set("invalidRequestNaksSent", s.invalidRequestNaksSent);
  set("duplicatesReceived", s.duplicatesReceived);
  set("outOfSequenceDropped", s.outOfSequenceDropped);
  set("packetsIgnored", s.packetsIgnored);
  return o;
}

Napi::Object EventObject(Napi::Env env, const RcScriptEvent& e) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("step", Napi::Number::New(env, static_cast<double>(e.step)));
  o.Set("timeUs", Napi::Number::New(env, static_cast<double>(e.timeUs)));
  auto bytes = [&](const std::vector<uint8_t>& b) { return Napi::Buffer<uint8_t>::Copy(env, b.data(), b.size()); };
  switch (e.kind) {
    case RcScriptEvent::Kind::kEmit:
      o.Set("type", "emit");
      o.Set("wire", bytes(e.bytes));
      break;
    case RcScriptEvent::Kind::kSendDone:
      o.Set("type", "send-done");
      o.Set("wrId", Napi::Number::New(env, static_cast<double>(e.wrId)));
      o.Set("status", e.status);
      break;
    case RcScriptEvent::Kind::kRecvDone:
      o.Set("type", "recv-done");
      o.Set("wrId", Napi::Number::New(env, static_cast<double>(e.wrId)));
      o.Set("status", e.status);
      o.Set("message", bytes(e.bytes));
      o.Set("srcQp", Napi::Number::New(env, e.srcQp));
      break;
    case RcScriptEvent::Kind::kState:
      o.Set("type", "state");
      o.Set("from", RcQpStateName(e.from));
      o.Set("to", RcQpStateName(e.to));
      o.Set("reason", e.status);
      break;
    case RcScriptEvent::Kind::kResult:
      o.Set("type", "result");
      o.Set("ok", Napi::Boolean::New(env, e.ok));
      o.Set("why", e.status);
      break;
  }
  return o;
}

Napi::Value RcQpScript(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireArgumentCount(info, kFn, 1, 1);
  if (!info[0].IsArray()) throw Napi::TypeError::New(env, std::string(kFn) + ": steps must be an array");
  const Napi::Array a = info[0].As<Napi::Array>();
  std::vector<RcScriptStep> steps;
  steps.reserve(a.Length());
  for (uint32_t i = 0; i < a.Length(); ++i) {
    const Napi::Value v = a.Get(i);
    const std::string what = "steps[" + std::to_string(i) + "]";
    if (!v.IsObject()) throw Napi::TypeError::New(env, std::string(kFn) + ": " + what + " must be an object");
    steps.push_back(ReadStep(JsOptions{kFn, what, v.As<Napi::Object>()}));
  }
  const RcScriptResult r = RunRcScript(steps);

  Napi::Object out = Napi::Object::New(env);
  Napi::Array events = Napi::Array::New(env, r.events.size());
  for (uint32_t i = 0; i < r.events.size(); ++i) events.Set(i, EventObject(env, r.events[i]));
  out.Set("events", events);
  out.Set("state", RcQpStateName(r.state));
  const bool noDeadline = r.nextDeadlineUs == RcQp::kNoDeadline;
  out.Set("nextDeadlineUs",
          noDeadline ? env.Null() : Napi::Value(Napi::Number::New(env, static_cast<double>(r.nextDeadlineUs))));
  out.Set("errorDetail", r.errorDetail);
  out.Set("stats", StatsObject(env, r.stats));
  return out;
}

void InitRcQpScript(Napi::Env env, Napi::Object exports) {
  exports.Set("rcQpScript", Napi::Function::New(env, RcQpScript, "rcQpScript"));
}

const ipoib::RegisterExports kRegisterRcQpScript("rcQpScript", &InitRcQpScript);

}  // namespace

}  // namespace ipoib::sim
