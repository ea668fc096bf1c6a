// TEST ONLY: the offload engine (offload_segment.h, offload_coalesce.h) on JavaScript buffers,
// so mocha can check it against the TypeScript codecs and tshark. The data plane calls the C++
// directly. Use src/ipoib/native/offload.ts, which validates and types everything.
//   offloadSegment(vnetHdr, packet, mtu) -> Buffer[]
//   offloadComplete(vnetHdr, packet) -> Buffer (a copy, its checksum completed)
//   offloadCoalesce(packets, partialChecksum) -> { vnetHdr, packet, members }[]
//   offloadLayout: the vnet header's size and constants; offloadRefusals: refusal names by code
// A refusal throws an Error with .op and .code = the refusal's name (offload_vnet.h).
#include <napi.h>

#include <string>
#include <vector>

#include "../args.h"
#include "../export_registry.h"
#include "js_args.h"
#include "offload_coalesce.h"
#include "offload_segment.h"
#include "offload_vnet.h"

namespace ipoib::tun::offload {

namespace {

// More packets than any receive batch; keeps a direct call from asking for gigabytes.
constexpr uint32_t kMaxCoalesceBatch = 65536;
constexpr uint32_t kMaxMtu = 65535;

Napi::Error Refusal(Napi::Env env, const char* op, OffloadStatus s) {
  Napi::Error err = Napi::Error::New(env, std::string(op) + ": " + OffloadStatusText(s));
  err.Set("op", Napi::String::New(env, op));
  err.Set("code", Napi::String::New(env, OffloadStatusName(s)));
  return err;
}

VnetHdr VnetArg(const Napi::Value& v, const char* op) {
  Napi::Uint8Array b = BytesArg(v, std::string(op) + "(vnetHdr)");
  if (b.ByteLength() > kVnetHdrLen) {
    throw Napi::TypeError::New(v.Env(), std::string(op) + "(vnetHdr) must be " + std::to_string(kVnetHdrLen) + " octets");
  }
  VnetHdr h;
  if (!ReadVnetHdr(b.Data(), b.ByteLength(), &h)) throw Refusal(v.Env(), op, OffloadStatus::kVnetHeaderShort);
  return h;
}

Napi::Buffer<uint8_t> VnetBuffer(Napi::Env env, const VnetHdr& h) {
  Napi::Buffer<uint8_t> b = Napi::Buffer<uint8_t>::New(env, kVnetHdrLen);
  WriteVnetHdr(h, b.Data());
  return b;
}

Napi::Value OffloadSegment(const Napi::CallbackInfo& info) {
  const char* op = "offloadSegment";
  RequireArgumentCount(info, op, 3, 3);
  const VnetHdr h = VnetArg(info[0], op);
  Napi::Uint8Array packet = BytesArg(info[1], "offloadSegment(packet)");
  const uint32_t mtu = UintArg(info[2], "offloadSegment(mtu)", kMaxMtu);
  SegmentPlan plan;
  const OffloadStatus s = PlanSegments(h, packet.Data(), packet.ByteLength(), mtu, &plan);
  if (s != OffloadStatus::kOk) throw Refusal(info.Env(), op, s);
  Napi::Array out = Napi::Array::New(info.Env(), plan.count);
  for (uint32_t k = 0; k < plan.count; k++) {
    Napi::Buffer<uint8_t> seg = Napi::Buffer<uint8_t>::New(info.Env(), plan.SegmentLen(k));
    WriteSegment(plan, packet.Data(), k, seg.Data());
    out.Set(k, seg);
  }
  return out;
}

Napi::Value OffloadComplete(const Napi::CallbackInfo& info) {
  const char* op = "offloadComplete";
  RequireArgumentCount(info, op, 2, 2);
  const VnetHdr h = VnetArg(info[0], op);
  Napi::Uint8Array packet = BytesArg(info[1], "offloadComplete(packet)");
  Napi::Buffer<uint8_t> out = Napi::Buffer<uint8_t>::Copy(info.Env(), packet.Data(), packet.ByteLength());
  const OffloadStatus s = CompleteChecksum(h, out.Data(), out.Length());
  if (s != OffloadStatus::kOk) throw Refusal(info.Env(), op, s);
  return out;
}

Napi::Value OffloadCoalesce(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "offloadCoalesce";
  RequireArgumentCount(info, op, 2, 2);
  if (!info[0].IsArray()) throw Napi::TypeError::New(env, "offloadCoalesce(packets) must be an array of Buffers");
  Napi::Array packets = info[0].As<Napi::Array>();
  if (packets.Length() > kMaxCoalesceBatch) {
    throw Napi::RangeError::New(env, "offloadCoalesce(packets) takes at most " + std::to_string(kMaxCoalesceBatch) + " packets");
  }
  const bool partial = BoolArg(info[1], "offloadCoalesce(partialChecksum)");
  std::vector<Napi::Uint8Array> held;  // keeps every input alive (and its data in place) during the call
  std::vector<PacketView> views;
  held.reserve(packets.Length());
  views.reserve(packets.Length());
  for (uint32_t i = 0; i < packets.Length(); i++) {
    held.push_back(BytesArg(packets.Get(i), "offloadCoalesce(packets[" + std::to_string(i) + "])"));
    views.push_back({held.back().Data(), held.back().ByteLength()});
  }

  Coalescer c(partial ? CoalesceChecksum::kPartial : CoalesceChecksum::kComplete);
  c.Plan(views.data(), views.size());
  const std::vector<CoalescedItem>& items = c.items();
  Napi::Array out = Napi::Array::New(env, items.size());
  for (size_t k = 0; k < items.size(); k++) {
    const CoalescedItem& item = items[k];
    Napi::Object o = Napi::Object::New(env);
    o.Set("vnetHdr", VnetBuffer(env, item.vnet));
    Napi::Buffer<uint8_t> packet;
    if (item.count > 1) {
      packet = Napi::Buffer<uint8_t>::New(env, item.length);
      c.WriteMerged(views.data(), k, packet.Data());
    } else {
      packet = Napi::Buffer<uint8_t>::Copy(env, views[item.first].data, views[item.first].len);
    }
    o.Set("packet", packet);
    Napi::Array members = Napi::Array::New(env, item.count);
    uint32_t m = 0;
    for (uint32_t i = item.first; i != Coalescer::kNone && m < item.count; i = c.next(i)) members.Set(m++, Napi::Number::New(env, i));
    o.Set("members", members);
    out.Set(static_cast<uint32_t>(k), o);
  }
  return out;
}

void InitOffload(Napi::Env env, Napi::Object exports) {
  exports.Set("offloadSegment", Napi::Function::New(env, OffloadSegment, "offloadSegment"));
  exports.Set("offloadComplete", Napi::Function::New(env, OffloadComplete, "offloadComplete"));
  exports.Set("offloadCoalesce", Napi::Function::New(env, OffloadCoalesce, "offloadCoalesce"));

  Napi::Object layout = Napi::Object::New(env);
  layout.Set("vnetHdrLen", Napi::Number::New(env, static_cast<uint32_t>(kVnetHdrLen)));
  layout.Set("flagNeedsCsum", Napi::Number::New(env, kVnetFlagNeedsCsum));
  layout.Set("flagDataValid", Napi::Number::New(env, kVnetFlagDataValid));
  layout.Set("gsoNone", Napi::Number::New(env, kGsoNone));
  layout.Set("gsoTcpv4", Napi::Number::New(env, kGsoTcpv4));
  layout.Set("gsoUdp", Napi::Number::New(env, kGsoUdp));
  layout.Set("gsoTcpv6", Napi::Number::New(env, kGsoTcpv6));
  layout.Set("gsoEcn", Napi::Number::New(env, kGsoEcn));
  layout.Set("maxCoalescedLen", Napi::Number::New(env, kMaxCoalescedLen));
  exports.Set("offloadLayout", layout);

  // Names by code, code 0 ("ok") left out: index i is OffloadStatus i + 1.
  const uint32_t n = static_cast<uint32_t>(OffloadStatus::kCount) - 1;
  Napi::Array refusals = Napi::Array::New(env, n);
  for (uint32_t i = 0; i < n; i++) refusals.Set(i, OffloadStatusName(static_cast<OffloadStatus>(i + 1)));
  exports.Set("offloadRefusals", refusals);
}

const ipoib::RegisterExports kRegister("offload", &InitOffload);

}  // namespace

}  // namespace ipoib::tun::offload
