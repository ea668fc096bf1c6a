// Readers for the TUN data plane's JS arguments. src/ipoib/native/tun-data-plane.ts validates
// everything first; these keep a direct call with a missing key or a bad value from becoming a
// silent default or undefined behaviour: every key is required, and a wrong one is a
// TypeError/RangeError naming it.
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

#include "../sim/ib_packet.h"

namespace ipoib::tun {

Napi::Object ObjectArg(const Napi::Value& v, const std::string& name);
// An integer from 0 to max.
uint32_t UintArg(const Napi::Value& v, const std::string& name, uint32_t max);
uint32_t UintKey(const Napi::Object& o, const char* key, const std::string& of, uint32_t max);
bool BoolKey(const Napi::Object& o, const char* key, const std::string& of);
std::string StringKey(const Napi::Object& o, const char* key, const std::string& of);
bool BoolArg(const Napi::Value& v, const std::string& name);
// A Uint8Array (Buffer) view: valid while `v` is.
Napi::Uint8Array BytesArg(const Napi::Value& v, const std::string& name);
sim::Gid GidArg(const Napi::Value& v, const std::string& name);

}  // namespace ipoib::tun
