#include "endpoint_binding.h"

#include <cmath>
#include <cstring>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <system_error>
#include <vector>

#include "../errno_error.h"
#include "../export_registry.h"

namespace ipoib::sim {

namespace {

// Completions queued for JS beyond these are dropped and counted (rcvQueueOverflows), as an
// HCA drops UD packets when no receive buffer is posted: a stalled JS thread must not make
// the process grow without bound.
constexpr size_t kMaxPendingCompletions = 1 << 16;
constexpr size_t kMaxPendingOctets = 64u << 20;

constexpr napi_type_tag kHandleTag = {0x6970'6f69'622d'7369ull, 0x6d2d'656e'6470'6f69ull};

// ---- argument helpers: TypeError/RangeError naming the argument

[[noreturn]] void TypeFail(Napi::Env env, const std::string& what) { throw Napi::TypeError::New(env, what); }

double NumberArg(Napi::Env env, const Napi::Value& v, const std::string& name, double min, double max) {
  if (!v.IsNumber()) TypeFail(env, name + " must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= min && d <= max)) throw Napi::RangeError::New(env, name + " is out of range");
  return d;
}

uint32_t UintArg(Napi::Env env, const Napi::Value& v, const std::string& name, uint32_t max) {
  const double d = NumberArg(env, v, name, 0, max);
  if (std::trunc(d) != d) throw Napi::RangeError::New(env, name + " must be an integer");
  return static_cast<uint32_t>(d);
}

Gid GidArg(Napi::Env env, const Napi::Value& v, const std::string& name) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array ||
      v.As<Napi::Uint8Array>().ByteLength() != 16) {
    TypeFail(env, name + " must be a 16-octet Buffer");
  }
  Gid g;
  std::memcpy(g.data(), v.As<Napi::Uint8Array>().Data(), 16);
  return g;
}

std::vector<uint16_t> U16ListArg(Napi::Env env, const Napi::Value& v, const std::string& name) {
  if (!v.IsArray()) TypeFail(env, name + " must be an array");
  Napi::Array a = v.As<Napi::Array>();
  std::vector<uint16_t> out(a.Length());
  for (uint32_t i = 0; i < a.Length(); i++) out[i] = static_cast<uint16_t>(UintArg(env, a.Get(i), name + "[" + std::to_string(i) + "]", 0xFFFF));
  return out;
}

Napi::Object ObjectArg(Napi::Env env, const Napi::Value& v, const std::string& name) {
  if (!v.IsObject()) TypeFail(env, name + " must be an object");
  return v.As<Napi::Object>();
}

// Runs `f`, turning endpoint and socket failures into JS Errors with .op and .code (and
// .errno for system errors), the shape callNative() in src/native/addon.ts converts.
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

// ---- completions to JS

struct JsDelivery {
  std::mutex mu;
  std::vector<uint32_t>* meta = new std::vector<uint32_t>();
  std::vector<uint8_t>* data = new std::vector<uint8_t>();
  size_t count = 0;
  bool scheduled = false;
  bool wantRaw = false;
  Napi::ThreadSafeFunction tsfn;
  std::weak_ptr<Endpoint> endpoint;
  std::optional<Napi::Promise::Deferred> closed;  // resolved when the TSFN is finalized

  ~JsDelivery() {
    delete meta;
    delete data;
  }

  // Receive thread: append, and schedule one drain unless one is already on its way.
  void OnCompletions(const std::shared_ptr<JsDelivery>& self, const UdCompletion* c, size_t n) {
    uint64_t overflow = 0;
    {
      std::lock_guard<std::mutex> lock(mu);
      for (size_t i = 0; i < n; i++) {
        const UdCompletion& x = c[i];
        const size_t rawLen = wantRaw ? x.rawLen : 0;
        const size_t octets = (x.hasGrh ? 32 : 0) + x.payloadLen + rawLen;
        if (count >= kMaxPendingCompletions || data->size() + octets > kMaxPendingOctets) {
          overflow++;
          continue;
        }
        const uint32_t offset = static_cast<uint32_t>(data->size());
        if (x.hasGrh) {
          data->insert(data->end(), x.sgid, x.sgid + 16);
          data->insert(data->end(), x.dgid, x.dgid + 16);
        }
        data->insert(data->end(), x.payload, x.payload + x.payloadLen);
        if (rawLen > 0) data->insert(data->end(), x.raw, x.raw + rawLen);
        const uint32_t words[kCompletionWords] = {
            x.qpn, x.srcQp, x.slid, x.dlid, x.sl, x.pkey, x.pkeyIndex, x.qkey,
            (x.hasGrh ? 1u : 0u) | (x.hasImm ? 2u : 0u), x.immData,
            static_cast<uint32_t>(x.hopLimit) | static_cast<uint32_t>(x.tclass) << 8, x.flowLabel,
            offset, static_cast<uint32_t>(x.payloadLen), static_cast<uint32_t>(rawLen), x.psn};
        meta->insert(meta->end(), words, words + kCompletionWords);
        count++;
      }
      if (count > 0 && !scheduled) {
        scheduled = true;
        std::shared_ptr<JsDelivery> keep = self;
        if (tsfn.NonBlockingCall([keep](Napi::Env env, Napi::Function fn) { keep->Drain(env, fn); }) != napi_ok) {
          scheduled = false;  // closing: nobody will read them
        }
      }
    }
    if (overflow > 0) {
      if (auto ep = endpoint.lock()) ep->NoteReceiveQueueOverflow(overflow);
    }
  }

  // JS thread: hand everything queued to `fn` as (meta: Uint32Array, data: Buffer), zero-copy.
  void Drain(Napi::Env env, Napi::Function fn) {
    std::vector<uint32_t>* m;
    std::vector<uint8_t>* d;
    {
      std::lock_guard<std::mutex> lock(mu);
      scheduled = false;
      if (count == 0) return;
      m = meta;
      d = data;
      meta = new std::vector<uint32_t>();
      data = new std::vector<uint8_t>();
      meta->reserve(m->size());
      data->reserve(d->size());
      count = 0;
    }
    Napi::ArrayBuffer metaBuffer = Napi::ArrayBuffer::New(env, m->data(), m->size() * sizeof(uint32_t),
                                                          [m](Napi::Env, void*) { delete m; });
    Napi::Uint32Array metaArray = Napi::Uint32Array::New(env, m->size(), metaBuffer, 0);
    Napi::Buffer<uint8_t> dataBuffer = d->empty()
        ? Napi::Buffer<uint8_t>::New(env, 0)
        : Napi::Buffer<uint8_t>::New(env, d->data(), d->size(), [d](Napi::Env, uint8_t*) { delete d; });
    if (d->empty()) delete d;
    try {
      fn.Call({metaArray, dataBuffer});
    } catch (const Napi::Error& e) {
      e.ThrowAsJavaScriptException();  // a throwing receive callback is the caller's uncaught exception
    }
  }
};

// Every handle of one Node environment, closed by the environment's cleanup hook (worker exit,
// process exit) so no receive thread outlives the TSFN it calls. Never freed: handles that are
// garbage-collected after teardown still read `tornDown`.
struct EnvState;

class EndpointHandle : public Napi::ObjectWrap<EndpointHandle> {
 public:
  static Napi::Function DefineClass(Napi::Env env);
  explicit EndpointHandle(const Napi::CallbackInfo& info);
  ~EndpointHandle() override;

  std::shared_ptr<Endpoint> endpoint() const { return ep_; }
  void Shutdown();  // closes the endpoint and releases the TSFN; idempotent

 private:
  Endpoint& Open(Napi::Env env, const char* op);
  Napi::Value UdpPort(const Napi::CallbackInfo& info);
  Napi::Value SetLid(const Napi::CallbackInfo& info);
  Napi::Value SetPkeyTable(const Napi::CallbackInfo& info);
  Napi::Value SetActive(const Napi::CallbackInfo& info);
  Napi::Value SetMtuCode(const Napi::CallbackInfo& info);
  Napi::Value SetRoutes(const Napi::CallbackInfo& info);
  Napi::Value CreateUdQp(const Napi::CallbackInfo& info);
  Napi::Value ModifyUdQp(const Napi::CallbackInfo& info);
  Napi::Value DestroyQp(const Napi::CallbackInfo& info);
  Napi::Value Qps(const Napi::CallbackInfo& info);
  Napi::Value AttachMulticast(const Napi::CallbackInfo& info);
  Napi::Value DetachMulticast(const Napi::CallbackInfo& info);
  Napi::Value PostSendUd(const Napi::CallbackInfo& info);
  Napi::Value Counters(const Napi::CallbackInfo& info);
  Napi::Value ResetCounters(const Napi::CallbackInfo& info);
  Napi::Value SetFaults(const Napi::CallbackInfo& info);
  Napi::Value SetTap(const Napi::CallbackInfo& info);
  Napi::Value SetDeliverRaw(const Napi::CallbackInfo& info);
  Napi::Value Ref(const Napi::CallbackInfo& info);
  Napi::Value Unref(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);

  std::shared_ptr<Endpoint> ep_;
  std::shared_ptr<JsDelivery> delivery_;
  EnvState* envState_ = nullptr;
  bool released_ = false;
};

struct EnvState {
  Napi::FunctionReference constructor;
  std::set<EndpointHandle*> live;
  bool tornDown = false;
};

Napi::Function EndpointHandle::DefineClass(Napi::Env env) {
  return ObjectWrap<EndpointHandle>::DefineClass(
      env, "SimEndpointHandle",
      {
          InstanceAccessor<&EndpointHandle::UdpPort>("udpPort"),
          InstanceMethod<&EndpointHandle::SetLid>("setLid"),
          InstanceMethod<&EndpointHandle::SetPkeyTable>("setPkeyTable"),
          InstanceMethod<&EndpointHandle::SetActive>("setActive"),
          InstanceMethod<&EndpointHandle::SetMtuCode>("setMtuCode"),
          InstanceMethod<&EndpointHandle::SetRoutes>("setRoutes"),
          InstanceMethod<&EndpointHandle::CreateUdQp>("createUdQp"),
          InstanceMethod<&EndpointHandle::ModifyUdQp>("modifyUdQp"),
          InstanceMethod<&EndpointHandle::DestroyQp>("destroyQp"),
          InstanceMethod<&EndpointHandle::Qps>("qps"),
          InstanceMethod<&EndpointHandle::AttachMulticast>("attachMulticast"),
          InstanceMethod<&EndpointHandle::DetachMulticast>("detachMulticast"),
          InstanceMethod<&EndpointHandle::PostSendUd>("postSendUd"),
          InstanceMethod<&EndpointHandle::Counters>("counters"),
          InstanceMethod<&EndpointHandle::ResetCounters>("resetCounters"),
          InstanceMethod<&EndpointHandle::SetFaults>("setFaults"),
          InstanceMethod<&EndpointHandle::SetTap>("setTap"),
          InstanceMethod<&EndpointHandle::SetDeliverRaw>("setDeliverRaw"),
          InstanceMethod<&EndpointHandle::Ref>("ref"),
          InstanceMethod<&EndpointHandle::Unref>("unref"),
          InstanceMethod<&EndpointHandle::Close>("close"),
      });
}

// new SimEndpointHandle(config, deliver, envState): only openSimEndpoint calls it.
EndpointHandle::EndpointHandle(const Napi::CallbackInfo& info) : ObjectWrap<EndpointHandle>(info) {
  Napi::Env env = info.Env();
  if (info.Length() != 3 || !info[2].IsExternal()) TypeFail(env, "SimEndpointHandle is created by openSimEndpoint()");
  envState_ = info[2].As<Napi::External<EnvState>>().Data();
  Napi::Object c = ObjectArg(env, info[0], "config");
  if (!info[1].IsFunction()) TypeFail(env, "deliver must be a function");
  EndpointConfig config;
  config.lid = static_cast<uint16_t>(UintArg(env, c.Get("lid"), "config.lid", 0xFFFF));
  config.gid = GidArg(env, c.Get("gid"), "config.gid");
  config.mtuCode = static_cast<uint8_t>(UintArg(env, c.Get("mtuCode"), "config.mtuCode", 5));
  config.pkeys = U16ListArg(env, c.Get("pkeys"), "config.pkeys");
  if (!c.Get("active").IsBoolean()) TypeFail(env, "config.active must be a boolean");
  config.active = c.Get("active").As<Napi::Boolean>().Value();

  ep_ = Guard(env, "openSimEndpoint", [&] { return Endpoint::Open(config); });
  delivery_ = std::make_shared<JsDelivery>();
  delivery_->endpoint = ep_;
  auto holder = delivery_;  // keeps the TSFN's context alive until its finalizer
  delivery_->tsfn = Napi::ThreadSafeFunction::New(env, info[1].As<Napi::Function>(), "simEndpoint", 0, 1,
                                                  [holder](Napi::Env) {
                                                    ResolveClosed(holder->closed);
                                                  });
  delivery_->tsfn.Unref(env);  // idle until someone listens (ref())
  std::weak_ptr<JsDelivery> weak = delivery_;
  ep_->SetDefaultHandler([weak](const UdCompletion* c, size_t n) {
    if (auto d = weak.lock()) d->OnCompletions(d, c, n);
  });
  Value().TypeTag(&kHandleTag);
  envState_->live.insert(this);
}

EndpointHandle::~EndpointHandle() {
  if (envState_ != nullptr && !envState_->tornDown) envState_->live.erase(this);
  Shutdown();
}

void EndpointHandle::Shutdown() {
  if (ep_) ep_->Close();  // joins the receive thread: nothing calls the TSFN after this
  if (!released_ && delivery_) {
    released_ = true;
    delivery_->tsfn.Release();
  }
}

Endpoint& EndpointHandle::Open(Napi::Env env, const char* op) {
  if (released_ || !ep_ || ep_->Closed()) {
    Napi::Error err = Napi::Error::New(env, std::string(op) + ": the endpoint is closed");
    err.Set("op", Napi::String::New(env, op));
    err.Set("code", Napi::String::New(env, "EBADF"));
    throw err;
  }
  return *ep_;
}

Napi::Value EndpointHandle::UdpPort(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), ep_ ? ep_->UdpPort() : 0); }

Napi::Value EndpointHandle::SetLid(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint16_t lid = static_cast<uint16_t>(UintArg(env, info[0], "lid", 0xFFFF));
  Guard(env, "setLid", [&] { Open(env, "setLid").SetLid(lid); });
  return env.Undefined();
}

Napi::Value EndpointHandle::SetPkeyTable(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto pkeys = U16ListArg(env, info[0], "pkeys");
  Guard(env, "setPkeyTable", [&] { Open(env, "setPkeyTable").SetPkeyTable(std::move(pkeys)); });
  return env.Undefined();
}

Napi::Value EndpointHandle::SetActive(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsBoolean()) TypeFail(env, "active must be a boolean");
  const bool active = info[0].As<Napi::Boolean>().Value();
  Guard(env, "setActive", [&] { Open(env, "setActive").SetActive(active); });
  return env.Undefined();
}

Napi::Value EndpointHandle::SetMtuCode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint8_t code = static_cast<uint8_t>(UintArg(env, info[0], "mtuCode", 5));
  Guard(env, "setMtuCode", [&] { Open(env, "setMtuCode").SetMtuCode(code); });
  return env.Undefined();
}

// setRoutes(unicast: {lid, udpPort}[], multicast: {mlid, udpPorts: number[]}[])
Napi::Value EndpointHandle::SetRoutes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsArray() || !info[1].IsArray()) TypeFail(env, "setRoutes(unicast, multicast) takes two arrays");
  std::vector<UnicastRoute> unicast;
  Napi::Array u = info[0].As<Napi::Array>();
  for (uint32_t i = 0; i < u.Length(); i++) {
    const std::string at = "unicast[" + std::to_string(i) + "]";
    Napi::Object r = ObjectArg(env, u.Get(i), at);
    unicast.push_back({static_cast<uint16_t>(UintArg(env, r.Get("lid"), at + ".lid", 0xFFFF)),
                       static_cast<uint16_t>(UintArg(env, r.Get("udpPort"), at + ".udpPort", 0xFFFF))});
  }
  std::vector<MulticastRoute> multicast;
  Napi::Array m = info[1].As<Napi::Array>();
  for (uint32_t i = 0; i < m.Length(); i++) {
    const std::string at = "multicast[" + std::to_string(i) + "]";
    Napi::Object r = ObjectArg(env, m.Get(i), at);
    multicast.push_back({static_cast<uint16_t>(UintArg(env, r.Get("mlid"), at + ".mlid", 0xFFFF)),
                         U16ListArg(env, r.Get("udpPorts"), at + ".udpPorts")});
  }
  Guard(env, "setRoutes", [&] { Open(env, "setRoutes").SetRoutes(std::move(unicast), std::move(multicast)); });
  return env.Undefined();
}

// createUdQp(qkey, pkeyIndex, qpn: 0 = allocate) -> qpn
Napi::Value EndpointHandle::CreateUdQp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint32_t qkey = UintArg(env, info[0], "qkey", 0xFFFFFFFF);
  const uint16_t index = static_cast<uint16_t>(UintArg(env, info[1], "pkeyIndex", 0xFFFF));
  const uint32_t qpn = UintArg(env, info[2], "qpn", 0xFFFFFF);
  return Napi::Number::New(env, Guard(env, "createUdQp", [&] { return Open(env, "createUdQp").CreateUdQp(qkey, index, qpn); }));
}

// modifyUdQp(qpn, qkey | undefined, pkeyIndex | undefined)
Napi::Value EndpointHandle::ModifyUdQp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint32_t qpn = UintArg(env, info[0], "qpn", 0xFFFFFF);
  std::optional<uint32_t> qkey;
  std::optional<uint16_t> index;
  if (!info[1].IsUndefined()) qkey = UintArg(env, info[1], "qkey", 0xFFFFFFFF);
  if (!info[2].IsUndefined()) index = static_cast<uint16_t>(UintArg(env, info[2], "pkeyIndex", 0xFFFF));
  Guard(env, "modifyUdQp", [&] { Open(env, "modifyUdQp").ModifyUdQp(qpn, qkey, index); });
  return env.Undefined();
}

Napi::Value EndpointHandle::DestroyQp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint32_t qpn = UintArg(env, info[0], "qpn", 0xFFFFFF);
  Guard(env, "destroyQp", [&] { Open(env, "destroyQp").DestroyQp(qpn); });
  return env.Undefined();
}

Napi::Value EndpointHandle::Qps(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto qps = Open(env, "qps").Qps();
  Napi::Array out = Napi::Array::New(env, qps.size());
  for (uint32_t i = 0; i < qps.size(); i++) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("qpn", qps[i].qpn);
    o.Set("qkey", qps[i].qkey);
    o.Set("pkeyIndex", qps[i].pkeyIndex);
    out.Set(i, o);
  }
  return out;
}

Napi::Value EndpointHandle::AttachMulticast(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint32_t qpn = UintArg(env, info[0], "qpn", 0xFFFFFF);
  const Gid mgid = GidArg(env, info[1], "mgid");
  const uint16_t mlid = static_cast<uint16_t>(UintArg(env, info[2], "mlid", 0xFFFF));
  Guard(env, "attachMulticast", [&] { Open(env, "attachMulticast").AttachMulticast(qpn, mgid, mlid); });
  return env.Undefined();
}

Napi::Value EndpointHandle::DetachMulticast(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint32_t qpn = UintArg(env, info[0], "qpn", 0xFFFFFF);
  const Gid mgid = GidArg(env, info[1], "mgid");
  const uint16_t mlid = static_cast<uint16_t>(UintArg(env, info[2], "mlid", 0xFFFF));
  Guard(env, "detachMulticast", [&] { Open(env, "detachMulticast").DetachMulticast(qpn, mgid, mlid); });
  return env.Undefined();
}

// postSendUd(qpn, descriptors: Uint32Array (kSendWords per send), payloads: Uint8Array[])
Napi::Value EndpointHandle::PostSendUd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint32_t qpn = UintArg(env, info[0], "qpn", 0xFFFFFF);
  if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array) {
    TypeFail(env, "descriptors must be a Uint32Array");
  }
  if (!info[2].IsArray()) TypeFail(env, "payloads must be an array");
  Napi::Uint32Array desc = info[1].As<Napi::Uint32Array>();
  Napi::Array payloads = info[2].As<Napi::Array>();
  const size_t count = payloads.Length();
  if (desc.ElementLength() != count * kSendWords) TypeFail(env, "descriptors must hold 16 words per payload");
  std::vector<UdSendWr> wrs(count);
  const uint32_t* w = desc.Data();
  const uint8_t* octets = reinterpret_cast<const uint8_t*>(w);
  for (size_t i = 0; i < count; i++, w += kSendWords, octets += kSendWords * 4) {
    Napi::Value p = payloads.Get(static_cast<uint32_t>(i));
    if (!p.IsTypedArray() || p.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
      TypeFail(env, "payloads[" + std::to_string(i) + "] must be a Buffer");
    }
    UdSendWr& wr = wrs[i];
    wr.dlid = static_cast<uint16_t>(w[kSendDlid]);
    wr.dqpn = w[kSendDqpn];
    wr.qkey = w[kSendQkey];
    wr.sl = static_cast<uint8_t>(w[kSendSl]);
    if (w[kSendPkeyIndex] != 0xFFFFFFFF) wr.pkeyIndex = static_cast<uint16_t>(w[kSendPkeyIndex]);
    const uint32_t flags = w[kSendFlags];
    wr.hasGrh = (flags & 1) != 0;
    wr.solicited = (flags & 2) != 0;
    if ((flags & 4) != 0) wr.immData = w[kSendImmData];
    wr.hopLimit = static_cast<uint8_t>(w[kSendHopLimit]);
    wr.tclass = static_cast<uint8_t>(w[kSendTclass]);
    wr.flowLabel = w[kSendFlowLabel];
    std::memcpy(wr.dgid.data(), octets + kSendDgidOctet, 16);
    Napi::Uint8Array bytes = p.As<Napi::Uint8Array>();
    wr.payload = bytes.Data();
    wr.payloadLen = bytes.ByteLength();
  }
  Guard(env, "postSendUd", [&] { Open(env, "postSendUd").PostSendUd(qpn, wrs.data(), wrs.size()); });
  return env.Undefined();
}

Napi::Value EndpointHandle::Counters(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!ep_) TypeFail(env, "no endpoint");
  const CounterSnapshot s = ep_->Counters();  // readable after close: the last values stay
  Napi::Object o = Napi::Object::New(env);
#define IPOIB_COUNTER_SET(name, meaning) o.Set(#name, Napi::Number::New(env, static_cast<double>(s.name)));
  IPOIB_ENDPOINT_COUNTERS(IPOIB_COUNTER_SET)
#undef IPOIB_COUNTER_SET
  return o;
}

Napi::Value EndpointHandle::ResetCounters(const Napi::CallbackInfo& info) {
  Open(info.Env(), "resetCounters").ResetCounters();
  return info.Env().Undefined();
}

// setFaults(lossRate | undefined, delayMs | undefined, seed | undefined)
Napi::Value EndpointHandle::SetFaults(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::optional<double> loss;
  std::optional<uint32_t> delay;
  std::optional<uint64_t> seed;
  if (!info[0].IsUndefined()) loss = NumberArg(env, info[0], "lossRate", 0, 1);
  if (!info[1].IsUndefined()) delay = UintArg(env, info[1], "delayMs", 0xFFFFFFFF);
  if (!info[2].IsUndefined()) seed = UintArg(env, info[2], "seed", 0xFFFFFFFF);
  Guard(env, "setFaults", [&] { Open(env, "setFaults").SetFaults(loss, delay, seed); });
  return env.Undefined();
}

// setTap(udpPort: 0 = off, direction: 0 both | 1 send | 2 receive)
Napi::Value EndpointHandle::SetTap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint16_t port = static_cast<uint16_t>(UintArg(env, info[0], "udpPort", 0xFFFF));
  const uint32_t direction = UintArg(env, info[1], "direction", 2);
  Guard(env, "setTap", [&] { Open(env, "setTap").SetTap(port, static_cast<TapDirection>(direction)); });
  return env.Undefined();
}

Napi::Value EndpointHandle::SetDeliverRaw(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsBoolean()) TypeFail(env, "raw must be a boolean");
  Open(env, "setDeliverRaw");
  std::lock_guard<std::mutex> lock(delivery_->mu);
  delivery_->wantRaw = info[0].As<Napi::Boolean>().Value();
  return env.Undefined();
}

Napi::Value EndpointHandle::Ref(const Napi::CallbackInfo& info) {
  if (!released_) delivery_->tsfn.Ref(info.Env());
  return info.Env().Undefined();
}

Napi::Value EndpointHandle::Unref(const Napi::CallbackInfo& info) {
  if (!released_) delivery_->tsfn.Unref(info.Env());
  return info.Env().Undefined();
}

// close() -> Promise<void>, settled once the receive thread has stopped, the socket is closed
// and the TSFN is gone (its last queued delivery has run).
Napi::Value EndpointHandle::Close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Promise::Deferred deferred = Napi::Promise::Deferred::New(env);
  if (released_) {
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

Napi::Value OpenSimEndpoint(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* state = static_cast<EnvState*>(info.Data());
  return state->constructor.New({info[0], info[1], Napi::External<EnvState>::New(env, state)});
}

void InitSimEndpoint(Napi::Env env, Napi::Object exports) {
  auto* state = new EnvState();  // lives as long as the process: see EnvState
  state->constructor = Napi::Persistent(EndpointHandle::DefineClass(env));
  env.AddCleanupHook([state] {
    state->tornDown = true;
    for (EndpointHandle* h : state->live) h->Shutdown();
    state->live.clear();
  });
  exports.Set("openSimEndpoint", Napi::Function::New(env, OpenSimEndpoint, "openSimEndpoint", state));
  Napi::Array names = Napi::Array::New(env);
  uint32_t n = 0;
#define IPOIB_COUNTER_NAME(name, meaning) names.Set(n++, Napi::String::New(env, #name));
  IPOIB_ENDPOINT_COUNTERS(IPOIB_COUNTER_NAME)
#undef IPOIB_COUNTER_NAME
  exports.Set("simEndpointCounterNames", names);
  Napi::Object layout = Napi::Object::New(env);
  layout.Set("completionWords", static_cast<uint32_t>(kCompletionWords));
  layout.Set("sendWords", static_cast<uint32_t>(kSendWords));
  layout.Set("sendDgidOctet", kSendDgidOctet);
  exports.Set("simEndpointLayout", layout);
}

const ipoib::RegisterExports kRegister("simEndpoint", &InitSimEndpoint);

}  // namespace

std::shared_ptr<Endpoint> EndpointOfHandle(const Napi::Value& handle) {
  Napi::Env env = handle.Env();
  if (!handle.IsObject() || !handle.As<Napi::Object>().CheckTypeTag(&kHandleTag)) {
    TypeFail(env, "expected a handle returned by openSimEndpoint()");
  }
  EndpointHandle* h = EndpointHandle::Unwrap(handle.As<Napi::Object>());
  std::shared_ptr<Endpoint> ep = h->endpoint();
  if (!ep || ep->Closed()) throw Napi::Error::New(env, "the endpoint is closed");
  return ep;
}

}  // namespace ipoib::sim
