// readProcNet(netnsPath, names) -> Promise<(string | null)[]>: files of /proc/net as the network
// namespace `netnsPath` ("" = ours) sees them, null for a file it does not have (netns_read.h).
// Runs off the JS thread; a failure rejects with an Error carrying .op, .errno and .code.
#include <napi.h>

#include <string>
#include <vector>

#include "../errno_error.h"
#include "../export_registry.h"
#include "netns_read.h"
#include "os_error.h"

namespace ipoib::tun {

namespace {

bool IsPlainName(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

class ReadProcNetWorker : public Napi::AsyncWorker {
 public:
  ReadProcNetWorker(Napi::Env env, std::string netns, std::vector<std::string> names)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), netns_(std::move(netns)), names_(std::move(names)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {  // worker thread: no N-API here
    try {
      files_ = ReadProcNetIn(netns_, names_);
    } catch (const OsError& e) {
      op_ = e.op();
      err_ = e.err();
    } catch (const std::system_error& e) {
      op_ = "thread";
      err_ = e.code().value();
    }
  }
  void OnOK() override {
    Napi::Env env = Env();
    if (!op_.empty()) {
      deferred_.Reject(ErrnoError(env, op_.c_str(), err_).Value());
      return;
    }
    Napi::Array out = Napi::Array::New(env, files_.size());
    for (uint32_t i = 0; i < files_.size(); i++) {
      out.Set(i, files_[i].found ? Napi::Value(Napi::String::New(env, files_[i].text)) : env.Null());
    }
    deferred_.Resolve(out);
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::string netns_;
  std::vector<std::string> names_;
  std::vector<ProcNetFile> files_;
  std::string op_;
  int err_ = 0;
};

Napi::Value ReadProcNet(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 2 || !info[0].IsString() || !info[1].IsArray()) {
    throw Napi::TypeError::New(env, "readProcNet(netnsPath: string, names: string[])");
  }
  std::string netns = info[0].As<Napi::String>().Utf8Value();
  if (!netns.empty() && (netns[0] != '/' || netns.find('\0') != std::string::npos)) {
    throw Napi::TypeError::New(env, "readProcNet(netnsPath) must be \"\" or an absolute path");
  }
  Napi::Array a = info[1].As<Napi::Array>();
  std::vector<std::string> names;
  for (uint32_t i = 0; i < a.Length(); i++) {
    Napi::Value v = a.Get(i);
    if (!v.IsString() || !IsPlainName(v.As<Napi::String>().Utf8Value())) {
      throw Napi::TypeError::New(env, "readProcNet(names) must be file names of /proc/net ([A-Za-z0-9_], up to 64)");
    }
    names.push_back(v.As<Napi::String>().Utf8Value());
  }
  auto* w = new ReadProcNetWorker(env, std::move(netns), std::move(names));
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

void InitReadProcNet(Napi::Env env, Napi::Object exports) {
  exports.Set("readProcNet", Napi::Function::New(env, ReadProcNet, "readProcNet"));
}

const ipoib::RegisterExports kRegister("readProcNet", &InitReadProcNet);

}  // namespace

}  // namespace ipoib::tun
