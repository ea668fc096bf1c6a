// listRdmaDevices(): the RDMA devices libibverbs sees. Implemented by verbs_devices.cc when the
// verbs parts are compiled in, else by no_verbs_devices.cc (always []); hasVerbs tells them apart.
#pragma once

#include <napi.h>

namespace ipoib {

// listRdmaDevices() -> Array<{ name, guid, nodeType, transport }>
//   guid      the node GUID as 16 lowercase hex digits, most significant first
//   nodeType  "ca" | "switch" | "router" | "rnic" | "usnic" | "usnic-udp" | "unspecified" | "unknown"
//   transport "ib" | "iwarp" | "usnic" | "usnic-udp" | "unspecified" | "unknown"
// A kernel without RDMA (ibv_get_device_list fails with ENOSYS) reads as no devices; any other
// failure throws an ErrnoError with op "ibv_get_device_list".
Napi::Value ListRdmaDevices(const Napi::CallbackInfo& info);

}  // namespace ipoib
