// The IPoIB fast path between a host port (a TUN device) and one UD QP of a simulated-fabric
// endpoint, plus, in connected mode, the RC QPs the control plane attaches (rc_path.h). No
// JavaScript runs per packet:
//
//   TX thread      poll(host, wake) -> read() up to kTxBatch packets -> ClassifyTx -> neighbour
//                  or group lookup (one shared lock per batch) -> write the 4-octet IPoIB header
//                  in front of each packet, in place -> one Endpoint::PostSendUd per batch, and
//                  one Endpoint::PostSendRc per packet for neighbours reached over RC
//   RX (endpoint   the UD QP handler: own-echo filter -> ClassifyRx -> one write() per IP packet
//   receive thread) to the host, the rest punted; the RC QP handlers the same without the
//                  echo filter (they run on the receive or the RC timer thread)
//
// Whatever the fast path does not handle goes to a PuntSink (JavaScript, in batches) with a
// PuntReason; JS may finish the job with SendUd() / SendRc() / InjectToHost(). Everything is
// counted (data_plane_counters.h).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "../sim/endpoint.h"
#include "data_plane_counters.h"
#include "host_port.h"
#include "neighbour_table.h"
#include "packet_classify.h"

namespace ipoib::tun {

// What JS learns about a punted packet besides its octets. RX fields are zero for TX punts.
struct PuntMeta {
  PuntReason reason = PuntReason::kCount;
  uint16_t slid = 0, dlid = 0;
  uint32_t srcQp = 0;
  uint8_t sl = 0;
  uint16_t pkey = 0;
  uint32_t qkey = 0;
  const uint8_t* sgid = nullptr;  // 16 octets each when the frame came with a GRH
  const uint8_t* dgid = nullptr;
  uint32_t limit = 0;   // kTooBig: the largest IP packet the path takes
  uint32_t rcQpn = 0;   // RX frames that came over RC, and kRcError: the RC QP (0: UD)
  uint8_t rcStatus = 0;  // kRcError: 1 + the failed send's sim::RcSendStatus; 0 when none failed
};

class PuntSink {
 public:
  virtual ~PuntSink() = default;
  // From the TX thread and the endpoint's receive thread. `data` is the IP packet (TX) or the
  // whole IPoIB frame, header included (RX), or for kRcError the QP's ERROR reason, a NUL and
  // its detail, valid only during the call. False when the punt was not taken (queue full, or
  // the sink is closing).
  virtual bool Punt(const PuntMeta& meta, const uint8_t* data, size_t len) = 0;
};

struct DataPlaneConfig {
  uint32_t qpn = 0;       // the interface's UD QP on the endpoint (created by the control plane)
  uint32_t qkey = 0;      // sent in every DETH (the broadcast group's Q_Key)
  uint16_t pkeyIndex = 0;
  uint32_t mtu = 0;       // interface MTU: longer host packets are punted as too-big
  uint32_t udMtu = 0;     // the largest IP packet sent over UD (connected mode: the group's); 0: mtu
  uint16_t localLid = 0;  // with qpn, recognises our own frames coming back
  sim::Gid localGid{};
  bool hasBroadcastMgid = false;  // frames to it do not count as `multicast`
  sim::Gid broadcastMgid{};
  bool deliverOwnMulticast = false;
  uint16_t txHeaderReserved = 0;  // what TX writes in the header's reserved field: 0 (TEST ONLY: a seeded defect's value)
};

class DataPlane : public std::enable_shared_from_this<DataPlane> {
 public:
  static constexpr size_t kTxBatch = 64;
  static constexpr size_t kTxSlotBytes = kIpoibHeaderLen + 65536;  // any IP packet fits
  static constexpr int kPollTimeoutMs = 100;                      // a backstop: Close() wakes us

  // Installs the QP handler and starts the TX thread. Throws sim::EndpointError (no such QP),
  // OsError (eventfd) or std::system_error (threads).
  static std::shared_ptr<DataPlane> Start(const DataPlaneConfig& config, std::shared_ptr<sim::Endpoint> endpoint,
                                          std::unique_ptr<HostPort> host, std::shared_ptr<PuntSink> punts);
  ~DataPlane();
  DataPlane(const DataPlane&) = delete;
  DataPlane& operator=(const DataPlane&) = delete;

  // Removes the QP handler, stops and joins the TX thread, waits for a receive batch in
  // progress to finish its host writes, closes the host port (a TUN device
  // disappears). Idempotent; counters stay readable.
  void Close();
  bool Closed() const { return closed_.load(); }

  NeighbourTable& Table() { return table_; }
  // Valid until Close().
  HostPort& Host() { return *host_; }

  void SetQkey(uint32_t qkey) { qkey_.store(qkey); }
  // Sets the host port's MTU first (throws OsError), then the limit the TX path applies.
  void SetMtu(uint32_t mtu);
  void SetLocalLid(uint16_t lid) { localLid_.store(lid); }
  void SetDeliverOwnMulticast(bool on) { deliverOwn_.store(on); }
  // The UD limit only (no host change): longer packets to UD neighbours and groups punt too-big.
  void SetUdMtu(uint32_t mtu) { udMtu_.store(mtu); }

  // Posts one frame JS built (e.g. an ARP reply, or a punted packet it resolved). Counted like
  // the fast path's; an endpoint refusal counts tx_errors and is rethrown.
  void SendUd(const sim::UdSendWr& wr);
  // Writes one IP packet to the host. Throws OsError.
  void InjectToHost(const uint8_t* packet, size_t len);

  CounterSnapshot Counters() const { return counters_.Snapshot(); }
  uint32_t Qpn() const { return config_.qpn; }

  // ---- RC (connected mode; rc_path.cc)

  static constexpr uint32_t kDefaultRcRecvDepth = 64;
  // Takes over the RC QP's event handler and keeps `recvDepth` receive buffers posted on it.
  // Throws sim::EndpointError: kNoSuchQp, kQpExists (already attached), kClosed.
  void AttachRc(uint32_t qpn, uint32_t recvDepth);
  // Gives the QP's events back to the endpoint's default handler; false when not attached.
  bool DetachRc(uint32_t qpn);
  std::vector<uint32_t> AttachedRcQpns() const;
  // Posts one frame JS built on an attached RC QP, counted like the fast path's. False when the
  // send queue is full (counted in rc_tx_queue_full); throws sim::EndpointError (kNoSuchQp: not
  // attached or gone; kInvalidArgument: not in RTS), counted in tx_errors.
  bool SendRc(uint32_t qpn, const uint8_t* frame, size_t len);
  // Runs one frame through the RC receive path of an attached QP (a message that reached JS
  // before AttachRc). Throws sim::EndpointError kNoSuchQp (not attached), OsError (closed).
  void InjectRcFrame(uint32_t qpn, const uint8_t* frame, size_t len);

 private:
  struct RcLink;  // rc_path.h

  DataPlane(const DataPlaneConfig& config, std::shared_ptr<sim::Endpoint> endpoint, std::unique_ptr<HostPort> host,
            std::shared_ptr<PuntSink> punts);

  void TxLoop();
  void ProcessTxBatch(uint8_t* slots, const size_t* lens, size_t n);
  // False when the sink did not take it (counted as a drop).
  bool PuntTx(PuntReason reason, const uint8_t* packet, size_t len, uint32_t limit = 0);
  // A too-big punt against the UD MTU or an RC connection's: counted as the kernel's PMTU
  // emulation counts it (tx_dropped, tx_errors) besides the punt.
  void PuntPathTooBig(const uint8_t* packet, size_t len, uint32_t limit);
  void Post(const sim::UdSendWr* wrs, size_t n);
  void WaitForWake(int timeoutMs);

  void OnCompletions(const sim::UdCompletion* c, size_t n);
  bool IsOwnEcho(const sim::UdCompletion& c) const;

  // RC internals (rc_path.cc).
  std::shared_ptr<RcLink> FindRcLink(uint32_t qpn) const;
  // Posts one frame; false when the send queue is full. Counts what it posts and what it
  // refuses (then rethrows).
  bool PostRc(uint32_t qpn, const uint8_t* frame, size_t len);
  void OnRcEvents(RcLink& link, sim::RcEvent* events, size_t n);
  // One received frame: to the host or punted (caller holds hostMu_, not closed).
  void ReceiveRcFrame(const RcLink& link, uint32_t srcQp, const uint8_t* frame, size_t len);
  // The QP's one error punt (once per attachment); `status` as PuntMeta::rcStatus.
  void PuntRcError(RcLink& link, const std::string& reason, const std::string& detail, uint8_t status);
  void DetachAllRc();

  const DataPlaneConfig config_;
  std::shared_ptr<sim::Endpoint> endpoint_;
  std::unique_ptr<HostPort> host_;
  std::shared_ptr<PuntSink> punts_;
  NeighbourTable table_;
  tun::Counters counters_;

  std::atomic<uint32_t> qkey_;
  std::atomic<uint32_t> mtu_;
  std::atomic<uint32_t> udMtu_;
  std::atomic<uint16_t> localLid_;
  std::atomic<bool> deliverOwn_;

  std::atomic<bool> closed_{false};
  std::atomic<bool> stopping_{false};
  int wakeFd_ = -1;
  std::thread txThread_;

  // Held by whoever writes to the host port (a receive batch, InjectToHost) and by Close()
  // around closing it, so no write ever reaches a closed (or reused) descriptor. The receive
  // thread writes to the host itself: a hand-off to another thread cost a wake-up and a context
  // switch per batch, and the copy into its queue.
  std::mutex hostMu_;

  // Attached RC QPs by QPN. Lock order: the endpoint's RC lock (held around RC handlers), then
  // hostMu_, then the punt sink's; rcLinksMu_ is never held across an endpoint call.
  mutable std::mutex rcLinksMu_;
  std::unordered_map<uint32_t, std::shared_ptr<RcLink>> rcLinks_;
  std::atomic<uint64_t> nextRcWrId_{0};
};

}  // namespace ipoib::tun
