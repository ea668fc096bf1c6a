// Endpoint's RC QPs (endpoint_rc.h): creation and transitions, posting, the receive feed, the
// packets the engines emit, and the timer thread.
#include <algorithm>
#include <cstdio>

#include "endpoint.h"

namespace ipoib::sim {

namespace {

// IBA's largest message (2^31 octets), as the engine enforces it.
constexpr size_t kMaxRcMessageBytes = size_t{1} << 31;

std::string Hex(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%x", v);
  return buf;
}

[[noreturn]] void Fail(EndpointErrc code, const std::string& message) { throw EndpointError(code, message); }

bool Connects(RcQpState s) { return s == RcQpState::kInit || s == RcQpState::kRtr || s == RcQpState::kRts; }

}  // namespace

// What one pass over the RC QPs produced. Packets are built as they are emitted and routed
// together at the end, under one hold of mu_.
struct Endpoint::RcRun {
  struct Built {
    size_t offset, len;
    uint16_t dlid;
  };
  bool haveSource = false;  // slid/sgid read from the port (on the first packet)
  uint16_t slid = 0;
  Gid sgid{};
  std::shared_ptr<EgressBatch> batch = std::make_shared<EgressBatch>();
  std::vector<Built> built;
  std::vector<RcEvent> events;
  std::vector<std::shared_ptr<RcEventHandler>> handlerOf;  // parallel to events
  std::vector<RcEntry*> touched;  // QPs whose timers may have moved

  void Touch(RcEntry* e) {
    if (std::find(touched.begin(), touched.end(), e) == touched.end()) touched.push_back(e);
  }
};

uint64_t Endpoint::NowUs() const {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - epoch_).count());
}

// ---- running the engines

void Endpoint::WithRc(const std::function<void(RcRun&)>& body) {
  std::lock_guard<std::recursive_mutex> lock(rcMu_);
  RcRun run;
  RcRun* outer = rcRun_;
  rcRun_ = &run;
  try {
    body(run);
  } catch (...) {
    rcRun_ = outer;
    FinishRcRun(run);  // what happened before the failure still goes out
    throw;
  }
  rcRun_ = outer;
  FinishRcRun(run);
}

RcEntry& Endpoint::RcEntryOf(uint32_t qpn) {
  auto it = rcQps_.find(qpn);
  if (it == rcQps_.end()) Fail(EndpointErrc::kNoSuchQp, "no RC QP " + Hex(qpn));
  return *it->second;
}

void Endpoint::EmitRc(RcRun& run, const RcEntry& e, const RcPacket& p) {
  if (!run.haveSource) {
    std::lock_guard<std::mutex> lock(mu_);
    run.slid = lid_;
    run.sgid = gid_;
    run.haveSource = true;
  }
  PacketSpec spec;
  spec.sl = e.attrs.sl;
  spec.dlid = e.attrs.dlid;
  spec.slid = run.slid;
  spec.hasGrh = e.attrs.hasGrh;
  if (spec.hasGrh) {
    spec.grh.tClass = e.attrs.tclass;
    spec.grh.flowLabel = e.attrs.flowLabel;
    spec.grh.hopLmt = e.attrs.hopLimit;
    spec.grh.sgid = run.sgid;
    spec.grh.dgid = e.attrs.dgid;
  }
  spec.opcode = p.opcode;
  spec.se = p.se;
  spec.ackReq = p.ackReq;
  spec.pkey = p.pkey;
  spec.destQp = p.destQp;
  spec.psn = p.psn;
  uint8_t aeth[kAethLen];
  if (p.hasAeth) {
    aeth[0] = p.syndrome;
    aeth[1] = static_cast<uint8_t>(p.msn >> 16);
    aeth[2] = static_cast<uint8_t>(p.msn >> 8);
    aeth[3] = static_cast<uint8_t>(p.msn);
    spec.ext = aeth;
    spec.extLen = kAethLen;
  }
  const size_t len = PacketLength(spec, p.payloadLen);
  if (len == 0) {
    // The engine emits only SEND and ACKNOWLEDGE within the path MTU, so this is a bug; count
    // it where a refused send is counted rather than lose it silently.
    Bump(counters_.sendErrors);
    return;
  }
  const size_t offset = run.batch->bytes.size();
  run.batch->bytes.resize(offset + len);
  BuildPacket(spec, p.payload, p.payloadLen, run.batch->bytes.data() + offset);
  run.built.push_back({offset, len, e.attrs.dlid});
}

void Endpoint::FinishRcRun(RcRun& run) {
  if (!run.built.empty()) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!closed_) {
        for (const RcRun::Built& b : run.built) RoutePacket(run.batch->bytes.data() + b.offset, b.len, b.dlid, run.batch.get());
      }
    }
    egress_->Submit(run.batch);  // under rcMu_: RC packets leave in the order they were emitted
  }
  uint64_t earliest = RcQp::kNoDeadline;
  for (RcEntry* e : run.touched) earliest = std::min(earliest, e->qp->NextDeadlineUs());
  run.touched.clear();  // a handler below may destroy a QP
  if (earliest != RcQp::kNoDeadline) KickRcTimer(earliest);
  // Deliver in runs of one handler. Nothing runs inside an RcQp call here, so a handler may
  // post to any QP (rcMu_ is recursive); a throwing C++ handler must not end the thread.
  size_t i = 0;
  while (i < run.events.size()) {
    const std::shared_ptr<RcEventHandler>& h = run.handlerOf[i];
    size_t j = i + 1;
    while (j < run.events.size() && run.handlerOf[j] == h) j++;
    if (h) {
      try {
        (*h)(run.events.data() + i, j - i);
      } catch (...) {
        // The handler's own failure; the endpoint carries on.
      }
    }
    i = j;
  }
}

void Endpoint::FeedRc(const std::vector<Deliveries::TransportPacket>& packets) {
  WithRc([&](RcRun& run) {
    for (const Deliveries::TransportPacket& t : packets) {
      auto it = rcQps_.find(t.parsed.bth.destQp);
      if (it == rcQps_.end()) {
        Bump(counters_.unknownQpnDrops);  // destroyed since the receive checks
        continue;
      }
      const ParsedPacket& pp = t.parsed;
      RcPacket p;
      p.opcode = pp.bth.opcode;
      p.se = pp.bth.se;
      p.ackReq = pp.bth.ackReq;
      p.psn = pp.bth.psn;
      p.destQp = pp.bth.destQp;
      p.pkey = pp.bth.pkey;
      p.hasAeth = pp.layout.aeth;
      if (p.hasAeth) {
        p.syndrome = pp.ext[0];
        p.msn = static_cast<uint32_t>(pp.ext[1]) << 16 | static_cast<uint32_t>(pp.ext[2]) << 8 | pp.ext[3];
      }
      p.payload = pp.payload;
      p.payloadLen = static_cast<uint32_t>(pp.payloadLen);
      run.Touch(it->second.get());
      it->second->qp->OnPacket(p);
    }
  });
}

// ---- the timer thread

void Endpoint::KickRcTimer(uint64_t deadlineUs) {
  std::lock_guard<std::mutex> lock(timerMu_);
  if (deadlineUs < timerWakeUs_) {
    timerKick_ = true;
    timerCv_.notify_one();
  }
}

void Endpoint::RcTimerLoop() {
  std::unique_lock<std::mutex> lock(timerMu_);
  while (!timerStop_) {
    timerWakeUs_ = RcQp::kNoDeadline;
    timerKick_ = false;
    lock.unlock();
    uint64_t next = RcQp::kNoDeadline;
    try {
      WithRc([&](RcRun& run) {
        const uint64_t now = NowUs();
        for (auto& [qpn, e] : rcQps_) {
          if (e->qp->NextDeadlineUs() <= now) {
            run.Touch(e.get());
            e->qp->OnTimer(now);
          }
          next = std::min(next, e->qp->NextDeadlineUs());
        }
      });
    } catch (const std::exception&) {
      // Nothing in a timer pass throws by design; keep the thread alive whatever happens.
    }
    lock.lock();
    if (timerStop_ || timerKick_) continue;
    timerWakeUs_ = next;
    const auto woken = [this] { return timerStop_ || timerKick_; };
    if (next == RcQp::kNoDeadline) {
      timerCv_.wait(lock, woken);
    } else {
      timerCv_.wait_until(lock, epoch_ + std::chrono::microseconds(next), woken);
    }
  }
}

// ---- the public RC calls

uint32_t Endpoint::CreateRcQp(const RcQpCreateOptions& o) {
  RcQpConfig probe;  // the engine's own limits on the creation-time fields
  probe.recvQueueDepth = o.recvQueueDepth;
  probe.sendQueueDepth = o.sendQueueDepth;
  probe.sendWindowPackets = o.sendWindowPackets;
  probe.ackReqEveryPackets = o.ackReqEveryPackets;
  const std::string problem = RcQpConfigProblem(probe);
  if (!problem.empty()) Fail(EndpointErrc::kInvalidArgument, problem);

  std::lock_guard<std::recursive_mutex> rc(rcMu_);
  uint32_t qpn;
  {
    std::lock_guard<std::mutex> lock(mu_);
    RequireOpen();
    if (o.pkeyIndex >= pkeys_.size()) {
      Fail(EndpointErrc::kInvalidArgument, "pkeyIndex " + std::to_string(o.pkeyIndex) + " is beyond the " +
                                               std::to_string(pkeys_.size()) + "-entry P_Key table");
    }
    qpn = AllocateQpn(o.qpn);
    rcQpns_[qpn] = o.pkeyIndex;
  }
  auto entry = std::make_unique<RcEntry>();
  RcEntry* e = entry.get();
  e->qpn = qpn;
  e->create = o;
  e->create.qpn = qpn;
  // Every callback runs inside an RcQp call, which only happens inside WithRc: rcRun_ is set.
  const auto addEvent = [this, e](RcEvent&& ev) {
    rcRun_->events.push_back(std::move(ev));
    rcRun_->handlerOf.push_back(e->handler ? e->handler : rcDefaultHandler_);
  };
  RcQp::Callbacks cb;
  cb.emit = [this, e](const RcPacket& p) { EmitRc(*rcRun_, *e, p); };
  cb.sendDone = [e, addEvent](uint64_t wrId, RcSendStatus status) {
    RcEvent ev;
    ev.kind = RcEvent::Kind::kSend;
    ev.qpn = e->qpn;
    ev.wrId = wrId;
    ev.sendStatus = status;
    addEvent(std::move(ev));
  };
  cb.recvDone = [e, addEvent](uint64_t wrId, RcRecvStatus status, std::vector<uint8_t>&& message, uint32_t srcQp) {
    if (e->recvsPosted > 0) e->recvsPosted--;
    RcEvent ev;
    ev.kind = RcEvent::Kind::kRecv;
    ev.qpn = e->qpn;
    ev.wrId = wrId;
    ev.recvStatus = status;
    ev.message = std::move(message);
    ev.srcQp = srcQp;
    addEvent(std::move(ev));
  };
  cb.stateChanged = [e, addEvent](RcQpState from, RcQpState to, const char* reason) {
    RcEvent ev;
    ev.kind = RcEvent::Kind::kState;
    ev.qpn = e->qpn;
    ev.from = from;
    ev.to = to;
    ev.reason = reason;
    if (to == RcQpState::kError) ev.detail = e->qp->errorDetail();
    addEvent(std::move(ev));
  };
  cb.nowUs = [this] { return NowUs(); };
  e->qp = std::make_unique<RcQp>(std::move(cb));
  rcQps_[qpn] = std::move(entry);
  {
    std::lock_guard<std::mutex> lock(timerMu_);
    if (!timerThread_.joinable() && !timerStop_) timerThread_ = std::thread([this] { RcTimerLoop(); });
  }
  return qpn;
}

void Endpoint::ModifyRcQp(uint32_t qpn, RcQpState to, const RcQpAttrs& a) {
  WithRc([&](RcRun& run) {
    RcEntry& e = RcEntryOf(qpn);
    uint16_t pkey = 0;
    uint32_t portMtu = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      RequireOpen();
      if (e.create.pkeyIndex >= pkeys_.size()) {
        Fail(EndpointErrc::kInvalidArgument, "the QP's pkeyIndex " + std::to_string(e.create.pkeyIndex) +
                                                 " is beyond the port's P_Key table");
      }
      pkey = pkeys_[e.create.pkeyIndex];
      portMtu = mtuBytes_;
    }
    const uint32_t pathMtu = MtuBytesOfCode(a.pathMtuCode);
    if (Connects(to)) {
      if (pathMtu == 0) Fail(EndpointErrc::kInvalidArgument, "pathMtuCode must be 1..5");
      if (pathMtu > portMtu) {
        Fail(EndpointErrc::kInvalidArgument, "a path MTU of " + std::to_string(pathMtu) + " exceeds the port MTU of " +
                                                 std::to_string(portMtu));
      }
      if (to != RcQpState::kInit && (a.dlid == 0 || IsMulticastLid(a.dlid) || a.dlid == kLidPermissive)) {
        Fail(EndpointErrc::kInvalidArgument, "dlid " + Hex(a.dlid) + " is not a unicast LID");
      }
      if (a.flowLabel > 0xFFFFF || a.sl > 15) Fail(EndpointErrc::kInvalidArgument, "sl or flowLabel out of range");
    }
    RcQpConfig c;
    c.qpn = qpn;
    c.destQpn = a.destQpn;
    c.pkey = pkey;
    c.pathMtuBytes = pathMtu == 0 ? 4096 : pathMtu;  // RESET/ERROR ignore it
    c.sqPsn = a.sqPsn;
    c.rqPsn = a.rqPsn;
    c.retryCount = a.retryCount;
    c.rnrRetry = a.rnrRetry;
    c.timeoutExp = a.timeoutExp;
    c.minRnrTimer = a.minRnrTimer;
    c.recvQueueDepth = e.create.recvQueueDepth;
    c.sendQueueDepth = e.create.sendQueueDepth;
    c.sendWindowPackets = e.create.sendWindowPackets;
    c.ackReqEveryPackets = e.create.ackReqEveryPackets;
    const RcQpState from = e.qp->state();
    run.Touch(&e);
    std::string why;
    if (!e.qp->Modify(to, c, &why)) Fail(EndpointErrc::kInvalidArgument, "RC QP " + Hex(qpn) + ": " + why);
    if (to == RcQpState::kRts && from == RcQpState::kRts) {
      e.attrs.retryCount = a.retryCount;
      e.attrs.rnrRetry = a.rnrRetry;
      e.attrs.timeoutExp = a.timeoutExp;
      e.attrs.minRnrTimer = a.minRnrTimer;
    } else if (Connects(to)) {
      e.attrs = a;  // the engine took the whole configuration: so does the path
      e.pkey = pkey;
    } else if (to == RcQpState::kReset) {
      e.recvsPosted = 0;
    }
  });
}

bool Endpoint::PostSendRc(uint32_t qpn, uint64_t wrId, std::vector<uint8_t> message) {
  if (message.size() > kMaxRcMessageBytes) {
    Fail(EndpointErrc::kMtuExceeded, "a message of " + std::to_string(message.size()) + " octets exceeds 2^31");
  }
  bool queued = false;
  WithRc([&](RcRun& run) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      RequireOpen();
    }
    RcEntry& e = RcEntryOf(qpn);
    const RcQpState s = e.qp->state();
    if (s != RcQpState::kRts && s != RcQpState::kError) {
      Fail(EndpointErrc::kInvalidArgument, "RC QP " + Hex(qpn) + " is in " + RcQpStateName(s) + "; sends need RTS");
    }
    run.Touch(&e);
    queued = e.qp->PostSend(wrId, std::move(message));
  });
  return queued;
}

uint32_t Endpoint::PostRecvRc(uint32_t qpn, uint32_t count) {
  uint32_t posted = 0;
  WithRc([&](RcRun&) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      RequireOpen();
    }
    RcEntry& e = RcEntryOf(qpn);
    for (; posted < count; posted++) {
      e.recvsPosted++;  // before the call: in ERROR it completes (and is counted down) at once
      if (!e.qp->PostRecv(e.nextRecvWrId, e.create.maxRecvBytes)) {
        e.recvsPosted--;
        break;
      }
      e.nextRecvWrId++;
    }
  });
  return posted;
}

void Endpoint::DestroyRcQp(uint32_t qpn) {
  std::lock_guard<std::recursive_mutex> rc(rcMu_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    RequireOpen();
  }
  if (rcQps_.erase(qpn) == 0) Fail(EndpointErrc::kNoSuchQp, "no RC QP " + Hex(qpn));
  std::lock_guard<std::mutex> lock(mu_);
  rcQpns_.erase(qpn);
}

RcQpInfo Endpoint::RcQpSnapshot(uint32_t qpn) const {
  std::lock_guard<std::recursive_mutex> rc(rcMu_);
  auto it = rcQps_.find(qpn);
  if (it == rcQps_.end()) Fail(EndpointErrc::kNoSuchQp, "no RC QP " + Hex(qpn));
  const RcEntry& e = *it->second;
  RcQpInfo info;
  info.qpn = qpn;
  info.state = e.qp->state();
  info.create = e.create;
  info.attrs = e.attrs;
  info.pkey = e.pkey;
  info.stats = e.qp->stats();
  info.errorDetail = e.qp->errorDetail();
  info.recvsPosted = e.recvsPosted;
  return info;
}

std::vector<uint32_t> Endpoint::RcQpns() const {
  std::lock_guard<std::recursive_mutex> rc(rcMu_);
  std::vector<uint32_t> out;
  out.reserve(rcQps_.size());
  for (const auto& [qpn, e] : rcQps_) out.push_back(qpn);
  std::sort(out.begin(), out.end());
  return out;
}

void Endpoint::SetRcQpHandler(uint32_t qpn, RcEventHandler handler) {
  std::lock_guard<std::recursive_mutex> rc(rcMu_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    RequireOpen();
  }
  RcEntryOf(qpn).handler = handler ? std::make_shared<RcEventHandler>(std::move(handler)) : nullptr;
}

void Endpoint::SetRcDefaultHandler(RcEventHandler handler) {
  std::lock_guard<std::recursive_mutex> rc(rcMu_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    RequireOpen();
  }
  rcDefaultHandler_ = handler ? std::make_shared<RcEventHandler>(std::move(handler)) : nullptr;
}

}  // namespace ipoib::sim
