// DataPlane's RC side (rc_path.h): attaching RC QPs, the RC send path, and the RC event handler.
#include "rc_path.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "os_error.h"

namespace ipoib::tun {

namespace {

std::string Hex(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%x", v);
  return buf;
}

[[noreturn]] void NotAttached(uint32_t qpn) {
  throw sim::EndpointError(sim::EndpointErrc::kNoSuchQp, "RC QP " + Hex(qpn) + " is not attached to the data plane");
}

}  // namespace

std::shared_ptr<DataPlane::RcLink> DataPlane::FindRcLink(uint32_t qpn) const {
  std::lock_guard<std::mutex> lock(rcLinksMu_);
  auto it = rcLinks_.find(qpn);
  return it == rcLinks_.end() ? nullptr : it->second;
}

void DataPlane::AttachRc(uint32_t qpn, uint32_t recvDepth) {
  if (closed_.load()) throw sim::EndpointError(sim::EndpointErrc::kClosed, "the data plane is closed");
  const sim::RcQpInfo info = endpoint_->RcQpSnapshot(qpn);  // throws kNoSuchQp
  auto link = std::make_shared<RcLink>();
  link->qpn = qpn;
  link->recvDepth = recvDepth;
  link->peerQpn = info.attrs.destQpn;
  link->peerLid = info.attrs.dlid;
  link->sl = info.attrs.sl;
  link->pkey = info.pkey;
  link->hasGrh = info.attrs.hasGrh;
  link->peerGid = info.attrs.dgid;
  {
    std::lock_guard<std::mutex> lock(rcLinksMu_);
    if (rcLinks_.count(qpn) != 0) {
      throw sim::EndpointError(sim::EndpointErrc::kQpExists, "RC QP " + Hex(qpn) + " is already attached");
    }
    rcLinks_[qpn] = link;
  }
  std::weak_ptr<DataPlane> weak = weak_from_this();
  try {
    endpoint_->SetRcQpHandler(qpn, [weak, link](sim::RcEvent* events, size_t n) {
      if (auto self = weak.lock()) self->OnRcEvents(*link, events, n);
    });
  } catch (...) {
    std::lock_guard<std::mutex> lock(rcLinksMu_);
    rcLinks_.erase(qpn);
    throw;
  }
  // Events before the handler was set went to the endpoint's default handler (JS); from here on
  // they come here. Top the receive queue up to recvDepth (the CM posted its own at INIT).
  try {
    const sim::RcQpInfo now = endpoint_->RcQpSnapshot(qpn);
    if (now.state == sim::RcQpState::kError) {
      // It went to ERROR before we had it: still the control plane's one notice from here.
      PuntRcError(*link, "error-before-attach", now.errorDetail, 0);
    } else if (now.recvsPosted < recvDepth) {
      endpoint_->PostRecvRc(qpn, recvDepth - now.recvsPosted);
    }
  } catch (const sim::EndpointError&) {
    // Destroyed (or the endpoint closed) meanwhile: nothing to post to; detachRc cleans up.
  }
}

bool DataPlane::DetachRc(uint32_t qpn) {
  std::shared_ptr<RcLink> link;
  {
    std::lock_guard<std::mutex> lock(rcLinksMu_);
    auto it = rcLinks_.find(qpn);
    if (it == rcLinks_.end()) return false;
    link = std::move(it->second);
    rcLinks_.erase(it);
  }
  link->detached.store(true);
  try {
    endpoint_->SetRcQpHandler(qpn, nullptr);  // waits for a handler call in progress on another thread
  } catch (const std::exception&) {
    // The QP or the endpoint is gone: no handler left to remove.
  }
  return true;
}

void DataPlane::DetachAllRc() {
  std::unordered_map<uint32_t, std::shared_ptr<RcLink>> links;
  {
    std::lock_guard<std::mutex> lock(rcLinksMu_);
    links.swap(rcLinks_);
  }
  for (auto& [qpn, link] : links) {
    link->detached.store(true);
    try {
      endpoint_->SetRcQpHandler(qpn, nullptr);
    } catch (const std::exception&) {
      // The QP or the endpoint is gone.
    }
  }
}

std::vector<uint32_t> DataPlane::AttachedRcQpns() const {
  std::lock_guard<std::mutex> lock(rcLinksMu_);
  std::vector<uint32_t> out;
  out.reserve(rcLinks_.size());
  for (const auto& [qpn, link] : rcLinks_) out.push_back(qpn);
  return out;
}

// ---- TX

bool DataPlane::PostRc(uint32_t qpn, const uint8_t* frame, size_t len) {
  const uint64_t wrId = kRcWrIdTag | (nextRcWrId_.fetch_add(1, std::memory_order_relaxed) & kRcWrIdMask);
  bool queued = false;
  try {
    queued = endpoint_->PostSendRc(qpn, wrId, std::vector<uint8_t>(frame, frame + len));
  } catch (...) {
    Add(counters_.tx_errors);
    Add(counters_.rc_tx_errors);
    throw;
  }
  if (!queued) return false;
  Add(counters_.tx_packets);
  Add(counters_.tx_bytes, len);
  Add(counters_.rc_tx_packets);
  Add(counters_.rc_tx_bytes, len);
  return true;
}

bool DataPlane::SendRc(uint32_t qpn, const uint8_t* frame, size_t len) {
  if (!FindRcLink(qpn)) NotAttached(qpn);
  if (PostRc(qpn, frame, len)) return true;
  Add(counters_.rc_tx_queue_full);
  Add(counters_.tx_dropped);
  return false;
}

// ---- RX and events

void DataPlane::InjectRcFrame(uint32_t qpn, const uint8_t* frame, size_t len) {
  std::shared_ptr<RcLink> link = FindRcLink(qpn);
  if (!link) NotAttached(qpn);
  std::lock_guard<std::mutex> lock(hostMu_);
  if (closed_.load()) throw OsError("write", EBADF);
  ReceiveRcFrame(*link, link->peerQpn, frame, len);
}

void DataPlane::ReceiveRcFrame(const RcLink& link, uint32_t srcQp, const uint8_t* frame, size_t len) {
  const RxDecision d = ClassifyRx(frame, len);
  if (d.kind == RxKind::kDropShort || d.kind == RxKind::kDropBadIp) {
    Add(d.kind == RxKind::kDropShort ? counters_.rx_drop_short : counters_.rx_drop_bad_ip);
    Add(counters_.rx_dropped);
    return;
  }
  if (d.kind == RxKind::kToHost) {
    // Non-blocking, as for UD: a host that cannot take the packet drops it here.
    if (::write(host_->Fd(), frame + kIpoibHeaderLen, len - kIpoibHeaderLen) < 0) {
      Add(counters_.rx_drop_host_write);
      Add(counters_.rx_dropped);
      return;
    }
  } else {
    PuntMeta meta;
    meta.reason = d.reason;
    meta.slid = link.peerLid;
    meta.dlid = localLid_.load(std::memory_order_relaxed);
    meta.srcQp = srcQp;
    meta.sl = link.sl;
    meta.pkey = link.pkey;
    meta.rcQpn = link.qpn;
    if (link.hasGrh) {
      meta.sgid = link.peerGid.data();
      meta.dgid = config_.localGid.data();
    }
    if (!punts_->Punt(meta, frame, len)) {
      Add(counters_.rx_drop_punt_queue_full);
      Add(counters_.rx_dropped);
      return;
    }
    Add(d.reason == PuntReason::kArp    ? counters_.rx_punt_arp
        : d.reason == PuntReason::kRxNd ? counters_.rx_punt_nd
                                        : counters_.rx_punt_other_type);
  }
  Add(counters_.rx_packets);
  Add(counters_.rx_bytes, len);
  Add(counters_.rc_rx_packets);
  Add(counters_.rc_rx_bytes, len);
  if (d.reservedNonZero) Add(counters_.rx_reserved_nonzero);
}

void DataPlane::PuntRcError(RcLink& link, const std::string& reason, const std::string& detail, uint8_t status) {
  if (link.errorPunted.load()) return;
  std::string text = reason;
  text.push_back('\0');
  text += detail;
  PuntMeta meta;
  meta.reason = PuntReason::kRcError;
  meta.rcQpn = link.qpn;
  meta.rcStatus = status;
  meta.srcQp = link.peerQpn;
  meta.slid = link.peerLid;
  // Not taken (the sink full or closing): a later event of the QP tries again.
  if (punts_->Punt(meta, reinterpret_cast<const uint8_t*>(text.data()), text.size())) link.errorPunted.store(true);
}

void DataPlane::OnRcEvents(RcLink& link, sim::RcEvent* events, size_t n) {
  if (link.detached.load()) return;
  uint32_t received = 0;
  const sim::RcEvent* failedSend = nullptr;
  const sim::RcEvent* toError = nullptr;
  {
    // Taken at the first message only: a batch of send completions never waits for the host.
    std::unique_lock<std::mutex> lock(hostMu_, std::defer_lock);
    for (size_t i = 0; i < n; i++) {
      const sim::RcEvent& e = events[i];
      switch (e.kind) {
        case sim::RcEvent::Kind::kRecv:
          if (e.recvStatus != sim::RcRecvStatus::kSuccess) break;  // flushed, or too long: the ERROR says why
          received++;
          if (!lock.owns_lock()) lock.lock();
          if (!closed_.load()) ReceiveRcFrame(link, e.srcQp, e.message.data(), e.message.size());
          break;
        case sim::RcEvent::Kind::kSend:
          if (e.sendStatus == sim::RcSendStatus::kSuccess) break;
          // The failure the QP's ERROR follows from, whoever posted the send.
          if (e.sendStatus != sim::RcSendStatus::kFlushed && failedSend == nullptr) failedSend = &e;
          if (IsDataPlaneWrId(e.wrId)) {
            Add(counters_.tx_errors);
            Add(counters_.rc_tx_errors);
          }
          break;
        case sim::RcEvent::Kind::kState:
          if (e.to == sim::RcQpState::kError && toError == nullptr) toError = &e;
          break;
      }
    }
  }
  if (toError != nullptr || failedSend != nullptr) {
    // A failing send comes just before the QP's move to ERROR, in the same batch (rc_qp.h).
    const uint8_t status = failedSend == nullptr ? 0 : static_cast<uint8_t>(1 + static_cast<uint8_t>(failedSend->sendStatus));
    PuntRcError(link, toError != nullptr ? toError->reason : sim::RcSendStatusName(failedSend->sendStatus),
                toError != nullptr ? toError->detail : std::string(), status);
  }
  // One buffer back per message taken, in this same call: the QP never runs lower than it was
  // by more than one batch. Not in ERROR, where a post completes at once as flushed.
  if (received > 0 && toError == nullptr && !closed_.load()) {
    try {
      endpoint_->PostRecvRc(link.qpn, received);
    } catch (const std::exception&) {
      // The QP or the endpoint went away.
    }
  }
}

}  // namespace ipoib::tun
