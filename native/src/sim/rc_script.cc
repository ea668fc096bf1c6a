// TEST ONLY: see rc_script.h.
#include "rc_script.h"

#include <algorithm>
#include <utility>

namespace ipoib::sim {

RcScriptResult RunRcScript(const std::vector<RcScriptStep>& steps) {
  RcScriptResult out;
  uint64_t now = 0;
  size_t step = 0;
  auto record = [&](RcScriptEvent e) {
    e.step = step;
    e.timeUs = now;
    out.events.push_back(std::move(e));
  };

  RcQp::Callbacks cb;
  cb.emit = [&](const RcPacket& p) {
    RcScriptEvent e;
    e.kind = RcScriptEvent::Kind::kEmit;
    const size_t header = RcHeaderBytes(p);
    e.bytes.assign(header + p.payloadLen + PadCount(p.payloadLen), 0);
    EncodeRcHeaders(p, e.bytes.data());
    if (p.payloadLen > 0) {
      std::copy(p.payload, p.payload + p.payloadLen, e.bytes.begin() + static_cast<std::ptrdiff_t>(header));
    }
    record(std::move(e));
  };
  cb.sendDone = [&](uint64_t wrId, RcSendStatus st) {
    RcScriptEvent e;
    e.kind = RcScriptEvent::Kind::kSendDone;
    e.wrId = wrId;
    e.status = RcSendStatusName(st);
    record(std::move(e));
  };
  cb.recvDone = [&](uint64_t wrId, RcRecvStatus st, std::vector<uint8_t>&& message, uint32_t srcQp) {
    RcScriptEvent e;
    e.kind = RcScriptEvent::Kind::kRecvDone;
    e.wrId = wrId;
    e.status = RcRecvStatusName(st);
    e.bytes = std::move(message);
    e.srcQp = srcQp;
    record(std::move(e));
  };
  cb.stateChanged = [&](RcQpState from, RcQpState to, const char* reason) {
    RcScriptEvent e;
    e.kind = RcScriptEvent::Kind::kState;
    e.from = from;
    e.to = to;
    e.status = reason;
    record(std::move(e));
  };
  cb.nowUs = [&]() { return now; };

  RcQp qp(std::move(cb));
  auto result = [&](bool ok, std::string why) {
    RcScriptEvent e;
    e.kind = RcScriptEvent::Kind::kResult;
    e.ok = ok;
    e.status = std::move(why);
    record(std::move(e));
  };

  for (; step < steps.size(); ++step) {
    const RcScriptStep& s = steps[step];
    switch (s.kind) {
      case RcScriptStep::Kind::kModify: {
        std::string why;
        const bool ok = qp.Modify(s.to, s.config, &why);
        result(ok, why);
        break;
      }
      case RcScriptStep::Kind::kPostSend:
        result(qp.PostSend(s.wrId, s.bytes), "");
        break;
      case RcScriptStep::Kind::kPostRecv:
        result(qp.PostRecv(s.wrId, s.capacityBytes), "");
        break;
      case RcScriptStep::Kind::kPacket: {
        RcPacket p;
        std::string why;
        const bool ok = ParseRcPacket(s.bytes.data(), s.bytes.size(), &p, &why);
        result(ok, why);
        if (ok) qp.OnPacket(p);
        break;
      }
      case RcScriptStep::Kind::kTimer:
        now = s.nowUs;
        qp.OnTimer(now);
        break;
      case RcScriptStep::Kind::kClock:
        now = s.nowUs;
        break;
    }
  }
  out.state = qp.state();
  out.nextDeadlineUs = qp.NextDeadlineUs();
  out.errorDetail = qp.errorDetail();
  out.stats = qp.stats();
  return out;
}

}  // namespace ipoib::sim
