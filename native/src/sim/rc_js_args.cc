#include "rc_js_args.h"

#include <cmath>
#include <string>

namespace ipoib::sim {

namespace {

std::string Where(const JsOptions& o, const char* key) { return std::string(o.fn) + ": " + o.what + "." + key; }

}  // namespace

Napi::Value JsOptions::Required(const char* key) const {
  if (!object.HasOwnProperty(key)) throw Napi::TypeError::New(object.Env(), Where(*this, key) + " is missing");
  return object.Get(key);
}

double JsOptions::Number(const char* key) const {
  const Napi::Value v = Required(key);
  if (!v.IsNumber()) throw Napi::TypeError::New(object.Env(), Where(*this, key) + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

uint64_t JsOptions::Integer(const char* key, double max) const {
  const double d = Number(key);
  // The comparisons are false for NaN, so NaN is refused too.
  if (!(d >= 0 && d <= max) || std::trunc(d) != d) {
    throw Napi::RangeError::New(object.Env(), Where(*this, key) + " must be an integer from 0 to " +
                                                  std::to_string(static_cast<uint64_t>(max)));
  }
  return static_cast<uint64_t>(d);
}

bool JsOptions::Boolean(const char* key) const {
  const Napi::Value v = Required(key);
  if (!v.IsBoolean()) throw Napi::TypeError::New(object.Env(), Where(*this, key) + " must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

std::string JsOptions::String(const char* key) const {
  const Napi::Value v = Required(key);
  if (!v.IsString()) throw Napi::TypeError::New(object.Env(), Where(*this, key) + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

std::vector<uint8_t> JsOptions::Bytes(const char* key) const {
  const Napi::Value v = Required(key);
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    throw Napi::TypeError::New(object.Env(), Where(*this, key) + " must be a Buffer or Uint8Array");
  }
  const Napi::Uint8Array bytes = v.As<Napi::Uint8Array>();
  return std::vector<uint8_t>(bytes.Data(), bytes.Data() + bytes.ByteLength());
}

JsOptions JsOptions::Object(const char* key) const {
  const Napi::Value v = Required(key);
  if (!v.IsObject()) throw Napi::TypeError::New(object.Env(), Where(*this, key) + " must be an object");
  return JsOptions{fn, what + "." + key, v.As<Napi::Object>()};
}

}  // namespace ipoib::sim
