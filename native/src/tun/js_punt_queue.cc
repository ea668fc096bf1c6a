#include "js_punt_queue.h"

namespace ipoib::tun {

std::shared_ptr<JsPuntQueue> JsPuntQueue::Create(Napi::Env env, Napi::Function deliver) {
  std::shared_ptr<JsPuntQueue> q(new JsPuntQueue());
  q->self_ = q;
  std::shared_ptr<JsPuntQueue> holder = q;  // alive until the TSFN's finalizer has run
  q->tsfn_ = Napi::ThreadSafeFunction::New(env, deliver, "tunDataPlanePunts", 0, 1, [holder](Napi::Env e) {
    holder->finalized_ = true;
    try {
      if (holder->closed_) holder->closed_->Resolve(e.Undefined());
    } catch (const Napi::Error&) {
      // The environment is being torn down: nobody is left to await close().
    }
    holder->closed_.reset();
  });
  q->tsfn_.Unref(env);
  return q;
}

JsPuntQueue::~JsPuntQueue() {
  delete meta_;
  delete data_;
}

bool JsPuntQueue::Punt(const PuntMeta& m, const uint8_t* data, size_t len) {
  const bool grh = m.sgid != nullptr && m.dgid != nullptr;
  const size_t octets = (grh ? 32 : 0) + len;
  std::lock_guard<std::mutex> lock(mu_);
  if (closing_ || count_ >= kMaxPendingPunts || data_->size() + octets > kMaxPendingOctets) return false;
  const uint32_t offset = static_cast<uint32_t>(data_->size());
  if (grh) {
    data_->insert(data_->end(), m.sgid, m.sgid + 16);
    data_->insert(data_->end(), m.dgid, m.dgid + 16);
  }
  data_->insert(data_->end(), data, data + len);
  const uint32_t flags = (grh ? 1u : 0u) | (m.rcQpn != 0 && m.reason != PuntReason::kRcError ? 2u : 0u);
  const uint32_t words[kPuntWords] = {static_cast<uint32_t>(m.reason), offset, static_cast<uint32_t>(len), m.slid,
                                      m.dlid, m.srcQp, m.sl, m.pkey, m.qkey, flags, m.limit, m.rcQpn, m.rcStatus};
  meta_->insert(meta_->end(), words, words + kPuntWords);
  count_++;
  if (!scheduled_) {
    scheduled_ = true;
    std::shared_ptr<JsPuntQueue> keep = self_.lock();
    if (!keep || tsfn_.NonBlockingCall([keep](Napi::Env env, Napi::Function fn) { keep->Drain(env, fn); }) != napi_ok) {
      scheduled_ = false;  // the environment is going away: the punt stays queued, unread
    }
  }
  return true;
}

void JsPuntQueue::Drain(Napi::Env env, Napi::Function fn) {
  std::vector<uint32_t>* m;
  std::vector<uint8_t>* d;
  {
    std::lock_guard<std::mutex> lock(mu_);
    scheduled_ = false;
    if (count_ == 0) return;
    m = meta_;
    d = data_;
    meta_ = new std::vector<uint32_t>();
    data_ = new std::vector<uint8_t>();
    count_ = 0;
  }
  // Zero-copy: the arrays own the vectors' memory from here on.
  Napi::ArrayBuffer metaBuffer = Napi::ArrayBuffer::New(env, m->data(), m->size() * sizeof(uint32_t),
                                                        [m](Napi::Env, void*) { delete m; });
  Napi::Uint32Array metaArray = Napi::Uint32Array::New(env, m->size(), metaBuffer, 0);
  Napi::Buffer<uint8_t> dataBuffer;
  if (d->empty()) {
    delete d;
    dataBuffer = Napi::Buffer<uint8_t>::New(env, 0);
  } else {
    dataBuffer = Napi::Buffer<uint8_t>::New(env, d->data(), d->size(), [d](Napi::Env, uint8_t*) { delete d; });
  }
  try {
    fn.Call({metaArray, dataBuffer});
  } catch (const Napi::Error& e) {
    e.ThrowAsJavaScriptException();  // a throwing punt callback is the caller's uncaught exception
  }
}

void JsPuntQueue::Ref(Napi::Env env) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!closing_) tsfn_.Ref(env);
}

void JsPuntQueue::Unref(Napi::Env env) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!closing_) tsfn_.Unref(env);
}

void JsPuntQueue::Shutdown(Napi::Env env, std::optional<Napi::Promise::Deferred> closed) {
  bool release = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!closing_) {
      closing_ = true;
      release = true;
    }
  }
  if (closed) {
    // Only the first close() waits for the TSFN; the wrapper never calls it twice.
    if (finalized_ || closed_) {
      closed->Resolve(env.Undefined());
    } else {
      closed_ = closed;
    }
  }
  if (release) {
    // A pending close() keeps the event loop alive until the TSFN is finalized, or the loop
    // could end first and the promise never settle.
    if (closed_) tsfn_.Ref(env);
    tsfn_.Release();
  }
}

}  // namespace ipoib::tun
