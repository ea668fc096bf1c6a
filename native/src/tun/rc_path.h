// The data plane's RC side (connected mode, RFC 4755): the RC QPs the control plane connected
// through the CM and attached to the data plane (DataPlane::AttachRc). The data plane then owns
// their event handler:
//
//   TX   a neighbour entry with an RC QPN: each unicast IP packet goes as one RC SEND (IPoIB
//        header + packet, one copy into the message) on that QP, from the TX thread
//   RX   each message received is an IPoIB frame, handled like a UD one (no own-echo filter);
//        one receive buffer is reposted per message in the same handler call, so the QP keeps
//        `recvDepth` posted and a peer using rnr_retry 0 (as the kernel does) never meets an
//        RNR NAK under steady load
//   ERR  a failed send or the QP going to ERROR is punted to JS once per attachment
//        (PuntReason::kRcError), with the failed send's status, the transition's reason and
//        its detail
//
// Handlers run on the endpoint's receive or RC timer thread, or on whichever thread made the QP
// act (the TX thread's post, the JS thread's modify), always under the endpoint's RC lock: once
// SetRcQpHandler(qpn, nullptr) has returned on another thread no call is left.
#pragma once

#include <atomic>
#include <cstdint>

#include "../sim/ib_packet.h"
#include "data_plane.h"

namespace ipoib::tun {

struct DataPlane::RcLink {
  uint32_t qpn = 0;
  uint32_t recvDepth = 0;
  // The connection's far end as the QP's path says, for the punts of frames that came over it.
  uint32_t peerQpn = 0;
  uint16_t peerLid = 0;
  uint8_t sl = 0;
  uint16_t pkey = 0;
  bool hasGrh = false;
  sim::Gid peerGid{};

  std::atomic<bool> detached{false};
  std::atomic<bool> errorPunted{false};
};

// The data plane's send work request IDs carry this tag (bit 52: still a safe JS integer), so a
// completion that reaches the JS RC port after DetachRc matches none of its own sends.
constexpr uint64_t kRcWrIdTag = uint64_t{1} << 52;
constexpr uint64_t kRcWrIdMask = kRcWrIdTag - 1;
inline bool IsDataPlaneWrId(uint64_t wrId) { return (wrId & ~kRcWrIdMask) == kRcWrIdTag; }

}  // namespace ipoib::tun
