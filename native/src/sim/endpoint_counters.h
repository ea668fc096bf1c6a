// Per-port counters of a simulated endpoint. The IB ones carry their PortCounters/PortInfo
// names; the rest are detail counters that say why a packet was dropped. All are 64-bit and
// updated with relaxed atomics from the send path and the receive thread.
#pragma once

#include <atomic>
#include <cstdint>

namespace ipoib::sim {

// X(name, meaning): the one list; the binding and the TS wrapper follow its order.
#define IPOIB_ENDPOINT_COUNTERS(X)                                                              \
  X(portXmitPkts, "packets sent (each multicast packet once, however many ports it reaches)")  \
  X(portXmitData, "4-octet words sent, LRH through ICRC (PktLen)")                             \
  X(portRcvPkts, "packets accepted and delivered to at least one QP")                         \
  X(portRcvData, "4-octet words accepted, LRH through ICRC (PktLen)")                          \
  X(portRcvErrors, "packets dropped as malformed, for a bad ICRC/VCRC or over the MTU")        \
  X(portRcvSwitchRelayErrors, "packets whose DLID is neither this port's LID nor a joined MLID") \
  X(portXmitDiscards, "packets not sent: link down or no route to the DLID")                   \
  X(pKeyViolations, "packets dropped by the P_Key check (PortInfo P_KeyViolations)")           \
  X(qKeyViolations, "UD packets dropped by the Q_Key check (PortInfo Q_KeyViolations)")        \
  X(malformed, "of portRcvErrors: bad length, LNH, GRH, OpCode, TVer or PadCnt")               \
  X(icrcErrors, "of portRcvErrors: wrong ICRC")                                               \
  X(vcrcErrors, "of portRcvErrors: wrong VCRC")                                               \
  X(mtuDrops, "of portRcvErrors: payload larger than the port MTU")                           \
  X(unknownQpnDrops, "packets for a QPN with no matching QP (or multicast with no attached QP)") \
  X(linkDownDrops, "packets that arrived while the link was down")                            \
  X(linkDownXmitDiscards, "of portXmitDiscards: sent while the link was down")                \
  X(noRouteXmitDiscards, "of portXmitDiscards: no route to the DLID")                         \
  X(lossFaultDrops, "sent packets discarded by the loss fault")                               \
  X(socketOverflowDrops, "datagrams the kernel dropped for a full receive buffer")            \
  X(rcvQueueOverflows, "accepted packets dropped because the receiver fell behind")           \
  X(sendErrors, "datagrams the kernel refused to send")

struct CounterSnapshot {
#define IPOIB_COUNTER_FIELD(name, meaning) uint64_t name = 0;
  IPOIB_ENDPOINT_COUNTERS(IPOIB_COUNTER_FIELD)
#undef IPOIB_COUNTER_FIELD
};

struct Counters {
#define IPOIB_COUNTER_FIELD(name, meaning) std::atomic<uint64_t> name{0};
  IPOIB_ENDPOINT_COUNTERS(IPOIB_COUNTER_FIELD)
#undef IPOIB_COUNTER_FIELD

  CounterSnapshot Snapshot() const {
    CounterSnapshot s;
#define IPOIB_COUNTER_READ(name, meaning) s.name = name.load(std::memory_order_relaxed);
    IPOIB_ENDPOINT_COUNTERS(IPOIB_COUNTER_READ)
#undef IPOIB_COUNTER_READ
    return s;
  }
  void Reset() {
#define IPOIB_COUNTER_ZERO(name, meaning) name.store(0, std::memory_order_relaxed);
    IPOIB_ENDPOINT_COUNTERS(IPOIB_COUNTER_ZERO)
#undef IPOIB_COUNTER_ZERO
  }
};

inline void Bump(std::atomic<uint64_t>& c, uint64_t n = 1) { c.fetch_add(n, std::memory_order_relaxed); }

}  // namespace ipoib::sim
