#include "endpoint.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <system_error>

namespace ipoib::sim {

namespace {

constexpr size_t kReceiveSlots = 64;
// One more than the largest packet, rounded up: a longer datagram reads as cut (MSG_TRUNC).
constexpr size_t kReceiveSlotBytes = (kMaxPacketLen + 1 + 63) / 64 * 64;
constexpr int kReceiveBufferBytes = 4 << 20;
constexpr uint32_t kFirstQpn = 0x48;
constexpr uint32_t kMaxQpn = 0xFFFFFE;  // 0xFFFFFF is the multicast QPN
// Every octet of a UD packet that is not payload or pad: LRH, GRH, BTH, DETH, ImmDt, ICRC, VCRC.
constexpr size_t kMaxUdOverhead = kLrhLen + kGrhLen + kBthLen + kDethLen + 4 + kIcrcLen + kVcrcLen;

std::string Hex(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%x", v);
  return buf;
}

[[noreturn]] void Fail(EndpointErrc code, const std::string& message) { throw EndpointError(code, message); }

bool IsMulticastGid(const uint8_t* gid) { return gid[0] == 0xFF; }

}  // namespace

const char* EndpointError::CodeName() const {
  switch (code_) {
    case EndpointErrc::kInvalidArgument: return "EINVAL";
    case EndpointErrc::kNoSuchQp: return "ENOENT";
    case EndpointErrc::kQpExists: return "EEXIST";
    case EndpointErrc::kMtuExceeded: return "EMSGSIZE";
    case EndpointErrc::kNotAttached: return "ENOENT";
    case EndpointErrc::kClosed: return "EBADF";
  }
  return "EINVAL";
}

uint32_t MtuBytesOfCode(uint8_t code) { return code >= 1 && code <= 5 ? 128u << code : 0; }

bool PkeysMatch(uint16_t a, uint16_t b) {
  if ((a & 0x7FFF) == 0 || (b & 0x7FFF) == 0) return false;  // base 0: the invalid P_Keys
  return (a & 0x7FFF) == (b & 0x7FFF) && ((a | b) & 0x8000) != 0;
}

// ---- lifecycle

Endpoint::Endpoint(const EndpointConfig& c)
    : lid_(c.lid), gid_(c.gid), mtuBytes_(MtuBytesOfCode(c.mtuCode)), pkeys_(c.pkeys), active_(c.active) {}

std::shared_ptr<Endpoint> Endpoint::Open(const EndpointConfig& config) {
  if (MtuBytesOfCode(config.mtuCode) == 0) Fail(EndpointErrc::kInvalidArgument, "mtuCode must be 1..5");
  std::shared_ptr<Endpoint> ep(new Endpoint(config));
  ep->socket_ = UdpSocket::OpenLoopback(kReceiveBufferBytes);
  ep->udpPort_ = ep->socket_->Port();
  ep->egress_ = std::make_unique<Egress>(ep->socket_.get(), &ep->counters_);
  ep->receiveThread_ = std::thread([raw = ep.get()] { raw->ReceiveLoop(); });
  return ep;
}

Endpoint::~Endpoint() { Close(); }

void Endpoint::Close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return;
    closed_ = true;
  }
  if (socket_) socket_->Interrupt();
  if (receiveThread_.joinable()) receiveThread_.join();
  {
    std::lock_guard<std::mutex> lock(timerMu_);
    timerStop_ = true;
    timerCv_.notify_all();
  }
  if (timerThread_.joinable()) timerThread_.join();
  if (egress_) egress_->Close();  // waits out a send in progress; later Submits do nothing
  {
    // RC QPs go without completing anything, as on ibv_destroy_qp.
    std::lock_guard<std::recursive_mutex> rc(rcMu_);
    rcQps_.clear();
    rcDefaultHandler_.reset();
  }
  std::lock_guard<std::mutex> lock(mu_);
  socket_.reset();
  defaultHandler_.reset();
  transportHandler_.reset();
  rcQpns_.clear();
  for (auto& [qpn, qp] : qps_) qp.handler.reset();
}

bool Endpoint::Closed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return closed_;
}

void Endpoint::RequireOpen() const {
  if (closed_) Fail(EndpointErrc::kClosed, "the endpoint is closed");
}

// ---- port attributes and routes

void Endpoint::SetLid(uint16_t lid) {
  std::lock_guard<std::mutex> lock(mu_);
  RequireOpen();
  lid_ = lid;
}

void Endpoint::SetPkeyTable(std::vector<uint16_t> pkeys) {
  std::lock_guard<std::mutex> lock(mu_);
  RequireOpen();
  pkeys_ = std::move(pkeys);
}

void Endpoint::SetActive(bool active) {
  std::lock_guard<std::mutex> lock(mu_);
  RequireOpen();
  active_ = active;
}

void Endpoint::SetMtuCode(uint8_t mtuCode) {
  const uint32_t bytes = MtuBytesOfCode(mtuCode);
  if (bytes == 0) Fail(EndpointErrc::kInvalidArgument, "mtuCode must be 1..5");
  std::lock_guard<std::mutex> lock(mu_);
  RequireOpen();
  mtuBytes_ = bytes;
}

void Endpoint::SetRoutes(std::vector<UnicastRoute> unicast, std::vector<MulticastRoute> multicast) {
  std::unordered_map<uint16_t, uint16_t> u;
  for (const UnicastRoute& r : unicast) {
    if (r.lid == 0 || IsMulticastLid(r.lid) || r.lid == kLidPermissive) {
      Fail(EndpointErrc::kInvalidArgument, "unicast route LID " + Hex(r.lid) + " is not a unicast LID");
    }
    u[r.lid] = r.udpPort;
  }
  std::unordered_map<uint16_t, std::vector<uint16_t>> m;
  for (MulticastRoute& r : multicast) {
    if (!IsMulticastLid(r.mlid)) Fail(EndpointErrc::kInvalidArgument, "multicast route MLID " + Hex(r.mlid) + " is not a multicast LID");
    m[r.mlid] = std::move(r.udpPorts);
  }
  std::lock_guard<std::mutex> lock(mu_);
  RequireOpen();
  unicastRoutes_ = std::move(u);
  multicastRoutes_ = std::move(m);
}

// ---- QPs and multicast attachments

uint32_t Endpoint::CreateUdQp(uint32_t qkey, uint16_t pkeyIndex, uint32_t qpn) {
  std::lock_guard<std::mutex> lock(mu_);
  RequireOpen();
  if (pkeyIndex >= pkeys_.size()) {
    Fail(EndpointErrc::kInvalidArgument, "pkeyIndex " + std::to_string(pkeyIndex) + " is beyond the " +
                                             std::to_string(pkeys_.size()) + "-entry P_Key table");
  }
  qpn = AllocateQpn(qpn);
  qps_[qpn] = Qp{qkey, pkeyIndex, 0, nullptr};
  return qpn;
}

uint32_t Endpoint::AllocateQpn(uint32_t requested) {
  const auto taken = [this](uint32_t q) { return qps_.count(q) != 0 || rcQpns_.count(q) != 0; };
  if (requested == 0) {
    for (uint32_t tries = 0; tries <= kMaxQpn; tries++) {
      const uint32_t candidate = nextQpn_;
      nextQpn_ = nextQpn_ >= kMaxQpn ? kFirstQpn : nextQpn_ + 1;
      if (!taken(candidate)) return candidate;
    }
    Fail(EndpointErrc::kQpExists, "no free QPN left");
  }
  if (requested > kMaxQpn) Fail(EndpointErrc::kInvalidArgument, "QPN " + Hex(requested) + " is not a QPN a QP can have");
  if (taken(requested)) Fail(EndpointErrc::kQpExists, "QP " + Hex(requested) + " already exists");
  return requested;
}

void Endpoint::ModifyUdQp(uint32_t qpn, std::optional<uint32_t> qkey, std::optional<uint16_t> pkeyIndex) {
  std::lock_guard<std::mutex> lock(mu_);
  RequireOpen();
  auto it = qps_.find(qpn);
  if (it == qps_.end()) Fail(EndpointErrc::kNoSuchQp, "no QP " + Hex(qpn));
  if (pkeyIndex && *pkeyIndex >= pkeys_.size()) {
    Fail(EndpointErrc::kInvalidArgument, "pkeyIndex " + std::to_string(*pkeyIndex) + " is beyond the " +
                                             std::to_string(pkeys_.size()) + "-entry P_Key table");
  }
  if (qkey) it->second.qkey = *qkey;
  if (pkeyIndex) it->second.pkeyIndex = *pkeyIndex;
}

void Endpoint::DestroyQp(uint32_t qpn) {
  std::lock_guard<std::mutex> lock(mu_);
  RequireOpen();
  if (qps_.erase(qpn) == 0) Fail(EndpointErrc::kNoSuchQp, "no QP " + Hex(qpn));
  for (auto it = attachments_.begin(); it != attachments_.end();) {
    auto& list = it->second;
    list.erase(std::remove_if(list.begin(), list.end(), [qpn](const Attachment& a) { return a.qpn == qpn; }), list.end());
    it = list.empty() ? attachments_.erase(it) : std::next(it);
  }
}

std::vector<QpInfo> Endpoint::Qps() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<QpInfo> out;
  for (const auto& [qpn, qp] : qps_) out.push_back({qpn, qp.qkey, qp.pkeyIndex});
  std::sort(out.begin(), out.end(), [](const QpInfo& a, const QpInfo& b) { return a.qpn < b.qpn; });
  return out;
}

void Endpoint::AttachMulticast(uint32_t qpn, const Gid& mgid, uint16_t mlid) {
  if (!IsMulticastLid(mlid)) Fail(EndpointErrc::kInvalidArgument, "MLID " + Hex(mlid) + " is not a multicast LID");
  if (!IsMulticastGid(mgid.data())) Fail(EndpointErrc::kInvalidArgument, "the MGID does not start with 0xff");
  std::lock_guard<std::mutex> lock(mu_);
  RequireOpen();
  if (qps_.count(qpn) == 0) Fail(EndpointErrc::kNoSuchQp, "no QP " + Hex(qpn));
  auto& list = attachments_[mlid];
  for (const Attachment& a : list) {
    if (a.qpn == qpn && a.mgid == mgid) return;  // attaching twice is harmless, as in verbs
  }
  list.push_back({mgid, qpn});
}

void Endpoint::DetachMulticast(uint32_t qpn, const Gid& mgid, uint16_t mlid) {
  std::lock_guard<std::mutex> lock(mu_);
  RequireOpen();
  auto it = attachments_.find(mlid);
  if (it != attachments_.end()) {
    auto& list = it->second;
    auto at = std::find_if(list.begin(), list.end(), [&](const Attachment& a) { return a.qpn == qpn && a.mgid == mgid; });
    if (at != list.end()) {
      list.erase(at);
      if (list.empty()) attachments_.erase(it);
      return;
    }
  }
  Fail(EndpointErrc::kNotAttached, "QP " + Hex(qpn) + " is not attached to that MGID on MLID " + Hex(mlid));
}

// ---- handlers

void Endpoint::SetQpHandler(uint32_t qpn, CompletionHandler handler) {
  std::lock_guard<std::mutex> lock(mu_);
  RequireOpen();
  auto it = qps_.find(qpn);
  if (it == qps_.end()) Fail(EndpointErrc::kNoSuchQp, "no QP " + Hex(qpn));
  it->second.handler = handler ? std::make_shared<CompletionHandler>(std::move(handler)) : nullptr;
}

void Endpoint::SetDefaultHandler(CompletionHandler handler) {
  std::lock_guard<std::mutex> lock(mu_);
  RequireOpen();
  defaultHandler_ = handler ? std::make_shared<CompletionHandler>(std::move(handler)) : nullptr;
}

void Endpoint::SetTransportHandler(TransportHandler handler) {
  std::lock_guard<std::mutex> lock(mu_);
  RequireOpen();
  transportHandler_ = handler ? std::make_shared<TransportHandler>(std::move(handler)) : nullptr;
}

// ---- counters, faults, tap

CounterSnapshot Endpoint::Counters() const { return counters_.Snapshot(); }

void Endpoint::ResetCounters() { counters_.Reset(); }

void Endpoint::SetFaults(std::optional<double> lossRate, std::optional<uint32_t> delayMs, std::optional<uint64_t> seed) {
  if (lossRate && !(*lossRate >= 0 && *lossRate <= 1)) Fail(EndpointErrc::kInvalidArgument, "lossRate must be within 0..1");
  {
    std::lock_guard<std::mutex> lock(mu_);
    RequireOpen();
  }
  egress_->SetFaults(lossRate, delayMs, seed);
}

void Endpoint::SetTap(uint16_t udpPort, TapDirection direction) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    RequireOpen();
  }
  egress_->SetTap(udpPort, direction);
}

// ---- send

void Endpoint::RoutePacket(const uint8_t* pkt, size_t len, uint16_t dlid, EgressBatch* batch) {
  if (!active_) {
    Bump(counters_.portXmitDiscards);
    Bump(counters_.linkDownXmitDiscards);
    return;
  }
  const uint32_t destBegin = static_cast<uint32_t>(batch->dests.size());
  if (IsMulticastLid(dlid)) {
    auto it = multicastRoutes_.find(dlid);
    if (it != multicastRoutes_.end()) batch->dests.insert(batch->dests.end(), it->second.begin(), it->second.end());
  } else if (dlid == lid_) {
    batch->dests.push_back(udpPort_);  // the HCA loops a packet to its own LID back
  } else {
    auto it = unicastRoutes_.find(dlid);
    if (it != unicastRoutes_.end()) batch->dests.push_back(it->second);
  }
  const uint32_t destCount = static_cast<uint32_t>(batch->dests.size()) - destBegin;
  if (destCount == 0) {
    Bump(counters_.portXmitDiscards);
    Bump(counters_.noRouteXmitDiscards);
    return;
  }
  const size_t offset = static_cast<size_t>(pkt - batch->bytes.data());
  batch->packets.push_back({offset, len, destBegin, destCount});
  Bump(counters_.portXmitPkts);
  Bump(counters_.portXmitData, (len - kVcrcLen) / 4);
}

void Endpoint::PostSendUd(uint32_t qpn, const UdSendWr* wrs, size_t count) {
  auto batch = std::make_shared<EgressBatch>();
  {
    std::lock_guard<std::mutex> lock(mu_);
    RequireOpen();
    auto it = qps_.find(qpn);
    if (it == qps_.end()) Fail(EndpointErrc::kNoSuchQp, "no QP " + Hex(qpn));
    Qp& qp = it->second;

    // Check every WR first: a bad one sends nothing.
    size_t bytes = 0;
    for (size_t i = 0; i < count; i++) {
      const UdSendWr& wr = wrs[i];
      const std::string at = "send " + std::to_string(i) + ": ";
      const uint16_t index = wr.pkeyIndex.value_or(qp.pkeyIndex);
      if (index >= pkeys_.size()) {
        Fail(EndpointErrc::kInvalidArgument, at + "pkeyIndex " + std::to_string(index) + " is beyond the " +
                                                 std::to_string(pkeys_.size()) + "-entry P_Key table");
      }
      if (wr.payloadLen > mtuBytes_) {
        Fail(EndpointErrc::kMtuExceeded, at + "payload of " + std::to_string(wr.payloadLen) +
                                             " octets exceeds the port MTU of " + std::to_string(mtuBytes_));
      }
      if (wr.dqpn > kMulticastQpn || wr.sl > 15 || wr.flowLabel > 0xFFFFF) {
        Fail(EndpointErrc::kInvalidArgument, at + "dqpn, sl or flowLabel out of range");
      }
      bytes += kMaxUdOverhead + wr.payloadLen + 3;  // + up to 3 pad octets
    }
    if (!active_) {
      Bump(counters_.portXmitDiscards, count);
      Bump(counters_.linkDownXmitDiscards, count);
      return;
    }
    batch->bytes.resize(bytes);  // an upper bound; nothing reallocates below
    size_t used = 0;
    for (size_t i = 0; i < count; i++) {
      const UdSendWr& wr = wrs[i];
      PacketSpec spec;
      spec.sl = wr.sl;
      spec.dlid = wr.dlid;
      spec.slid = lid_;
      spec.hasGrh = wr.hasGrh;
      if (wr.hasGrh) {
        spec.grh.tClass = wr.tclass;
        spec.grh.flowLabel = wr.flowLabel;
        spec.grh.hopLmt = wr.hopLimit;
        spec.grh.sgid = gid_;
        spec.grh.dgid = wr.dgid;
      }
      uint8_t imm[4];
      if (wr.immData) {
        spec.opcode = kOpUdSendOnlyImm;
        imm[0] = static_cast<uint8_t>(*wr.immData >> 24);
        imm[1] = static_cast<uint8_t>(*wr.immData >> 16);
        imm[2] = static_cast<uint8_t>(*wr.immData >> 8);
        imm[3] = static_cast<uint8_t>(*wr.immData);
        spec.ext = imm;
        spec.extLen = 4;
      } else {
        spec.opcode = kOpUdSendOnly;
      }
      spec.se = wr.solicited;
      spec.pkey = pkeys_[wr.pkeyIndex.value_or(qp.pkeyIndex)];
      spec.destQp = wr.dqpn;
      spec.psn = qp.nextPsn;
      qp.nextPsn = (qp.nextPsn + 1) & 0xFFFFFF;
      // Controlled Q_Key: a WR Q_Key with the high bit set means "use the QP's own".
      spec.deth.qkey = (wr.qkey & kQkeyControlledBit) != 0 ? qp.qkey : wr.qkey;
      spec.deth.srcQp = qpn;
      uint8_t* out = batch->bytes.data() + used;
      const size_t len = BuildPacket(spec, wr.payload, wr.payloadLen, out);
      if (len == 0) Fail(EndpointErrc::kInvalidArgument, "send " + std::to_string(i) + ": packet could not be built");
      used += len;
      RoutePacket(out, len, wr.dlid, batch.get());
    }
  }
  egress_->Submit(std::move(batch));
}

void Endpoint::SendPacket(const uint8_t* packet, size_t len) {
  if (len < kLrhLen + kVcrcLen || len > kMaxPacketLen) {
    Fail(EndpointErrc::kInvalidArgument, "a packet of " + std::to_string(len) + " octets cannot be sent");
  }
  auto batch = std::make_shared<EgressBatch>();
  {
    std::lock_guard<std::mutex> lock(mu_);
    RequireOpen();
    batch->bytes.assign(packet, packet + len);
    RoutePacket(batch->bytes.data(), len, static_cast<uint16_t>(packet[2] << 8 | packet[3]), batch.get());
  }
  egress_->Submit(std::move(batch));
}

// ---- receive

void Endpoint::Deliveries::Clear() {
  completions.clear();
  handlerOf.clear();
  keepAlive.clear();
  transport.clear();
  rc.clear();
  transportHandler.reset();
  tapCopies.clear();
}

void Endpoint::ReceiveLoop() {
  UdpSocket::Batch batch(kReceiveSlots, kReceiveSlotBytes);
  Deliveries deliveries;
  try {
    while (socket_->Wait()) {
      while (socket_->Receive(&batch) > 0) {
        ProcessBatch(batch, &deliveries);
        if (batch.size() < kReceiveSlots) break;  // drained: back to poll
      }
    }
  } catch (const std::exception&) {
    // A socket failure ends reception; sends still work and Close() still joins us.
  }
}

void Endpoint::ProcessBatch(const UdpSocket::Batch& batch, Deliveries* out) {
  Deliveries& d = *out;
  const uint32_t overflow = batch.OverflowCount();
  if (overflow != overflowSeen_) {
    Bump(counters_.socketOverflowDrops, overflow - overflowSeen_);  // unsigned: wraps correctly
    overflowSeen_ = overflow;
  }
  d.Clear();
  const uint16_t tapPort = egress_->TapFor(TapDirection::kReceive);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return;
    for (size_t i = 0; i < batch.size(); i++) CheckPacket(batch.Data(i), batch.Length(i), batch.Truncated(i), tapPort, &d);
    d.transportHandler = transportHandler_;
  }
  // Deliver outside the lock: a handler may send. Completions go to their handler in runs.
  size_t i = 0;
  while (i < d.completions.size()) {
    CompletionHandler* h = d.handlerOf[i];
    size_t j = i + 1;
    while (j < d.completions.size() && d.handlerOf[j] == h) j++;
    if (h != nullptr) (*h)(d.completions.data() + i, j - i);
    i = j;
  }
  if (d.transportHandler) {
    for (const auto& t : d.transport) (*d.transportHandler)(t.parsed, t.raw, t.len);
  }
  if (!d.rc.empty()) FeedRc(d.rc);
  if (!d.tapCopies.empty()) {
    const size_t refused = socket_->Send(d.tapCopies.data(), d.tapCopies.size());
    if (refused > 0) Bump(counters_.sendErrors, refused);
  }
  d.Clear();  // lets go of the handlers now, not at the next batch
}

bool Endpoint::QpAccepts(uint32_t qpn, const Qp& qp, const ParsedPacket& p, uint16_t* pkeyIndex) {
  if (qpn == kGsiQpn) {
    // QP1 takes any P_Key the table holds; it reports the index of the matching entry.
    auto at = std::find_if(pkeys_.begin(), pkeys_.end(), [&](uint16_t k) { return PkeysMatch(k, p.bth.pkey); });
    if (at == pkeys_.end()) {
      Bump(counters_.pKeyViolations);
      return false;
    }
    *pkeyIndex = static_cast<uint16_t>(at - pkeys_.begin());
  } else {
    if (qp.pkeyIndex >= pkeys_.size() || !PkeysMatch(pkeys_[qp.pkeyIndex], p.bth.pkey)) {
      Bump(counters_.pKeyViolations);
      return false;
    }
    *pkeyIndex = qp.pkeyIndex;
  }
  if (p.deth.qkey != qp.qkey) {
    Bump(counters_.qKeyViolations);
    return false;
  }
  return true;
}

void Endpoint::CheckPacket(const uint8_t* pkt, size_t len, bool truncated, uint16_t tapPort, Deliveries* out) {
  const auto rcvError = [this](std::atomic<uint64_t>& detail) {
    Bump(counters_.portRcvErrors);
    Bump(detail);
  };
  if (!active_) {
    Bump(counters_.linkDownDrops);
    return;
  }
  ParsedPacket p;
  if (truncated || len > kMaxPacketLen) return rcvError(counters_.malformed);
  PacketError e = ParseLink(pkt, len, &p);
  if (e == PacketError::kVcrc) return rcvError(counters_.vcrcErrors);
  if (e != PacketError::kNone) return rcvError(counters_.malformed);

  const uint16_t dlid = p.lrh.dlid;
  const bool multicast = IsMulticastLid(dlid);
  if (multicast ? attachments_.count(dlid) == 0 : dlid != lid_) {
    Bump(counters_.portRcvSwitchRelayErrors);
    return;
  }
  e = ParseTransport(pkt, len, &p);
  if (e == PacketError::kIcrc) return rcvError(counters_.icrcErrors);
  if (e != PacketError::kNone) return rcvError(counters_.malformed);
  if (multicast && !(p.hasGrh && IsMulticastGid(p.grh.dgid.data()))) return rcvError(counters_.malformed);
  if (p.payloadLen > mtuBytes_) return rcvError(counters_.mtuDrops);
  if (std::none_of(pkeys_.begin(), pkeys_.end(), [&](uint16_t k) { return PkeysMatch(k, p.bth.pkey); })) {
    Bump(counters_.pKeyViolations);
    return;
  }

  if (!p.layout.deth) {
    if ((p.bth.opcode & 0xE0) == 0) {
      // RC: never multicast; the QP must be an RC QP, and its own P_Key must match.
      if (multicast) return rcvError(counters_.malformed);
      auto rc = rcQpns_.find(p.bth.destQp);
      if (rc == rcQpns_.end()) {
        Bump(counters_.unknownQpnDrops);
        return;
      }
      if (rc->second >= pkeys_.size() || !PkeysMatch(pkeys_[rc->second], p.bth.pkey)) {
        Bump(counters_.pKeyViolations);
        return;
      }
      out->rc.push_back({p, pkt, len});
    } else {
      // UC: for the transport handler, if there is one.
      if (!transportHandler_) {
        Bump(counters_.unknownQpnDrops);
        return;
      }
      out->transport.push_back({p, pkt, len});
    }
  } else {
    const size_t before = out->completions.size();
    const auto deliver = [&](uint32_t qpn, Qp& qp) {
      uint16_t pkeyIndex = 0;
      if (!QpAccepts(qpn, qp, p, &pkeyIndex)) return;
      UdCompletion c{};
      c.qpn = qpn;
      c.srcQp = p.deth.srcQp;
      c.slid = p.lrh.slid;
      c.dlid = dlid;
      c.sl = p.lrh.sl;
      c.pkey = p.bth.pkey;
      c.pkeyIndex = pkeyIndex;
      c.qkey = p.deth.qkey;
      c.psn = p.bth.psn;
      c.hasGrh = p.hasGrh;
      c.hasImm = p.layout.otherEthLen == 4;  // UD SEND ONLY with Immediate
      if (c.hasImm) c.immData = static_cast<uint32_t>(p.ext[0]) << 24 | p.ext[1] << 16 | p.ext[2] << 8 | p.ext[3];
      if (p.hasGrh) {
        c.hopLimit = p.grh.hopLmt;
        c.tclass = p.grh.tClass;
        c.flowLabel = p.grh.flowLabel;
        c.sgid = pkt + kLrhLen + 8;  // views into the datagram, like payload
        c.dgid = pkt + kLrhLen + 24;
      }
      c.payload = p.payload;
      c.payloadLen = p.payloadLen;
      c.raw = pkt;
      c.rawLen = len;
      CompletionHandler* h = qp.handler ? qp.handler.get() : defaultHandler_.get();
      if (qp.handler && (out->keepAlive.empty() || out->keepAlive.back() != qp.handler)) out->keepAlive.push_back(qp.handler);
      if (!qp.handler && defaultHandler_ && (out->keepAlive.empty() || out->keepAlive.back() != defaultHandler_)) {
        out->keepAlive.push_back(defaultHandler_);
      }
      out->completions.push_back(c);
      out->handlerOf.push_back(h);
    };
    if (multicast) {
      auto it = attachments_.find(dlid);
      bool anyQp = false;
      if (p.bth.destQp == kMulticastQpn && it != attachments_.end()) {
        for (const Attachment& a : it->second) {
          if (a.mgid != p.grh.dgid) continue;
          auto qp = qps_.find(a.qpn);
          if (qp == qps_.end()) continue;
          anyQp = true;
          deliver(a.qpn, qp->second);
        }
      }
      if (!anyQp) {
        Bump(counters_.unknownQpnDrops);
        return;
      }
    } else {
      auto qp = qps_.find(p.bth.destQp);
      if (qp == qps_.end()) {
        Bump(counters_.unknownQpnDrops);
        return;
      }
      deliver(qp->first, qp->second);
    }
    if (out->completions.size() == before) return;  // every QP refused it (counted per QP)
  }
  Bump(counters_.portRcvPkts);
  Bump(counters_.portRcvData, p.lrh.pktLen);
  if (tapPort != 0) out->tapCopies.push_back({tapPort, pkt, len});
}

}  // namespace ipoib::sim
