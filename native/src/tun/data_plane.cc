#include "data_plane.h"

#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "os_error.h"

namespace ipoib::tun {

namespace {

bool SameInterfaceId(const uint8_t* gid, const sim::Gid& ours) { return std::memcmp(gid + 8, ours.data() + 8, 8) == 0; }

void FillGrh(sim::UdSendWr& wr, const GrhFields& g) {
  wr.hasGrh = true;
  wr.dgid = g.dgid;
  wr.hopLimit = g.hopLimit;
  wr.tclass = g.tclass;
  wr.flowLabel = g.flowLabel;
}

}  // namespace

std::shared_ptr<DataPlane> DataPlane::Start(const DataPlaneConfig& config, std::shared_ptr<sim::Endpoint> endpoint,
                                            std::unique_ptr<HostPort> host, std::shared_ptr<PuntSink> punts) {
  std::shared_ptr<DataPlane> dp(new DataPlane(config, std::move(endpoint), std::move(host), std::move(punts)));
  dp->wakeFd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (dp->wakeFd_ < 0) ThrowErrno("eventfd");
  std::weak_ptr<DataPlane> weak = dp;
  // Throws for a QPN the endpoint does not have; nothing has started yet.
  dp->endpoint_->SetQpHandler(config.qpn, [weak](const sim::UdCompletion* c, size_t n) {
    if (auto self = weak.lock()) self->OnCompletions(c, n);
  });
  try {
    dp->txThread_ = std::thread(&DataPlane::TxLoop, dp.get());
  } catch (...) {
    dp->Close();
    throw;
  }
  return dp;
}

DataPlane::DataPlane(const DataPlaneConfig& config, std::shared_ptr<sim::Endpoint> endpoint,
                     std::unique_ptr<HostPort> host, std::shared_ptr<PuntSink> punts)
    : config_(config),
      endpoint_(std::move(endpoint)),
      host_(std::move(host)),
      punts_(std::move(punts)),
      qkey_(config.qkey),
      mtu_(config.mtu),
      udMtu_(config.udMtu == 0 ? config.mtu : config.udMtu),
      localLid_(config.localLid),
      deliverOwn_(config.deliverOwnMulticast) {}

DataPlane::~DataPlane() { Close(); }

void DataPlane::Close() {
  bool expected = false;
  if (!closed_.compare_exchange_strong(expected, true)) return;
  try {
    endpoint_->SetQpHandler(config_.qpn, nullptr);
  } catch (const std::exception&) {
    // The endpoint is closed or the QP destroyed: no handler left to remove.
  }
  DetachAllRc();
  stopping_.store(true);
  if (wakeFd_ >= 0) {
    const uint64_t one = 1;
    (void)!::write(wakeFd_, &one, sizeof one);
  }
  if (txThread_.joinable()) txThread_.join();
  {
    // A receive batch still running (its handler was taken before SetQpHandler above) finishes
    // its writes first; later ones see closed_ and write nothing.
    std::lock_guard<std::mutex> lock(hostMu_);
    host_->Close();
  }
  if (wakeFd_ >= 0) ::close(wakeFd_);
  wakeFd_ = -1;
}

void DataPlane::SetMtu(uint32_t mtu) {
  host_->SetMtu(mtu);
  mtu_.store(mtu);
}

// ---- TX

void DataPlane::WaitForWake(int timeoutMs) {
  pollfd p{wakeFd_, POLLIN, 0};
  (void)::poll(&p, 1, timeoutMs);
}

void DataPlane::TxLoop() {
  pthread_setname_np(pthread_self(), "tun-tx");  // visible in top -H and perf
  const int fd = host_->Fd();
  std::vector<uint8_t> slots(kTxBatch * kTxSlotBytes);
  size_t lens[kTxBatch];
  pollfd pfds[2] = {{fd, POLLIN, 0}, {wakeFd_, POLLIN, 0}};
  while (!stopping_.load()) {
    const int ready = ::poll(pfds, 2, kPollTimeoutMs);
    if (stopping_.load()) break;
    if (ready <= 0) continue;  // timeout or EINTR
    size_t n = 0;
    bool failed = false;
    while (n < kTxBatch) {
      uint8_t* slot = slots.data() + n * kTxSlotBytes;
      // The packet lands after room for the IPoIB header, which is written in place later.
      const ssize_t got = ::read(fd, slot + kIpoibHeaderLen, kTxSlotBytes - kIpoibHeaderLen);
      if (got < 0) {
        if (errno == EINTR) continue;
        if (errno != EAGAIN) {
          Add(counters_.host_read_errors);
          failed = true;
        }
        break;
      }
      lens[n++] = static_cast<size_t>(got);
    }
    if (n > 0) ProcessTxBatch(slots.data(), lens, n);
    // A device that keeps failing (e.g. its namespace went away) must not spin this thread.
    if (failed) WaitForWake(kPollTimeoutMs);
  }
}

void DataPlane::ProcessTxBatch(uint8_t* slots, const size_t* lens, size_t n) {
  sim::UdSendWr wrs[kTxBatch];
  size_t count = 0;
  // Frames for RC neighbours, posted after the table lock is released.
  struct RcSend {
    uint32_t qpn;
    size_t slot;
  };
  RcSend rcSends[kTxBatch];
  size_t rcCount = 0;
  const uint32_t mtu = mtu_.load(std::memory_order_relaxed);
  const uint32_t udMtu = udMtu_.load(std::memory_order_relaxed);
  const uint32_t qkey = qkey_.load(std::memory_order_relaxed);
  {
    NeighbourTable::Reader table(table_);
    for (size_t i = 0; i < n; i++) {
      uint8_t* frame = slots + i * kTxSlotBytes;
      const uint8_t* ip = frame + kIpoibHeaderLen;
      const TxDecision d = ClassifyTx(ip, lens[i], mtu);
      sim::UdSendWr& wr = wrs[count];
      wr = sim::UdSendWr{};
      wr.qkey = qkey;
      wr.pkeyIndex = config_.pkeyIndex;
      const Neighbour* nb = nullptr;
      const Group* group = nullptr;
      if (d.kind == TxKind::kUnicast) {
        nb = table.FindNeighbour(d.dst);
        // A unicast-looking address JS mapped to a group: a subnet-directed broadcast.
        if (nb == nullptr) group = table.FindGroup(d.dst);
        if (nb == nullptr && group == nullptr) {
          PuntTx(PuntReason::kNoNeighbour, ip, lens[i]);
          continue;
        }
      } else if (d.kind == TxKind::kMulticast) {
        group = table.FindGroup(d.dst);
        if (group == nullptr) {
          PuntTx(PuntReason::kNoGroup, ip, lens[i]);
          continue;
        }
      } else {
        PuntTx(d.reason, ip, lens[i], d.reason == PuntReason::kTooBig ? mtu : 0);
        continue;
      }
      frame[0] = static_cast<uint8_t>(d.etherType >> 8);
      frame[1] = static_cast<uint8_t>(d.etherType);
      frame[2] = static_cast<uint8_t>(config_.txHeaderReserved >> 8);  // reserved: zero unless a defect is seeded
      frame[3] = static_cast<uint8_t>(config_.txHeaderReserved);
      if (nb != nullptr && nb->connecting) {
        PuntTx(PuntReason::kRcPending, ip, lens[i]);
        continue;
      }
      if (nb != nullptr && nb->rcQpn != 0) {
        const uint32_t limit = nb->rcMtu > kIpoibHeaderLen ? nb->rcMtu - static_cast<uint32_t>(kIpoibHeaderLen) : 0;
        if (lens[i] > limit) {
          PuntPathTooBig(ip, lens[i], limit);
          continue;
        }
        rcSends[rcCount++] = RcSend{nb->rcQpn, i};
        continue;
      }
      if (lens[i] > udMtu) {
        PuntPathTooBig(ip, lens[i], udMtu);
        continue;
      }
      if (nb != nullptr) {
        wr.dlid = nb->dlid;
        wr.dqpn = nb->dqpn;
        wr.sl = nb->sl;
        if (nb->hasGrh) FillGrh(wr, nb->grh);
      } else {
        wr.dlid = group->mlid;
        wr.dqpn = sim::kMulticastQpn;
        wr.sl = group->sl;
        FillGrh(wr, group->grh);
      }
      wr.payload = frame;
      wr.payloadLen = lens[i] + kIpoibHeaderLen;
      count++;
    }
  }
  Post(wrs, count);
  for (size_t k = 0; k < rcCount; k++) {
    const RcSend& r = rcSends[k];
    try {
      if (!PostRc(r.qpn, slots + r.slot * kTxSlotBytes, lens[r.slot] + kIpoibHeaderLen)) {
        // As a full kernel TX ring would, but without stalling the TX thread: dropped, counted.
        Add(counters_.rc_tx_queue_full);
        Add(counters_.tx_dropped);
      }
    } catch (const std::exception&) {
      // Counted by PostRc: the QP is gone or not in RTS; the control plane hears of it from
      // the QP's ERROR punt or its own connection state.
    }
  }
}

void DataPlane::PuntPathTooBig(const uint8_t* packet, size_t len, uint32_t limit) {
  Add(counters_.tx_errors);
  if (PuntTx(PuntReason::kTooBig, packet, len, limit)) Add(counters_.tx_dropped);  // else counted there
}

bool DataPlane::PuntTx(PuntReason reason, const uint8_t* packet, size_t len, uint32_t limit) {
  PuntMeta meta;
  meta.reason = reason;
  meta.limit = limit;
  if (!punts_->Punt(meta, packet, len)) {
    Add(counters_.tx_drop_punt_queue_full);
    Add(counters_.tx_dropped);
    return false;
  }
  switch (reason) {
    case PuntReason::kNoNeighbour: Add(counters_.tx_punt_no_neighbour); break;
    case PuntReason::kNoGroup: Add(counters_.tx_punt_no_group); break;
    case PuntReason::kTooBig: Add(counters_.tx_punt_too_big); break;
    case PuntReason::kNotIp: Add(counters_.tx_punt_not_ip); break;
    case PuntReason::kMalformed: Add(counters_.tx_punt_malformed); break;
    case PuntReason::kTxNd: Add(counters_.tx_punt_nd); break;
    case PuntReason::kRcPending: Add(counters_.rc_tx_punt_pending); break;
    default: break;
  }
  return true;
}

void DataPlane::Post(const sim::UdSendWr* wrs, size_t n) {
  if (n == 0) return;
  auto counted = [this](const sim::UdSendWr* w, size_t k) {
    uint64_t bytes = 0;
    for (size_t i = 0; i < k; i++) bytes += w[i].payloadLen;
    Add(counters_.tx_packets, k);
    Add(counters_.tx_bytes, bytes);
  };
  try {
    endpoint_->PostSendUd(config_.qpn, wrs, n);
    counted(wrs, n);
    Add(counters_.tx_batches);
    return;
  } catch (const std::exception&) {
    // One refused WR refuses the whole batch: post them one by one so the rest still go.
  }
  for (size_t i = 0; i < n; i++) {
    try {
      endpoint_->PostSendUd(config_.qpn, wrs + i, 1);
      counted(wrs + i, 1);
    } catch (const std::exception&) {
      Add(counters_.tx_errors);
    }
  }
}

void DataPlane::SendUd(const sim::UdSendWr& wr) {
  try {
    endpoint_->PostSendUd(config_.qpn, &wr, 1);
  } catch (...) {
    Add(counters_.tx_errors);
    throw;
  }
  Add(counters_.tx_packets);
  Add(counters_.tx_bytes, wr.payloadLen);
}

// ---- RX

bool DataPlane::IsOwnEcho(const sim::UdCompletion& c) const {
  if (c.slid != localLid_.load(std::memory_order_relaxed) || c.srcQp != config_.qpn) return false;
  // Same LID and QPN but another port's interface ID in the GRH: a different port behind the
  // same LID (as the kernel reasons), so not ours.
  return !(c.hasGrh && !SameInterfaceId(c.sgid, config_.localGid));
}

void DataPlane::OnCompletions(const sim::UdCompletion* c, size_t n) {
  const bool deliverOwn = deliverOwn_.load(std::memory_order_relaxed);
  std::lock_guard<std::mutex> lock(hostMu_);
  if (closed_.load()) return;
  const int fd = host_->Fd();
  for (size_t i = 0; i < n; i++) {
    const sim::UdCompletion& x = c[i];
    if (!deliverOwn && IsOwnEcho(x)) {
      Add(counters_.rx_drop_own_echo);
      Add(counters_.rx_dropped);
      continue;
    }
    const RxDecision d = ClassifyRx(x.payload, x.payloadLen);
    if (d.kind == RxKind::kDropShort || d.kind == RxKind::kDropBadIp) {
      Add(d.kind == RxKind::kDropShort ? counters_.rx_drop_short : counters_.rx_drop_bad_ip);
      Add(counters_.rx_dropped);
      continue;
    }
    if (d.kind == RxKind::kToHost) {
      // Non-blocking: a host that cannot take the packet (a full loopback port) drops it here.
      if (::write(fd, x.payload + kIpoibHeaderLen, x.payloadLen - kIpoibHeaderLen) < 0) {
        Add(counters_.rx_drop_host_write);
        Add(counters_.rx_dropped);
        continue;
      }
      Add(counters_.rx_packets);
      Add(counters_.rx_bytes, x.payloadLen);
    } else {
      PuntMeta meta;
      meta.reason = d.reason;
      meta.slid = x.slid;
      meta.dlid = x.dlid;
      meta.srcQp = x.srcQp;
      meta.sl = x.sl;
      meta.pkey = x.pkey;
      meta.qkey = x.qkey;
      if (x.hasGrh) {
        meta.sgid = x.sgid;
        meta.dgid = x.dgid;
      }
      if (!punts_->Punt(meta, x.payload, x.payloadLen)) {
        Add(counters_.rx_drop_punt_queue_full);
        Add(counters_.rx_dropped);
        continue;
      }
      Add(d.reason == PuntReason::kArp    ? counters_.rx_punt_arp
          : d.reason == PuntReason::kRxNd ? counters_.rx_punt_nd
                                          : counters_.rx_punt_other_type);
      Add(counters_.rx_packets);
      Add(counters_.rx_bytes, x.payloadLen);
    }
    if (d.reservedNonZero) Add(counters_.rx_reserved_nonzero);
    if (x.hasGrh && x.dgid[0] == 0xFF &&
        !(config_.hasBroadcastMgid && std::memcmp(x.dgid, config_.broadcastMgid.data(), 16) == 0)) {
      Add(counters_.multicast);
    }
  }
}

void DataPlane::InjectToHost(const uint8_t* packet, size_t len) {
  std::lock_guard<std::mutex> lock(hostMu_);
  if (closed_.load()) throw OsError("write", EBADF);
  if (::write(host_->Fd(), packet, len) < 0) ThrowErrno("write");
  Add(counters_.host_injected_packets);
  Add(counters_.host_injected_bytes, len);
}

}  // namespace ipoib::tun
