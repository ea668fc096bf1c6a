// The JS face of the TUN data plane (data_plane.h, rc_path.h): `openTunDataPlane(options,
// deliver)` returns a handle whose methods are thin calls into the C++ data plane. TypeScript validates every
// argument first (src/ipoib/native/tun-data-plane.ts); the checks here only keep a direct call
// with bad arguments from being undefined behaviour. Punts reach JS through js_punt_queue.h.
#include <napi.h>

#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <system_error>

#include "../errno_error.h"
#include "../export_registry.h"
#include "../sim/endpoint_binding.h"
#include "data_plane.h"
#include "host_port.h"
#include "js_args.h"
#include "js_punt_queue.h"
#include "os_error.h"
#include "rc_path.h"

namespace ipoib::tun {

namespace {

// Runs `f`, turning data-plane, endpoint and system failures into JS Errors with .op and .code
// (and .errno for system calls), the shape callNative() in src/native/addon.ts converts.
template <typename F>
auto Guard(Napi::Env env, const char* op, F&& f) -> decltype(f()) {
  auto coded = [&](const std::string& message, const char* code) {
    Napi::Error err = Napi::Error::New(env, std::string(op) + ": " + message);
    err.Set("op", Napi::String::New(env, op));
    err.Set("code", Napi::String::New(env, code));
    return err;
  };
  try {
    return f();
  } catch (const OsError& e) {
    throw ErrnoError(env, e.op().c_str(), e.err());
  } catch (const sim::EndpointError& e) {
    throw coded(e.what(), e.CodeName());
  } catch (const std::length_error& e) {
    throw coded(e.what(), "ENOSPC");
  } catch (const std::system_error& e) {
    throw ErrnoError(env, op, e.code().value());
  }
}

IpKey IpArg(const Napi::Value& v, const std::string& name) {
  Napi::Uint8Array b = BytesArg(v, name);
  if (b.ByteLength() == 4) return Ipv4Key(b.Data());
  if (b.ByteLength() == 16) return Ipv6Key(b.Data());
  throw Napi::TypeError::New(v.Env(), name + " must be a 4- or 16-octet Buffer");
}

GrhFields GrhArg(const Napi::Object& o, const std::string& of) {
  GrhFields g;
  g.dgid = GidArg(o.Get("dgid"), of + ".dgid");
  g.hopLimit = static_cast<uint8_t>(UintKey(o, "hopLimit", of, 0xFF));
  g.tclass = static_cast<uint8_t>(UintKey(o, "tclass", of, 0xFF));
  g.flowLabel = UintKey(o, "flowLabel", of, 0xFFFFF);
  return g;
}

// `grh`: null, or {dgid, hopLimit, tclass, flowLabel}.
bool OptionalGrh(const Napi::Object& o, const std::string& of, GrhFields* out) {
  if (!o.Has("grh")) throw Napi::TypeError::New(o.Env(), of + ".grh is required (null for none)");
  Napi::Value v = o.Get("grh");
  if (v.IsNull()) return false;
  *out = GrhArg(ObjectArg(v, of + ".grh"), of + ".grh");
  return true;
}

struct EnvState;

class TunDataPlaneHandle : public Napi::ObjectWrap<TunDataPlaneHandle> {
 public:
  static Napi::Function DefineClass(Napi::Env env);
  explicit TunDataPlaneHandle(const Napi::CallbackInfo& info);
  ~TunDataPlaneHandle() override;
  // Stops the data plane and releases the punt channel; `closed` settles once both are gone.
  void Shutdown(std::optional<Napi::Promise::Deferred> closed);

 private:
  DataPlane& Open(Napi::Env env, const char* op);
  LoopbackPort& Loopback(Napi::Env env, const char* op);
  Napi::Value Ifname(const Napi::CallbackInfo& info);
  Napi::Value SetNeighbour(const Napi::CallbackInfo& info);
  Napi::Value DeleteNeighbour(const Napi::CallbackInfo& info);
  Napi::Value SetMulticast(const Napi::CallbackInfo& info);
  Napi::Value DeleteMulticast(const Napi::CallbackInfo& info);
  Napi::Value TableSizes(const Napi::CallbackInfo& info);
  Napi::Value TakeUsed(const Napi::CallbackInfo& info);
  Napi::Value InjectToHost(const Napi::CallbackInfo& info);
  Napi::Value SendUd(const Napi::CallbackInfo& info);
  Napi::Value Counters(const Napi::CallbackInfo& info);
  Napi::Value SetQkey(const Napi::CallbackInfo& info);
  Napi::Value SetMtu(const Napi::CallbackInfo& info);
  Napi::Value SetLocalLid(const Napi::CallbackInfo& info);
  Napi::Value SetCarrier(const Napi::CallbackInfo& info);
  Napi::Value SetDeliverOwnMulticast(const Napi::CallbackInfo& info);
  Napi::Value SetUdMtu(const Napi::CallbackInfo& info);
  Napi::Value AttachRc(const Napi::CallbackInfo& info);
  Napi::Value DetachRc(const Napi::CallbackInfo& info);
  Napi::Value RcAttached(const Napi::CallbackInfo& info);
  Napi::Value SendRc(const Napi::CallbackInfo& info);
  Napi::Value InjectRcFrame(const Napi::CallbackInfo& info);
  Napi::Value Ref(const Napi::CallbackInfo& info);
  Napi::Value Unref(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value LoopbackWrite(const Napi::CallbackInfo& info);
  Napi::Value LoopbackRead(const Napi::CallbackInfo& info);
  Napi::Value LoopbackState(const Napi::CallbackInfo& info);

  std::shared_ptr<DataPlane> dp_;
  std::shared_ptr<JsPuntQueue> punts_;
  LoopbackPort* loopback_ = nullptr;  // the data plane's host port, when it is a loopback
  std::string ifname_;
  CounterSnapshot last_;  // counters as they were at close
  EnvState* envState_ = nullptr;
  bool released_ = false;
};

// Every handle of one Node environment, shut down by the environment's cleanup hook (worker or
// process exit) so no data-plane thread outlives the TSFN it calls. Never freed: handles
// garbage-collected after teardown still read `tornDown`.
struct EnvState {
  Napi::FunctionReference constructor;
  std::set<TunDataPlaneHandle*> live;
  bool tornDown = false;
};

Napi::Function TunDataPlaneHandle::DefineClass(Napi::Env env) {
  return ObjectWrap<TunDataPlaneHandle>::DefineClass(
      env, "TunDataPlaneHandle",
      {
          InstanceAccessor<&TunDataPlaneHandle::Ifname>("ifname"),
          InstanceMethod<&TunDataPlaneHandle::SetNeighbour>("setNeighbour"),
          InstanceMethod<&TunDataPlaneHandle::DeleteNeighbour>("deleteNeighbour"),
          InstanceMethod<&TunDataPlaneHandle::SetMulticast>("setMulticast"),
          InstanceMethod<&TunDataPlaneHandle::DeleteMulticast>("deleteMulticast"),
          InstanceMethod<&TunDataPlaneHandle::TableSizes>("tableSizes"),
          InstanceMethod<&TunDataPlaneHandle::TakeUsed>("takeUsed"),
          InstanceMethod<&TunDataPlaneHandle::InjectToHost>("injectToHost"),
          InstanceMethod<&TunDataPlaneHandle::SendUd>("sendUd"),
          InstanceMethod<&TunDataPlaneHandle::Counters>("counters"),
          InstanceMethod<&TunDataPlaneHandle::SetQkey>("setQkey"),
          InstanceMethod<&TunDataPlaneHandle::SetMtu>("setMtu"),
          InstanceMethod<&TunDataPlaneHandle::SetLocalLid>("setLocalLid"),
          InstanceMethod<&TunDataPlaneHandle::SetCarrier>("setCarrier"),
          InstanceMethod<&TunDataPlaneHandle::SetDeliverOwnMulticast>("setDeliverOwnMulticast"),
          InstanceMethod<&TunDataPlaneHandle::SetUdMtu>("setUdMtu"),
          InstanceMethod<&TunDataPlaneHandle::AttachRc>("attachRc"),
          InstanceMethod<&TunDataPlaneHandle::DetachRc>("detachRc"),
          InstanceMethod<&TunDataPlaneHandle::RcAttached>("rcAttached"),
          InstanceMethod<&TunDataPlaneHandle::SendRc>("sendRc"),
          InstanceMethod<&TunDataPlaneHandle::InjectRcFrame>("injectRcFrame"),
          InstanceMethod<&TunDataPlaneHandle::Ref>("ref"),
          InstanceMethod<&TunDataPlaneHandle::Unref>("unref"),
          InstanceMethod<&TunDataPlaneHandle::Close>("close"),
          InstanceMethod<&TunDataPlaneHandle::LoopbackWrite>("loopbackWrite"),
          InstanceMethod<&TunDataPlaneHandle::LoopbackRead>("loopbackRead"),
          InstanceMethod<&TunDataPlaneHandle::LoopbackState>("loopbackState"),
      });
}

// new TunDataPlaneHandle(options, deliver, envState): only openTunDataPlane calls it.
TunDataPlaneHandle::TunDataPlaneHandle(const Napi::CallbackInfo& info) : ObjectWrap<TunDataPlaneHandle>(info) {
  Napi::Env env = info.Env();
  if (info.Length() != 3 || !info[2].IsExternal()) {
    throw Napi::TypeError::New(env, "TunDataPlaneHandle is created by openTunDataPlane()");
  }
  envState_ = info[2].As<Napi::External<EnvState>>().Data();
  const std::string of = "options";
  Napi::Object o = ObjectArg(info[0], of);
  if (!info[1].IsFunction()) throw Napi::TypeError::New(env, "deliver must be a function");

  const std::string host = StringKey(o, "host", of);
  if (host != "tun" && host != "loopback") throw Napi::TypeError::New(env, "options.host must be \"tun\" or \"loopback\"");
  TunOptions tun;
  tun.ifname = StringKey(o, "ifname", of);
  tun.netns = StringKey(o, "netns", of);
  tun.up = BoolKey(o, "up", of);
  DataPlaneConfig c;
  c.qpn = UintKey(o, "qpn", of, 0xFFFFFE);
  c.qkey = UintKey(o, "qkey", of, 0xFFFFFFFF);
  c.pkeyIndex = static_cast<uint16_t>(UintKey(o, "pkeyIndex", of, 0xFFFF));
  c.mtu = UintKey(o, "mtu", of, 0xFFFF);
  c.udMtu = UintKey(o, "udMtu", of, 0xFFFF);
  c.localLid = static_cast<uint16_t>(UintKey(o, "localLid", of, 0xFFFF));
  c.localGid = GidArg(o.Get("localGid"), "options.localGid");
  if (!o.Has("broadcastMgid")) throw Napi::TypeError::New(env, "options.broadcastMgid is required (null for none)");
  if (!o.Get("broadcastMgid").IsNull()) {
    c.hasBroadcastMgid = true;
    c.broadcastMgid = GidArg(o.Get("broadcastMgid"), "options.broadcastMgid");
  }
  c.deliverOwnMulticast = BoolKey(o, "deliverOwnMulticast", of);
  c.txHeaderReserved = static_cast<uint16_t>(UintKey(o, "txHeaderReserved", of, 0xFFFF));
  if (!o.Has("endpoint")) throw Napi::TypeError::New(env, "options.endpoint is required");
  std::shared_ptr<sim::Endpoint> endpoint = sim::EndpointOfHandle(o.Get("endpoint"));
  tun.mtu = c.mtu;

  std::unique_ptr<HostPort> port;
  if (host == "tun") {
    port = Guard(env, "openTunDataPlane", [&] { return std::unique_ptr<HostPort>(TunDevice::Open(tun)); });
  } else {
    auto lo = Guard(env, "openTunDataPlane", [&] { return LoopbackPort::Open(); });
    lo->SetMtu(c.mtu);
    loopback_ = lo.get();
    port = std::move(lo);
  }
  ifname_ = port->Name();
  punts_ = JsPuntQueue::Create(env, info[1].As<Napi::Function>());
  try {
    dp_ = Guard(env, "openTunDataPlane", [&] { return DataPlane::Start(c, endpoint, std::move(port), punts_); });
  } catch (...) {
    punts_->Shutdown(env, std::nullopt);
    released_ = true;
    throw;
  }
  envState_->live.insert(this);
}

TunDataPlaneHandle::~TunDataPlaneHandle() {
  if (envState_ != nullptr && !envState_->tornDown) envState_->live.erase(this);
  Shutdown(std::nullopt);
}

void TunDataPlaneHandle::Shutdown(std::optional<Napi::Promise::Deferred> closed) {
  if (dp_) {
    dp_->Close();  // joins the threads and removes the QP handler: no new punts after this
    last_ = dp_->Counters();
  }
  loopback_ = nullptr;
  if (!released_ && punts_) {
    released_ = true;
    punts_->Shutdown(Env(), closed);
  } else if (closed) {
    closed->Resolve(Env().Undefined());
  }
}

DataPlane& TunDataPlaneHandle::Open(Napi::Env env, const char* op) {
  if (released_ || !dp_ || dp_->Closed()) {
    Napi::Error err = Napi::Error::New(env, std::string(op) + ": the data plane is closed");
    err.Set("op", Napi::String::New(env, op));
    err.Set("code", Napi::String::New(env, "EBADF"));
    throw err;
  }
  return *dp_;
}

LoopbackPort& TunDataPlaneHandle::Loopback(Napi::Env env, const char* op) {
  Open(env, op);
  if (loopback_ == nullptr) throw Napi::TypeError::New(env, std::string(op) + " needs a data plane opened with host \"loopback\"");
  return *loopback_;
}

Napi::Value TunDataPlaneHandle::Ifname(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), ifname_); }

// setNeighbour(ip: 4|16 octets, {dlid, dqpn, flags, sl, grh: null | {dgid, hopLimit, tclass, flowLabel},
//              rc: null | {qpn, mtu}, connecting})
Napi::Value TunDataPlaneHandle::SetNeighbour(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const IpKey ip = IpArg(info[0], "ip");
  const std::string of = "entry";
  Napi::Object o = ObjectArg(info[1], of);
  Neighbour n;
  n.dlid = static_cast<uint16_t>(UintKey(o, "dlid", of, 0xFFFF));
  n.dqpn = UintKey(o, "dqpn", of, 0xFFFFFF);
  n.flags = static_cast<uint8_t>(UintKey(o, "flags", of, 0xFF));
  n.sl = static_cast<uint8_t>(UintKey(o, "sl", of, 15));
  n.hasGrh = OptionalGrh(o, of, &n.grh);
  if (!o.Has("rc")) throw Napi::TypeError::New(env, "entry.rc is required (null for none)");
  if (!o.Get("rc").IsNull()) {
    Napi::Object rc = ObjectArg(o.Get("rc"), "entry.rc");
    n.rcQpn = UintKey(rc, "qpn", "entry.rc", 0xFFFFFE);
    n.rcMtu = UintKey(rc, "mtu", "entry.rc", 0xFFFFFFFF);
    if (n.rcQpn == 0) throw Napi::RangeError::New(env, "entry.rc.qpn must not be 0");
  }
  n.connecting = BoolKey(o, "connecting", of);
  Guard(env, "setNeighbour", [&] { Open(env, "setNeighbour").Table().SetNeighbour(ip, n); });
  return env.Undefined();
}

Napi::Value TunDataPlaneHandle::DeleteNeighbour(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const IpKey ip = IpArg(info[0], "ip");
  return Napi::Boolean::New(env, Open(env, "deleteNeighbour").Table().DeleteNeighbour(ip));
}

// setMulticast(ip: 4|16 octets, {mlid, sl, grh: {dgid = MGID, hopLimit, tclass, flowLabel}})
Napi::Value TunDataPlaneHandle::SetMulticast(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const IpKey ip = IpArg(info[0], "ip");
  const std::string of = "entry";
  Napi::Object o = ObjectArg(info[1], of);
  Group g;
  g.mlid = static_cast<uint16_t>(UintKey(o, "mlid", of, 0xFFFF));
  g.sl = static_cast<uint8_t>(UintKey(o, "sl", of, 15));
  if (!OptionalGrh(o, of, &g.grh)) throw Napi::TypeError::New(env, "entry.grh is required for a group");
  Guard(env, "setMulticast", [&] { Open(env, "setMulticast").Table().SetGroup(ip, g); });
  return env.Undefined();
}

Napi::Value TunDataPlaneHandle::DeleteMulticast(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const IpKey ip = IpArg(info[0], "ip");
  return Napi::Boolean::New(env, Open(env, "deleteMulticast").Table().DeleteGroup(ip));
}

Napi::Value TunDataPlaneHandle::TableSizes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  NeighbourTable& t = Open(env, "tableSizes").Table();
  Napi::Object o = Napi::Object::New(env);
  o.Set("neighbours", Napi::Number::New(env, static_cast<double>(t.NeighbourCount())));
  o.Set("groups", Napi::Number::New(env, static_cast<double>(t.GroupCount())));
  return o;
}

// takeUsed() -> {neighbours: Buffer[], groups: Buffer[]}: the keys (4 or 16 octets) of the
// entries the TX path looked up since the last call.
Napi::Value TunDataPlaneHandle::TakeUsed(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const NeighbourTable::Used used = Open(env, "takeUsed").Table().TakeUsed();
  const auto keys = [&](const std::vector<IpKey>& ips) {
    Napi::Array out = Napi::Array::New(env, ips.size());
    for (uint32_t i = 0; i < ips.size(); i++) {
      out.Set(i, Napi::Buffer<uint8_t>::Copy(env, ips[i].addr.data(), ips[i].family == 4 ? 4 : 16));
    }
    return out;
  };
  Napi::Object o = Napi::Object::New(env);
  o.Set("neighbours", keys(used.neighbours));
  o.Set("groups", keys(used.groups));
  return o;
}

Napi::Value TunDataPlaneHandle::InjectToHost(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Uint8Array p = BytesArg(info[0], "packet");
  Guard(env, "injectToHost", [&] { Open(env, "injectToHost").InjectToHost(p.Data(), p.ByteLength()); });
  return env.Undefined();
}

// sendUd({dlid, dqpn, qkey, sl, grh: null | {...}}, payload: the IPoIB frame, header included)
Napi::Value TunDataPlaneHandle::SendUd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string of = "dest";
  Napi::Object o = ObjectArg(info[0], of);
  sim::UdSendWr wr;
  wr.dlid = static_cast<uint16_t>(UintKey(o, "dlid", of, 0xFFFF));
  wr.dqpn = UintKey(o, "dqpn", of, 0xFFFFFF);
  wr.qkey = UintKey(o, "qkey", of, 0xFFFFFFFF);
  wr.sl = static_cast<uint8_t>(UintKey(o, "sl", of, 15));
  GrhFields g;
  if (OptionalGrh(o, of, &g)) {
    wr.hasGrh = true;
    wr.dgid = g.dgid;
    wr.hopLimit = g.hopLimit;
    wr.tclass = g.tclass;
    wr.flowLabel = g.flowLabel;
  }
  Napi::Uint8Array payload = BytesArg(info[1], "payload");
  wr.payload = payload.Data();
  wr.payloadLen = payload.ByteLength();
  Guard(env, "sendUd", [&] {
    DataPlane& dp = Open(env, "sendUd");
    wr.pkeyIndex = std::nullopt;  // the QP's own, which is the interface's
    dp.SendUd(wr);
  });
  return env.Undefined();
}

Napi::Value TunDataPlaneHandle::Counters(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const CounterSnapshot s = dp_ && !dp_->Closed() ? dp_->Counters() : last_;  // readable after close
  Napi::Object o = Napi::Object::New(env);
#define IPOIB_TUN_COUNTER_SET(name, meaning) o.Set(#name, Napi::Number::New(env, static_cast<double>(s.name)));
  IPOIB_TUN_COUNTERS(IPOIB_TUN_COUNTER_SET)
#undef IPOIB_TUN_COUNTER_SET
  return o;
}

Napi::Value TunDataPlaneHandle::SetQkey(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint32_t qkey = UintArg(info[0], "qkey", 0xFFFFFFFF);
  Open(env, "setQkey").SetQkey(qkey);
  return env.Undefined();
}

Napi::Value TunDataPlaneHandle::SetMtu(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint32_t mtu = UintArg(info[0], "mtu", 0xFFFF);
  Guard(env, "setMtu", [&] { Open(env, "setMtu").SetMtu(mtu); });
  return env.Undefined();
}

Napi::Value TunDataPlaneHandle::SetLocalLid(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint16_t lid = static_cast<uint16_t>(UintArg(info[0], "lid", 0xFFFF));
  Open(env, "setLocalLid").SetLocalLid(lid);
  return env.Undefined();
}

Napi::Value TunDataPlaneHandle::SetCarrier(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const bool on = BoolArg(info[0], "on");
  Guard(env, "setCarrier", [&] { Open(env, "setCarrier").Host().SetCarrier(on); });
  return env.Undefined();
}

Napi::Value TunDataPlaneHandle::SetDeliverOwnMulticast(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const bool on = BoolArg(info[0], "on");
  Open(env, "setDeliverOwnMulticast").SetDeliverOwnMulticast(on);
  return env.Undefined();
}

Napi::Value TunDataPlaneHandle::SetUdMtu(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint32_t mtu = UintArg(info[0], "mtu", 0xFFFF);
  Open(env, "setUdMtu").SetUdMtu(mtu);
  return env.Undefined();
}

// attachRc(qpn, recvDepth)
Napi::Value TunDataPlaneHandle::AttachRc(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint32_t qpn = UintArg(info[0], "qpn", 0xFFFFFE);
  const uint32_t depth = UintArg(info[1], "recvDepth", 0xFFFF);
  Guard(env, "attachRc", [&] { Open(env, "attachRc").AttachRc(qpn, depth); });
  return env.Undefined();
}

// detachRc(qpn) -> false when it was not attached
Napi::Value TunDataPlaneHandle::DetachRc(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint32_t qpn = UintArg(info[0], "qpn", 0xFFFFFE);
  return Napi::Boolean::New(env, Open(env, "detachRc").DetachRc(qpn));
}

// rcAttached() -> number[]: the attached RC QPNs
Napi::Value TunDataPlaneHandle::RcAttached(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::vector<uint32_t> qpns = Open(env, "rcAttached").AttachedRcQpns();
  Napi::Array out = Napi::Array::New(env, qpns.size());
  for (uint32_t i = 0; i < qpns.size(); i++) out.Set(i, Napi::Number::New(env, qpns[i]));
  return out;
}

// sendRc(qpn, frame: the IPoIB frame, header included) -> false when the send queue is full
Napi::Value TunDataPlaneHandle::SendRc(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint32_t qpn = UintArg(info[0], "qpn", 0xFFFFFE);
  Napi::Uint8Array frame = BytesArg(info[1], "frame");
  const bool queued = Guard(env, "sendRc", [&] { return Open(env, "sendRc").SendRc(qpn, frame.Data(), frame.ByteLength()); });
  return Napi::Boolean::New(env, queued);
}

// injectRcFrame(qpn, frame)
Napi::Value TunDataPlaneHandle::InjectRcFrame(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint32_t qpn = UintArg(info[0], "qpn", 0xFFFFFE);
  Napi::Uint8Array frame = BytesArg(info[1], "frame");
  Guard(env, "injectRcFrame", [&] { Open(env, "injectRcFrame").InjectRcFrame(qpn, frame.Data(), frame.ByteLength()); });
  return env.Undefined();
}

Napi::Value TunDataPlaneHandle::Ref(const Napi::CallbackInfo& info) {
  if (!released_ && punts_) punts_->Ref(info.Env());
  return info.Env().Undefined();
}

Napi::Value TunDataPlaneHandle::Unref(const Napi::CallbackInfo& info) {
  if (!released_ && punts_) punts_->Unref(info.Env());
  return info.Env().Undefined();
}

// close() -> Promise<void>: settles once the threads have stopped, the host port is closed
// (a TUN device is gone) and the punt channel has delivered its last batch.
Napi::Value TunDataPlaneHandle::Close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Promise::Deferred deferred = Napi::Promise::Deferred::New(env);
  Shutdown(deferred);
  return deferred.Promise();
}

// TEST ONLY: loopbackWrite(packet) - as if the host sent `packet` out of the interface.
Napi::Value TunDataPlaneHandle::LoopbackWrite(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Uint8Array p = BytesArg(info[0], "packet");
  Guard(env, "loopbackWrite", [&] { Loopback(env, "loopbackWrite").PeerWrite(p.Data(), p.ByteLength()); });
  return env.Undefined();
}

// TEST ONLY: loopbackRead() -> Buffer[] - every packet written to the host since the last call.
Napi::Value TunDataPlaneHandle::LoopbackRead(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto packets = Loopback(env, "loopbackRead").PeerReadAll();
  Napi::Array out = Napi::Array::New(env, packets.size());
  for (uint32_t i = 0; i < packets.size(); i++) out.Set(i, Napi::Buffer<uint8_t>::Copy(env, packets[i].data(), packets[i].size()));
  return out;
}

// TEST ONLY: loopbackState() -> {mtu, carrier} - what the data plane set on its host port.
Napi::Value TunDataPlaneHandle::LoopbackState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LoopbackPort& lo = Loopback(env, "loopbackState");
  Napi::Object o = Napi::Object::New(env);
  o.Set("mtu", Napi::Number::New(env, lo.Mtu()));
  o.Set("carrier", Napi::Boolean::New(env, lo.Carrier()));
  return o;
}

Napi::Value OpenTunDataPlane(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* state = static_cast<EnvState*>(info.Data());
  return state->constructor.New({info[0], info[1], Napi::External<EnvState>::New(env, state)});
}

void InitTunDataPlane(Napi::Env env, Napi::Object exports) {
  auto* state = new EnvState();  // lives as long as the process: see EnvState
  state->constructor = Napi::Persistent(TunDataPlaneHandle::DefineClass(env));
  env.AddCleanupHook([state] {
    state->tornDown = true;
    for (TunDataPlaneHandle* h : state->live) h->Shutdown(std::nullopt);
    state->live.clear();
  });
  exports.Set("openTunDataPlane", Napi::Function::New(env, OpenTunDataPlane, "openTunDataPlane", state));

  Napi::Array counters = Napi::Array::New(env);
  uint32_t n = 0;
#define IPOIB_TUN_COUNTER_NAME(name, meaning) counters.Set(n++, Napi::String::New(env, #name));
  IPOIB_TUN_COUNTERS(IPOIB_TUN_COUNTER_NAME)
#undef IPOIB_TUN_COUNTER_NAME
  exports.Set("tunDataPlaneCounterNames", counters);

  Napi::Array reasons = Napi::Array::New(env);
  for (uint32_t i = 0; i < static_cast<uint32_t>(PuntReason::kCount); i++) {
    Napi::Object r = Napi::Object::New(env);
    r.Set("name", kPuntReasonNames[i]);
    r.Set("direction", kPuntReasonDirections[i]);
    reasons.Set(i, r);
  }
  exports.Set("tunPuntReasons", reasons);

  Napi::Object layout = Napi::Object::New(env);
  layout.Set("puntWords", static_cast<uint32_t>(kPuntWords));
  layout.Set("txBatch", static_cast<uint32_t>(DataPlane::kTxBatch));
  layout.Set("ethPIp", static_cast<uint32_t>(kEthPIp));
  layout.Set("ethPArp", static_cast<uint32_t>(kEthPArp));
  layout.Set("ethPIpv6", static_cast<uint32_t>(kEthPIpv6));
  layout.Set("ipoibHeaderLen", static_cast<uint32_t>(kIpoibHeaderLen));
  layout.Set("rcWrIdTag", Napi::Number::New(env, static_cast<double>(kRcWrIdTag)));
  Napi::Array statuses = Napi::Array::New(env);
  for (uint32_t i = 0; i <= static_cast<uint32_t>(sim::RcSendStatus::kFlushed); i++) {
    statuses.Set(i, sim::RcSendStatusName(static_cast<sim::RcSendStatus>(i)));
  }
  layout.Set("rcSendStatuses", statuses);
  exports.Set("tunDataPlaneLayout", layout);
}

const ipoib::RegisterExports kRegister("tunDataPlane", &InitTunDataPlane);

}  // namespace

}  // namespace ipoib::tun
