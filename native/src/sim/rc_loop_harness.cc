// TEST AND BENCHMARK ONLY: see rc_loop_harness.h.
#include "rc_loop_harness.h"

#include <algorithm>
#include <cstring>
#include <deque>
#include <queue>
#include <set>
#include <utility>

#include "rc_psn.h"

namespace ipoib::sim {

namespace {

constexpr uint64_t kNever = UINT64_MAX;
// A duplicated packet's second copy trails the first by this much.
constexpr uint64_t kDuplicateGapUs = 1;

// SplitMix64: small, fast and fully determined by the seed, which is all a loss model needs.
class SeededRandom {
 public:
  explicit SeededRandom(uint64_t seed) : state_(seed) {}
  double Next() {  // uniform in [0, 1)
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return static_cast<double>(z >> 11) * 0x1.0p-53;
  }

 private:
  uint64_t state_;
};

enum class EventKind : uint8_t { kDeliverToRequester, kDeliverToResponder, kPostSend, kPostRecv };

struct Event {
  uint64_t timeUs;
  uint64_t seq;  // ties at the same time go in scheduling order
  EventKind kind;
  size_t arg;    // wire slot for deliveries
};

struct Later {
  bool operator()(const Event& a, const Event& b) const {
    return a.timeUs != b.timeUs ? a.timeUs > b.timeUs : a.seq > b.seq;
  }
};

bool InRate(double r) { return r >= 0.0 && r <= 1.0; }

// Removes one occurrence of `psn`; true when there was one.
bool TakeOne(std::multiset<uint32_t>& set, uint32_t psn) {
  const auto it = set.find(psn);
  if (it == set.end()) return false;
  set.erase(it);
  return true;
}

class LoopRun {
 public:
  LoopRun(const std::vector<RcLoopMessage>& messages, const RcLoopOptions& o)
      : messages_(messages),
        o_(o),
        random_(o.seed),
        dropOnce_(o.dropPsns.begin(), o.dropPsns.end()),
        duplicateOnce_(o.duplicatePsns.begin(), o.duplicatePsns.end()),
        requester_(MakeCallbacks(true)),
        responder_(MakeCallbacks(false)) {
    result_.sendStatus.assign(messages.size(), RcSendStatus::kFlushed);
    result_.sendCompleted.assign(messages.size(), false);
  }

  RcLoopResult Run() {
    Connect();
    for (uint32_t i = 0; i < o_.recvQueueDepth; ++i) Schedule(o_.recvPostDelayUs, EventKind::kPostRecv, 0);
    PostWhatFits();

    while (completed_ < messages_.size()) {
      const uint64_t tEvent = events_.empty() ? kNever : events_.top().timeUs;
      const uint64_t tTimer = std::min(requester_.NextDeadlineUs(), responder_.NextDeadlineUs());
      const uint64_t t = std::min(tEvent, tTimer);
      if (t == kNever) {
        result_.errors.push_back("harness: stalled with " + std::to_string(messages_.size() - completed_) +
                                 " sends incomplete and nothing scheduled");
        break;
      }
      if (t > o_.maxSimTimeUs) {
        result_.errors.push_back("harness: simulated time limit of " + std::to_string(o_.maxSimTimeUs) + " us reached");
        break;
      }
      now_ = std::max(now_, t);
      if (tEvent <= tTimer) {
        const Event e = events_.top();
        events_.pop();
        Handle(e);
      } else {
        if (requester_.NextDeadlineUs() <= now_) requester_.OnTimer(now_);
        if (responder_.NextDeadlineUs() <= now_) responder_.OnTimer(now_);
      }
    }
    Finish();
    return std::move(result_);
  }

 private:
  RcQp::Callbacks MakeCallbacks(bool isRequester) {
    RcQp::Callbacks cb;
    cb.emit = [this, isRequester](const RcPacket& p) { PutOnLink(isRequester, p); };
    cb.sendDone = [this, isRequester](uint64_t wrId, RcSendStatus st) {
      if (isRequester) OnSendDone(wrId, st);
    };
    cb.recvDone = [this, isRequester](uint64_t, RcRecvStatus st, std::vector<uint8_t>&& msg, uint32_t) {
      if (!isRequester) OnRecvDone(st, std::move(msg));
    };
    cb.stateChanged = [this, isRequester](RcQpState from, RcQpState to, const char* reason) {
      if (to != RcQpState::kError) return;
      const RcQp& qp = isRequester ? requester_ : responder_;
      std::string line = std::string(isRequester ? "requester" : "responder") + ": " + RcQpStateName(from) +
                         " -> ERROR (" + reason;
      if (!qp.errorDetail().empty()) line += ": " + qp.errorDetail();
      result_.errors.push_back(line + ")");
    };
    cb.nowUs = [this]() { return now_; };
    return cb;
  }

  RcQpConfig ConfigFor(bool isRequester) const {
    RcQpConfig c;
    c.qpn = isRequester ? kRcLoopRequesterQpn : kRcLoopResponderQpn;
    c.destQpn = isRequester ? kRcLoopResponderQpn : kRcLoopRequesterQpn;
    c.pkey = kRcLoopPkey;
    c.pathMtuBytes = o_.mtuBytes;
    c.sqPsn = isRequester ? o_.startPsn : 0;
    c.rqPsn = isRequester ? 0 : o_.startPsn;
    c.retryCount = o_.retryCount;
    c.rnrRetry = o_.rnrRetry;
    c.timeoutExp = o_.timeoutExp;
    c.minRnrTimer = o_.minRnrTimer;
    c.recvQueueDepth = o_.recvQueueDepth;
    c.sendQueueDepth = o_.sendQueueDepth;
    c.sendWindowPackets = o_.sendWindowPackets;
    c.ackReqEveryPackets = o_.ackReqEveryPackets;
    return c;
  }

  void Connect() {
    for (bool isRequester : {true, false}) {
      RcQp& qp = isRequester ? requester_ : responder_;
      const RcQpConfig c = ConfigFor(isRequester);
      std::string why;
      for (RcQpState to : {RcQpState::kInit, RcQpState::kRtr, RcQpState::kRts}) {
        if (!qp.Modify(to, c, &why)) result_.errors.push_back(std::string("harness: Modify failed: ") + why);
      }
    }
  }

  void Schedule(uint64_t timeUs, EventKind kind, size_t arg) { events_.push(Event{timeUs, nextSeq_++, kind, arg}); }

  size_t TakeSlot() {
    if (freeSlots_.empty()) {
      wires_.emplace_back();
      return wires_.size() - 1;
    }
    const size_t slot = freeSlots_.back();
    freeSlots_.pop_back();
    return slot;
  }

  void PutOnLink(bool fromRequester, const RcPacket& p) {
    const size_t slot = TakeSlot();
    std::vector<uint8_t>& wire = wires_[slot];
    const size_t header = RcHeaderBytes(p);
    const uint8_t pad = PadCount(p.payloadLen);
    wire.resize(header + p.payloadLen + pad);
    EncodeRcHeaders(p, wire.data());
    if (p.payloadLen > 0) std::memcpy(wire.data() + header, p.payload, p.payloadLen);
    std::memset(wire.data() + header + p.payloadLen, 0, pad);

    // Three draws per packet whatever the rates, so one rate does not shift another's pattern.
    const double uLoss = random_.Next();
    const double uReorder = random_.Next();
    const double uDuplicate = random_.Next();
    const bool isRequest = fromRequester && p.opcode != kOpRcAcknowledge;
    const bool forcedDrop = isRequest && TakeOne(dropOnce_, p.psn);
    const bool forcedDuplicate = isRequest && !forcedDrop && TakeOne(duplicateOnce_, p.psn);

    const char* fate = "delivered";
    if (forcedDrop || uLoss < o_.lossRate) {
      fate = "lost";
      ++result_.stats.linkLost;
    } else {
      const EventKind to = fromRequester ? EventKind::kDeliverToResponder : EventKind::kDeliverToRequester;
      uint64_t delay = o_.latencyUs;
      if (uReorder < o_.reorderRate) {
        delay += o_.reorderDelayUs;
        ++result_.stats.linkReordered;
      }
      if (forcedDuplicate || uDuplicate < o_.duplicateRate) {
        fate = "duplicated";
        ++result_.stats.linkDuplicated;
        const size_t copy = TakeSlot();
        wires_[copy] = wires_[slot];
        Schedule(now_ + delay + kDuplicateGapUs, to, copy);
      }
      Schedule(now_ + delay, to, slot);
    }
    if (result_.packets.size() < o_.recordPackets) {
      RcLoopPacket rec;
      rec.timeUs = now_;
      rec.fromRequester = fromRequester;
      rec.fate = fate;
      const std::vector<uint8_t>& sent = wires_[slot];
      rec.headers.assign(sent.begin(), sent.begin() + static_cast<std::ptrdiff_t>(header));
      rec.payloadBytes = p.payloadLen;
      result_.packets.push_back(std::move(rec));
    }
    if (fate[0] == 'l') freeSlots_.push_back(slot);
  }

  void Handle(const Event& e) {
    switch (e.kind) {
      case EventKind::kDeliverToRequester:
      case EventKind::kDeliverToResponder: {
        RcQp& qp = e.kind == EventKind::kDeliverToRequester ? requester_ : responder_;
        const std::vector<uint8_t>& wire = wires_[e.arg];
        RcPacket p;
        std::string why;
        if (ParseRcPacket(wire.data(), wire.size(), &p, &why)) {
          qp.OnPacket(p);
        } else {
          result_.errors.push_back("harness: unparsable packet on the link: " + why);
        }
        freeSlots_.push_back(e.arg);
        return;
      }
      case EventKind::kPostSend:
        PostWhatFits();
        return;
      case EventKind::kPostRecv:
        if (responder_.state() != RcQpState::kError && !responder_.PostRecv(nextRecvId_++, o_.recvBufferBytes)) {
          result_.errors.push_back("harness: PostRecv refused a buffer");
        }
        return;
    }
  }

  // Posts the next messages while the send queue has room and their time has come; otherwise
  // schedules a wake-up for the next one's time (a completion schedules one too).
  void PostWhatFits() {
    while (nextPost_ < messages_.size() && nextPost_ - completed_ < o_.sendQueueDepth) {
      const uint64_t due = nextPost_ * o_.postSpacingUs;
      if (due > now_) {
        if (wakeAt_ != due) {
          wakeAt_ = due;
          Schedule(due, EventKind::kPostSend, 0);
        }
        return;
      }
      const size_t i = nextPost_++;
      const RcLoopMessage& m = messages_[i];
      if (!requester_.PostSend(i, std::vector<uint8_t>(m.data, m.data + m.size))) {
        result_.errors.push_back("harness: PostSend refused message " + std::to_string(i));
        MarkSendDone(i, RcSendStatus::kFlushed);
      }
    }
  }

  void MarkSendDone(uint64_t index, RcSendStatus st) {
    if (index >= result_.sendStatus.size()) return;
    result_.sendStatus[index] = st;
    if (!result_.sendCompleted[index]) {
      result_.sendCompleted[index] = true;
      ++completed_;
      // Room in the send queue: post the next message after the current call returns.
      if (nextPost_ < messages_.size()) Schedule(now_, EventKind::kPostSend, 0);
    }
  }

  void OnSendDone(uint64_t wrId, RcSendStatus st) { MarkSendDone(wrId, st); }

  void OnRecvDone(RcRecvStatus st, std::vector<uint8_t>&& message) {
    result_.recvStatus.push_back(st);
    if (st != RcRecvStatus::kSuccess) return;
    const uint64_t index = result_.deliveredCount++;
    if (index >= messages_.size() || messages_[index].size != message.size() ||
        (!message.empty() && std::memcmp(messages_[index].data, message.data(), message.size()) != 0)) {
      result_.deliveredInOrder = false;
    }
    result_.deliveredBytes += message.size();
    if (o_.collectDelivered) result_.delivered.push_back(std::move(message));
    Schedule(now_, EventKind::kPostRecv, 0);  // keep the receive queue full
  }

  void Finish() {
    const RcQpStats& a = requester_.stats();
    const RcQpStats& b = responder_.stats();
    RcLoopStats& s = result_.stats;
    s.packetsSent = a.packetsSent;
    s.retransmissions = a.retransmissions;
    s.timeouts = a.timeouts;
    s.staleAcks = a.staleAcks;
    s.ghostAcks = a.ghostAcks;
    s.naks = b.naksSent;
    s.rnrNaks = b.rnrNaksSent;
    s.invalidRequestNaks = b.invalidRequestNaksSent;
    s.acks = b.acksSent;
    s.duplicatesReceived = b.duplicatesReceived;
    s.outOfSequenceDropped = b.outOfSequenceDropped;
    s.simulatedTimeUs = now_;
    result_.requesterState = requester_.state();
    result_.responderState = responder_.state();
  }

  const std::vector<RcLoopMessage>& messages_;
  const RcLoopOptions& o_;
  SeededRandom random_;
  // A PSN listed k times is lost (duplicated) on its first k transmissions.
  std::multiset<uint32_t> dropOnce_;
  std::multiset<uint32_t> duplicateOnce_;
  RcQp requester_;
  RcQp responder_;
  RcLoopResult result_;
  uint64_t now_ = 0;
  uint64_t nextSeq_ = 0;
  uint64_t nextRecvId_ = 0;
  size_t completed_ = 0;  // messages with a send completion
  size_t nextPost_ = 0;   // the next message to post
  uint64_t wakeAt_ = kNever;
  std::priority_queue<Event, std::vector<Event>, Later> events_;
  // Packet bytes in flight, by slot; slots are reused. A deque, so taking a slot never moves the
  // others (a delivered packet's payload stays valid while the engine reads it).
  std::deque<std::vector<uint8_t>> wires_;
  std::vector<size_t> freeSlots_;
};

}  // namespace

std::string RcLoopOptionsProblem(const RcLoopOptions& o) {
  if (!InRate(o.lossRate)) return "lossRate must be from 0 to 1";
  if (!InRate(o.duplicateRate)) return "duplicateRate must be from 0 to 1";
  if (!InRate(o.reorderRate)) return "reorderRate must be from 0 to 1";
  if (o.startPsn > kPsnMask) return "startPsn does not fit 24 bits";
  if (o.sendQueueDepth == 0) return "sendQueueDepth must be at least 1";
  RcQpConfig c;
  c.pathMtuBytes = o.mtuBytes;
  c.retryCount = o.retryCount;
  c.rnrRetry = o.rnrRetry;
  c.timeoutExp = o.timeoutExp;
  c.minRnrTimer = o.minRnrTimer;
  c.recvQueueDepth = o.recvQueueDepth;
  c.sendWindowPackets = o.sendWindowPackets;
  c.ackReqEveryPackets = o.ackReqEveryPackets;
  return RcQpConfigProblem(c);
}

RcLoopResult RunRcLoop(const std::vector<RcLoopMessage>& messages, const RcLoopOptions& o) {
  LoopRun run(messages, o);
  return run.Run();
}

}  // namespace ipoib::sim
