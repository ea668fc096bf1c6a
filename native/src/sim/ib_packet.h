// Whole InfiniBand wire packets (LRH | [GRH] | BTH | [DETH] | [AETH, other ETHs] | payload |
// pad | ICRC | VCRC), built and taken apart exactly as src/wire/ib-packet.ts does, so the C++
// data plane and the TypeScript codecs agree byte for byte. Only RC, UC and UD OpCodes are
// laid out (the same set as the TS codec). Parsing is split in the two stages a receiving HCA
// runs, so the endpoint can interleave its own checks (DLID, P_Key, ...) between them:
//   ParseLink:      LRH, LNH names an IBA packet, PktLen matches the datagram, VCRC.
//   ParseTransport: GRH (IPVer, NxtHdr, PayLen), ICRC, BTH (OpCode layout, TVer, PadCnt), DETH.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace ipoib::sim {

using Gid = std::array<uint8_t, 16>;

constexpr size_t kLrhLen = 8;
constexpr size_t kGrhLen = 40;
constexpr size_t kBthLen = 12;
constexpr size_t kDethLen = 8;
constexpr size_t kAethLen = 4;
constexpr size_t kIcrcLen = 4;
constexpr size_t kVcrcLen = 2;
constexpr uint8_t kLnhIbaLocal = 0b10;
constexpr uint8_t kLnhIbaGlobal = 0b11;
constexpr uint8_t kGrhNextHeaderIba = 0x1B;
constexpr uint8_t kGrhIpVer = 6;
constexpr uint16_t kLidMulticastBase = 0xC000;
constexpr uint16_t kLidPermissive = 0xFFFF;
constexpr uint32_t kMulticastQpn = 0xFFFFFF;
constexpr uint8_t kOpUdSendOnly = 0x64;
constexpr uint8_t kOpUdSendOnlyImm = 0x65;
// Largest packet the simulation carries: 4096-octet payload with every header of a UD packet.
constexpr size_t kMaxPacketLen = kLrhLen + kGrhLen + kBthLen + kDethLen + 4 + 4096 + kIcrcLen + kVcrcLen;

inline bool IsMulticastLid(uint16_t lid) { return lid >= kLidMulticastBase && lid != kLidPermissive; }

struct Lrh {
  uint8_t vl = 0, lver = 0, sl = 0, resv2 = 0, lnh = 0;
  uint16_t dlid = 0;
  uint8_t resv5 = 0;
  uint16_t pktLen = 0;  // 4-octet words, LRH..ICRC
  uint16_t slid = 0;
};

struct Grh {
  uint8_t ipVer = kGrhIpVer, tClass = 0;
  uint32_t flowLabel = 0;
  uint16_t payLen = 0;
  uint8_t nxtHdr = kGrhNextHeaderIba, hopLmt = 0;
  Gid sgid{}, dgid{};
};

struct Bth {
  uint8_t opcode = 0;
  bool se = false, migReq = false;
  uint8_t padCnt = 0, tVer = 0;
  uint16_t pkey = 0;
  uint8_t resv8a = 0;
  uint32_t destQp = 0;
  bool ackReq = false;
  uint8_t resv7 = 0;
  uint32_t psn = 0;
};

struct Deth {
  uint32_t qkey = 0;
  uint8_t resv8 = 0;
  uint32_t srcQp = 0;
};

// What follows the BTH for an OpCode, in wire order: DETH, then AETH, then other ETHs.
struct EthLayout {
  bool deth = false;
  bool aeth = false;
  uint8_t otherEthLen = 0;  // RETH 16, ImmDt 4, IETH 4, AtomicETH 28, AtomicAckETH 8
};

// The layout of an RC, UC or UD OpCode; false for anything else (RD, XRC, CNP, vendor, undefined).
bool EthLayoutOf(uint8_t opcode, EthLayout* out);

// Input of BuildPacket. LNH, PktLen, PayLen, PadCnt and both CRCs are computed; LVer, TVer
// and the reserved fields are written as 0, the pad octets as zeros.
struct PacketSpec {
  uint8_t vl = 0, sl = 0;
  uint16_t dlid = 0, slid = 0;
  bool hasGrh = false;
  Grh grh;  // ipVer, nxtHdr and payLen are ignored
  uint8_t opcode = kOpUdSendOnly;
  bool se = false, migReq = false, ackReq = false;
  uint16_t pkey = 0;
  uint32_t destQp = 0;
  uint32_t psn = 0;
  Deth deth;                        // written when the OpCode carries a DETH
  const uint8_t* ext = nullptr;     // AETH and other ETHs, already encoded, as the layout needs
  size_t extLen = 0;
};

// Octets BuildPacket writes for this spec and payload length (0 when the OpCode is not laid
// out, the extended headers do not fit its layout, or the packet exceeds kMaxPacketLen).
size_t PacketLength(const PacketSpec& spec, size_t payloadLen);

// Writes the packet into `out` (which must hold PacketLength() octets); returns its length or 0
// as PacketLength does.
size_t BuildPacket(const PacketSpec& spec, const uint8_t* payload, size_t payloadLen, uint8_t* out);

enum class PacketError : uint8_t {
  kNone,
  kTooShort,    // shorter than the headers it announces
  kRawLnh,      // LNH 0b00/0b01: not an IBA transport packet
  kPktLen,      // PktLen * 4 + 2 differs from the datagram length
  kVcrc,
  kGrhIpVer,
  kGrhNxtHdr,
  kGrhPayLen,
  kOpcode,      // an OpCode this simulation does not lay out
  kTVer,
  kPadCnt,      // PadCnt larger than the octets after the headers
  kIcrc,
};
const char* PacketErrorName(PacketError e);

struct ParsedPacket {
  Lrh lrh;
  bool hasGrh = false;
  Grh grh;
  Bth bth;
  EthLayout layout;
  Deth deth;                       // valid when layout.deth
  const uint8_t* ext = nullptr;    // AETH + other ETHs (raw), views into the packet
  size_t extLen = 0;
  const uint8_t* payload = nullptr;
  size_t payloadLen = 0;
};

// Stage 1 (link layer). Fills out->lrh.
PacketError ParseLink(const uint8_t* pkt, size_t len, ParsedPacket* out);
// Stage 2 (network + transport layers), after a successful ParseLink of the same packet.
PacketError ParseTransport(const uint8_t* pkt, size_t len, ParsedPacket* out);

}  // namespace ipoib::sim
