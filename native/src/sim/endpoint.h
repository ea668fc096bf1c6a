// A port of the simulated fabric: one UDP socket on 127.0.0.1 carrying whole IB packets, the
// port's attributes (LID, GID, MTU, P_Key table, link state), its UD QPs and multicast
// attachments, the routes the fabric manager gives it, and the receive checks an HCA applies,
// each drop counted (endpoint_counters.h).
//
// Usable from C++ without JavaScript: PostSendUd() from any thread, and per-QP receive
// handlers called on the endpoint's receive thread. Completions for QPs without a handler go
// to the default handler (the JS binding installs one).
//
// Receive checks, in order (the first failing one drops and counts the packet):
//   1. link down                                          linkDownDrops
//   2. datagram cut, LNH raw, PktLen vs length            portRcvErrors + malformed
//   3. VCRC                                               portRcvErrors + vcrcErrors
//   4. DLID is not our LID nor an MLID we joined          portRcvSwitchRelayErrors
//   5. GRH IPVer/NxtHdr/PayLen                            portRcvErrors + malformed
//   6. ICRC                                               portRcvErrors + icrcErrors
//   7. BTH OpCode layout, TVer, PadCnt; multicast DLID
//      without a GRH carrying a multicast DGID            portRcvErrors + malformed
//   8. payload larger than the port MTU                   portRcvErrors + mtuDrops
//   9. P_Key matches no table entry                       pKeyViolations
//  10. no QP for DestQP (multicast: DestQP not 0xFFFFFF,
//      or no QP attached to the MLID+MGID; an RC OpCode
//      for a QPN without an RC QP; a UC OpCode without a
//      transport handler)                                 unknownQpnDrops
//      an RC OpCode to a multicast DLID                   portRcvErrors + malformed
//  11. per QP: P_Key vs the QP's own entry (QP1 takes any
//      entry of the table; RC QPs their own)              pKeyViolations
//  12. per UD QP: DETH Q_Key differs from the QP's Q_Key  qKeyViolations
// A packet delivered to at least one QP counts portRcvPkts and portRcvData. What an RC QP then
// does with it (duplicate, out of sequence, ...) is counted in its own stats (RcQpInfo).
//
// RC QPs (endpoint_rc.h) live beside the UD ones, in the same QPN space.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "endpoint_counters.h"
#include "endpoint_egress.h"
#include "endpoint_rc.h"
#include "ib_packet.h"
#include "udp_socket.h"

namespace ipoib::sim {

constexpr uint32_t kGsiQpn = 1;
constexpr uint32_t kQkeyControlledBit = 0x80000000u;

enum class EndpointErrc : uint8_t {
  kInvalidArgument,  // a value out of range (message says which)
  kNoSuchQp,
  kQpExists,
  kMtuExceeded,      // a send larger than the port MTU
  kNotAttached,
  kClosed,
};

class EndpointError : public std::runtime_error {
 public:
  EndpointError(EndpointErrc code, const std::string& message) : std::runtime_error(message), code_(code) {}
  EndpointErrc code() const { return code_; }
  // "EINVAL", "ENOENT", "EEXIST", "EMSGSIZE", "ENOENT", "EBADF": the code the JS error carries.
  const char* CodeName() const;

 private:
  EndpointErrc code_;
};

struct EndpointConfig {
  uint16_t lid = 0;
  Gid gid{};
  uint8_t mtuCode = 5;  // 1..5: 256..4096 octets
  std::vector<uint16_t> pkeys;
  bool active = true;
};

struct UnicastRoute {
  uint16_t lid;
  uint16_t udpPort;
};
struct MulticastRoute {
  uint16_t mlid;
  std::vector<uint16_t> udpPorts;
};

// One UD send work request. Views are read before PostSendUd returns.
struct UdSendWr {
  uint16_t dlid = 0;
  uint32_t dqpn = 0;
  uint32_t qkey = 0;  // high bit set: use the QP's own Q_Key (controlled Q_Key rule)
  uint8_t sl = 0;
  std::optional<uint16_t> pkeyIndex;  // default: the QP's
  bool hasGrh = false;
  Gid dgid{};
  uint8_t hopLimit = 0, tclass = 0;
  uint32_t flowLabel = 0;
  bool solicited = false;
  std::optional<uint32_t> immData;  // sends UD SEND ONLY with Immediate
  const uint8_t* payload = nullptr;
  size_t payloadLen = 0;
};

// One received UD message. Pointers are views valid only during the handler call.
struct UdCompletion {
  uint32_t qpn;  // the receiving QP
  uint32_t srcQp;
  uint16_t slid, dlid;
  uint8_t sl;
  uint16_t pkey, pkeyIndex;
  uint32_t qkey;
  uint32_t psn;
  bool hasGrh;
  bool hasImm;
  uint32_t immData;
  uint8_t hopLimit, tclass;
  uint32_t flowLabel;
  const uint8_t* sgid;  // 16 octets, when hasGrh
  const uint8_t* dgid;
  const uint8_t* payload;
  size_t payloadLen;
  const uint8_t* raw;  // the whole packet, LRH..VCRC
  size_t rawLen;
};

// Called on the receive thread with a batch of completions.
using CompletionHandler = std::function<void(const UdCompletion* completions, size_t count)>;
// Called on the receive thread for packets with a UC OpCode that passed checks 1-9.
using TransportHandler = std::function<void(const ParsedPacket& packet, const uint8_t* raw, size_t len)>;

struct QpInfo {
  uint32_t qpn, qkey;
  uint16_t pkeyIndex;
};

class Endpoint {
 public:
  // Opens the socket and starts the receive thread. Throws EndpointError (bad config) or
  // std::system_error (socket).
  static std::shared_ptr<Endpoint> Open(const EndpointConfig& config);
  ~Endpoint();
  Endpoint(const Endpoint&) = delete;
  Endpoint& operator=(const Endpoint&) = delete;

  uint16_t UdpPort() const { return udpPort_; }

  void SetLid(uint16_t lid);
  void SetPkeyTable(std::vector<uint16_t> pkeys);
  void SetActive(bool active);
  void SetMtuCode(uint8_t mtuCode);
  void SetRoutes(std::vector<UnicastRoute> unicast, std::vector<MulticastRoute> multicast);

  // qpn: 0 to allocate one; 1 for the GSI QP; any other free QPN below 0xFFFFFF.
  uint32_t CreateUdQp(uint32_t qkey, uint16_t pkeyIndex, uint32_t qpn = 0);
  void ModifyUdQp(uint32_t qpn, std::optional<uint32_t> qkey, std::optional<uint16_t> pkeyIndex);
  void DestroyQp(uint32_t qpn);  // also detaches it from every group
  std::vector<QpInfo> Qps() const;
  void AttachMulticast(uint32_t qpn, const Gid& mgid, uint16_t mlid);
  void DetachMulticast(uint32_t qpn, const Gid& mgid, uint16_t mlid);

  // Builds and sends one packet per WR. All WRs are checked before any is sent; a bad one
  // throws EndpointError and nothing is sent. Link down / no route count as discards.
  void PostSendUd(uint32_t qpn, const UdSendWr* wrs, size_t count);

  // Receive handlers; an empty function removes one. A handler may still be called for the
  // batch in progress when it is removed.
  void SetQpHandler(uint32_t qpn, CompletionHandler handler);
  void SetDefaultHandler(CompletionHandler handler);
  void SetTransportHandler(TransportHandler handler);

  // Sends a packet built by someone else, routed by its LRH DLID, through the same faults and
  // tap. Counts like PostSendUd.
  void SendPacket(const uint8_t* packet, size_t len);

  // ---- RC QPs (endpoint_rc.h; implemented in endpoint_rc.cc)

  // Creates an RC QP in RESET; returns its QPN. Throws kInvalidArgument, kQpExists, kClosed.
  uint32_t CreateRcQp(const RcQpCreateOptions& options);
  // Moves the QP to `to` (RESET, INIT, RTR, RTS, ERROR) with `attrs`; a transition IBA does not
  // allow, or attributes the engine refuses, throw kInvalidArgument with the reason.
  void ModifyRcQp(uint32_t qpn, RcQpState to, const RcQpAttrs& attrs);
  // Queues one message; false when the send queue is full (nothing queued). In ERROR the send
  // completes at once as flushed. Other states than RTS and ERROR throw kInvalidArgument.
  bool PostSendRc(uint32_t qpn, uint64_t wrId, std::vector<uint8_t> message);
  // Posts up to `count` receive buffers of the QP's maxRecvBytes; returns how many fitted.
  uint32_t PostRecvRc(uint32_t qpn, uint32_t count);
  // Frees the QP at once, whatever its state; nothing completes (as ibv_destroy_qp).
  void DestroyRcQp(uint32_t qpn);
  RcQpInfo RcQpSnapshot(uint32_t qpn) const;
  std::vector<uint32_t> RcQpns() const;
  // Event handlers; an empty function removes one. A handler may still be called for the batch
  // in progress when it is removed.
  void SetRcQpHandler(uint32_t qpn, RcEventHandler handler);
  void SetRcDefaultHandler(RcEventHandler handler);

  CounterSnapshot Counters() const;
  void ResetCounters();
  // For receivers that queue completions: count the ones they had to drop.
  void NoteReceiveQueueOverflow(uint64_t n) { Bump(counters_.rcvQueueOverflows, n); }

  void SetFaults(std::optional<double> lossRate, std::optional<uint32_t> delayMs, std::optional<uint64_t> seed);
  FaultSettings Faults() const { return egress_->Faults(); }
  void SetTap(uint16_t udpPort, TapDirection direction);  // port 0: no tap

  // Stops the threads and closes the socket; later calls throw kClosed (Close is idempotent).
  // Not from a receive handler: it joins the receive thread.
  void Close();
  bool Closed() const;

 private:
  struct Qp {
    uint32_t qkey;
    uint16_t pkeyIndex;
    uint32_t nextPsn = 0;
    std::shared_ptr<CompletionHandler> handler;
  };
  struct Attachment {
    Gid mgid;
    uint32_t qpn;
  };
  // What one receive batch produced, gathered under the lock and delivered after it.
  struct Deliveries {
    std::vector<UdCompletion> completions;
    std::vector<CompletionHandler*> handlerOf;  // parallel to completions
    std::vector<std::shared_ptr<CompletionHandler>> keepAlive;
    struct TransportPacket {
      ParsedPacket parsed;
      const uint8_t* raw;
      size_t len;
    };
    std::vector<TransportPacket> transport;
    std::vector<TransportPacket> rc;  // for RC QPs, fed to them after the lock
    std::shared_ptr<TransportHandler> transportHandler;
    std::vector<UdpSocket::Datagram> tapCopies;
    void Clear();
  };

  explicit Endpoint(const EndpointConfig& config);
  void RequireOpen() const;  // caller holds mu_
  void RoutePacket(const uint8_t* pkt, size_t len, uint16_t dlid, EgressBatch* batch);  // caller holds mu_
  void ReceiveLoop();
  void ProcessBatch(const UdpSocket::Batch& batch, Deliveries* out);
  // Runs checks 1-12 on one datagram (caller holds mu_); appends what it delivers to `out`.
  void CheckPacket(const uint8_t* pkt, size_t len, bool truncated, uint16_t tapPort, Deliveries* out);
  // Checks 11-12 for one QP; true when the QP takes the packet (caller holds mu_).
  bool QpAccepts(uint32_t qpn, const Qp& qp, const ParsedPacket& p, uint16_t* pkeyIndex);
  // A free QPN (UD and RC share the space), or `requested` when it is free (caller holds mu_).
  uint32_t AllocateQpn(uint32_t requested);

  // ---- RC internals (endpoint_rc.cc). Lock order: rcMu_, then mu_; never rcMu_ under mu_.
  struct RcRun;  // what one pass over RC QPs produced: packets to send, events to deliver
  // Runs `body` with rcMu_ held and a fresh RcRun as the sink of every RcQp callback, then sends
  // the packets and delivers the events (still holding rcMu_, which is recursive, so handlers
  // may post; nothing runs inside an RcQp call).
  void WithRc(const std::function<void(RcRun&)>& body);
  RcEntry& RcEntryOf(uint32_t qpn);  // caller holds rcMu_; throws kNoSuchQp
  void EmitRc(RcRun& run, const RcEntry& e, const RcPacket& p);
  void FinishRcRun(RcRun& run);
  void FeedRc(const std::vector<Deliveries::TransportPacket>& packets);
  uint64_t NowUs() const;
  void KickRcTimer(uint64_t deadlineUs);
  void RcTimerLoop();

  mutable std::recursive_mutex rcMu_;
  std::unordered_map<uint32_t, std::unique_ptr<RcEntry>> rcQps_;  // guarded by rcMu_
  std::shared_ptr<RcEventHandler> rcDefaultHandler_;               // guarded by rcMu_
  RcRun* rcRun_ = nullptr;                                         // the current sink (rcMu_)
  std::chrono::steady_clock::time_point epoch_ = std::chrono::steady_clock::now();
  // The RC timer thread (started with the first RC QP) sleeps until timerWakeUs_; a QP whose
  // deadline comes earlier kicks it. While it scans the QPs, timerWakeUs_ is kNoDeadline, so a
  // deadline set meanwhile kicks it into another scan.
  std::mutex timerMu_;
  std::condition_variable timerCv_;
  std::thread timerThread_;
  uint64_t timerWakeUs_ = RcQp::kNoDeadline;
  bool timerKick_ = false;
  bool timerStop_ = false;

  mutable std::mutex mu_;
  std::unique_ptr<UdpSocket> socket_;
  uint16_t udpPort_ = 0;
  ipoib::sim::Counters counters_;
  std::unique_ptr<Egress> egress_;
  std::thread receiveThread_;
  uint32_t overflowSeen_ = 0;  // the kernel's running drop count as last reported (receive thread only)

  // Guarded by mu_:
  bool closed_ = false;
  uint16_t lid_;
  Gid gid_;
  uint32_t mtuBytes_;
  std::vector<uint16_t> pkeys_;
  bool active_;
  std::unordered_map<uint16_t, uint16_t> unicastRoutes_;
  std::unordered_map<uint16_t, std::vector<uint16_t>> multicastRoutes_;
  std::unordered_map<uint32_t, Qp> qps_;
  std::unordered_map<uint32_t, uint16_t> rcQpns_;  // RC QPN -> P_Key index, for the receive checks
  std::unordered_map<uint16_t, std::vector<Attachment>> attachments_;  // by MLID
  uint32_t nextQpn_ = 0x48;
  std::shared_ptr<CompletionHandler> defaultHandler_;
  std::shared_ptr<TransportHandler> transportHandler_;
};

// IB MTU code (1..5) to octets (256..4096); 0 for anything else.
uint32_t MtuBytesOfCode(uint8_t code);
// IBA P_Key matching: equal low 15 bits, at least one full member, neither base 0.
bool PkeysMatch(uint16_t a, uint16_t b);

}  // namespace ipoib::sim
