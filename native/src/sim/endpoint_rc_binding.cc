// The JS face of an endpoint's RC QPs (endpoint_rc.h): `openSimRcPort(endpointHandle, deliver)`
// returns a handle whose methods are thin calls into the C++ endpoint. TypeScript validates
// every argument first (src/fabric/sim/native-rc.ts); the checks here (every option key
// required, ranges as far as the C++ types need) keep a direct call from being undefined
// behaviour.
//
// Events reach JS in batches through a ThreadSafeFunction of this handle (the endpoint's UD
// one is separate), as deliver(events: object[]): {type: 'send', qpn, wrId, status},
// {type: 'recv', qpn, status, message, srcQp}, {type: 'state', qpn, from, to, reason, detail}.
// After each batch has been handed to JS, the binding posts one receive buffer for every
// message it delivered: the consumer keeps its receive queue full without a call per message,
// and a JS thread that falls behind makes the QP answer with RNR NAKs, as a real consumer that
// stops posting would.
//
// One RC handle per endpoint. Closing it (or the Node environment going away) destroys every
// RC QP of the endpoint and releases the ThreadSafeFunction.
#include <napi.h>

#include <cmath>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <system_error>
#include <vector>

#include "../errno_error.h"
#include "../export_registry.h"
#include "endpoint.h"
#include "endpoint_binding.h"
#include "rc_js_args.h"

namespace ipoib::sim {

namespace {

constexpr napi_type_tag kRcHandleTag = {0x7263'2d70'6f72'742dull, 0x7369'6d2d'656e'6470ull};
constexpr double kU8 = 255;
constexpr double kU16 = 65535;
constexpr double kU24 = 0xFFFFFF;
constexpr double kU32 = 4294967295.0;
constexpr double kMaxSafeInteger = 9007199254740991.0;

[[noreturn]] void TypeFail(Napi::Env env, const std::string& what) { throw Napi::TypeError::New(env, what); }

// Endpoint and socket failures become JS Errors with .op and .code, as in endpoint_binding.cc.
template <typename F>
auto Guard(Napi::Env env, const char* op, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const EndpointError& e) {
    Napi::Error err = Napi::Error::New(env, std::string(op) + ": " + e.what());
    err.Set("op", Napi::String::New(env, op));
    err.Set("code", Napi::String::New(env, e.CodeName()));
    throw err;
  } catch (const std::system_error& e) {
    throw ErrnoError(env, op, e.code().value());
  }
}

uint32_t UintArg(Napi::Env env, const Napi::Value& v, const std::string& name, double max) {
  if (!v.IsNumber()) TypeFail(env, name + " must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0 && d <= max) || std::trunc(d) != d) throw Napi::RangeError::New(env, name + " is out of range");
  return static_cast<uint32_t>(d);
}

RcQpState StateArg(Napi::Env env, const Napi::Value& v) {
  if (!v.IsString()) TypeFail(env, "to must be a string");
  const std::string name = v.As<Napi::String>().Utf8Value();
  for (RcQpState s : {RcQpState::kReset, RcQpState::kInit, RcQpState::kRtr, RcQpState::kRts, RcQpState::kError}) {
    if (name == RcQpStateName(s)) return s;
  }
  throw Napi::RangeError::New(env, "to must be RESET, INIT, RTR, RTS or ERROR, not '" + name + "'");
}

RcQpAttrs ReadAttrs(const JsOptions& o) {
  RcQpAttrs a;
  a.destQpn = static_cast<uint32_t>(o.Integer("destQpn", kU24));
  a.dlid = static_cast<uint16_t>(o.Integer("dlid", kU16));
  a.sl = static_cast<uint8_t>(o.Integer("sl", 15));
  a.hasGrh = o.Boolean("hasGrh");
  const std::vector<uint8_t> dgid = o.Bytes("dgid");
  if (dgid.size() != a.dgid.size()) throw Napi::TypeError::New(o.object.Env(), std::string(o.fn) + ": attrs.dgid must be 16 octets");
  std::copy(dgid.begin(), dgid.end(), a.dgid.begin());
  a.hopLimit = static_cast<uint8_t>(o.Integer("hopLimit", kU8));
  a.tclass = static_cast<uint8_t>(o.Integer("tclass", kU8));
  a.flowLabel = static_cast<uint32_t>(o.Integer("flowLabel", 0xFFFFF));
  a.pathMtuCode = static_cast<uint8_t>(o.Integer("pathMtuCode", 5));
  a.sqPsn = static_cast<uint32_t>(o.Integer("sqPsn", kU24));
  a.rqPsn = static_cast<uint32_t>(o.Integer("rqPsn", kU24));
  a.retryCount = static_cast<uint8_t>(o.Integer("retryCount", 7));
  a.rnrRetry = static_cast<uint8_t>(o.Integer("rnrRetry", 7));
  a.timeoutExp = static_cast<uint8_t>(o.Integer("timeoutExp", 31));
  a.minRnrTimer = static_cast<uint8_t>(o.Integer("minRnrTimer", 31));
  return a;
}

Napi::Object AttrsToJs(Napi::Env env, const RcQpAttrs& a) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("destQpn", a.destQpn);
  o.Set("dlid", static_cast<uint32_t>(a.dlid));
  o.Set("sl", static_cast<uint32_t>(a.sl));
  o.Set("hasGrh", a.hasGrh);
  o.Set("dgid", Napi::Buffer<uint8_t>::Copy(env, a.dgid.data(), a.dgid.size()));
  o.Set("hopLimit", static_cast<uint32_t>(a.hopLimit));
  o.Set("tclass", static_cast<uint32_t>(a.tclass));
  o.Set("flowLabel", a.flowLabel);
  o.Set("pathMtuCode", static_cast<uint32_t>(a.pathMtuCode));
  o.Set("sqPsn", a.sqPsn);
  o.Set("rqPsn", a.rqPsn);
  o.Set("retryCount", static_cast<uint32_t>(a.retryCount));
  o.Set("rnrRetry", static_cast<uint32_t>(a.rnrRetry));
  o.Set("timeoutExp", static_cast<uint32_t>(a.timeoutExp));
  o.Set("minRnrTimer", static_cast<uint32_t>(a.minRnrTimer));
  return o;
}

Napi::Object StatsToJs(Napi::Env env, const RcQpStats& s) {
  Napi::Object o = Napi::Object::New(env);
  const auto set = [&](const char* name, uint64_t v) { o.Set(name, Napi::Number::New(env, static_cast<double>(v))); };
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

// Settles a close() promise from a TSFN finalizer. During environment teardown JS can no longer
// run and the call fails: nobody is waiting then, and a finalizer must not throw.
void ResolveClosed(std::optional<Napi::Promise::Deferred>& closed) {
  if (!closed) return;
  try {
    closed->Resolve(closed->Env().Undefined());
  } catch (const Napi::Error&) {
    // teardown: nothing left to tell
  }
  closed.reset();
}

// ---- events to JS

struct JsRcDelivery {
  std::mutex mu;
  std::vector<RcEvent> pending;
  bool scheduled = false;
  bool released = false;  // set (under mu) before the TSFN is released: nothing calls it after
  Napi::ThreadSafeFunction tsfn;
  std::weak_ptr<Endpoint> endpoint;
  std::optional<Napi::Promise::Deferred> closed;  // resolved when the TSFN is finalized

  // An endpoint thread: queue, and schedule one drain unless one is on its way.
  void OnEvents(const std::shared_ptr<JsRcDelivery>& self, RcEvent* events, size_t n) {
    std::lock_guard<std::mutex> lock(mu);
    if (released) return;
    for (size_t i = 0; i < n; i++) pending.push_back(std::move(events[i]));
    if (!scheduled && !pending.empty()) {
      scheduled = true;
      std::shared_ptr<JsRcDelivery> keep = self;
      if (tsfn.NonBlockingCall([keep](Napi::Env env, Napi::Function fn) { keep->Drain(env, fn); }) != napi_ok) {
        scheduled = false;
      }
    }
  }

  // The JS thread: hand the batch over, then give back one receive buffer per message taken.
  void Drain(Napi::Env env, Napi::Function fn) {
    std::vector<RcEvent> batch;
    {
      std::lock_guard<std::mutex> lock(mu);
      scheduled = false;
      batch.swap(pending);
    }
    if (batch.empty()) return;
    std::map<uint32_t, uint32_t> consumed;
    Napi::Array out = Napi::Array::New(env, batch.size());
    for (size_t i = 0; i < batch.size(); i++) {
      RcEvent& ev = batch[i];
      Napi::Object o = Napi::Object::New(env);
      o.Set("qpn", ev.qpn);
      switch (ev.kind) {
        case RcEvent::Kind::kSend:
          o.Set("type", "send");
          o.Set("wrId", Napi::Number::New(env, static_cast<double>(ev.wrId)));
          o.Set("status", RcSendStatusName(ev.sendStatus));
          break;
        case RcEvent::Kind::kRecv:
          o.Set("type", "recv");
          o.Set("status", RcRecvStatusName(ev.recvStatus));
          o.Set("srcQp", ev.srcQp);
          // A copy V8 owns and accounts for, so a long run of large messages keeps the GC informed.
          o.Set("message", ev.message.empty() ? Napi::Buffer<uint8_t>::New(env, 0)
                                              : Napi::Buffer<uint8_t>::Copy(env, ev.message.data(), ev.message.size()));
          if (ev.recvStatus == RcRecvStatus::kSuccess) consumed[ev.qpn]++;
          break;
        case RcEvent::Kind::kState:
          o.Set("type", "state");
          o.Set("from", RcQpStateName(ev.from));
          o.Set("to", RcQpStateName(ev.to));
          o.Set("reason", ev.reason);
          o.Set("detail", ev.detail);
          break;
      }
      out.Set(static_cast<uint32_t>(i), o);
    }
    batch.clear();
    try {
      fn.Call({out});
    } catch (const Napi::Error& e) {
      e.ThrowAsJavaScriptException();  // a throwing callback is the caller's uncaught exception
    }
    if (auto ep = endpoint.lock()) {
      for (const auto& [qpn, n] : consumed) {
        try {
          ep->PostRecvRc(qpn, n);
        } catch (const EndpointError&) {
          // The QP (or the endpoint) went away meanwhile: nothing to give buffers back to.
        }
      }
    }
  }
};

struct RcEnvState;

class RcPortHandle : public Napi::ObjectWrap<RcPortHandle> {
 public:
  static Napi::Function DefineClass(Napi::Env env);
  explicit RcPortHandle(const Napi::CallbackInfo& info);
  ~RcPortHandle() override;
  void Shutdown();  // destroys the QPs, detaches, releases the TSFN; idempotent

 private:
  Endpoint& Ep(Napi::Env env, const char* op);
  Napi::Value CreateQp(const Napi::CallbackInfo& info);
  Napi::Value ModifyQp(const Napi::CallbackInfo& info);
  Napi::Value PostSend(const Napi::CallbackInfo& info);
  Napi::Value PostRecv(const Napi::CallbackInfo& info);
  Napi::Value DestroyQp(const Napi::CallbackInfo& info);
  Napi::Value QpInfo(const Napi::CallbackInfo& info);
  Napi::Value Qpns(const Napi::CallbackInfo& info);
  Napi::Value Ref(const Napi::CallbackInfo& info);
  Napi::Value Unref(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);

  std::shared_ptr<Endpoint> ep_;
  std::shared_ptr<JsRcDelivery> delivery_;
  RcEnvState* envState_ = nullptr;
  bool shut_ = false;
};

// Every RC handle of one Node environment, shut down by the environment's cleanup hook. Never
// freed, like endpoint_binding.cc's EnvState.
struct RcEnvState {
  Napi::FunctionReference constructor;
  std::set<RcPortHandle*> live;
  std::set<const Endpoint*> endpointsWithRc;
  bool tornDown = false;
};

Napi::Function RcPortHandle::DefineClass(Napi::Env env) {
  return ObjectWrap<RcPortHandle>::DefineClass(env, "SimRcPortHandle",
                                              {
                                                  InstanceMethod<&RcPortHandle::CreateQp>("createQp"),
                                                  InstanceMethod<&RcPortHandle::ModifyQp>("modifyQp"),
                                                  InstanceMethod<&RcPortHandle::PostSend>("postSend"),
                                                  InstanceMethod<&RcPortHandle::PostRecv>("postRecv"),
                                                  InstanceMethod<&RcPortHandle::DestroyQp>("destroyQp"),
                                                  InstanceMethod<&RcPortHandle::QpInfo>("qpInfo"),
                                                  InstanceMethod<&RcPortHandle::Qpns>("qpns"),
                                                  InstanceMethod<&RcPortHandle::Ref>("ref"),
                                                  InstanceMethod<&RcPortHandle::Unref>("unref"),
                                                  InstanceMethod<&RcPortHandle::Close>("close"),
                                              });
}

// new SimRcPortHandle(endpointHandle, deliver, envState): only openSimRcPort calls it.
RcPortHandle::RcPortHandle(const Napi::CallbackInfo& info) : ObjectWrap<RcPortHandle>(info) {
  Napi::Env env = info.Env();
  if (info.Length() != 3 || !info[2].IsExternal()) TypeFail(env, "SimRcPortHandle is created by openSimRcPort()");
  RcEnvState* state = info[2].As<Napi::External<RcEnvState>>().Data();
  if (!info[1].IsFunction()) TypeFail(env, "deliver must be a function");
  std::shared_ptr<Endpoint> ep = EndpointOfHandle(info[0]);
  if (state->endpointsWithRc.count(ep.get()) != 0) {
    Napi::Error err = Napi::Error::New(env, "openSimRcPort: this endpoint already has an RC port");
    err.Set("op", Napi::String::New(env, "openSimRcPort"));
    err.Set("code", Napi::String::New(env, "EEXIST"));
    throw err;
  }
  delivery_ = std::make_shared<JsRcDelivery>();
  delivery_->endpoint = ep;
  auto holder = delivery_;  // keeps the TSFN's context alive until its finalizer
  delivery_->tsfn = Napi::ThreadSafeFunction::New(env, info[1].As<Napi::Function>(), "simRcPort", 0, 1, [holder](Napi::Env) {
    ResolveClosed(holder->closed);
  });
  delivery_->tsfn.Unref(env);  // the TS owner refs it while it has QPs
  std::weak_ptr<JsRcDelivery> weak = delivery_;
  try {
    Guard(env, "openSimRcPort", [&] {
      ep->SetRcDefaultHandler([weak](RcEvent* events, size_t n) {
        if (auto d = weak.lock()) d->OnEvents(d, events, n);
      });
    });
  } catch (...) {
    {
      std::lock_guard<std::mutex> lock(delivery_->mu);
      delivery_->released = true;
    }
    delivery_->tsfn.Release();
    throw;
  }
  ep_ = std::move(ep);
  envState_ = state;
  state->endpointsWithRc.insert(ep_.get());
  state->live.insert(this);
  Value().TypeTag(&kRcHandleTag);
}

RcPortHandle::~RcPortHandle() {
  if (envState_ != nullptr && !envState_->tornDown) envState_->live.erase(this);
  Shutdown();
}

void RcPortHandle::Shutdown() {
  if (shut_ || !delivery_ || !ep_) return;
  shut_ = true;
  if (envState_ != nullptr && !envState_->tornDown) envState_->endpointsWithRc.erase(ep_.get());
  try {
    ep_->SetRcDefaultHandler(nullptr);
    for (uint32_t qpn : ep_->RcQpns()) ep_->DestroyRcQp(qpn);
  } catch (const EndpointError&) {
    // The endpoint closed first: its QPs are gone already.
  }
  {
    std::lock_guard<std::mutex> lock(delivery_->mu);
    delivery_->released = true;
  }
  delivery_->tsfn.Release();
}

Endpoint& RcPortHandle::Ep(Napi::Env env, const char* op) {
  if (shut_ || !ep_ || ep_->Closed()) {
    Napi::Error err = Napi::Error::New(env, std::string(op) + ": the RC port is closed");
    err.Set("op", Napi::String::New(env, op));
    err.Set("code", Napi::String::New(env, "EBADF"));
    throw err;
  }
  return *ep_;
}

// createQp({qpn, pkeyIndex, maxRecvBytes, recvQueueDepth, sendQueueDepth, sendWindowPackets,
// ackReqEveryPackets}) -> qpn
Napi::Value RcPortHandle::CreateQp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject()) TypeFail(env, "createQp(options) takes an object");
  const JsOptions o{"createQp", "options", info[0].As<Napi::Object>()};
  RcQpCreateOptions c;
  c.qpn = static_cast<uint32_t>(o.Integer("qpn", 0xFFFFFE));
  c.pkeyIndex = static_cast<uint16_t>(o.Integer("pkeyIndex", kU16));
  c.maxRecvBytes = static_cast<uint32_t>(o.Integer("maxRecvBytes", 2147483648.0));
  c.recvQueueDepth = static_cast<uint32_t>(o.Integer("recvQueueDepth", kU32));
  c.sendQueueDepth = static_cast<uint32_t>(o.Integer("sendQueueDepth", kU32));
  c.sendWindowPackets = static_cast<uint32_t>(o.Integer("sendWindowPackets", kU32));
  c.ackReqEveryPackets = static_cast<uint32_t>(o.Integer("ackReqEveryPackets", kU32));
  return Napi::Number::New(env, Guard(env, "createRcQp", [&] { return Ep(env, "createRcQp").CreateRcQp(c); }));
}

// modifyQp(qpn, to: "RESET" | "INIT" | "RTR" | "RTS" | "ERROR", attrs)
Napi::Value RcPortHandle::ModifyQp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint32_t qpn = UintArg(env, info[0], "qpn", kU24);
  const RcQpState to = StateArg(env, info[1]);
  if (!info[2].IsObject()) TypeFail(env, "attrs must be an object");
  const RcQpAttrs attrs = ReadAttrs(JsOptions{"modifyRcQp", "attrs", info[2].As<Napi::Object>()});
  Guard(env, "modifyRcQp", [&] { Ep(env, "modifyRcQp").ModifyRcQp(qpn, to, attrs); });
  return env.Undefined();
}

// postSend(qpn, wrId, message: Uint8Array) -> false when the send queue is full
Napi::Value RcPortHandle::PostSend(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint32_t qpn = UintArg(env, info[0], "qpn", kU24);
  if (!info[1].IsNumber()) TypeFail(env, "wrId must be a number");
  const double wr = info[1].As<Napi::Number>().DoubleValue();
  if (!(wr >= 0 && wr <= kMaxSafeInteger) || std::trunc(wr) != wr) throw Napi::RangeError::New(env, "wrId is out of range");
  if (!info[2].IsTypedArray() || info[2].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    TypeFail(env, "message must be a Buffer or Uint8Array");
  }
  Napi::Uint8Array bytes = info[2].As<Napi::Uint8Array>();
  std::vector<uint8_t> message(bytes.Data(), bytes.Data() + bytes.ByteLength());
  const bool queued = Guard(env, "postSendRc", [&] {
    return Ep(env, "postSendRc").PostSendRc(qpn, static_cast<uint64_t>(wr), std::move(message));
  });
  return Napi::Boolean::New(env, queued);
}

// postRecv(qpn, count) -> how many were posted
Napi::Value RcPortHandle::PostRecv(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint32_t qpn = UintArg(env, info[0], "qpn", kU24);
  const uint32_t count = UintArg(env, info[1], "count", kU32);
  return Napi::Number::New(env, Guard(env, "postRecvRc", [&] { return Ep(env, "postRecvRc").PostRecvRc(qpn, count); }));
}

Napi::Value RcPortHandle::DestroyQp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint32_t qpn = UintArg(env, info[0], "qpn", kU24);
  Guard(env, "destroyRcQp", [&] { Ep(env, "destroyRcQp").DestroyRcQp(qpn); });
  return env.Undefined();
}

Napi::Value RcPortHandle::QpInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint32_t qpn = UintArg(env, info[0], "qpn", kU24);
  const RcQpInfo q = Guard(env, "rcQpInfo", [&] { return Ep(env, "rcQpInfo").RcQpSnapshot(qpn); });
  Napi::Object o = Napi::Object::New(env);
  o.Set("qpn", q.qpn);
  o.Set("state", RcQpStateName(q.state));
  o.Set("pkeyIndex", static_cast<uint32_t>(q.create.pkeyIndex));
  o.Set("pkey", static_cast<uint32_t>(q.pkey));
  o.Set("maxRecvBytes", q.create.maxRecvBytes);
  o.Set("attrs", AttrsToJs(env, q.attrs));
  o.Set("stats", StatsToJs(env, q.stats));
  o.Set("errorDetail", q.errorDetail);
  o.Set("recvsPosted", q.recvsPosted);
  return o;
}

Napi::Value RcPortHandle::Qpns(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::vector<uint32_t> qpns = Guard(env, "rcQpns", [&] { return Ep(env, "rcQpns").RcQpns(); });
  Napi::Array out = Napi::Array::New(env, qpns.size());
  for (uint32_t i = 0; i < qpns.size(); i++) out.Set(i, qpns[i]);
  return out;
}

Napi::Value RcPortHandle::Ref(const Napi::CallbackInfo& info) {
  if (!shut_) delivery_->tsfn.Ref(info.Env());
  return info.Env().Undefined();
}

Napi::Value RcPortHandle::Unref(const Napi::CallbackInfo& info) {
  if (!shut_) delivery_->tsfn.Unref(info.Env());
  return info.Env().Undefined();
}

// close() -> Promise<void>, settled once the QPs are destroyed and the TSFN is gone.
Napi::Value RcPortHandle::Close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Promise::Deferred deferred = Napi::Promise::Deferred::New(env);
  if (shut_) {
    deferred.Resolve(env.Undefined());
    return deferred.Promise();
  }
  delivery_->closed = deferred;
  // The promise settles in the TSFN's finalizer: keep the loop alive until it has run, or a
  // process whose last act is `await close()` would exit first and finalize during teardown.
  delivery_->tsfn.Ref(env);
  Shutdown();
  return deferred.Promise();
}

Napi::Value OpenSimRcPort(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* state = static_cast<RcEnvState*>(info.Data());
  return state->constructor.New({info[0], info[1], Napi::External<RcEnvState>::New(env, state)});
}

void InitSimRcPort(Napi::Env env, Napi::Object exports) {
  auto* state = new RcEnvState();  // lives as long as the process: see RcEnvState
  state->constructor = Napi::Persistent(RcPortHandle::DefineClass(env));
  env.AddCleanupHook([state] {
    state->tornDown = true;
    for (RcPortHandle* h : state->live) h->Shutdown();
    state->live.clear();
    state->endpointsWithRc.clear();
  });
  exports.Set("openSimRcPort", Napi::Function::New(env, OpenSimRcPort, "openSimRcPort", state));
}

const ipoib::RegisterExports kRegister("simRcPort", &InitSimRcPort);

}  // namespace

}  // namespace ipoib::sim
