// Built only with libibverbs (IPOIB_WITH_VERBS resolved to ON).
#include <endian.h>
#include <infiniband/verbs.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <memory>
#include <string>

#include "args.h"
#include "errno_error.h"
#include "rdma_devices.h"

namespace ipoib {

namespace {

const char* NodeTypeName(ibv_node_type t) {
  switch (t) {
    case IBV_NODE_CA: return "ca";
    case IBV_NODE_SWITCH: return "switch";
    case IBV_NODE_ROUTER: return "router";
    case IBV_NODE_RNIC: return "rnic";
    case IBV_NODE_USNIC: return "usnic";
    case IBV_NODE_USNIC_UDP: return "usnic-udp";
    case IBV_NODE_UNSPECIFIED: return "unspecified";
    default: return "unknown";
  }
}

const char* TransportName(ibv_transport_type t) {
  switch (t) {
    case IBV_TRANSPORT_IB: return "ib";
    case IBV_TRANSPORT_IWARP: return "iwarp";
    case IBV_TRANSPORT_USNIC: return "usnic";
    case IBV_TRANSPORT_USNIC_UDP: return "usnic-udp";
    case IBV_TRANSPORT_UNSPECIFIED: return "unspecified";
    default: return "unknown";
  }
}

// ibv_get_device_guid returns the GUID in network byte order.
std::string GuidHex(__be64 guid) {
  char text[17];
  std::snprintf(text, sizeof text, "%016" PRIx64, static_cast<uint64_t>(be64toh(guid)));
  return text;
}

struct DeviceListDeleter {
  void operator()(ibv_device** list) const { ibv_free_device_list(list); }
};
using DeviceList = std::unique_ptr<ibv_device*, DeviceListDeleter>;

}  // namespace

Napi::Value ListRdmaDevices(const Napi::CallbackInfo& info) {
  RequireNoArguments(info, "listRdmaDevices");
  Napi::Env env = info.Env();

  int count = 0;
  errno = 0;
  ibv_device** raw = ibv_get_device_list(&count);
  const int err = errno;  // read before anything else can change it
  if (raw == nullptr) {
    // ENOSYS: the kernel has no RDMA support at all, which simply means no devices here.
    if (err == ENOSYS) return Napi::Array::New(env);
    throw ErrnoError(env, "ibv_get_device_list", err);
  }
  DeviceList list(raw);

  Napi::Array out = Napi::Array::New(env);
  uint32_t n = 0;
  for (int i = 0; i < count; ++i) {
    ibv_device* dev = list.get()[i];
    if (dev == nullptr) continue;
    const char* name = ibv_get_device_name(dev);
    Napi::Object d = Napi::Object::New(env);
    d.Set("name", name != nullptr ? name : "");
    d.Set("guid", GuidHex(ibv_get_device_guid(dev)));
    d.Set("nodeType", NodeTypeName(dev->node_type));
    d.Set("transport", TransportName(dev->transport_type));
    out.Set(n++, d);
  }
  return out;
}

}  // namespace ipoib
