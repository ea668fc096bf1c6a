#include "rc_qp.h"

#include <algorithm>
#include <utility>

#include "rc_psn.h"

namespace ipoib::sim {

namespace {

// IBA's largest message; also keeps a message's packet count far inside the PSN half-space.
constexpr uint64_t kMaxMessageBytes = uint64_t{1} << 31;
// Outstanding PSNs stay below a quarter of the PSN space, so every "ahead or behind" question
// about them has one answer.
constexpr uint32_t kMaxOutstandingPsns = kPsnHalf / 2;
constexpr uint32_t kAssemblyReserveCap = 1u << 20;

uint8_t AckSyndrome() { return AethSyndrome(kAethKindAck, kAethCreditInvalid); }

}  // namespace

const char* RcQpStateName(RcQpState s) {
  switch (s) {
    case RcQpState::kReset: return "RESET";
    case RcQpState::kInit: return "INIT";
    case RcQpState::kRtr: return "RTR";
    case RcQpState::kRts: return "RTS";
    case RcQpState::kError: return "ERROR";
  }
  return "UNKNOWN";
}

const char* RcSendStatusName(RcSendStatus s) {
  switch (s) {
    case RcSendStatus::kSuccess: return "success";
    case RcSendStatus::kRetryExceeded: return "retry-exceeded";
    case RcSendStatus::kRnrRetryExceeded: return "rnr-retry-exceeded";
    case RcSendStatus::kRemoteInvalidRequest: return "remote-invalid-request";
    case RcSendStatus::kRemoteAccessError: return "remote-access-error";
    case RcSendStatus::kRemoteOperationalError: return "remote-operational-error";
    case RcSendStatus::kFlushed: return "flushed";
  }
  return "unknown";
}

const char* RcRecvStatusName(RcRecvStatus s) {
  switch (s) {
    case RcRecvStatus::kSuccess: return "success";
    case RcRecvStatus::kLocalLengthError: return "local-length-error";
    case RcRecvStatus::kFlushed: return "flushed";
  }
  return "unknown";
}

std::string RcQpConfigProblem(const RcQpConfig& c) {
  if (c.qpn > kPsnMask) return "qpn does not fit 24 bits";
  if (c.destQpn > kPsnMask) return "destQpn does not fit 24 bits";
  switch (c.pathMtuBytes) {
    case 256: case 512: case 1024: case 2048: case 4096: break;
    default: return "pathMtuBytes must be 256, 512, 1024, 2048 or 4096";
  }
  if (c.sqPsn > kPsnMask) return "sqPsn does not fit 24 bits";
  if (c.rqPsn > kPsnMask) return "rqPsn does not fit 24 bits";
  if (c.retryCount > 7) return "retryCount must be 0..7";
  if (c.rnrRetry > 7) return "rnrRetry must be 0..7";
  if (c.timeoutExp > 31) return "timeoutExp must be 0..31";
  if (c.minRnrTimer > 31) return "minRnrTimer must be 0..31";
  if (c.recvQueueDepth == 0) return "recvQueueDepth must be at least 1";
  if (c.sendQueueDepth == 0) return "sendQueueDepth must be at least 1";
  if (c.sendWindowPackets == 0 || c.sendWindowPackets >= kMaxOutstandingPsns) {
    return "sendWindowPackets must be 1..2^22-1";
  }
  if (c.ackReqEveryPackets == 0) return "ackReqEveryPackets must be at least 1";
  return "";
}

RcQp::RcQp(Callbacks callbacks) : callbacks_(std::move(callbacks)) {}

// ---- State transitions

bool RcQp::Modify(State to, const Config& cfg, std::string* why) {
  const State from = state_;
  auto refuse = [&](const std::string& reason) {
    if (why != nullptr) *why = reason;
    return false;
  };
  auto illegal = [&]() {
    return refuse(std::string("illegal transition ") + RcQpStateName(from) + " -> " + RcQpStateName(to));
  };
  if (to == State::kReset) {
    Reset();
    state_ = State::kReset;
    if (from != to) callbacks_.stateChanged(from, to, "modify");
    return true;
  }
  if (to == State::kError) {
    errorDetail_ = "moved to ERROR by Modify";
    EnterError("modify");
    return true;
  }
  const std::string problem = RcQpConfigProblem(cfg);
  if (!problem.empty()) return refuse(problem);
  switch (to) {
    case State::kInit:
      if (from != State::kReset && from != State::kInit) return illegal();
      cfg_ = cfg;
      break;
    case State::kRtr:
      if (from != State::kInit) return illegal();
      cfg_ = cfg;
      ePsn_ = cfg.rqPsn;
      msn_ = 0;
      inMessage_ = false;
      nakPending_ = false;
      break;
    case State::kRts:
      if (from == State::kRtr) {
        cfg_ = cfg;
        nextPsn_ = unaPsn_ = txPsn_ = highPsn_ = cfg.sqPsn;
        txIndex_ = 0;
        sinceAckReq_ = 0;
      } else if (from == State::kRts) {
        // Only the retry and timer attributes may change on a live connection.
        cfg_.retryCount = cfg.retryCount;
        cfg_.rnrRetry = cfg.rnrRetry;
        cfg_.timeoutExp = cfg.timeoutExp;
        cfg_.minRnrTimer = cfg.minRnrTimer;
      } else {
        return illegal();
      }
      retriesLeft_ = cfg_.retryCount;
      rnrRetriesLeft_ = cfg_.rnrRetry;
      break;
    default:
      return illegal();
  }
  state_ = to;
  if (from != to) callbacks_.stateChanged(from, to, "modify");
  return true;
}

void RcQp::Reset() {
  sq_.clear();
  rq_.clear();
  assembly_.clear();
  txIndex_ = 0;
  nextPsn_ = unaPsn_ = txPsn_ = highPsn_ = 0;
  sinceAckReq_ = 0;
  ackDeadline_ = rnrDeadline_ = kNoDeadline;
  nakSeen_ = false;
  ePsn_ = msn_ = 0;
  inMessage_ = false;
  nakPending_ = false;
  errorDetail_.clear();
}

void RcQp::EnterError(const char* reason) {
  if (state_ == State::kError) return;
  const State from = state_;
  state_ = State::kError;
  ackDeadline_ = rnrDeadline_ = kNoDeadline;
  callbacks_.stateChanged(from, State::kError, reason);
  // Flush: every queued work request completes, in order, as flushed.
  std::deque<SendWqe> sends;
  sends.swap(sq_);
  std::deque<RecvWqe> recvs;
  recvs.swap(rq_);
  assembly_.clear();
  inMessage_ = false;
  txIndex_ = 0;
  for (const SendWqe& w : sends) callbacks_.sendDone(w.wrId, RcSendStatus::kFlushed);
  for (const RecvWqe& r : recvs) callbacks_.recvDone(r.wrId, RcRecvStatus::kFlushed, {}, cfg_.destQpn);
}

// ---- Posting work

bool RcQp::PostSend(uint64_t wrId, std::vector<uint8_t> message) {
  if (state_ == State::kError) {
    callbacks_.sendDone(wrId, RcSendStatus::kFlushed);
    return true;
  }
  if (state_ != State::kRts || sq_.size() >= cfg_.sendQueueDepth || message.size() > kMaxMessageBytes) return false;
  const uint64_t mtu = cfg_.pathMtuBytes;
  const uint32_t packets = message.empty() ? 1 : static_cast<uint32_t>((message.size() + mtu - 1) / mtu);
  if (PsnDistance(unaPsn_, nextPsn_) + uint64_t{packets} >= kMaxOutstandingPsns) return false;
  sq_.push_back(SendWqe{wrId, std::move(message), nextPsn_, packets});
  nextPsn_ = PsnAdd(nextPsn_, packets);
  Pump(Now());
  return true;
}

bool RcQp::PostRecv(uint64_t wrId, uint32_t capacityBytes) {
  if (state_ == State::kError) {
    callbacks_.recvDone(wrId, RcRecvStatus::kFlushed, {}, cfg_.destQpn);
    return true;
  }
  if (state_ == State::kReset || rq_.size() >= cfg_.recvQueueDepth) return false;
  rq_.push_back(RecvWqe{wrId, capacityBytes});
  return true;
}

// ---- Requester

void RcQp::ArmAckTimer(uint64_t now) {
  const uint64_t timeout = LocalAckTimeoutUs(cfg_.timeoutExp);
  ackDeadline_ = timeout == 0 ? kNoDeadline : now + timeout;
}

void RcQp::LocateTx() {
  txIndex_ = sq_.size();
  for (size_t i = 0; i < sq_.size(); ++i) {
    if (PsnDistance(sq_[i].firstPsn, txPsn_) < sq_[i].packets) {
      txIndex_ = i;
      return;
    }
  }
}

void RcQp::GoBackTo(uint32_t psn) {
  txPsn_ = psn;
  sinceAckReq_ = 0;
  LocateTx();
}

void RcQp::Pump(uint64_t now) {
  if (state_ != State::kRts || rnrDeadline_ != kNoDeadline) return;
  while (txPsn_ != nextPsn_ && PsnDistance(unaPsn_, txPsn_) < cfg_.sendWindowPackets) {
    const SendWqe& w = sq_[txIndex_];
    const uint32_t segment = PsnDistance(w.firstPsn, txPsn_);
    const bool last = segment + 1 == w.packets;
    // The A bit: end of a message, every N packets, and whenever this packet fills the window
    // (otherwise the requester could stall waiting for an ACK nobody asked for).
    const bool fillsWindow = PsnDistance(unaPsn_, txPsn_) + 1 >= cfg_.sendWindowPackets;
    const bool ackReq = last || fillsWindow || ++sinceAckReq_ >= cfg_.ackReqEveryPackets;
    if (ackReq) sinceAckReq_ = 0;

    RcPacket p;
    if (w.packets == 1) {
      p.opcode = kOpRcSendOnly;
    } else {
      p.opcode = segment == 0 ? kOpRcSendFirst : (last ? kOpRcSendLast : kOpRcSendMiddle);
    }
    p.ackReq = ackReq;
    p.psn = txPsn_;
    p.destQp = cfg_.destQpn;
    p.pkey = cfg_.pkey;
    const size_t offset = std::min(size_t{segment} * cfg_.pathMtuBytes, w.data.size());  // 0 for an empty message
    p.payload = w.data.data() + offset;
    p.payloadLen = static_cast<uint32_t>(std::min<size_t>(cfg_.pathMtuBytes, w.data.size() - offset));

    ++stats_.packetsSent;
    if (PsnAhead(highPsn_, txPsn_)) {
      ++stats_.retransmissions;
    } else {
      highPsn_ = PsnAdd(txPsn_, 1);
    }
    txPsn_ = PsnAdd(txPsn_, 1);
    if (last) ++txIndex_;
    if (ackDeadline_ == kNoDeadline) ArmAckTimer(now);
    callbacks_.emit(p);
  }
}

bool RcQp::AckUpTo(uint32_t nextUnacked) {
  if (nextUnacked == unaPsn_) return false;
  const bool txBehind = PsnAhead(nextUnacked, txPsn_);
  unaPsn_ = nextUnacked;
  while (!sq_.empty()) {
    const SendWqe& front = sq_.front();
    if (PsnDistance(front.firstPsn, unaPsn_) < front.packets) break;
    const uint64_t wrId = front.wrId;
    sq_.pop_front();
    if (txIndex_ > 0) --txIndex_;
    callbacks_.sendDone(wrId, RcSendStatus::kSuccess);
  }
  if (txBehind) {
    txPsn_ = unaPsn_;
    LocateTx();
  }
  retriesLeft_ = cfg_.retryCount;
  rnrRetriesLeft_ = cfg_.rnrRetry;
  nakSeen_ = false;
  if (!PsnAhead(highPsn_, unaPsn_)) {
    ackDeadline_ = kNoDeadline;  // nothing sent is unacknowledged
  } else if (rnrDeadline_ == kNoDeadline) {
    ArmAckTimer(Now());
  }
  return true;
}

void RcQp::FailSend(RcSendStatus status, const char* reason) {
  if (!sq_.empty()) {
    const uint64_t wrId = sq_.front().wrId;
    sq_.pop_front();
    callbacks_.sendDone(wrId, status);
  }
  EnterError(reason);
}

// A NAK names a packet that was sent and is unacknowledged: PSN in [unaPsn_, unaPsn_ + limit).
// True (and counted) when `psn` is outside that range: behind it (stale: a late or copied
// response) or beyond it (ghost: names a packet never sent).
bool RcQp::Unusable(uint32_t psn, uint32_t limit) {
  if (PsnAhead(unaPsn_, psn)) {
    ++stats_.staleAcks;
    return true;
  }
  if (PsnDistance(unaPsn_, psn) >= limit) {
    ++stats_.ghostAcks;
    return true;
  }
  return false;
}

void RcQp::OnAcknowledge(const RcPacket& p) {
  if (state_ != State::kRts || !p.hasAeth) {
    ++stats_.packetsIgnored;
    return;
  }
  // Packets sent and not yet acknowledged; an ACK or NAK must name one of them (or, for an ACK,
  // the one before the oldest: a duplicate).
  const uint32_t outstanding = PsnDistance(unaPsn_, highPsn_);
  const uint8_t value = AethValue(p.syndrome);
  // Bit 7 of the syndrome is reserved; it is ignored here (judging it is the suite's job).
  switch (AethKind(p.syndrome)) {
    case kAethKindAck: {
      const uint32_t next = PsnAdd(p.psn, 1);  // an ACK for n acknowledges everything before n + 1
      if (next == unaPsn_) {
        ++stats_.staleAcks;  // acknowledges nothing new (a re-ACK, or a copy)
        return;
      }
      if (Unusable(next, outstanding + 1)) return;
      ++stats_.acksReceived;
      AckUpTo(next);
      Pump(Now());
      return;
    }
    case kAethKindRnrNak: {
      if (Unusable(p.psn, outstanding)) return;
      if (rnrDeadline_ != kNoDeadline && p.psn == rnrPsn_) {
        ++stats_.staleAcks;  // the link duplicated the RNR NAK we are already waiting out
        return;
      }
      ++stats_.rnrNaksReceived;
      AckUpTo(p.psn);  // everything before the refused packet arrived
      if (cfg_.rnrRetry != 7) {
        if (rnrRetriesLeft_ == 0) {
          errorDetail_ = "RNR NAK for PSN " + std::to_string(p.psn) + " with no RNR retries left";
          FailSend(RcSendStatus::kRnrRetryExceeded, "rnr-retry-exceeded");
          return;
        }
        --rnrRetriesLeft_;
      }
      GoBackTo(p.psn);
      rnrPsn_ = p.psn;
      rnrDeadline_ = Now() + RnrTimerUs(value);
      ackDeadline_ = kNoDeadline;  // the RNR wait replaces the ACK timer
      return;
    }
    case kAethKindNak: {
      if (Unusable(p.psn, outstanding)) return;
      switch (value) {
        case kNakPsnSequenceError: {
          if (nakSeen_ && nakPsn_ == p.psn && p.psn == unaPsn_) {
            ++stats_.staleAcks;  // a copy of the NAK we already acted on
            return;
          }
          ++stats_.naksReceived;
          if (!AckUpTo(p.psn)) {
            if (retriesLeft_ == 0) {
              errorDetail_ = "PSN sequence error NAK for PSN " + std::to_string(p.psn) + " with no retries left";
              FailSend(RcSendStatus::kRetryExceeded, "retry-exceeded");
              return;
            }
            --retriesLeft_;
          }
          nakSeen_ = true;
          nakPsn_ = p.psn;
          GoBackTo(p.psn);
          if (rnrDeadline_ == kNoDeadline) ArmAckTimer(Now());
          Pump(Now());
          return;
        }
        case kNakInvalidRequest:
          AckUpTo(p.psn);
          errorDetail_ = "NAK invalid request for PSN " + std::to_string(p.psn);
          FailSend(RcSendStatus::kRemoteInvalidRequest, "remote-invalid-request");
          return;
        case kNakRemoteAccessError:
          AckUpTo(p.psn);
          errorDetail_ = "NAK remote access error for PSN " + std::to_string(p.psn);
          FailSend(RcSendStatus::kRemoteAccessError, "remote-access-error");
          return;
        case kNakRemoteOperationalError:
          AckUpTo(p.psn);
          errorDetail_ = "NAK remote operational error for PSN " + std::to_string(p.psn);
          FailSend(RcSendStatus::kRemoteOperationalError, "remote-operational-error");
          return;
        default:
          ++stats_.packetsIgnored;  // reserved NAK code
          return;
      }
    }
    default:
      ++stats_.packetsIgnored;  // reserved syndrome kind 0b10
      return;
  }
}

void RcQp::OnTimer(uint64_t nowUs) {
  if (state_ != State::kRts) return;
  if (rnrDeadline_ != kNoDeadline && nowUs >= rnrDeadline_) {
    rnrDeadline_ = kNoDeadline;
    Pump(nowUs);  // resend from the refused PSN; sending re-arms the ACK timer
  }
  if (ackDeadline_ != kNoDeadline && nowUs >= ackDeadline_) {
    ++stats_.timeouts;
    if (retriesLeft_ == 0) {
      errorDetail_ = "no ACK for PSN " + std::to_string(unaPsn_) + " after " +
                     std::to_string(unsigned{cfg_.retryCount}) + " retries";
      FailSend(RcSendStatus::kRetryExceeded, "retry-exceeded");
      return;
    }
    --retriesLeft_;
    GoBackTo(unaPsn_);
    ArmAckTimer(nowUs);
    Pump(nowUs);
  }
}

uint64_t RcQp::NextDeadlineUs() const { return std::min(ackDeadline_, rnrDeadline_); }

// ---- Responder

void RcQp::SendAeth(uint32_t psn, uint8_t syndrome) {
  RcPacket a;
  a.opcode = kOpRcAcknowledge;
  a.psn = psn;
  a.destQp = cfg_.destQpn;
  a.pkey = cfg_.pkey;
  a.hasAeth = true;
  a.syndrome = syndrome;
  a.msn = msn_;
  callbacks_.emit(a);
}

void RcQp::RejectRequest(uint32_t psn, const std::string& detail, bool lengthError) {
  ++stats_.invalidRequestNaksSent;
  SendAeth(psn, AethSyndrome(kAethKindNak, kNakInvalidRequest));
  errorDetail_ = detail + " (PSN " + std::to_string(psn) + ")";
  if (lengthError && !rq_.empty()) {
    const uint64_t wrId = rq_.front().wrId;
    rq_.pop_front();
    assembly_.clear();
    inMessage_ = false;
    callbacks_.recvDone(wrId, RcRecvStatus::kLocalLengthError, {}, cfg_.destQpn);
  }
  EnterError(lengthError ? "local-length-error" : "invalid-request-received");
}

void RcQp::OnRequest(const RcPacket& p) {
  if (state_ != State::kRtr && state_ != State::kRts) {
    ++stats_.packetsIgnored;
    return;
  }
  const uint32_t d = PsnDistance(ePsn_, p.psn);
  if (d == 0) {
    AcceptInOrder(p);
    return;
  }
  if (d < kPsnHalf) {
    // Ahead of what we expect: a gap. NAK it once, then drop quietly until ePsn_ arrives.
    ++stats_.outOfSequenceDropped;
    if (!nakPending_) {
      nakPending_ = true;
      ++stats_.naksSent;
      SendAeth(ePsn_, AethSyndrome(kAethKindNak, kNakPsnSequenceError));
    }
    return;
  }
  // Behind: a duplicate of something already accepted. Never deliver it again; re-ACK
  // cumulatively so a requester whose ACK was lost can move on.
  ++stats_.duplicatesReceived;
  ++stats_.acksSent;
  SendAeth(PsnAdd(ePsn_, kPsnMask), AckSyndrome());
}

void RcQp::AcceptInOrder(const RcPacket& p) {
  bool first = false;
  bool last = false;
  switch (p.opcode) {
    case kOpRcSendFirst: first = true; break;
    case kOpRcSendMiddle: break;
    case kOpRcSendLast: last = true; break;
    case kOpRcSendOnly: first = last = true; break;
    default:
      RejectRequest(p.psn, "unsupported OpCode " + std::to_string(unsigned{p.opcode}), false);
      return;
  }
  if (first == inMessage_) {
    RejectRequest(p.psn, inMessage_ ? "FIRST or ONLY inside a message" : "MIDDLE or LAST without a FIRST", false);
    return;
  }
  // FIRST and MIDDLE carry exactly one path MTU; LAST 1..MTU; ONLY 0..MTU.
  const uint32_t mtu = cfg_.pathMtuBytes;
  const uint32_t len = p.payloadLen;
  const bool badLength = !last ? len != mtu : (len > mtu || (!first && len == 0));
  if (badLength) {
    RejectRequest(p.psn,
                  "payload of " + std::to_string(len) + " octets is wrong for OpCode " + std::to_string(unsigned{p.opcode}),
                  false);
    return;
  }
  if (first) {
    if (rq_.empty()) {
      // Receiver not ready: refuse this PSN, tell the requester how long to wait.
      nakPending_ = true;
      ++stats_.rnrNaksSent;
      SendAeth(p.psn, AethSyndrome(kAethKindRnrNak, cfg_.minRnrTimer));
      return;
    }
    inMessage_ = true;
    assembly_.clear();
    assembly_.reserve(std::min(rq_.front().capacity, kAssemblyReserveCap));
  }
  if (assembly_.size() + len > rq_.front().capacity) {
    RejectRequest(p.psn, "message longer than the " + std::to_string(rq_.front().capacity) + "-octet receive buffer",
                  true);
    return;
  }
  assembly_.insert(assembly_.end(), p.payload, p.payload + len);
  ePsn_ = PsnAdd(ePsn_, 1);
  nakPending_ = false;
  ++stats_.requestsAccepted;
  if (last) {
    msn_ = PsnAdd(msn_, 1);  // the MSN is 24 bits and wraps like a PSN
    inMessage_ = false;
    const uint64_t wrId = rq_.front().wrId;
    rq_.pop_front();
    ++stats_.messagesDelivered;
    std::vector<uint8_t> message;
    message.swap(assembly_);
    callbacks_.recvDone(wrId, RcRecvStatus::kSuccess, std::move(message), cfg_.destQpn);
  }
  if (p.ackReq) {
    ++stats_.acksSent;
    SendAeth(p.psn, AckSyndrome());
  }
}

// ---- Dispatch

void RcQp::OnPacket(const RcPacket& p) {
  // Only RC OpCodes (transport bits 000) addressed to this QP reach the state machine.
  if ((p.opcode & 0xE0) != 0 || p.destQp != cfg_.qpn) {
    ++stats_.packetsIgnored;
    return;
  }
  if (p.opcode == kOpRcAcknowledge) {
    OnAcknowledge(p);
  } else {
    OnRequest(p);
  }
}

}  // namespace ipoib::sim
