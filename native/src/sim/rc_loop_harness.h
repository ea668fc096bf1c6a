// TEST AND BENCHMARK ONLY. Two RcQp objects joined by an in-memory link with seeded loss,
// duplication and reordering, driven by a simulated clock: runs are deterministic and take no
// wall-clock time beyond the CPU they use. Nothing in the product uses this; the simulated fabric
// carries RC packets through the endpoint (real sockets, real clock) instead.
//
// The requester QP ("A", QPN 0x000011) sends every message to the responder QP ("B", QPN
// 0x000022), keeping up to sendQueueDepth of them posted (the next is posted as one completes);
// B keeps recvQueueDepth receive buffers posted (refilled as they complete).
// Packets cross the link as BTH [+ AETH] + payload + pad bytes (EncodeRcHeaders / ParseRcPacket),
// so what the engine consumes is exactly what it put on the wire.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "rc_qp.h"

namespace ipoib::sim {

constexpr uint32_t kRcLoopRequesterQpn = 0x000011;
constexpr uint32_t kRcLoopResponderQpn = 0x000022;
constexpr uint16_t kRcLoopPkey = 0xFFFF;

// A message to send: a view of bytes the caller keeps alive for the whole run.
struct RcLoopMessage {
  const uint8_t* data = nullptr;
  size_t size = 0;
};

struct RcLoopOptions {
  uint32_t mtuBytes = 4096;
  double lossRate = 0;       // probability that a packet (either direction) is lost
  double duplicateRate = 0;  // probability that a delivered packet arrives twice
  double reorderRate = 0;    // probability that a packet is held back by reorderDelayUs
  uint32_t seed = 1;
  uint32_t latencyUs = 2;    // one-way link delay
  uint32_t reorderDelayUs = 10;
  uint32_t startPsn = 0;     // the requester's first PSN (= the responder's expected PSN)
  uint8_t retryCount = 7;
  uint8_t rnrRetry = 7;
  uint8_t timeoutExp = 10;   // 4.2 ms
  uint8_t minRnrTimer = 1;   // 10 us
  uint32_t recvQueueDepth = 256;
  uint32_t recvBufferBytes = 65524;
  uint64_t recvPostDelayUs = 0;   // when the responder first posts its receive buffers
  uint32_t sendWindowPackets = 64;
  uint32_t ackReqEveryPackets = 8;
  uint64_t postSpacingUs = 0;     // message i is posted no earlier than i * postSpacingUs
  uint32_t sendQueueDepth = 64;   // messages posted and not yet completed, at most (the rest wait)
  std::vector<uint32_t> dropPsns;       // request PSNs lost on their first transmission
  std::vector<uint32_t> duplicatePsns;  // request PSNs delivered twice on their first transmission
  uint32_t recordPackets = 0;     // keep the first N packets put on the link
  uint64_t maxSimTimeUs = 60'000'000;
  bool collectDelivered = true;   // false: count and compare delivered messages, do not keep them
};

// One packet put on the link, as recorded for inspection.
struct RcLoopPacket {
  uint64_t timeUs = 0;
  bool fromRequester = true;
  const char* fate = "delivered";  // "delivered", "lost" or "duplicated"
  std::vector<uint8_t> headers;    // BTH [+ AETH] exactly as on the wire
  uint32_t payloadBytes = 0;
};

struct RcLoopStats {
  uint64_t packetsSent = 0;      // request packets from the requester, retransmissions included
  uint64_t retransmissions = 0;
  uint64_t naks = 0;             // PSN sequence error NAKs from the responder
  uint64_t rnrNaks = 0;
  uint64_t invalidRequestNaks = 0;
  uint64_t acks = 0;             // ACKs from the responder (coalesced and re-ACKs)
  uint64_t timeouts = 0;
  uint64_t duplicatesReceived = 0;
  uint64_t outOfSequenceDropped = 0;
  uint64_t staleAcks = 0;        // ACK/NAKs the requester ignored as late or copied
  uint64_t ghostAcks = 0;        // ACK/NAKs naming PSNs never sent (0 unless the engine is wrong)
  uint64_t linkLost = 0;
  uint64_t linkDuplicated = 0;
  uint64_t linkReordered = 0;
  uint64_t simulatedTimeUs = 0;
};

struct RcLoopResult {
  std::vector<std::vector<uint8_t>> delivered;  // in delivery order (empty unless collectDelivered)
  uint64_t deliveredCount = 0;
  uint64_t deliveredBytes = 0;
  // Every delivered message equals the message posted at the same position (in order, intact).
  bool deliveredInOrder = true;
  std::vector<RcSendStatus> sendStatus;  // per message, by index; kFlushed until completed
  std::vector<bool> sendCompleted;
  std::vector<RcRecvStatus> recvStatus;  // every receive completion, in order
  RcLoopStats stats;
  std::vector<std::string> errors;  // QP errors and harness problems, in order
  RcQpState requesterState = RcQpState::kReset;
  RcQpState responderState = RcQpState::kReset;
  std::vector<RcLoopPacket> packets;
};

// "" when the options are usable, else the first problem.
std::string RcLoopOptionsProblem(const RcLoopOptions& o);

// Runs until every message has a send completion, the simulated clock passes maxSimTimeUs, or
// nothing is left to happen. Precondition: RcLoopOptionsProblem(o) is "".
RcLoopResult RunRcLoop(const std::vector<RcLoopMessage>& messages, const RcLoopOptions& o);

}  // namespace ipoib::sim
