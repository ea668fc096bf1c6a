// TEST ONLY: drives one RcQp through a script of calls and records everything it does, so tests
// can hand it exact packets (hand-built, malformed, out of order) and check every output. The
// loop harness (rc_loop_harness.h) tests two QPs talking; this tests one QP's reactions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "rc_qp.h"

namespace ipoib::sim {

struct RcScriptStep {
  enum class Kind : uint8_t { kModify, kPostSend, kPostRecv, kPacket, kTimer, kClock };
  Kind kind = Kind::kClock;
  RcQpState to = RcQpState::kReset;  // kModify
  RcQpConfig config;                 // kModify
  uint64_t wrId = 0;                 // kPostSend, kPostRecv
  std::vector<uint8_t> bytes;        // kPostSend: the message; kPacket: BTH [+ AETH] + payload + pad
  uint32_t capacityBytes = 0;        // kPostRecv
  uint64_t nowUs = 0;                // kTimer (sets the clock, then OnTimer), kClock (sets the clock)
};

struct RcScriptEvent {
  enum class Kind : uint8_t { kEmit, kSendDone, kRecvDone, kState, kResult };
  Kind kind = Kind::kResult;
  size_t step = 0;             // the step during which it happened
  uint64_t timeUs = 0;
  std::vector<uint8_t> bytes;  // kEmit: the packet as on the wire; kRecvDone: the message
  uint64_t wrId = 0;           // kSendDone, kRecvDone
  std::string status;          // kSendDone, kRecvDone; kState: the reason; kResult: why it failed
  uint32_t srcQp = 0;          // kRecvDone
  RcQpState from = RcQpState::kReset, to = RcQpState::kReset;  // kState
  bool ok = false;             // kResult: what Modify/PostSend/PostRecv returned, or whether a packet parsed
};

struct RcScriptResult {
  std::vector<RcScriptEvent> events;
  RcQpState state = RcQpState::kReset;
  uint64_t nextDeadlineUs = RcQp::kNoDeadline;
  std::string errorDetail;
  RcQpStats stats;
};

RcScriptResult RunRcScript(const std::vector<RcScriptStep>& steps);

}  // namespace ipoib::sim
