/**
 * Every wire constant ipoib-lab uses, with its unit in the name where it has one (a bare
 * *_LEN counts octets).
 * Values come from RFC 4391/4392/4755 and the InfiniBand Architecture Specification, the IP
 * and ICMP RFCs, and the pcap/ERF capture formats; the Linux ib_ipoib values that differ from
 * the RFCs are named LINUX_*.
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
/** Inverse ARP request (RFC 2390): asks for the protocol address behind a hardware address. */
export const ARP_OP_INREQUEST = 8;
/** Inverse ARP reply (RFC 2390). */
export const ARP_OP_INREPLY = 9;

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

// ---- GIDs
/** Octets in a GID, unicast or multicast (an IPv6-shaped 128-bit address). */
export const GID_LEN = 16;

// ---- Multicast GIDs (RFC 4391 §4)
export const IPOIB_SIGNATURE_IPV4 = 0x401b;
export const IPOIB_SIGNATURE_IPV6 = 0x601b;
/** Flags nibble of an IPoIB MGID: T (transient) = 1. */
export const MGID_FLAGS_TRANSIENT = 0x1;
export const MGID_SCOPE_LINK = 0x2;
export const MGID_SCOPE_SITE = 0x5;
export const MGID_SCOPE_ORG = 0x8;
export const MGID_SCOPE_GLOBAL = 0xe;
/** Octets 2-3 of an MGID the SA picks itself when a create request leaves the MGID zero. */
export const SA_ASSIGNED_MGID_SIGNATURE = 0xa01b;

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
/** Smallest MTU an IPv4 link may have (RFC 791): a 60-octet header plus an 8-octet fragment. */
export const IPV4_MIN_MTU = 68;
/** Smallest MTU an IPv6 link may have (RFC 8200 §5). */
export const IPV6_MIN_MTU = 1280;

// ---- Static rate (the Rate field of PathRecord/MCMemberRecord; rdma-core enum ibv_rate)
/** Gb/s of each IB static-rate code; the codes are not in speed order (5 = 5 Gb/s, 4 = 30 Gb/s). */
export const IB_RATE_CODE_TO_GBPS: Readonly<Record<number, number>> = {
  2: 2.5, 3: 10, 4: 30, 5: 5, 6: 20, 7: 40, 8: 60, 9: 80, 10: 120, 11: 14, 12: 56, 13: 112,
  14: 168, 15: 25, 16: 100, 17: 200, 18: 300, 19: 28, 20: 50, 21: 400, 22: 600, 23: 800, 24: 1200,
};

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
/** Smallest LRH PktLen of an IBA (non-raw) packet: LRH 2 words + BTH 3 words + ICRC 1 word. */
export const LRH_MIN_IBA_PKTLEN_WORDS = 6;
/** GRH Next Header value for an IBA transport header. */
export const GRH_NEXT_HEADER_IBA = 0x1b;
export const GRH_IPVER = 6;
/** Permissive LID and the first multicast LID. */
export const LID_PERMISSIVE = 0xffff;
export const LID_MULTICAST_BASE = 0xc000;
/** Highest multicast LID (the next one, 0xFFFF, is the permissive LID). */
export const LID_MULTICAST_MAX = 0xfffe;
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
/** OpCode transport bits of a congestion notification packet (CNP). */
export const BTH_TRANSPORT_CNP = 0x80;
/** OpCode transport bits of extended reliable connected (XRC) packets. */
export const BTH_TRANSPORT_XRC = 0xa0;
/** FECN bit of BTH octet 4 (congestion-control annex): congestion seen on the way forward. */
export const BTH_RESV8A_FECN = 0x80;
/** BECN bit of BTH octet 4 (congestion-control annex): congestion reported back to the sender. */
export const BTH_RESV8A_BECN = 0x40;
/** QP0 (SMI) and QP1 (GSI). */
export const QPN_SMI = 0;
export const QPN_GSI = 1;
/** AETH syndrome kind (bits 6-5) of an ACK. */
export const AETH_KIND_ACK = 0b00;
/** AETH syndrome kind (bits 6-5) of a receiver-not-ready NAK. */
export const AETH_KIND_RNR_NAK = 0b01;
/** AETH syndrome kind (bits 6-5) of a NAK; 0b10 is reserved. */
export const AETH_KIND_NAK = 0b11;
/** ACK credit code meaning "no credit count" (end-to-end flow control not in use). */
export const AETH_CREDIT_INVALID = 0x1f;
/** NAK code: PSN sequence error (the responder expected another PSN). */
export const NAK_PSN_SEQUENCE_ERROR = 0;
/** NAK code: invalid request. */
export const NAK_INVALID_REQUEST = 1;
/** NAK code: remote access error. */
export const NAK_REMOTE_ACCESS_ERROR = 2;
/** NAK code: remote operational error. */
export const NAK_REMOTE_OPERATIONAL_ERROR = 3;
/** NAK code: invalid RD request (reliable datagram only). */
export const NAK_INVALID_RD_REQUEST = 4;
/** CRC-16 parameters of the VCRC (Rocksoft model): poly x^16+x^12+x^3+x+1, reflected, init and final XOR 0xFFFF. */
export const VCRC_MODEL = Object.freeze({
  width: 16,
  poly: 0x100b,
  init: 0xffff,
  refin: true,
  refout: true,
  xorout: 0xffff,
});

// ---- MADs (IBA vol. 1 ch. 13, 15, 12)
export const MAD_LEN = 256;
export const MAD_HEADER_LEN = 24;
export const SA_HEADER_LEN = 20;
/** RMPP header that SA MADs carry after the common MAD header. */
export const RMPP_HEADER_LEN = 12;
/** BaseVersion of a 256-octet IBA MAD (the only one this suite speaks). */
export const MAD_BASE_VERSION = 1;
/** R bit of the Method octet: set in every response method. */
export const MAD_METHOD_RESPONSE_BIT = 0x80;
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
/** Notice: what a Report (and a Trap) carries. */
export const SA_ATTR_NOTICE = 0x0002;
/**
 * InformInfo: what a port sets to subscribe to (or unsubscribe from) the SA's reports. One of
 * the attributes every GS class shares (ClassPortInfo 1, Notice 2, InformInfo 3); 0x0031 is the
 * SA's ServiceRecord, which Wireshark shows a Set of 0x0031 as.
 */
export const SA_ATTR_INFORM_INFO = 0x0003;
/** SubnAdmReport: the SA forwards an event to a subscriber. */
export const MAD_METHOD_REPORT = 0x06;
/** SubnAdmReportResp: the subscriber acknowledges a Report. */
export const MAD_METHOD_REPORT_RESP = 0x86;
/** Octets of one InformInfo. */
export const INFORM_INFO_LEN = 36;
/** Octets of one Notice. */
export const NOTICE_LEN = 80;
/** Octets of a Notice's DataDetails. */
export const NOTICE_DATA_DETAILS_LEN = 54;
/** Generic trap numbers the SA (a class manager) issues about GIDs and multicast groups. */
export const TRAP_GID_IN_SERVICE = 64;
export const TRAP_GID_OUT_OF_SERVICE = 65;
export const TRAP_MCAST_GROUP_CREATED = 66;
export const TRAP_MCAST_GROUP_DELETED = 67;
/** Notice/InformInfo Type values. */
export const NOTICE_TYPE_FATAL = 0;
export const NOTICE_TYPE_URGENT = 1;
export const NOTICE_TYPE_SECURITY = 2;
/** The type of traps 64-67. */
export const NOTICE_TYPE_SUBNET_MANAGEMENT = 3;
export const NOTICE_TYPE_INFORMATIONAL = 4;
/** ProducerType values of a generic notice (the node type of the producer). */
export const PRODUCER_TYPE_CA = 1;
export const PRODUCER_TYPE_SWITCH = 2;
export const PRODUCER_TYPE_ROUTER = 3;
/** The producer of traps 64-67: the SA. */
export const PRODUCER_TYPE_CLASS_MANAGER = 4;
/** InformInfo wildcards: every Type or TrapNumber (16 bits), every ProducerType (24 bits), every LID. */
export const INFORM_ALL_16 = 0xffff;
export const INFORM_ALL_PRODUCERS = 0xffffff;
export const INFORM_ALL_LIDS = 0xffff;
/** Where traps 64-67 put their GID in DataDetails (after 6 reserved octets). */
export const TRAP_GID_DATA_OFFSET = 6;
/** Octets of one PathRecord. */
export const PATH_RECORD_LEN = 64;
/** Octets of one MCMemberRecord. */
export const MCMEMBER_RECORD_LEN = 52;
export const CM_ATTR_REQ = 0x0010;
export const CM_ATTR_MRA = 0x0011;
export const CM_ATTR_REJ = 0x0012;
export const CM_ATTR_REP = 0x0013;
export const CM_ATTR_RTU = 0x0014;
export const CM_ATTR_DREQ = 0x0015;
export const CM_ATTR_DREP = 0x0016;
/** Private data of a REQ: what the 232-octet CM body leaves after the REQ's fields. */
export const CM_REQ_PRIVATE_DATA_LEN = 92;
/** Private data of a REP. */
export const CM_REP_PRIVATE_DATA_LEN = 196;
/** Private data of an RTU. */
export const CM_RTU_PRIVATE_DATA_LEN = 224;
/** Private data of a REJ. */
export const CM_REJ_PRIVATE_DATA_LEN = 148;
/** Private data of a DREQ. */
export const CM_DREQ_PRIVATE_DATA_LEN = 220;
/** Private data of a DREP. */
export const CM_DREP_PRIVATE_DATA_LEN = 224;
/** Additional Rejection Information field of a REJ. */
export const CM_REJ_ARI_LEN = 72;
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
/** CM response timeout Linux IPoIB-CM puts in its REQ: an IB time exponent, 4.096 µs * 2^20 ≈ 4.3 s. */
export const IPOIB_CM_RESPONSE_TIMEOUT = 20;
/** MaxCMRetries Linux IPoIB-CM puts in its REQ (the 4-bit field's largest value). */
export const IPOIB_CM_MAX_CM_RETRIES = 15;

// ---- ICMP (RFC 792) and ICMPv6 (RFC 4443) messages other than ND
/** IPv4 protocol number of ICMP. */
export const IPPROTO_ICMP = 1;
/** ICMPv4 type: echo reply. */
export const ICMP_ECHO_REPLY = 0;
/** ICMPv4 type: destination unreachable. */
export const ICMP_DEST_UNREACH = 3;
/** ICMPv4 type: echo request. */
export const ICMP_ECHO_REQUEST = 8;
/** Destination-unreachable code: fragmentation needed and DF set (RFC 1191 adds the next-hop MTU). */
export const ICMP_CODE_FRAG_NEEDED = 4;
/** ICMPv6 type: packet too big. */
export const ICMPV6_PACKET_TOO_BIG = 2;
/** ICMPv6 type: echo request. */
export const ICMPV6_ECHO_REQUEST = 128;
/** ICMPv6 type: echo reply. */
export const ICMPV6_ECHO_REPLY = 129;

// ---- Capture formats
export const LINKTYPE_ERF = 197;
export const LINKTYPE_IPOIB = 242;
export const LINKTYPE_INFINIBAND = 247;
export const ERF_TYPE_INFINIBAND = 21;
export const IPOIB_PCAP_PSEUDO_HEADER_LEN = 40;
/** pcap file magic for microsecond timestamps (written in the byte order of the writing host). */
export const PCAP_MAGIC_USEC = 0xa1b2c3d4;
/** pcap file magic with nanosecond timestamps. */
export const PCAP_MAGIC_NSEC = 0xa1b23c4d;
/** pcap file-format version this suite writes: 2.4. */
export const PCAP_VERSION_MAJOR = 2;
/** Minor half of the pcap version (2.4). */
export const PCAP_VERSION_MINOR = 4;
/** pcap global (file) header. */
export const PCAP_FILE_HEADER_LEN = 24;
/** pcap per-record header: timestamp, captured length, original length. */
export const PCAP_RECORD_HEADER_LEN = 16;
/** tcpdump's default snapshot length, large enough for any IPoIB-CM message. */
export const PCAP_DEFAULT_SNAPLEN = 262_144;
/** ERF record header before the captured packet. */
export const ERF_HEADER_LEN = 16;
/** Bit of the ERF type octet that says extension headers follow. */
export const ERF_TYPE_EXTENSION_BIT = 0x80;
/** ERF flags bits 1-0: the capture interface. */
export const ERF_FLAG_IFACE_MASK = 0x03;
/** ERF flag: varying-length record. */
export const ERF_FLAG_VLEN = 0x04;
/** ERF flag: record truncated. */
export const ERF_FLAG_TRUNC = 0x08;
/** ERF flag: receive error on the link. */
export const ERF_FLAG_RXERR = 0x10;
/** ERF flag: an internal error in the capture card (DS error). */
export const ERF_FLAG_DSERR = 0x20;

// ---- TCP (RFC 9293) and UDP (RFC 768), as the offload engine and its tests see them
/** IP protocol / IPv6 next-header numbers. */
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
/** TCP flag bits of header octet 13. */
export const TCP_FLAG_FIN = 0x01;
export const TCP_FLAG_SYN = 0x02;
export const TCP_FLAG_RST = 0x04;
export const TCP_FLAG_PSH = 0x08;
export const TCP_FLAG_ACK = 0x10;
export const TCP_FLAG_URG = 0x20;
export const TCP_FLAG_ECE = 0x40;
export const TCP_FLAG_CWR = 0x80;
/** TCP option kinds (IANA "TCP Option Kind Numbers") the codec names. */
export const TCP_OPT_EOL = 0;
export const TCP_OPT_NOP = 1;
export const TCP_OPT_MSS = 2;
export const TCP_OPT_WINDOW_SCALE = 3;
export const TCP_OPT_SACK_PERMITTED = 4;
export const TCP_OPT_SACK = 5;
export const TCP_OPT_TIMESTAMPS = 8;
/** Octets of the timestamps option: kind, length, TSval(4), TSecr(4) (RFC 7323). */
export const TCP_OPT_TIMESTAMPS_LEN = 10;
/** UDP header: ports, length, checksum. */
export const UDP_HEADER_LEN = 8;
/** pcap link type of bare IPv4/IPv6 packets, no link header (LINKTYPE_RAW). */
export const LINKTYPE_RAW = 101;

// ---- virtio-net header (struct virtio_net_hdr, <linux/virtio_net.h>): what a TUN device opened
// with IFF_VNET_HDR puts before each packet; 16-bit fields little-endian (TUN's default on
// little-endian hosts). native/src/tun/offload_vnet.h holds the same values; a test compares them.
export const VNET_HDR_LEN = 10;
/** flags: csum_start/csum_offset say where a partial checksum is to be completed. */
export const VNET_HDR_F_NEEDS_CSUM = 1;
/** flags: the checksum was verified (towards the host). */
export const VNET_HDR_F_DATA_VALID = 2;
export const VNET_HDR_GSO_NONE = 0;
export const VNET_HDR_GSO_TCPV4 = 1;
/** UDP fragmentation offload (UFO); the offload engine refuses it. */
export const VNET_HDR_GSO_UDP = 3;
export const VNET_HDR_GSO_TCPV6 = 4;
/** Flag on the TCP GSO types: the packet carries CWR, which only the first segment keeps. */
export const VNET_HDR_GSO_ECN = 0x80;
