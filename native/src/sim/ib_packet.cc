#include "ib_packet.h"

#include <cstring>

#include "crc_ib.h"

namespace ipoib::sim {

namespace {

// Transport in the top 3 OpCode bits.
constexpr uint8_t kTransportRc = 0x00;
constexpr uint8_t kTransportUc = 0x20;
constexpr uint8_t kTransportUd = 0x60;

// One row per operation (low 5 OpCode bits): which of RC/UC/UD define it, and what follows the BTH.
struct OperationRow {
  bool rc, uc, ud, aeth;
  uint8_t otherEthLen;
};
constexpr OperationRow kOperations[0x18] = {
    {true, true, false, false, 0},    // 0x00 SEND FIRST
    {true, true, false, false, 0},    // 0x01 SEND MIDDLE
    {true, true, false, false, 0},    // 0x02 SEND LAST
    {true, true, false, false, 4},    // 0x03 SEND LAST with ImmDt
    {true, true, true, false, 0},     // 0x04 SEND ONLY
    {true, true, true, false, 4},     // 0x05 SEND ONLY with ImmDt
    {true, true, false, false, 16},   // 0x06 RDMA WRITE FIRST (RETH)
    {true, true, false, false, 0},    // 0x07 RDMA WRITE MIDDLE
    {true, true, false, false, 0},    // 0x08 RDMA WRITE LAST
    {true, true, false, false, 4},    // 0x09 RDMA WRITE LAST with ImmDt
    {true, true, false, false, 16},   // 0x0A RDMA WRITE ONLY (RETH)
    {true, true, false, false, 20},   // 0x0B RDMA WRITE ONLY with ImmDt (RETH + ImmDt)
    {true, false, false, false, 16},  // 0x0C RDMA READ REQUEST (RETH)
    {true, false, false, true, 0},    // 0x0D RDMA READ RESPONSE FIRST
    {true, false, false, false, 0},   // 0x0E RDMA READ RESPONSE MIDDLE
    {true, false, false, true, 0},    // 0x0F RDMA READ RESPONSE LAST
    {true, false, false, true, 0},    // 0x10 RDMA READ RESPONSE ONLY
    {true, false, false, true, 0},    // 0x11 ACKNOWLEDGE
    {true, false, false, true, 8},    // 0x12 ATOMIC ACKNOWLEDGE (AtomicAckETH)
    {true, false, false, false, 28},  // 0x13 CmpSwap (AtomicETH)
    {true, false, false, false, 28},  // 0x14 FetchAdd (AtomicETH)
    {false, false, false, false, 0},  // 0x15 RESYNC: RD only
    {true, false, false, false, 4},   // 0x16 SEND LAST with Invalidate (IETH)
    {true, false, false, false, 4},   // 0x17 SEND ONLY with Invalidate (IETH)
};

void Put16(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
void Put24(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 16);
  p[1] = static_cast<uint8_t>(v >> 8);
  p[2] = static_cast<uint8_t>(v);
}
void Put32(uint8_t* p, uint32_t v) {
  Put16(p, v >> 16);
  Put16(p + 2, v);
}
uint16_t Get16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
uint32_t Get24(const uint8_t* p) { return static_cast<uint32_t>(p[0]) << 16 | static_cast<uint32_t>(p[1]) << 8 | p[2]; }
uint32_t Get32(const uint8_t* p) { return static_cast<uint32_t>(Get16(p)) << 16 | Get16(p + 2); }

size_t HeadersLen(const PacketSpec& spec, const EthLayout& layout) {
  return kLrhLen + (spec.hasGrh ? kGrhLen : 0) + kBthLen + (layout.deth ? kDethLen : 0) + spec.extLen;
}

bool ExtFits(const PacketSpec& spec, const EthLayout& layout) {
  return spec.extLen == (layout.aeth ? kAethLen : 0) + layout.otherEthLen && (spec.extLen == 0 || spec.ext != nullptr);
}

}  // namespace

bool EthLayoutOf(uint8_t opcode, EthLayout* out) {
  const uint8_t op = opcode & 0x1F;
  if (op >= sizeof(kOperations) / sizeof(kOperations[0])) return false;
  const OperationRow& row = kOperations[op];
  const uint8_t transport = opcode & 0xE0;
  const bool defined = (transport == kTransportRc && row.rc) || (transport == kTransportUc && row.uc) ||
                       (transport == kTransportUd && row.ud);
  if (!defined) return false;
  out->deth = transport == kTransportUd;
  out->aeth = row.aeth;
  out->otherEthLen = row.otherEthLen;
  return true;
}

size_t PacketLength(const PacketSpec& spec, size_t payloadLen) {
  EthLayout layout;
  if (!EthLayoutOf(spec.opcode, &layout) || !ExtFits(spec, layout)) return 0;
  const size_t padLen = (4 - payloadLen % 4) % 4;
  const size_t total = HeadersLen(spec, layout) + payloadLen + padLen + kIcrcLen + kVcrcLen;
  return total <= kMaxPacketLen ? total : 0;
}

size_t BuildPacket(const PacketSpec& spec, const uint8_t* payload, size_t payloadLen, uint8_t* out) {
  const size_t total = PacketLength(spec, payloadLen);
  if (total == 0) return 0;
  EthLayout layout;
  EthLayoutOf(spec.opcode, &layout);
  const size_t padLen = (4 - payloadLen % 4) % 4;

  uint8_t* p = out;
  // LRH: VL|LVer, SL|resv2|LNH, DLID, resv5|PktLen, SLID.
  p[0] = static_cast<uint8_t>((spec.vl & 0x0F) << 4);
  p[1] = static_cast<uint8_t>((spec.sl & 0x0F) << 4 | (spec.hasGrh ? kLnhIbaGlobal : kLnhIbaLocal));
  Put16(p + 2, spec.dlid);
  Put16(p + 4, static_cast<uint32_t>((total - kVcrcLen) / 4) & 0x07FF);
  Put16(p + 6, spec.slid);
  p += kLrhLen;
  if (spec.hasGrh) {
    const Grh& g = spec.grh;
    Put32(p, static_cast<uint32_t>(kGrhIpVer) << 28 | static_cast<uint32_t>(g.tClass) << 20 | (g.flowLabel & 0xFFFFF));
    Put16(p + 4, static_cast<uint32_t>(total - kLrhLen - kGrhLen - kVcrcLen));
    p[6] = kGrhNextHeaderIba;
    p[7] = g.hopLmt;
    std::memcpy(p + 8, g.sgid.data(), 16);
    std::memcpy(p + 24, g.dgid.data(), 16);
    p += kGrhLen;
  }
  // BTH: OpCode, SE|M|PadCnt|TVer, P_Key, resv8a, DestQP, A|resv7, PSN.
  p[0] = spec.opcode;
  p[1] = static_cast<uint8_t>((spec.se ? 0x80 : 0) | (spec.migReq ? 0x40 : 0) | padLen << 4);
  Put16(p + 2, spec.pkey);
  p[4] = 0;
  Put24(p + 5, spec.destQp & 0xFFFFFF);
  p[8] = spec.ackReq ? 0x80 : 0;
  Put24(p + 9, spec.psn & 0xFFFFFF);
  p += kBthLen;
  if (layout.deth) {
    Put32(p, spec.deth.qkey);
    p[4] = 0;
    Put24(p + 5, spec.deth.srcQp & 0xFFFFFF);
    p += kDethLen;
  }
  if (spec.extLen > 0) {
    std::memcpy(p, spec.ext, spec.extLen);
    p += spec.extLen;
  }
  if (payloadLen > 0) std::memcpy(p, payload, payloadLen);
  p += payloadLen;
  std::memset(p, 0, padLen);
  p += padLen;

  const size_t icrcAt = static_cast<size_t>(p - out);
  StoreLe32(p, ComputeIcrc(out, icrcAt, spec.hasGrh));
  p += kIcrcLen;
  StoreLe16(p, ComputeVcrc(out, icrcAt + kIcrcLen));
  return total;
}

const char* PacketErrorName(PacketError e) {
  switch (e) {
    case PacketError::kNone: return "none";
    case PacketError::kTooShort: return "too-short";
    case PacketError::kRawLnh: return "raw-lnh";
    case PacketError::kPktLen: return "pktlen";
    case PacketError::kVcrc: return "vcrc";
    case PacketError::kGrhIpVer: return "grh-ipver";
    case PacketError::kGrhNxtHdr: return "grh-nxthdr";
    case PacketError::kGrhPayLen: return "grh-paylen";
    case PacketError::kOpcode: return "opcode";
    case PacketError::kTVer: return "tver";
    case PacketError::kPadCnt: return "padcnt";
    case PacketError::kIcrc: return "icrc";
  }
  return "unknown";
}

PacketError ParseLink(const uint8_t* pkt, size_t len, ParsedPacket* out) {
  if (len < kLrhLen) return PacketError::kTooShort;
  Lrh& l = out->lrh;
  l.vl = pkt[0] >> 4;
  l.lver = pkt[0] & 0x0F;
  l.sl = pkt[1] >> 4;
  l.resv2 = (pkt[1] >> 2) & 0x03;
  l.lnh = pkt[1] & 0x03;
  l.dlid = Get16(pkt + 2);
  const uint16_t w2 = Get16(pkt + 4);
  l.resv5 = static_cast<uint8_t>(w2 >> 11);
  l.pktLen = w2 & 0x07FF;
  l.slid = Get16(pkt + 6);
  if (l.lnh < kLnhIbaLocal) return PacketError::kRawLnh;
  if (static_cast<size_t>(l.pktLen) * 4 + kVcrcLen != len) return PacketError::kPktLen;
  if (len < kLrhLen + kBthLen + kIcrcLen + kVcrcLen) return PacketError::kTooShort;
  const size_t vcrcAt = len - kVcrcLen;
  if (LoadLe16(pkt + vcrcAt) != ComputeVcrc(pkt, vcrcAt)) return PacketError::kVcrc;
  return PacketError::kNone;
}

PacketError ParseTransport(const uint8_t* pkt, size_t len, ParsedPacket* out) {
  const size_t icrcAt = len - kVcrcLen - kIcrcLen;  // ParseLink guaranteed len >= LRH + BTH + CRCs
  size_t o = kLrhLen;
  out->hasGrh = out->lrh.lnh == kLnhIbaGlobal;
  if (out->hasGrh) {
    if (len < kLrhLen + kGrhLen + kBthLen + kIcrcLen + kVcrcLen) return PacketError::kTooShort;
    Grh& g = out->grh;
    const uint32_t w0 = Get32(pkt + o);
    g.ipVer = static_cast<uint8_t>(w0 >> 28);
    g.tClass = static_cast<uint8_t>(w0 >> 20);
    g.flowLabel = w0 & 0xFFFFF;
    g.payLen = Get16(pkt + o + 4);
    g.nxtHdr = pkt[o + 6];
    g.hopLmt = pkt[o + 7];
    std::memcpy(g.sgid.data(), pkt + o + 8, 16);
    std::memcpy(g.dgid.data(), pkt + o + 24, 16);
    if (g.ipVer != kGrhIpVer) return PacketError::kGrhIpVer;
    if (g.nxtHdr != kGrhNextHeaderIba) return PacketError::kGrhNxtHdr;
    if (g.payLen != len - kLrhLen - kGrhLen - kVcrcLen) return PacketError::kGrhPayLen;
    o += kGrhLen;
  }
  // The ICRC's position and masking depend only on the length and the LNH, so a corrupted
  // packet is caught here, before any of its transport fields is believed.
  if (LoadLe32(pkt + icrcAt) != ComputeIcrc(pkt, icrcAt, out->hasGrh)) return PacketError::kIcrc;
  Bth& b = out->bth;
  b.opcode = pkt[o];
  b.se = (pkt[o + 1] & 0x80) != 0;
  b.migReq = (pkt[o + 1] & 0x40) != 0;
  b.padCnt = (pkt[o + 1] >> 4) & 0x03;
  b.tVer = pkt[o + 1] & 0x0F;
  b.pkey = Get16(pkt + o + 2);
  b.resv8a = pkt[o + 4];
  b.destQp = Get24(pkt + o + 5);
  b.ackReq = (pkt[o + 8] & 0x80) != 0;
  b.resv7 = pkt[o + 8] & 0x7F;
  b.psn = Get24(pkt + o + 9);
  o += kBthLen;
  if (!EthLayoutOf(b.opcode, &out->layout)) return PacketError::kOpcode;
  if (b.tVer != 0) return PacketError::kTVer;
  const size_t extLen = (out->layout.aeth ? kAethLen : 0) + out->layout.otherEthLen;
  if (o + (out->layout.deth ? kDethLen : 0) + extLen > icrcAt) return PacketError::kTooShort;
  if (out->layout.deth) {
    out->deth.qkey = Get32(pkt + o);
    out->deth.resv8 = pkt[o + 4];
    out->deth.srcQp = Get24(pkt + o + 5);
    o += kDethLen;
  }
  out->ext = pkt + o;
  out->extLen = extLen;
  o += extLen;
  if (b.padCnt > icrcAt - o) return PacketError::kPadCnt;
  out->payload = pkt + o;
  out->payloadLen = icrcAt - o - b.padCnt;
  return PacketError::kNone;
}

}  // namespace ipoib::sim
