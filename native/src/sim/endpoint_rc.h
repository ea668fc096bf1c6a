// The RC (reliable connected) side of a simulated port endpoint: what Endpoint's RC methods
// take and give (endpoint.h declares them, endpoint_rc.cc implements them).
//
// Each RC QP is an RcQp state machine (rc_qp.h) owned by the endpoint and keyed by its QPN, in
// the same QPN space as the UD QPs. The endpoint:
// - feeds it the RC packets that passed the port's receive checks (endpoint.h, checks 1-9) and
//   its own P_Key check (RC has no Q_Key);
// - builds what it emits into whole IB packets (LRH [+GRH], BTH [+AETH], payload, pad, ICRC,
//   VCRC), routed by the QP's DLID through the same faults and tap as UD;
// - runs its timers (ACK timeout, RNR wait) on a timer thread of its own, started with the
//   first RC QP;
// - hands its completions and state changes to the QP's handler, or to the default RC handler,
//   in batches, on whichever endpoint thread produced them (receive, timer, or the posting one
//   for immediate flushes). Handlers may post (PostSendRc/PostRecvRc/ModifyRcQp) from inside.
// Receive buffers are the consumer's business, as in verbs: PostRecvRc adds `count` buffers of
// the QP's maxRecvBytes; a SEND arriving with none posted is answered with an RNR NAK.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ib_packet.h"
#include "rc_qp.h"

namespace ipoib::sim {

// Fixed at creation.
struct RcQpCreateOptions {
  uint32_t qpn = 0;  // 0: allocate one
  uint16_t pkeyIndex = 0;
  uint32_t maxRecvBytes = 65536;  // capacity of every receive buffer PostRecvRc adds
  uint32_t recvQueueDepth = 128;
  uint32_t sendQueueDepth = 1024;
  uint32_t sendWindowPackets = 64;
  uint32_t ackReqEveryPackets = 8;
};

// The path and transport attributes given at RESET->INIT (ignored there), INIT->RTR and
// RTR->RTS (and RTS->RTS, where only the retry and timer fields may change).
struct RcQpAttrs {
  uint32_t destQpn = 0;
  uint16_t dlid = 0;
  uint8_t sl = 0;
  bool hasGrh = false;  // send a GRH (the endpoint's GID as SGID)
  Gid dgid{};
  uint8_t hopLimit = 0, tclass = 0;
  uint32_t flowLabel = 0;
  uint8_t pathMtuCode = 5;  // 1..5: 256..4096, at most the port's MTU
  uint32_t sqPsn = 0;
  uint32_t rqPsn = 0;
  uint8_t retryCount = 7;
  uint8_t rnrRetry = 7;
  uint8_t timeoutExp = 14;  // 4.096 us * 2^14 = 67 ms; 0 disables the ACK timer
  uint8_t minRnrTimer = 12;
};

// One thing an RC QP reports: a send or receive completion, or a state change.
struct RcEvent {
  enum class Kind : uint8_t { kSend, kRecv, kState };
  Kind kind = Kind::kSend;
  uint32_t qpn = 0;
  uint64_t wrId = 0;  // kSend: the caller's; kRecv: the endpoint's count of receives posted
  RcSendStatus sendStatus = RcSendStatus::kSuccess;
  RcRecvStatus recvStatus = RcRecvStatus::kSuccess;
  std::vector<uint8_t> message;  // kRecv success: the whole message (a handler may move it out)
  uint32_t srcQp = 0;            // kRecv: the connected peer's QPN
  RcQpState from = RcQpState::kReset, to = RcQpState::kReset;  // kState
  std::string reason;  // kState: "modify", "retry-exceeded", ... (rc_qp.h)
  std::string detail;  // kState to ERROR: why, in words
};

// Called with a batch of one QP's or several QPs' events; events of one QP are in order.
using RcEventHandler = std::function<void(RcEvent* events, size_t count)>;

// A snapshot of one RC QP.
struct RcQpInfo {
  uint32_t qpn = 0;
  RcQpState state = RcQpState::kReset;
  RcQpCreateOptions create;
  RcQpAttrs attrs;
  uint16_t pkey = 0;
  RcQpStats stats;
  std::string errorDetail;
  uint32_t recvsPosted = 0;  // receive buffers posted and not yet completed
};

// The endpoint's record of one RC QP (guarded by Endpoint::rcMu_).
struct RcEntry {
  uint32_t qpn = 0;
  RcQpCreateOptions create;
  RcQpAttrs attrs;
  uint16_t pkey = 0;
  uint64_t nextRecvWrId = 0;
  uint32_t recvsPosted = 0;
  std::unique_ptr<RcQp> qp;
  std::shared_ptr<RcEventHandler> handler;
};

}  // namespace ipoib::sim
