/**
 * Every wire constant ipoib-lab uses, with its unit in the name where it has one.
 * Values come from RFC 4391/4392/4755 and the InfiniBand Architecture Specification;
 * the Linux ib_ipoib values that differ from the RFCs are named LINUX_*.
 */

// ---- EtherTypes carried in the IPoIB encapsulation header (RFC 4391 §6)
export const ETH_P_IP = 0x0800;
export const ETH_P_ARP = 0x0806;
export const ETH_P_RARP = 0x8035;
export const ETH_P_IPV6 = 0x86dd;

// ---- IPoIB encapsulation and link-layer address
export const IPOIB_HEADER_LEN = 4;
export const IPOIB_HWADDR_LEN = 20;
/** Flags octet of the link-layer address: RFC 4755 connected-mode capabilities. */
export const IPOIB_FLAG_RC = 0x80;
export const IPOIB_FLAG_UC = 0x40;
/** Bits of the flags octet that RFC 4391/4755 reserve (sent as zero, ignored on receipt). */
export const IPOIB_FLAGS_RESERVED_MASK = 0x3f;
/** Destination QPN of every multicast send. */
export const MCAST_QPN = 0xffffff;
export const QPN_MASK = 0xffffff;

// ---- ARP over IPoIB (RFC 4391 §9.2)
export const ARPHRD_INFINIBAND = 32;
export const ARP_OP_REQUEST = 1;
export const ARP_OP_REPLY = 2;
export const ARP_OP_RREQUEST = 3;
export const ARP_OP_RREPLY = 4;

// ---- IPv6 Neighbor Discovery (RFC 4861) with the IPoIB option (RFC 4391 §9.3)
export const IPPROTO_ICMPV6 = 58;
export const ICMPV6_RS = 133;
export const ICMPV6_RA = 134;
export const ICMPV6_NS = 135;
export const ICMPV6_NA = 136;
export const ND_OPT_SOURCE_LLADDR = 1;
export const ND_OPT_TARGET_LLADDR = 2;
/** The IPoIB link-layer option is 3 units of 8 octets: type, length, 2 zero octets, 20-octet address. */
export const ND_OPT_IPOIB_LEN_UNITS = 3;

// ---- Multicast GIDs (RFC 4391 §4)
export const IPOIB_SIGNATURE_IPV4 = 0x401b;
export const IPOIB_SIGNATURE_IPV6 = 0x601b;
/** Flags nibble of an IPoIB MGID: T (transient) = 1. */
export const MGID_FLAGS_TRANSIENT = 0x1;
export const MGID_SCOPE_LINK = 0x2;
export const MGID_SCOPE_SITE = 0x5;
export const MGID_SCOPE_ORG = 0x8;
export const MGID_SCOPE_GLOBAL = 0xe;

// ---- Partition keys
export const PKEY_DEFAULT = 0xffff;
export const PKEY_FULL_MEMBER_BIT = 0x8000;
export const PKEY_BASE_MASK = 0x7fff;
/** 0x0000 and 0x8000 (base 0) are invalid P_Keys. */
export const PKEY_INVALID_BASE = 0x0000;

// ---- Q_Keys
export const QKEY_CONTROLLED_BIT = 0x80000000;
/** OpenSM's and Linux's default IPoIB broadcast Q_Key (not a controlled Q_Key; finding D3). */
export const IPOIB_DEFAULT_QKEY = 0x00000b1b;
/** The well-known Q_Key of QP1 (GSI). */
export const GSI_QKEY = 0x80010000;

// ---- MTU
export const IB_MTU_CODE_TO_BYTES: Readonly<Record<number, number>> = { 1: 256, 2: 512, 3: 1024, 4: 2048, 5: 4096 };
export const IPOIB_UD_DEFAULT_MTU = 2044;
/** Largest IPoIB-CM message and the IP MTU Linux uses in connected mode. */
export const IPOIB_CM_MAX_MESSAGE_BYTES = 65524;
export const IPOIB_CM_MTU = 65520;

// ---- InfiniBand transport headers (IBA vol. 1 ch. 9)
export const LRH_LEN = 8;
export const GRH_LEN = 40;
export const BTH_LEN = 12;
export const DETH_LEN = 8;
export const AETH_LEN = 4;
export const ICRC_LEN = 4;
export const VCRC_LEN = 2;
/** LRH Link Next Header values. */
export const LNH_RAW = 0b00;
export const LNH_IP_NON_IBA = 0b01;
export const LNH_IBA_LOCAL = 0b10;
export const LNH_IBA_GLOBAL = 0b11;
/** GRH Next Header value for an IBA transport header. */
export const GRH_NEXT_HEADER_IBA = 0x1b;
export const GRH_IPVER = 6;
/** Permissive LID and the first multicast LID. */
export const LID_PERMISSIVE = 0xffff;
export const LID_MULTICAST_BASE = 0xc000;
/** BTH opcodes used by IPoIB (transport in the top 3 bits). */
export const OP_RC_SEND_FIRST = 0x00;
export const OP_RC_SEND_MIDDLE = 0x01;
export const OP_RC_SEND_LAST = 0x02;
export const OP_RC_SEND_LAST_IMM = 0x03;
export const OP_RC_SEND_ONLY = 0x04;
export const OP_RC_SEND_ONLY_IMM = 0x05;
export const OP_RC_ACK = 0x11;
export const OP_UD_SEND_ONLY = 0x64;
export const OP_UD_SEND_ONLY_IMM = 0x65;
export const BTH_TRANSPORT_RC = 0x00;
export const BTH_TRANSPORT_UC = 0x20;
export const BTH_TRANSPORT_RD = 0x40;
export const BTH_TRANSPORT_UD = 0x60;
/** QP0 (SMI) and QP1 (GSI). */
export const QPN_SMI = 0;
export const QPN_GSI = 1;

// ---- MADs (IBA vol. 1 ch. 13, 15, 12)
export const MAD_LEN = 256;
export const MAD_HEADER_LEN = 24;
export const SA_HEADER_LEN = 20;
export const MGMT_CLASS_SUBN_ADM = 0x03;
export const MGMT_CLASS_CM = 0x07;
export const SA_CLASS_VERSION = 2;
export const CM_CLASS_VERSION = 2;
export const MAD_METHOD_GET = 0x01;
export const MAD_METHOD_SET = 0x02;
export const MAD_METHOD_SEND = 0x03;
export const MAD_METHOD_GET_RESP = 0x81;
export const MAD_METHOD_GET_TABLE = 0x12;
export const MAD_METHOD_GET_TABLE_RESP = 0x92;
export const MAD_METHOD_DELETE = 0x15;
export const MAD_METHOD_DELETE_RESP = 0x95;
export const SA_ATTR_PATH_RECORD = 0x0035;
export const SA_ATTR_MCMEMBER_RECORD = 0x0038;
export const CM_ATTR_REQ = 0x0010;
export const CM_ATTR_MRA = 0x0011;
export const CM_ATTR_REJ = 0x0012;
export const CM_ATTR_REP = 0x0013;
export const CM_ATTR_RTU = 0x0014;
export const CM_ATTR_DREQ = 0x0015;
export const CM_ATTR_DREP = 0x0016;
/** MCMemberRecord JoinState bits. */
export const JOIN_STATE_FULL = 0x1;
export const JOIN_STATE_NON = 0x2;
export const JOIN_STATE_SEND_ONLY_NON = 0x4;
export const JOIN_STATE_SEND_ONLY_FULL = 0x8;

// ---- IPoIB connected mode (RFC 4755)
/** Service-ID prefix drawn in RFC 4755 §3.5 (octet 0 = 0x01). */
export const IPOIB_CM_SERVICE_ID_PREFIX_RFC = 0x0100000000000000n;
/** Service-ID prefix Linux ib_ipoib uses (octet 0 = 0x10); finding D1. */
export const IPOIB_CM_SERVICE_ID_PREFIX_LINUX = 0x1000000000000000n;
export const IPOIB_CM_PRIVATE_DATA_LEN = 8;

// ---- Capture formats
export const LINKTYPE_ERF = 197;
export const LINKTYPE_IPOIB = 242;
export const LINKTYPE_INFINIBAND = 247;
export const ERF_TYPE_INFINIBAND = 21;
export const IPOIB_PCAP_PSEUDO_HEADER_LEN = 40;
