#include "js_args.h"

#include <cmath>
#include <cstring>

namespace ipoib::tun {

namespace {

Napi::Value Required(const Napi::Object& o, const char* key, const std::string& of) {
  if (!o.Has(key)) throw Napi::TypeError::New(o.Env(), of + "." + key + " is required");
  return o.Get(key);
}

}  // namespace

Napi::Object ObjectArg(const Napi::Value& v, const std::string& name) {
  if (!v.IsObject()) throw Napi::TypeError::New(v.Env(), name + " must be an object");
  return v.As<Napi::Object>();
}

uint32_t UintArg(const Napi::Value& v, const std::string& name, uint32_t max) {
  if (!v.IsNumber()) throw Napi::TypeError::New(v.Env(), name + " must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0 && d <= max) || std::trunc(d) != d) {
    throw Napi::RangeError::New(v.Env(), name + " must be an integer from 0 to " + std::to_string(max));
  }
  return static_cast<uint32_t>(d);
}

uint32_t UintKey(const Napi::Object& o, const char* key, const std::string& of, uint32_t max) {
  return UintArg(Required(o, key, of), of + "." + key, max);
}

bool BoolArg(const Napi::Value& v, const std::string& name) {
  if (!v.IsBoolean()) throw Napi::TypeError::New(v.Env(), name + " must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

bool BoolKey(const Napi::Object& o, const char* key, const std::string& of) {
  return BoolArg(Required(o, key, of), of + "." + key);
}

std::string StringKey(const Napi::Object& o, const char* key, const std::string& of) {
  Napi::Value v = Required(o, key, of);
  if (!v.IsString()) throw Napi::TypeError::New(o.Env(), of + "." + key + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

Napi::Uint8Array BytesArg(const Napi::Value& v, const std::string& name) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    throw Napi::TypeError::New(v.Env(), name + " must be a Buffer");
  }
  return v.As<Napi::Uint8Array>();
}

sim::Gid GidArg(const Napi::Value& v, const std::string& name) {
  Napi::Uint8Array b = BytesArg(v, name);
  if (b.ByteLength() != 16) throw Napi::TypeError::New(v.Env(), name + " must be a 16-octet Buffer");
  sim::Gid g;
  std::memcpy(g.data(), b.Data(), 16);
  return g;
}

}  // namespace ipoib::tun
