// Built when IPOIB_WITH_VERBS resolved to OFF: there is no way to see devices, so none are listed.
#include "args.h"
#include "rdma_devices.h"

namespace ipoib {

Napi::Value ListRdmaDevices(const Napi::CallbackInfo& info) {
  RequireNoArguments(info, "listRdmaDevices");
  return Napi::Array::New(info.Env());
}

}  // namespace ipoib
