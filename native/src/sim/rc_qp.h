// The reliable connected (RC) transport of one simulated queue pair: requester (segmentation,
// PSNs, retransmission) and responder (in-order acceptance, reassembly, ACK/NAK) in one object.
//
// It is a pure state machine: no sockets, no threads, no clock of its own. The owner feeds it
// packets (OnPacket), posts work (PostSend/PostRecv), calls OnTimer at or after NextDeadlineUs(),
// and supplies the time through Callbacks::nowUs. Everything it produces comes out through the
// callbacks, synchronously, from inside those calls. Callbacks must not call back into the same
// RcQp (queue the work and do it after the call returns); that keeps every method free of
// re-entrancy hazards.
//
// What follows IBA vol. 1 ch. 9 (RC) and what is simplified:
// - States RESET -> INIT -> RTR -> RTS, and ERROR; SQD/SQE are not modelled. The whole Config is
//   given at RESET->INIT, INIT->RTR and RTR->RTS (a real HCA takes each attribute at a specific
//   transition); RTS->RTS may change only the retry and timer fields.
// - Only SEND (FIRST/MIDDLE/LAST/ONLY, no immediate) and ACKNOWLEDGE; RDMA and atomics are not
//   implemented and are answered with NAK invalid request.
// - PSNs are 24 bits and wrap. Go-back-N: the requester retransmits from the PSN a NAK names, or
//   from the oldest unacknowledged PSN on a timeout. The responder NAKs a PSN gap once; until the
//   expected PSN arrives it drops later packets silently (the same holds after an RNR NAK, so a
//   burst behind an RNR NAK does not turn into sequence-error NAKs).
// - ACK coalescing: the requester sets the A bit on the last packet of every message, on every
//   ackReqEveryPackets-th packet, and on the packet that fills its send window; the responder
//   ACKs every packet that asks, and re-ACKs every duplicate with the PSN before the one it
//   expects (a cumulative ACK). The AETH credit field is always 31 ("no credit count"): end-to-end
//   credits are not used and an empty receive queue is signalled with RNR NAKs.
// - The send window (sendWindowPackets) is a simulation knob: IBA bounds outstanding requests
//   only through credits, real HCAs through their own limits.
// - Retry counting: retryCount counts consecutive timeouts, and sequence-error NAKs that make no
//   progress, since the last forward progress; one more than retryCount ends in retry-exceeded.
//   rnrRetry counts RNR NAKs the same way (7 = retry forever). Progress (the oldest
//   unacknowledged PSN moving) reloads both counters.
// - timeoutExp 0 disables the ACK timer (as in IBA: an infinite timeout).
// - A message longer than the receive buffer it lands in: the responder sends NAK invalid request,
//   completes that receive with local-length-error and goes to ERROR; the requester completes the
//   send with remote-invalid-request and goes to ERROR. Any other malformed request in sequence
//   (OpCode out of order, wrong payload length for its OpCode, unsupported OpCode) does the same,
//   with the in-progress receive (if any) flushed.
// - Receive-side P_Key, LID and CRC checks are the endpoint's (it drops and counts before the
//   engine sees a packet); the engine only requires an RC OpCode and its own QPN.
// - stats() counts over the object's whole life (a move to RESET does not clear them).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <vector>

#include "rc_packet.h"

namespace ipoib::sim {

enum class RcQpState : uint8_t { kReset, kInit, kRtr, kRts, kError };

enum class RcSendStatus : uint8_t {
  kSuccess,
  kRetryExceeded,
  kRnrRetryExceeded,
  kRemoteInvalidRequest,
  kRemoteAccessError,
  kRemoteOperationalError,
  kFlushed,
};

enum class RcRecvStatus : uint8_t { kSuccess, kLocalLengthError, kFlushed };

// Lowercase-with-dashes names, as the TypeScript side spells them ("retry-exceeded", "RTS").
const char* RcQpStateName(RcQpState s);
const char* RcSendStatusName(RcSendStatus s);
const char* RcRecvStatusName(RcRecvStatus s);

struct RcQpConfig {
  uint32_t qpn = 0;       // this QP (24 bits)
  uint32_t destQpn = 0;   // the connected peer QP (24 bits)
  uint16_t pkey = 0xFFFF;
  uint32_t pathMtuBytes = 4096;  // 256, 512, 1024, 2048 or 4096
  uint32_t sqPsn = 0;     // first PSN this QP sends
  uint32_t rqPsn = 0;     // first PSN it expects
  uint8_t retryCount = 7;  // 0..7
  uint8_t rnrRetry = 7;    // 0..7, 7 = infinite
  uint8_t timeoutExp = 14; // local ACK timeout 4.096 us * 2^x, 0..31 (0 = none)
  uint8_t minRnrTimer = 12;  // RNR timer code this QP puts in its RNR NAKs, 0..31
  uint32_t recvQueueDepth = 256;
  uint32_t sendQueueDepth = 1024;
  uint32_t sendWindowPackets = 64;  // >= 1
  uint32_t ackReqEveryPackets = 8;  // >= 1
};

// "" when `c` is usable, else what is wrong with it (the first problem found).
std::string RcQpConfigProblem(const RcQpConfig& c);

struct RcQpStats {
  // Requester side.
  uint64_t packetsSent = 0;       // request packets emitted, retransmissions included
  uint64_t retransmissions = 0;   // of those, packets sent before
  uint64_t timeouts = 0;          // ACK timer expiries
  uint64_t acksReceived = 0;      // ACKs that moved the oldest unacknowledged PSN
  uint64_t staleAcks = 0;         // ACK/NAKs about PSNs already acknowledged, or copies (ignored)
  uint64_t ghostAcks = 0;         // ACK/NAKs about PSNs never sent (ignored)
  uint64_t naksReceived = 0;      // PSN sequence error NAKs acted on
  uint64_t rnrNaksReceived = 0;   // RNR NAKs acted on
  // Responder side.
  uint64_t requestsAccepted = 0;  // in-order request packets taken
  uint64_t messagesDelivered = 0;
  uint64_t acksSent = 0;
  uint64_t naksSent = 0;          // PSN sequence error NAKs
  uint64_t rnrNaksSent = 0;
  uint64_t invalidRequestNaksSent = 0;
  uint64_t duplicatesReceived = 0;
  uint64_t outOfSequenceDropped = 0;
  // Either side: packets dropped before the state machine (wrong state, not RC, wrong QPN,
  // malformed AETH, reserved syndrome).
  uint64_t packetsIgnored = 0;
};

class RcQp {
 public:
  using State = RcQpState;
  using Config = RcQpConfig;
  static constexpr uint64_t kNoDeadline = UINT64_MAX;

  struct Callbacks {
    std::function<void(const RcPacket&)> emit;
    std::function<void(uint64_t wrId, RcSendStatus status)> sendDone;
    // srcQp is the connected peer's QPN (RC carries no source QPN on the wire).
    std::function<void(uint64_t wrId, RcRecvStatus status, std::vector<uint8_t>&& message, uint32_t srcQp)> recvDone;
    // `reason` says why: "modify", "retry-exceeded", "rnr-retry-exceeded", "remote-invalid-request",
    // "local-length-error", "invalid-request-received", ...
    std::function<void(State from, State to, const char* reason)> stateChanged;
    std::function<uint64_t()> nowUs;
  };

  explicit RcQp(Callbacks callbacks);

  // Moves to `to`; false (with the reason in *why when given) for a transition IBA does not allow
  // or a Config that RcQpConfigProblem rejects. `cfg` is ignored for RESET and ERROR.
  bool Modify(State to, const Config& cfg, std::string* why = nullptr);
  State state() const { return state_; }
  const Config& config() const { return cfg_; }
  const RcQpStats& stats() const { return stats_; }
  // Why the QP last went to ERROR, in words ("" when it has not).
  const std::string& errorDetail() const { return errorDetail_; }

  // Queues a message for sending; segmented by the path MTU into FIRST/MIDDLE.../LAST or ONLY.
  // RTS: true (false when the send queue is full). ERROR: completes at once as flushed, true.
  // Other states: false.
  bool PostSend(uint64_t wrId, std::vector<uint8_t> message);
  // Adds a receive buffer of `capacityBytes`. INIT/RTR/RTS: true (false when the receive queue is
  // full). ERROR: completes at once as flushed, true. RESET: false.
  bool PostRecv(uint64_t wrId, uint32_t capacityBytes);

  // A packet addressed to this QP: SENDs feed the responder, ACKNOWLEDGEs the requester.
  void OnPacket(const RcPacket& p);
  // Runs the timers that are due at `nowUs` (ACK timeout, end of an RNR wait).
  void OnTimer(uint64_t nowUs);
  // When OnTimer next has something to do; kNoDeadline when nothing is pending.
  uint64_t NextDeadlineUs() const;

 private:
  struct SendWqe {
    uint64_t wrId;
    std::vector<uint8_t> data;
    uint32_t firstPsn;
    uint32_t packets;
  };
  struct RecvWqe {
    uint64_t wrId;
    uint32_t capacity;
  };

  // Requester.
  void Pump(uint64_t now);
  bool AckUpTo(uint32_t nextUnacked);
  void GoBackTo(uint32_t psn);
  void LocateTx();
  void ArmAckTimer(uint64_t now);
  void OnAcknowledge(const RcPacket& p);
  bool Unusable(uint32_t psn, uint32_t limit);
  void FailSend(RcSendStatus status, const char* reason);

  // Responder.
  void OnRequest(const RcPacket& p);
  void AcceptInOrder(const RcPacket& p);
  void SendAeth(uint32_t psn, uint8_t syndrome);
  void RejectRequest(uint32_t psn, const std::string& detail, bool lengthError);

  void EnterError(const char* reason);
  void Reset();
  uint64_t Now() const { return callbacks_.nowUs(); }

  Callbacks callbacks_;
  Config cfg_;
  State state_ = State::kReset;
  RcQpStats stats_;
  std::string errorDetail_;

  // Requester: PSNs [unaPsn_, nextPsn_) belong to queued messages; [unaPsn_, highPsn_) have been
  // sent at least once; txPsn_ is the next to (re)send and sq_[txIndex_] the message holding it.
  std::deque<SendWqe> sq_;
  size_t txIndex_ = 0;
  uint32_t nextPsn_ = 0;
  uint32_t unaPsn_ = 0;
  uint32_t txPsn_ = 0;
  uint32_t highPsn_ = 0;
  uint32_t sinceAckReq_ = 0;
  uint8_t retriesLeft_ = 0;
  uint8_t rnrRetriesLeft_ = 0;
  uint64_t ackDeadline_ = kNoDeadline;
  uint64_t rnrDeadline_ = kNoDeadline;
  uint32_t rnrPsn_ = 0;
  bool nakSeen_ = false;  // a sequence-error NAK for unaPsn_ was acted on since the last progress
  uint32_t nakPsn_ = 0;

  // Responder: ePsn_ is the next PSN it accepts; msn_ counts completed messages (24 bits).
  std::deque<RecvWqe> rq_;
  uint32_t ePsn_ = 0;
  uint32_t msn_ = 0;
  bool inMessage_ = false;
  bool nakPending_ = false;  // a NAK (sequence error or RNR) for ePsn_ is out; stay quiet
  std::vector<uint8_t> assembly_;
};

}  // namespace ipoib::sim
