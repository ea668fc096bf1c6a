/**
 * The project's requirement catalogue: what a requirement ID (`RFC4391-9.2-a`: RFC, section, letter;
 * `LINUX-CHILD-a`: the Linux interface, area, letter) means, how strong it is, how a black-box test
 * checks it and on which fabrics it can be observed.
 *
 * Sources: our own research, /work/shared/research/rfc-catalogue.md (rows, §0.4 discrepancies, §6.2
 * probes) for the RFC rows, and /work/shared/research/kernel-ipoib.md for the Linux ib_ipoib rows.
 * Every summary and check here is that research's paraphrase, cut to one or two sentences; no RFC
 * or kernel sentence is reproduced. Only numbers, field names and section titles come from them.
 * Suites name the IDs they cover; the certification matrix joins test results to these rows.
 */

export type Rfc = 4390 | 4391 | 4392 | 4755;
export type Level = 'MUST' | 'MUST NOT' | 'SHOULD' | 'SHOULD NOT' | 'MAY' | 'FACT';
/** `BCP14`: an upper-case RFC 2119 keyword; `lc`: a lower-case "must/should" sentence; `none`: a fact. */
export type Keyword = 'BCP14' | 'lc' | 'none';
/**
 * `sim`: the embedded simulated IB subnet; `rxe`: Soft-RoCE; `ib`: real HCAs, switch and SM;
 * `host`: access to the DUT host (config, logs, counters); `offline`: a pure codec vector, no fabric.
 */
export type Fabric = 'sim' | 'rxe' | 'ib' | 'host' | 'offline';

export interface Requirement {
  readonly id: string;
  readonly rfc: Rfc;
  readonly section: string;
  readonly level: Level;
  readonly keyword: Keyword;
  /** The exact keyword form when it matters (SHALL, RECOMMENDED, OPTIONAL, NOT REQUIRED, …). */
  readonly keywordNote?: string;
  readonly summary: string;
  readonly check: string;
  readonly fabrics: readonly Fabric[];
  /** Fabrics where only part of the check works (rxe: no SM/SA, one P_Key, Linux ipoib does not bind RoCE). */
  readonly partialOn?: readonly Fabric[];
  /**
   * A definition or design note with no observation of its own (the research's Env is "—").
   * Listed as `offline` because it needs no fabric; tests cover it through the rows it underpins.
   */
  readonly definitional?: true;
  /** Why the simulated lab cannot exercise it; set exactly when `fabrics` has neither `sim` nor `offline`. */
  readonly notCoverableOnSim?: string;
}

/** A later RFC's change to a catalogue row; same shape, but outside the four RFCs counted above. */
export interface RequirementUpdate extends Omit<Requirement, 'rfc'> {
  readonly rfc: 8064;
}

/** A known gap between an RFC and deployed stacks (research §0.4). */
export interface Finding {
  readonly id: string;
  readonly topic: string;
  readonly rfcSays: string;
  readonly deployedDoes: string;
  readonly suiteAction: string;
  readonly relatedIds: readonly string[];
}

/** A malformed or unexpected stimulus from the peer (research §6.2); the DUT must stay up and sane. */
export interface RobustnessProbe {
  readonly id: string;
  readonly summary: string;
  readonly expected: string;
  readonly fabrics: readonly Fabric[];
  readonly partialOn?: readonly Fabric[];
}

/**
 * The areas of the Linux ib_ipoib interface rows; an ID reads `LINUX-<area>-<letter>`, letters in
 * order without gaps within an area. Each area names the research section it paraphrases.
 */
export const LINUX_AREAS = {
  CHILD: { section: '1', topic: 'create_child and delete_child' },
  NETLINK: { section: '2', topic: 'netlink children (ip link add … type ipoib)' },
  ATTR: { section: '1', topic: 'the pkey and parent attributes' },
  MODE: { section: '1', topic: 'the mode attribute' },
  UMCAST: { section: '1', topic: 'the umcast attribute' },
  MTU: { section: '6', topic: 'datagram-mode MTU rules' },
  DEBUGFS: { section: '3', topic: 'the debugfs _mcg and _path dumps' },
  ETHTOOL: { section: '4', topic: 'ethtool -S counters' },
  PKEY: { section: '6', topic: 'an interface whose P_Key the port lacks' },
  DEBUG: { section: '5', topic: 'debug levels at run time' },
} as const;
export type LinuxArea = keyof typeof LINUX_AREAS;

/**
 * A row of the Linux ib_ipoib interface: what the kernel driver does at its user interface (sysfs,
 * netlink, debugfs, ethtool, module parameters) and on the fabric, which tools, scripts and peers
 * written against Linux rely on. These are not RFC requirements; the level says how much an
 * implementation that claims to be interchangeable with ib_ipoib depends on matching it:
 * - `MUST`: the kernel does this and an interoperable implementation must match it, because tools
 *   or peers act on it (interface names, P_Key values, errno values, MTU, carrier, traffic);
 * - `SHOULD`: the kernel does this and an implementation should match it, but a difference breaks
 *   diagnostics rather than operation (dump layouts, counter arithmetic, debug levels).
 * Whether a failed LINUX MUST fails a certification depends on the DUT claiming the Linux interface
 * (suites/harness/matrix.ts, claimsLinuxInterface).
 */
export interface LinuxRequirement {
  readonly id: string;
  readonly source: 'linux';
  readonly area: LinuxArea;
  /** The section of kernel-ipoib.md it paraphrases. */
  readonly section: string;
  readonly level: 'MUST' | 'SHOULD';
  readonly summary: string;
  readonly check: string;
  readonly fabrics: readonly Fabric[];
  /** Why the simulated lab cannot exercise it; set exactly when `fabrics` lacks `sim`. */
  readonly notCoverableOnSim?: string;
}

/** Any row a case may cover: an RFC row, an RFC 8064 update, or a Linux interface row. */
export type CatalogueRow = Requirement | RequirementUpdate | LinuxRequirement;
/** Where a row comes from: the RFC's number, or `linux` for the Linux ib_ipoib interface rows. */
export type RowSource = Rfc | 8064 | 'linux';

export function sourceOf(r: CatalogueRow): RowSource {
  return 'source' in r ? r.source : r.rfc;
}

/** How reports name a row's source: `RFC 4391`, `Linux ib_ipoib`. */
export function sourceName(s: RowSource): string {
  return s === 'linux' ? 'Linux ib_ipoib' : `RFC ${s}`;
}

/** Every row of RFC 4391, 4392, 4755 and the link-layer parts of 4390, in research order. */
export const REQUIREMENTS: readonly Requirement[] = [
  {
    id: 'RFC4391-1-a', rfc: 4391, section: '1', level: 'FACT', keyword: 'none',
    summary: 'The document covers IPoIB only over the IB Unreliable Datagram service; other IB transports are out of scope (connected mode came later in RFC 4755).',
    check: 'Capture any DUT datagram-mode frame and confirm it is UD (has a DETH; opcode 0x64).',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4391-2-a', rfc: 4391, section: '2', level: 'MUST', keyword: 'lc',
    summary: 'IPoIB needs every participating component to support IB multicast, even though multicast is optional in IB in general.',
    check: 'Bring the DUT up where SA refuses or cannot create multicast groups: the DUT must not declare the IP link usable (no ARP/IP traffic; error reported).',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4391-2-b', rfc: 4391, section: '2', level: 'MUST', keyword: 'BCP14',
    summary: 'Every IPoIB implementation carries IP over the UD transport.',
    check: 'Peer with CM disabled (address flags 0x00) ARPs the DUT and pings it: replies arrive as UD datagrams from the QPN in the DUT\'s link-layer address.',
    fabrics: ['sim', 'rxe', 'ib'], partialOn: ['rxe'],
  },
  {
    id: 'RFC4391-3-a', rfc: 4391, section: '3', level: 'FACT', keyword: 'none',
    summary: 'An IPoIB link is abstract. It is defined by its members and their shared attributes (P_Key, link MTU, Q_Key), not by physical wiring.',
    check: 'Definition; underpins the partition-isolation tests (RFC4392-4.1-b).',
    fabrics: ['offline'], definitional: true,
  },
  {
    id: 'RFC4391-3-b', rfc: 4391, section: '3', level: 'FACT', keyword: 'none',
    summary: 'Two UD ports can exchange datagrams only if they are in the same partition (compatible P_Key) and use the same Q_Key.',
    check: 'Peer sends a valid ICMP echo (i) with a P_Key the DUT does not hold, (ii) with a wrong Q_Key: no reply. Read the DUT PortInfo P_KeyViolations / Q_KeyViolations via SMP before and after.',
    fabrics: ['sim', 'rxe', 'ib'], partialOn: ['rxe'],
  },
  {
    id: 'RFC4391-3-c', rfc: 4391, section: '3', level: 'FACT', keyword: 'none',
    summary: 'Delivery is also affected by TClass, HopLimit, SL and FlowLabel.',
    check: 'Capture DUT frames and compare these fields with the broadcast group\'s MCMemberRecord / PathRecord.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4391-4-a', rfc: 4391, section: '4', level: 'FACT', keyword: 'none',
    summary: 'IPoIB MGID layout, 128 bits: 8-bit 0xFF prefix, 4-bit flags, 4-bit scope, 16-bit IPoIB signature, 16-bit P_Key, 80-bit group ID. The same layout serves IPv4 and IPv6; only the signature differs.',
    check: 'After the DUT joins IP groups, list MCMemberRecords via SA get-table and decode each MGID the DUT is a member of.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4391-4-b', rfc: 4391, section: '4', level: 'FACT', keyword: 'none',
    summary: 'All addresses and header fields in the document are in network byte order unless stated otherwise.',
    check: 'Codec check, e.g. Type IPv4 appears on the wire as bytes 08 00 and the P_Key 0x8001 in the MGID as 80 01.',
    fabrics: ['sim', 'rxe', 'ib', 'offline'], partialOn: ['rxe'],
  },
  {
    id: 'RFC4391-4-c', rfc: 4391, section: '4', level: 'MUST', keyword: 'BCP14',
    summary: 'Every MGID used for IPoIB is transient: the T flag is 1.',
    check: 'Every MGID the DUT creates or joins starts FF1x. Pre-create a T=0 twin (FF02:401B:...) and check that the DUT never joins it.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4391-4-d', rfc: 4391, section: '4', level: 'MUST', keyword: 'BCP14',
    summary: 'The IPv4 signature is 0x401B.',
    check: 'DUT joins 239.1.2.3: SA shows FF12:401B:PPPP::F01:203 with the DUT PortGID.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4391-4-e', rfc: 4391, section: '4', level: 'MUST', keyword: 'BCP14',
    summary: 'The IPv6 signature is 0x601B.',
    check: 'When IPv6 comes up the DUT joins FF12:601B:PPPP::1 (all-nodes) and its solicited-node MGID, e.g. FF12:601B:FFFF::1:FF0A:1B2C.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4391-4-f', rfc: 4391, section: '4', level: 'FACT', keyword: 'none',
    summary: 'Group-ID bits of the MGID: IPv6 copies the low 80 bits of the group address, IPv4 the low 28 bits with the rest zero. The scope comes from the link, not the IP address, so some IPv6 groups share one MGID.',
    check: 'Compare the DUT-joined MGIDs with the vectors in section 5. Peer sends to a computed MGID and checks that the DUT receives.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4391-4-g', rfc: 4391, section: '4', level: 'FACT', keyword: 'none',
    summary: 'Worked example: P_Key 0x8000, all-routers group (group ID 2), IPoIB link inside one IB subnet: IPv4 gives FF12:401B:8000::2 and IPv6 gives FF12:601B:8000::2.',
    check: 'Unit vector for the suite\'s MGID encoder.',
    fabrics: ['offline'],
  },
  {
    id: 'RFC4391-4-h', rfc: 4391, section: '4', level: 'MUST', keyword: 'BCP14',
    keywordNote: 'SHALL',
    summary: 'The IPv4 limited broadcast 255.255.255.255 maps to the special "broadcast-GID": link scope, signature 0x401B, P_Key, then 48 zero bits, then 32 one bits. This is not what the 28-bit rule would give (that would be ...0FFF:FFFF).',
    check: 'Capture the DUT\'s ARP request, a ping to 255.255.255.255 and a DHCPDISCOVER: GRH DGID = broadcast-GID, LRH DLID = its MLID, BTH DestQP = 0xFFFFFF.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4391-4-i', rfc: 4391, section: '4', level: 'MUST', keyword: 'BCP14',
    summary: 'Every MGID on the IPoIB subnet uses the same scope bits as that subnet\'s broadcast-GID.',
    check: 'Configure site scope (pre-created FF15:401B:PPPP::FFFF:FFFF, DUT configured for scope 5): every MGID the DUT joins starts FF15.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4391-4.1-a', rfc: 4391, section: '4.1', level: 'MUST', keyword: 'BCP14',
    summary: 'The broadcast group uses a full-membership P_Key (top bit 1) so that every member can talk to every other.',
    check: 'SA MCMemberRecord of the broadcast MGID: P_Key top bit set. If the DUT creates the group, check its join request.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4391-4.1-b', rfc: 4391, section: '4.1', level: 'SHOULD', keyword: 'BCP14',
    keywordNote: 'RECOMMENDED',
    summary: 'Use a controlled Q_Key (top bit set) for the broadcast group, so unprivileged software cannot inject bogus IP datagrams.',
    check: 'Read the Q_Key from SA. With a controlled Q_Key configured, an unprivileged peer process that puts that Q_Key in its send WR has it replaced by its QP\'s own Q_Key, so the DUT receives nothing.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4391-4.1-c', rfc: 4391, section: '4.1', level: 'MUST', keyword: 'lc',
    summary: 'The broadcast group\'s IB MTU must not exceed any physical link MTU in the IPoIB subnet.',
    check: 'Pre-create the broadcast group with MTU 4096 on a fabric where the DUT path is 2048: SA rejects the DUT\'s join, and the DUT must not bring the IP link up (no ARP from it).',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4391-4.1-d', rfc: 4391, section: '4.1', level: 'MUST', keyword: 'lc',
    summary: 'TClass, FlowLabel and HopLimit are chosen by the implementation but must let any two nodes of the link communicate. They are needed for all multicast, and for unicast when the link spans more than one IB subnet.',
    check: 'Compare the GRH of DUT multicast with the broadcast MCMemberRecord. The multi-subnet case needs an IB router (rare).',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4391-4.1-e', rfc: 4391, section: '4.1', level: 'MUST', keyword: 'lc',
    summary: 'The broadcast group is assigned an SL, and that SL is used for all multicast on the subnet.',
    check: 'Set the broadcast SL to a value other than 0 in the SM. The LRH SL of DUT multicast must equal it (sniffer/sim; a verbs peer sees `wc.sl`).',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4391-4.1-f', rfc: 4391, section: '4.1', level: 'SHOULD', keyword: 'BCP14',
    keywordNote: 'RECOMMENDED',
    summary: 'Default broadcast-GID scope is link-local (0x2).',
    check: 'DUT with default config joins FF12:401B:PPPP::FFFF:FFFF.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4391-4.1-g', rfc: 4391, section: '4.1', level: 'MAY', keyword: 'lc',
    summary: 'A node may find the scope by trying broadcast-GIDs of increasing scope starting at link-local, or take it from configuration.',
    check: 'Pre-create only FF15...: see whether the DUT probes FF12 first and then joins FF15 (informational).',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4391-5-a', rfc: 4391, section: '5', level: 'MUST', keyword: 'BCP14',
    summary: 'An IPoIB subnet exists only once its broadcast-GID group has been set up.',
    check: 'SM policy forbids the DUT from creating the group and none exists: the DUT must send no IP/ARP.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4391-5-b', rfc: 4391, section: '5', level: 'MUST', keyword: 'BCP14',
    summary: 'Every IPoIB interface joins the broadcast group as FullMember.',
    check: 'After DUT link-up, SA shows a record for the broadcast MGID with PortGID = DUT GID and JoinState & 0x1. In the sim, capture the SubnAdmSet(MCMemberRecord).',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4391-5-c', rfc: 4391, section: '5', level: 'FACT', keyword: 'none',
    summary: 'The join returns the group\'s MTU, Q_Key and other parameters, and the node binds them to its interface.',
    check: 'Pre-create the group with unusual values (Q_Key 0x80001234, MTU 1024). DUT IP MTU becomes 1020, and its unicast reaches only a peer QP that uses Q_Key 0x80001234.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4391-5-d', rfc: 4391, section: '5', level: 'FACT', keyword: 'none',
    summary: 'The broadcast group gives link-layer broadcast for ARP and for IPv4 net-, subnet- and all-subnets-directed broadcasts.',
    check: 'Peer ARP request to the broadcast MGID gets an answer. DUT ping to the subnet broadcast address appears on the broadcast MGID.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4391-5-e', rfc: 4391, section: '5', level: 'FACT', keyword: 'none',
    summary: 'The SM admits a join only if the node can handle the group MTU; it ensures unicast paths between members and a multicast tree spanning all of them.',
    check: 'Covered by the negative test RFC4391-4.1-c.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4391-5-f', rfc: 4391, section: '5', level: 'MUST', keyword: 'lc',
    summary: 'The P_Key is configuration known before the broadcast-GID is formed; the port must have been given that P_Key by the SM.',
    check: 'Create a DUT (child) interface for a P_Key missing from the port table: it must stay down or idle and make no joins.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4391-5-g', rfc: 4391, section: '5', level: 'FACT', keyword: 'none',
    summary: 'How the broadcast group is created and what its parameters are is up to the implementation or administrator (first node, or pre-created).',
    check: 'Run the suite in both modes: SM-pre-created and DUT-created.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4391-5-h', rfc: 4391, section: '5', level: 'SHOULD', keyword: 'BCP14',
    keywordNote: 'RECOMMENDED',
    summary: 'Creation and deletion of the broadcast group should be under administrative control.',
    check: 'Check the DUT/SM configuration option; informational.',
    fabrics: ['host'],
    notCoverableOnSim: 'needs access to the DUT host (configuration, logs or counters), not a wire observation',
  },
  {
    id: 'RFC4391-6-a', rfc: 4391, section: '6', level: 'FACT', keyword: 'none',
    summary: 'Every IP and ARP datagram carried on IB is preceded by a 4-octet encapsulation header: a 16-bit Type followed by a 16-bit Reserved field.',
    check: 'In any DUT frame the UD payload starts with this 4-octet header.',
    fabrics: ['sim', 'rxe', 'ib'], partialOn: ['rxe'],
  },
  {
    id: 'RFC4391-6-b', rfc: 4391, section: '6', level: 'MUST', keyword: 'BCP14',
    summary: 'The Reserved field is sent as zero.',
    check: 'Check every DUT frame (ARP, IPv4, IPv6, unicast, multicast).',
    fabrics: ['sim', 'rxe', 'ib'], partialOn: ['rxe'],
  },
  {
    id: 'RFC4391-6-c', rfc: 4391, section: '6', level: 'MUST', keyword: 'BCP14',
    summary: 'The Reserved field is ignored on receipt.',
    check: 'Peer sends an ICMP echo and an ARP request with Reserved = 0xFFFF, 0x0001, 0x8000: the DUT answers normally (see D4).',
    fabrics: ['sim', 'rxe', 'ib'], partialOn: ['rxe'],
  },
  {
    id: 'RFC4391-6-d', rfc: 4391, section: '6', level: 'MUST', keyword: 'BCP14',
    keywordNote: 'SHALL',
    summary: 'Type carries the EtherType of the encapsulated protocol.',
    check: 'DUT frames: the Type matches the payload (IPv4 version nibble 4, IPv6 version nibble 6, ARP htype 32).',
    fabrics: ['sim', 'rxe', 'ib'], partialOn: ['rxe'],
  },
  {
    id: 'RFC4391-6-e', rfc: 4391, section: '6', level: 'FACT', keyword: 'none',
    summary: 'Other EtherTypes may use the same encapsulation, but that is outside this RFC.',
    check: 'Robustness probe P-ENC-2.',
    fabrics: ['sim', 'rxe', 'ib'], partialOn: ['rxe'],
  },
  {
    id: 'RFC4391-6-f', rfc: 4391, section: '6', level: 'FACT', keyword: 'none',
    summary: 'On-wire frame: LRH, optional GRH, BTH, DETH, then the 4-octet header and IP/ARP, then the invariant CRC and the variant CRC.',
    check: 'Sniffer/sim: check header sizes and the payload length (UD message length = 4 + IP total length).',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4391-6-g', rfc: 4391, section: '6', level: 'FACT', keyword: 'none',
    summary: 'IB requires a GRH for multicast and for traffic crossing IB routers; for unicast inside one IB subnet the GRH is optional.',
    check: 'DUT multicast frames carry a GRH with DGID = MGID (a verbs peer sees IBV_WC_GRH).',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4391-6-h', rfc: 4391, section: '6', level: 'MUST', keyword: 'BCP14',
    summary: 'The receiver must handle unicast packets that arrive with or without a GRH.',
    check: 'Peer sends the same ICMP echo twice: address handle with a GRH (is_global=1, DGID = DUT GID) and without one. The DUT answers both.',
    fabrics: ['sim', 'rxe', 'ib'], partialOn: ['rxe'],
  },
  {
    id: 'RFC4391-7-a', rfc: 4391, section: '7', level: 'FACT', keyword: 'none',
    summary: 'IB links, switches, CAs and routers support maximum payloads of 256, 512, 1024, 2048 or 4096 octets; a path\'s IB MTU is the smallest along it.',
    check: 'Sim: vary link MTUs. HCA: read active_mtu.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4391-7-b', rfc: 4391, section: '7', level: 'FACT', keyword: 'none',
    summary: 'The IPoIB-link MTU is the MTU of the broadcast group. It may be set to any value up to the smallest IB MTU on the link.',
    check: 'Pre-create the group with MTU 1024: DUT interface MTU 1020. With 4096: 4092.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4391-7-c', rfc: 4391, section: '7', level: 'MUST', keyword: 'lc',
    summary: 'All implementations must support an IP MTU of 2044 (a 2048-octet link MTU minus the 4-octet header).',
    check: 'Broadcast group MTU 2048: peer sends a 2044-octet IPv4 DF echo (2016 payload octets); the reply has the same size.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4391-7-d', rfc: 4391, section: '7', level: 'MAY', keyword: 'BCP14',
    summary: 'Larger and smaller MTUs may be supported, subject to other MTU rules (IPv6 minimum 1280).',
    check: 'Group MTU 1024: the DUT must not run IPv6 on the link (or must flag it). Group MTU 4096: IP MTU 4092.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4391-7-e', rfc: 4391, section: '7', level: 'MUST', keyword: 'lc',
    summary: 'The default configuration must support an MTU of 2044.',
    check: 'Host check of the default interface MTU, or peer DF ping of 2044 with the DUT left at defaults.',
    fabrics: ['sim', 'ib', 'host'],
  },
  {
    id: 'RFC4391-7-f', rfc: 4391, section: '7', level: 'FACT', keyword: 'none',
    summary: '(Derived) IP MTU = broadcast-group IB MTU - 4.',
    check: 'As for 7-b.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4391-8-a', rfc: 4391, section: '8', level: 'FACT', keyword: 'none',
    summary: 'Every IB port has an EUI-64 GUID; a LID is unique only within one IB subnet.',
    check: 'No check of its own: a definition or design note.',
    fabrics: ['offline'], definitional: true,
  },
  {
    id: 'RFC4391-8-b', rfc: 4391, section: '8', level: 'MAY', keyword: 'lc',
    summary: 'The interface identifier may come from the manufacturer-assigned GUID or, only if the IPoIB subnet lies inside one IB subnet, from one of the port\'s 16-bit LIDs.',
    check: 'Observe the DUT\'s link-local address (target of its DAD NS, source of RS) and classify it as GUID-derived or LID-derived.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4391-8-c', rfc: 4391, section: '8', level: 'FACT', keyword: 'none',
    summary: 'LIDs can change after a reboot, so LID-based IIDs are not persistent but give more anonymity.',
    check: 'Change the DUT\'s LID (SM re-sweep) and see whether the link-local address follows (only for LID mode).',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4391-8-d', rfc: 4391, section: '8', level: 'SHOULD', keyword: 'BCP14',
    keywordNote: 'RECOMMENDED',
    summary: 'Build the link-local address from the port\'s EUI-64 GUID. (RFC 8064 later advises RFC 7217 IIDs for stable addresses; see D7.)',
    check: 'Capture the DUT\'s DAD NS target and its RS source.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4391-8-e', rfc: 4391, section: '8', level: 'MUST', keyword: 'BCP14',
    summary: 'When forming the IID from the GUID, first decide whether the GUID is already in modified EUI-64 form (u bit already inverted).',
    check: 'Needs GUIDs with both values of the 0x02 bit: sim, or an HCA with an administratively set VF GUID.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4391-8-f', rfc: 4391, section: '8', level: 'MUST NOT', keyword: 'BCP14',
    summary: 'If the GUID is already modified EUI-64, do not flip the u bit.',
    check: 'As 8-e, with a GUID already in modified form; compare the IID.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4391-8-g', rfc: 4391, section: '8', level: 'MUST', keyword: 'BCP14',
    summary: 'If the GUID is an ordinary (unmodified) EUI-64, flip the u bit as RFC 4291 requires.',
    check: 'Compare the DUT link-local with the GUID from SA NodeRecord/PortInfo. Note D2 (Linux ORs the bit instead of toggling it).',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4391-8.1-a', rfc: 4391, section: '8.1', level: 'FACT', keyword: 'none',
    summary: 'The IPoIB link-local address is fe80::/64 plus the interface identifier from §8, per the IPv6 addressing architecture.',
    check: 'As 8-g.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4391-9-a', rfc: 4391, section: '9', level: 'FACT', keyword: 'none',
    summary: 'IPv4 resolves addresses with ARP (RFC 826); IPv6 with Neighbor Discovery.',
    check: 'No check of its own: a definition or design note.',
    fabrics: ['offline'], definitional: true,
  },
  {
    id: 'RFC4391-9.1-a', rfc: 4391, section: '9.1', level: 'FACT', keyword: 'none',
    summary: 'The IB headers (LRH, GRH, BTH, DETH) together form the IPoIB link layer; their parameters must be known before a unicast IP packet can be sent.',
    check: 'No check of its own: a definition or design note.',
    fabrics: ['offline'], definitional: true,
  },
  {
    id: 'RFC4391-9.1-b', rfc: 4391, section: '9.1', level: 'FACT', keyword: 'none',
    summary: 'A LID is always needed: the LRH targets the peer\'s LID, or an IB router\'s LID for a peer in another IB subnet.',
    check: 'Capture DUT unicast: DLID = the peer LID from PathRecord.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4391-9.1-c', rfc: 4391, section: '9.1', level: 'FACT', keyword: 'none',
    summary: 'A GID is optional inside one IB subnet and required across IB routers; SGID and DGID sit in the GRH. A GUID-based GID identifies an endpoint unambiguously.',
    check: 'No separate check; covered through the rows it qualifies.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4391-9.1-d', rfc: 4391, section: '9.1', level: 'FACT', keyword: 'none',
    summary: 'Every unicast UD packet is addressed to one particular QP at the peer.',
    check: 'DUT unicast DestQP = the QPN in the peer\'s link-layer address (the peer sees it land on that QP).',
    fabrics: ['sim', 'rxe', 'ib'], partialOn: ['rxe'],
  },
  {
    id: 'RFC4391-9.1-e', rfc: 4391, section: '9.1', level: 'FACT', keyword: 'lc',
    summary: 'Each UD QP has a Q_Key; a received packet is accepted only if its Q_Key matches the QP\'s.',
    check: 'Q_Key mismatch probe P-KEY-2.',
    fabrics: ['sim', 'rxe', 'ib'], partialOn: ['rxe'],
  },
  {
    id: 'RFC4391-9.1-f', rfc: 4391, section: '9.1', level: 'FACT', keyword: 'none',
    summary: 'UD communication works only between nodes with compatible P_Keys (the same partition).',
    check: 'P_Key mismatch probe P-KEY-1.',
    fabrics: ['sim', 'rxe', 'ib'], partialOn: ['rxe'],
  },
  {
    id: 'RFC4391-9.1-g', rfc: 4391, section: '9.1', level: 'FACT', keyword: 'none',
    summary: 'Every packet carries an SL; an IB path is (SLID, DLID, SL); each hop maps SL to VL; several SLs may be used for balancing, QoS or deadlock avoidance.',
    check: 'DUT unicast SL = the PathRecord SL (`wc.sl` at the peer).',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4391-9.1-h', rfc: 4391, section: '9.1', level: 'MUST', keyword: 'lc',
    summary: 'A sender faster than 1x has to determine the path rate before transmitting, to avoid swamping slower links.',
    check: 'Sim: check DUT inter-packet pacing against the path rate; hard to see on real hardware.',
    fabrics: ['sim'],
  },
  {
    id: 'RFC4391-9.1.1-a', rfc: 4391, section: '9.1.1', level: 'FACT', keyword: 'none',
    summary: 'Address resolution supplies only part of the link information; the rest (LID, SL, rate) is obtained separately.',
    check: 'No check of its own: a definition or design note.',
    fabrics: ['offline'], definitional: true,
  },
  {
    id: 'RFC4391-9.1.1-b', rfc: 4391, section: '9.1.1', level: 'FACT', keyword: 'none',
    summary: 'The same 20-octet link-layer address format is used in the IPv6 source/target link-layer address options and as the ARP hardware address.',
    check: 'The DUT\'s ARP `sha` and its ND SLLA/TLLA carry the identical 20 octets.',
    fabrics: ['sim', 'rxe', 'ib'], partialOn: ['rxe'],
  },
  {
    id: 'RFC4391-9.1.1-c', rfc: 4391, section: '9.1.1', level: 'FACT', keyword: 'none',
    summary: 'Layout: 8 reserved/flag bits, 24-bit QPN, 128-bit GID.',
    check: 'Decode the DUT `sha`: the QPN equals `wc.src_qp` of DUT UD frames, and the GID is a DUT port GID.',
    fabrics: ['sim', 'rxe', 'ib'], partialOn: ['rxe'],
  },
  {
    id: 'RFC4391-9.1.1-d', rfc: 4391, section: '9.1.1', level: 'MUST', keyword: 'BCP14',
    summary: 'The reserved bits are sent as zero (until a later RFC gives them meaning; RFC 4755 did).',
    check: 'Check octet 0 in every DUT ARP/NS/NA/RS/RA.',
    fabrics: ['sim', 'rxe', 'ib'], partialOn: ['rxe'],
  },
  {
    id: 'RFC4391-9.1.1-e', rfc: 4391, section: '9.1.1', level: 'MUST', keyword: 'BCP14',
    summary: 'The reserved bits are ignored on receipt.',
    check: 'Peer ARP request with `sha` octet 0 = 0x3F / 0x20 / 0xFF: the DUT still replies to the QPN/GID in `sha` and the neighbour entry works.',
    fabrics: ['sim', 'rxe', 'ib'], partialOn: ['rxe'],
  },
  {
    id: 'RFC4391-9.1.1-f', rfc: 4391, section: '9.1.1', level: 'MUST', keyword: 'BCP14',
    summary: 'All IP traffic for an interface is sent to the QPN in its link-layer address.',
    check: 'Peer advertises QPN Q1 in its address but sends from a different QP Q2: DUT replies must arrive on Q1, never on Q2.',
    fabrics: ['sim', 'rxe', 'ib'], partialOn: ['rxe'],
  },
  {
    id: 'RFC4391-9.1.1-g', rfc: 4391, section: '9.1.1', level: 'FACT', keyword: 'none',
    summary: 'In IPv4 subnets ARP replies also go to that QPN.',
    check: 'Same probe with an ARP request sent from Q2 and advertising Q1: the reply lands on Q1.',
    fabrics: ['sim', 'rxe', 'ib'], partialOn: ['rxe'],
  },
  {
    id: 'RFC4391-9.1.1-h', rfc: 4391, section: '9.1.1', level: 'FACT', keyword: 'none',
    summary: 'Which QPN is used for IP/ARP is the implementation\'s choice.',
    check: 'Check that the DUT QPN is not 0, 1 or 0xFFFFFF.',
    fabrics: ['sim', 'rxe', 'ib'], partialOn: ['rxe'],
  },
  {
    id: 'RFC4391-9.1.1-i', rfc: 4391, section: '9.1.1', level: 'FACT', keyword: 'none',
    summary: 'The GID is one of the GIDs of the port behind the IPoIB interface; a port can have several.',
    check: 'Compare with the SA/SMP-queried GID table.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4391-9.1.1-j', rfc: 4391, section: '9.1.1', level: 'SHOULD', keyword: 'BCP14',
    keywordNote: 'RECOMMENDED',
    summary: 'Put in the address the GID made of the IB subnet prefix plus the port\'s Port GUID (i.e. GID index 0).',
    check: 'The DUT address GID = SM subnet prefix + PortGUID from SA NodeRecord. Change the subnet prefix in the SM: the DUT address must follow.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4391-9.1.2-a', rfc: 4391, section: '9.1.2', level: 'FACT', keyword: 'none',
    summary: 'How the peer\'s LID is found is not specified; any IBA method may be used, e.g. looking up a path by the resolved GID at the SA.',
    check: 'Sim/SA log: after ARP the DUT queries a PathRecord for the peer GID.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4391-9.1.2-b', rfc: 4391, section: '9.1.2', level: 'FACT', keyword: 'none',
    summary: 'The administrator must make sure IPoIB nodes have unicast connectivity; a GID learnt via multicast ARP/ND does not prove a unicast path exists.',
    check: 'Sim: no PathRecord for the peer. The DUT must fail unicast gracefully (no crash, no storm of retries).',
    fabrics: ['sim'],
  },
  {
    id: 'RFC4391-9.1.2-c', rfc: 4391, section: '9.1.2', level: 'FACT', keyword: 'none',
    summary: 'There may be several LIDs and paths between endpoints; how to choose is out of scope.',
    check: 'Informational.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4391-9.1.2-d', rfc: 4391, section: '9.1.2', level: 'MUST', keyword: 'BCP14',
    summary: 'The Q_Key obtained when joining the broadcast group is used for all IPoIB traffic on that link, unicast included.',
    check: 'Non-default Q_Key in the pre-created group. A peer QP with that Q_Key receives DUT unicast; a peer QP with another Q_Key does not (sim: read DETH).',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4391-9.1.2-e', rfc: 4391, section: '9.1.2', level: 'FACT', keyword: 'none',
    summary: 'The P_Key of the IP subnet is configured, not discovered.',
    check: 'No check of its own: a definition or design note.',
    fabrics: ['offline'], definitional: true,
  },
  {
    id: 'RFC4391-9.1.2-f', rfc: 4391, section: '9.1.2', level: 'FACT', keyword: 'none',
    summary: 'How the SL is chosen is not specified; any IBA method may be used.',
    check: 'No check of its own: a definition or design note.',
    fabrics: ['offline'], definitional: true,
  },
  {
    id: 'RFC4391-9.1.2-g', rfc: 4391, section: '9.1.2', level: 'MUST', keyword: 'lc',
    summary: 'The implementation must use IB mechanisms to determine the path rate.',
    check: 'As RFC4391-9.1-h.',
    fabrics: ['sim'],
  },
  {
    id: 'RFC4391-9.2-a', rfc: 4391, section: '9.2', level: 'FACT', keyword: 'none',
    summary: 'ARP uses the RFC 826 header with hardware type 32 (IANA value for InfiniBand).',
    check: 'DUT ARP request and reply: htype 0x0020.',
    fabrics: ['sim', 'rxe', 'ib'], partialOn: ['rxe'],
  },
  {
    id: 'RFC4391-9.2-b', rfc: 4391, section: '9.2', level: 'FACT', keyword: 'none',
    summary: 'ARP field order: 16-bit hardware type, 16-bit protocol, 8-bit hardware length, 8-bit protocol length, 16-bit op, then sender HW, sender protocol, target HW, target protocol addresses.',
    check: 'Parse DUT ARP: exactly 56 octets of body; `tha` in a request is implementation-defined (usually zero).',
    fabrics: ['sim', 'rxe', 'ib'], partialOn: ['rxe'],
  },
  {
    id: 'RFC4391-9.2-c', rfc: 4391, section: '9.2', level: 'FACT', keyword: 'none',
    summary: 'The ARP hardware addresses use the 20-octet format of §9.1.1.',
    check: 'As 9.1.1-c.',
    fabrics: ['sim', 'rxe', 'ib'], partialOn: ['rxe'],
  },
  {
    id: 'RFC4391-9.2-d', rfc: 4391, section: '9.2', level: 'FACT', keyword: 'none',
    summary: 'So the ARP hardware-address length is 20.',
    check: 'DUT ARP hlen 20. Robustness probe P-ARP-1.',
    fabrics: ['sim', 'rxe', 'ib'], partialOn: ['rxe'],
  },
  {
    id: 'RFC4391-9.3-a', rfc: 4391, section: '9.3', level: 'FACT', keyword: 'none',
    summary: 'On IB, Router Solicitation, Router Advertisement, Redirect, Neighbor Solicitation and Neighbor Advertisement carry the source/target link-layer address option.',
    check: 'Capture DUT RS/NS/NA: the options are present where RFC 4861 calls for them.',
    fabrics: ['sim', 'rxe', 'ib'], partialOn: ['rxe'],
  },
  {
    id: 'RFC4391-9.3-b', rfc: 4391, section: '9.3', level: 'FACT', keyword: 'none',
    summary: 'Option type 1 = source link-layer address, 2 = target link-layer address; Length = 3 (units of 8 octets, i.e. 24 octets).',
    check: 'DUT NS/NA options have len 3.',
    fabrics: ['sim', 'rxe', 'ib'], partialOn: ['rxe'],
  },
  {
    id: 'RFC4391-9.3-c', rfc: 4391, section: '9.3', level: 'MUST', keyword: 'BCP14',
    summary: 'Because the address is only 20 octets, two zero octets are placed in front of it to fill the 24-octet option.',
    check: 'DUT option octets 2-3 = 00 00 and the address follows. Robustness probe P-ND-1.',
    fabrics: ['sim', 'rxe', 'ib'], partialOn: ['rxe'],
  },
  {
    id: 'RFC4391-9.4-a', rfc: 4391, section: '9.4', level: 'FACT', keyword: 'none',
    summary: 'The QPN in the address may change after a reboot or an interface reset; static ARP entries and RARP servers work only if the implementation keeps the QPN fixed.',
    check: 'Restart the DUT interface and compare the QPN before and after (informational); the peer\'s cache must recover.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4391-9.4-b', rfc: 4391, section: '9.4', level: 'SHOULD', keyword: 'BCP14',
    keywordNote: 'RECOMMENDED',
    summary: 'Revalidate ARP caches periodically because QPNs are volatile.',
    check: 'Peer recreates its UD QP (new QPN) under the same IP without gratuitous ARP. Measure how long until the DUT re-resolves and traffic resumes (Linux NUD reachable time is about 30 s, randomised).',
    fabrics: ['sim', 'rxe', 'ib'], partialOn: ['rxe'],
  },
  {
    id: 'RFC4391-10-a', rfc: 4391, section: '10', level: 'MUST', keyword: 'lc',
    summary: 'IB multicast groups have to be created through the SA before use; a sender looks up the MCMemberRecord of the IP group and uses its MLID as DLID, and finding none means no member is on the link.',
    check: 'Sim/SA log: the DUT queries or joins before its first send; captured DLID = MLID.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4391-10-b', rfc: 4391, section: '10', level: 'MUST', keyword: 'lc',
    summary: 'If no group exists and the IP group\'s scope is wider than link-local, the packet must go to the on-link routers through the all-routers group or the broadcast group.',
    check: 'No MGID for 239.9.9.9: the DUT sends to 239.9.9.9 and the frame appears on the all-routers MGID (or the broadcast MGID if all-routers is absent).',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4391-10-c', rfc: 4391, section: '10', level: 'SHOULD', keyword: 'lc',
    summary: 'The all-routers group is preferred over the broadcast group for efficiency.',
    check: 'With the all-routers group present, the frame must use it rather than the broadcast group.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4391-10-d', rfc: 4391, section: '10', level: 'MAY', keyword: 'lc',
    summary: 'If the all-routers group does not exist, the sender may assume there is no router and drop the packet.',
    check: 'Remove the all-routers group: the DUT drops, or falls back to broadcast; record which.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4391-10-e', rfc: 4391, section: '10', level: 'MUST', keyword: 'lc',
    summary: 'A multicast sender must join the target group (SendOnlyNonMember or FullMember) before its packets will be routed.',
    check: 'The DUT sends to an existing group it does not listen to: SA shows a DUT record with JoinState 0x4 (or 0x1; newer SAs also know 0x8 SendOnlyFullMember, UNVERIFIED).',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4391-10-f', rfc: 4391, section: '10', level: 'FACT', keyword: 'none',
    summary: 'Both join types let the port send. Only FullMember makes the fabric deliver group traffic to the port, and a SendOnlyNonMember does not count towards group creation or deletion.',
    check: 'No check of its own: a definition or design note.',
    fabrics: ['offline'], definitional: true,
  },
  {
    id: 'RFC4391-10-g', rfc: 4391, section: '10', level: 'FACT', keyword: 'none',
    summary: 'Typical egress logic: already a member, send; else if the group exists, SendOnlyNonMember join and send; else if scope > link-local and all-routers exists, send to all-routers; otherwise drop.',
    check: 'Test skeleton for 10-b to 10-e.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4391-10-h', rfc: 4391, section: '10', level: 'SHOULD', keyword: 'lc',
    summary: 'Cache group existence, MLID and attributes to avoid an SA query per packet.',
    check: 'Sim: count SA queries during a 1000-packet multicast burst (expect about 1).',
    fabrics: ['sim'],
  },
  {
    id: 'RFC4391-10-i', rfc: 4391, section: '10', level: 'MUST', keyword: 'BCP14',
    summary: 'Senders subscribe to the SA\'s multicast-group create and delete traps to track the groups they use.',
    check: 'Sim/SA log: the DUT registers InformInfo for traps 66/67 (see D8).',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4391-10-j', rfc: 4391, section: '10', level: 'MUST', keyword: 'lc',
    summary: 'Traffic sent to all-routers for lack of a listener must move to the proper group once that group is created (a listener appears).',
    check: 'DUT streams to 239.9.9.9 via all-routers. Peer then FullMember-joins FF12:401B:PPPP::F09:909, and DUT traffic must switch to that MGID within the trap/report latency.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4391-10-k', rfc: 4391, section: '10', level: 'MUST', keyword: 'lc',
    summary: 'To join an IP group, build the MGID per §4 and do a FullMember join through the SA of the outbound link.',
    check: 'DUT application joins 239.1.2.3: SA shows FF12:401B:PPPP::F01:203 with the DUT PortGID and JoinState 0x1.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4391-10-l', rfc: 4391, section: '10', level: 'MUST', keyword: 'lc',
    summary: 'If the group does not exist yet, it is created with the IPoIB-link MTU.',
    check: 'Inspect the new group\'s MTU in SA.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4391-10-m', rfc: 4391, section: '10', level: 'MUST', keyword: 'BCP14',
    summary: 'The new group uses the same P_Key, Q_Key, SL, MTU and HopLimit as the broadcast group.',
    check: 'Compare the SA records field by field.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4391-10-n', rfc: 4391, section: '10', level: 'SHOULD', keyword: 'BCP14',
    summary: 'Its other attributes (e.g. TClass, FlowLabel, Rate) should also copy the broadcast group.',
    check: 'Compare the SA records.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4391-10-o', rfc: 4391, section: '10', level: 'FACT', keyword: 'none',
    summary: 'The join adds the port to the group and lets the SM program switches and routers.',
    check: 'No check of its own: a definition or design note.',
    fabrics: ['offline'], definitional: true,
  },
  {
    id: 'RFC4391-10-p', rfc: 4391, section: '10', level: 'SHOULD', keyword: 'BCP14',
    summary: 'On leaving an IP group, send a FullMember leave to the SA.',
    check: 'DUT application leaves 239.1.2.3: the DUT record disappears from SA (the group is deleted if the DUT was the last member).',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4391-10-q', rfc: 4391, section: '10', level: 'FACT', keyword: 'none',
    summary: 'For links spanning IB routers, multicast forwarding between IB subnets is needed and is outside IPoIB.',
    check: 'No check of its own: a definition or design note.',
    fabrics: ['offline'], definitional: true,
  },
  {
    id: 'RFC4391-11-a', rfc: 4391, section: '11', level: 'MAY', keyword: 'lc',
    summary: 'IB has no promiscuous multicast. A router can emulate it: fetch all groups from the SA, NonMember-join every group whose MGID has the IPv4 or IPv6 signature, and subscribe to creation traps with a wildcard MGID.',
    check: 'Only if the DUT is a router: the peer creates a new IPoIB group and the DUT NonMember-joins it (SA shows JoinState 0x2).',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4391-11-b', rfc: 4391, section: '11', level: 'FACT', keyword: 'none',
    summary: 'A NonMember join behaves like FullMember for delivery but does not count for creation or deletion, so the group can be deleted when the last FullMember leaves.',
    check: 'No check of its own: a definition or design note.',
    fabrics: ['offline'], definitional: true,
  },
  {
    id: 'RFC4391-12-a', rfc: 4391, section: '12', level: 'FACT', keyword: 'none',
    summary: 'IB multicast operations (group creation, the three join types, attaching a QP) can fail for lack of resources; some failures are not tied to any foreground operation and go unnoticed.',
    check: 'No check of its own: a definition or design note.',
    fabrics: ['offline'], definitional: true,
  },
  {
    id: 'RFC4391-12-b', rfc: 4391, section: '12', level: 'SHOULD', keyword: 'BCP14',
    summary: 'Log an error for every failed IB multicast operation.',
    check: 'Host: make SA reject joins (sim error status; or exceed the HCA MGID limit) and look for log messages.',
    fabrics: ['sim', 'ib', 'host'],
  },
  {
    id: 'RFC4391-12-c', rfc: 4391, section: '12', level: 'FACT', keyword: 'lc',
    summary: 'Operators should know about this risk and provision enough multicast resources (e.g. well-resourced HCAs on IP multicast routers).',
    check: 'Informational.',
    fabrics: ['offline'], definitional: true,
  },
  {
    id: 'RFC4391-13-a', rfc: 4391, section: '13', level: 'FACT', keyword: 'none',
    summary: 'Any multicast network allows identity spoofing, forged traffic and eavesdropping; countermeasures belong to higher layers.',
    check: 'No check of its own: a definition or design note.',
    fabrics: ['offline'], definitional: true,
  },
  {
    id: 'RFC4391-13-b', rfc: 4391, section: '13', level: 'MUST', keyword: 'BCP14',
    summary: 'The OS must protect link setup from unprivileged software: broadcast-GID creation, QP creation and attachment, and determining LID, SL and path rate (many of these involve SM/SA).',
    check: 'Host: as an unprivileged user try SA joins (umad), attaching a QP to the broadcast MGID, or altering DUT QPs; all must be refused.',
    fabrics: ['ib', 'host'],
    notCoverableOnSim: 'needs the DUT host or real InfiniBand hardware; the simulated fabric does not model it',
  },
  {
    id: 'RFC4391-13-c', rfc: 4391, section: '13', level: 'SHOULD', keyword: 'BCP14',
    summary: 'Use controlled Q_Keys in all transmissions.',
    check: 'Read the DETH Q_Key of DUT frames (sim/sniffer) or the broadcast Q_Key from SA (see D3).',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4391-14-a', rfc: 4391, section: '14', level: 'FACT', keyword: 'none',
    summary: 'IANA assigned ARP hardware type 32 to InfiniBand.',
    check: 'No check of its own: a definition or design note.',
    fabrics: ['offline'], definitional: true,
  },
  {
    id: 'RFC4391-14-b', rfc: 4391, section: '14', level: 'MUST', keyword: 'BCP14',
    summary: 'Any future use of the reserved bits in the encapsulation header (Fig. 3) or the link-layer address (Fig. 5) must be defined in an RFC.',
    check: 'Process rule (RFC 4755 used the address bits); not testable.',
    fabrics: ['offline'], definitional: true,
  },
  {
    id: 'RFC4391-14-c', rfc: 4391, section: '14', level: 'MUST', keyword: 'lc',
    summary: '(Restated) reserved bits are sent as zero and ignored on receipt.',
    check: 'See 6-b, 6-c, 9.1.1-d, 9.1.1-e.',
    fabrics: ['sim', 'rxe', 'ib'], partialOn: ['rxe'],
  },
  {
    id: 'RFC4392-1.2-a', rfc: 4392, section: '1.2', level: 'FACT', keyword: 'none',
    summary: 'For data transfer the QPN is part of the destination address; QPNs play no part in multicast or raw-datagram delivery.',
    check: 'DUT multicast frames: BTH DestQP = 0xFFFFFF.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4392-1.2-b', rfc: 4392, section: '1.2', level: 'FACT', keyword: 'none',
    summary: 'A port is addressed by a LID and optionally a GID; the GID is needed only across IB subnets but may always be present.',
    check: 'No check of its own: a definition or design note.',
    fabrics: ['offline'], definitional: true,
  },
  {
    id: 'RFC4392-1.2-c', rfc: 4392, section: '1.2', level: 'FACT', keyword: 'none',
    summary: 'A GID is a 64-bit subnet prefix plus the 64-bit port GUID, and the 16-bit LID is assigned at port activation. Only the GUID persists but it is no packet address; GIDs follow the prefix and LIDs may change on reboot.',
    check: 'Change the subnet prefix in the SM: the DUT\'s address GID must change (whether it re-announces via gratuitous ARP or unsolicited NA is implementation-defined).',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4392-1.2-d', rfc: 4392, section: '1.2', level: 'FACT', keyword: 'none',
    summary: 'The SM assigns LIDs and GIDs and programs switch routing; SM and SA hold the fabric\'s configuration.',
    check: 'No check of its own: a definition or design note.',
    fabrics: ['offline'], definitional: true,
  },
  {
    id: 'RFC4392-1.2-e', rfc: 4392, section: '1.2', level: 'MUST', keyword: 'lc',
    summary: 'A packet crossing IB subnets must include the GID; a LID is needed in every packet.',
    check: 'Needs an IB router; otherwise informational.',
    fabrics: ['ib'],
    notCoverableOnSim: 'needs real InfiniBand hardware (HCA, switch and subnet manager)',
  },
  {
    id: 'RFC4392-1.2-f', rfc: 4392, section: '1.2', level: 'FACT', keyword: 'none',
    summary: 'There are up to 16 VLs per port, VL15 is reserved for subnet management, and the 16 SLs map to VLs through SM tables.',
    check: 'No check of its own: a definition or design note.',
    fabrics: ['offline'], definitional: true,
  },
  {
    id: 'RFC4392-1.2-g', rfc: 4392, section: '1.2', level: 'FACT', keyword: 'none',
    summary: 'All but raw datagrams carry a P_Key, which CA ports always check (switches optionally, routers possibly). A CA port can be in several partitions.',
    check: 'P_Key probe P-KEY-1.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4392-1.2-h', rfc: 4392, section: '1.2', level: 'MUST', keyword: 'lc',
    summary: 'For acceptance, the packet\'s P_Key or the port\'s P_Key must be a full-membership key (IBTA also needs the low 15 bits to match).',
    check: 'Limited peer (0x7FFF) to full DUT: accepted. Limited peer to limited DUT: dropped.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4392-1.2-i', rfc: 4392, section: '1.2', level: 'FACT', keyword: 'none',
    summary: 'Q_Keys control access to RD/UD services (raw datagrams have none). Peers use each other\'s agreed Q_Keys; multicast uses the group\'s Q_Key.',
    check: 'Probe P-KEY-2.',
    fabrics: ['sim', 'rxe', 'ib'], partialOn: ['rxe'],
  },
  {
    id: 'RFC4392-1.2-j', rfc: 4392, section: '1.2', level: 'FACT', keyword: 'none',
    summary: 'A Q_Key with the top bit set is controlled: the HCA substitutes the QP\'s own Q_Key when a consumer asks for a controlled one. IB suggests this scheme without mandating it.',
    check: 'Unprivileged peer posts a send with the controlled Q_Key: it goes out with the QP\'s own Q_Key and the DUT drops it.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4392-1.2-k', rfc: 4392, section: '1.2', level: 'FACT', keyword: 'none',
    summary: 'Multicast is optional in switches and CAs. A group is named by a GID in RFC 2373 format; a port must join through the SM to receive, may send to any group, and gets the MLID from the SM.',
    check: 'No check of its own: a definition or design note.',
    fabrics: ['offline'], definitional: true,
  },
  {
    id: 'RFC4392-1.2-l', rfc: 4392, section: '1.2', level: 'FACT', keyword: 'none',
    summary: 'IB offers UD, RD, RC, UC and two raw transports; a UD packet is limited to the 256..4096 link MTU between peers. RC and UC messages can reach 2^31 octets, segmented by the CA.',
    check: 'No check of its own: a definition or design note.',
    fabrics: ['offline'], definitional: true,
  },
  {
    id: 'RFC4392-1.2-m', rfc: 4392, section: '1.2', level: 'FACT', keyword: 'none',
    summary: 'RC, UC and RD may use Automatic Path Migration (optional hardware failover).',
    check: 'No check of its own: a definition or design note.',
    fabrics: ['offline'], definitional: true,
  },
  {
    id: 'RFC4392-1.2.1-a', rfc: 4392, section: '1.2.1', level: 'FACT', keyword: 'none',
    summary: 'IB GIDs follow RFC 2373 and are frozen against later IPv6 addressing changes.',
    check: 'No check of its own: a definition or design note.',
    fabrics: ['offline'], definitional: true,
  },
  {
    id: 'RFC4392-1.2.1.1-a', rfc: 4392, section: '1.2.1.1', level: 'FACT', keyword: 'none',
    summary: 'Unicast GID scopes: link-local FE80::/10 (IB routers do not forward it), site-local FEC0::/10 (must not leave the site), global (routable).',
    check: 'Check that the DUT address GID uses the SM prefix (default fe80::/64).',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4392-1.2.1.2-a', rfc: 4392, section: '1.2.1.2', level: 'FACT', keyword: 'none',
    summary: 'Multicast GIDs are FFxy:... The flags nibble is 000T: T=0 is a permanent (well-known) group, T=1 a transient group.',
    check: 'See RFC4391-4-c.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4392-1.2.1.2-b', rfc: 4392, section: '1.2.1.2', level: 'FACT', keyword: 'none',
    summary: 'Scope nibble values: 0 reserved, 1 unassigned, 2 link-local, 3-4 unassigned, 5 site-local, 6-7 unassigned, 8 organization-local, 9-D unassigned, E global, F reserved.',
    check: 'The encoder rejects scopes 0 and F. Note that 1 is unassigned in IB (in IPv6 it is interface-local).',
    fabrics: ['sim', 'offline'],
  },
  {
    id: 'RFC4392-1.2.1.2-c', rfc: 4392, section: '1.2.1.2', level: 'FACT', keyword: 'none',
    summary: 'IB\'s well-known MGIDs apply only to raw IPv6 datagrams; a group has exactly one MGID, so UD and raw modes cannot share one.',
    check: 'No check of its own: a definition or design note.',
    fabrics: ['offline'], definitional: true,
  },
  {
    id: 'RFC4392-1.3-a', rfc: 4392, section: '1.3', level: 'FACT', keyword: 'none',
    summary: 'The SM manages groups and programs switches so that every member that asked to receive gets group traffic and any member\'s sends reach all receivers. IB separates senders from receivers.',
    check: 'No check of its own: a definition or design note.',
    fabrics: ['offline'], definitional: true,
  },
  {
    id: 'RFC4392-1.3-b', rfc: 4392, section: '1.3', level: 'FACT', keyword: 'none',
    summary: 'A group comes into being through a join. The SM records its MGID and properties (MTU, raw vs UD use, SL, P_Key, MLID, ...), which are fixed when it is created.',
    check: 'No check of its own: a definition or design note.',
    fabrics: ['offline'], definitional: true,
  },
  {
    id: 'RFC4392-1.3-c', rfc: 4392, section: '1.3', level: 'FACT', keyword: 'none',
    summary: 'The SM assigns the MLID at creation, builds the tree, and switches forward by MLID.',
    check: 'DUT multicast DLID = the MLID from SA.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4392-1.3-d', rfc: 4392, section: '1.3', level: 'MUST', keyword: 'lc',
    summary: 'A port must join in order to take part. The join returns the group properties, and the SM checks the port can meet the group MTU and reach the other members.',
    check: 'Negative test in RFC4391-4.1-c.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4392-1.3-e', rfc: 4392, section: '1.3', level: 'MUST', keyword: 'lc',
    summary: 'For groups spanning IB subnets, MTU and P_Key must match across the subnets (switches and routers do not rewrite the P_Key).',
    check: 'Multi-subnet only.',
    fabrics: ['ib'],
    notCoverableOnSim: 'needs real InfiniBand hardware (HCA, switch and subnet manager)',
  },
  {
    id: 'RFC4392-1.3-f', rfc: 4392, section: '1.3', level: 'FACT', keyword: 'none',
    summary: 'Joins and leaves can trigger fabric reprogramming.',
    check: 'No check of its own: a definition or design note.',
    fabrics: ['offline'], definitional: true,
  },
  {
    id: 'RFC4392-1.3.1-a', rfc: 4392, section: '1.3.1', level: 'FACT', keyword: 'none',
    summary: 'MCMemberRecord carries, among others: MGID, PortGID, Q_Key, MLID, MTU, P_Key, SL, Scope, JoinState.',
    check: 'The suite\'s SA decoder needs these fields.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4392-1.3.1-b', rfc: 4392, section: '1.3.1', level: 'FACT', keyword: 'none',
    summary: 'JoinState bits: bit 0 FullMember, bit 1 NonMember, bit 2 SendOnlyNonMember.',
    check: 'Check the DUT\'s JoinState in the SA records.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4392-1.3.1.1-a', rfc: 4392, section: '1.3.1.1', level: 'FACT', keyword: 'none',
    summary: 'JoinState meaning: FullMember sends, receives and keeps the group alive; NonMember sends and receives without counting; SendOnlyNonMember only sends. Bits combine, and a leave can drop any subset.',
    check: 'No check of its own: a definition or design note.',
    fabrics: ['offline'], definitional: true,
  },
  {
    id: 'RFC4392-1.3.2-a', rfc: 4392, section: '1.3.2', level: 'FACT', keyword: 'none',
    summary: 'Join is SubnAdmSet(MCMemberRecord); leave is SubnAdmDelete(MCMemberRecord).',
    check: 'Sim: decode the DUT\'s SA MADs.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4392-1.3.2.1-a', rfc: 4392, section: '1.3.2.1', level: 'MUST', keyword: 'lc',
    summary: 'There is no create command: a group is created as a side effect of the first join with the FullMember bit set.',
    check: 'Sim: a DUT send-only join (0x4) to a non-existent group must fail and not create it.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4392-1.3.2.1-b', rfc: 4392, section: '1.3.2.1', level: 'FACT', keyword: 'none',
    summary: 'The creator supplies Q_Key, MTU, P_Key, SL, FlowLabel, TClass and Scope, and either names the MGID or lets the SM pick one. The SM assigns the MLID.',
    check: 'No check of its own: a definition or design note.',
    fabrics: ['offline'], definitional: true,
  },
  {
    id: 'RFC4392-1.3.2.2-a', rfc: 4392, section: '1.3.2.2', level: 'FACT', keyword: 'none',
    summary: 'When the last FullMember leaves, the SM may delete the group and free its resources; there is no explicit delete message.',
    check: 'No check of its own: a definition or design note.',
    fabrics: ['offline'], definitional: true,
  },
  {
    id: 'RFC4392-1.3.2.3-a', rfc: 4392, section: '1.3.2.3', level: 'FACT', keyword: 'none',
    summary: 'Ports may ask the SA for reports of group creation and deletion, for a specific MGID or by wildcard. The SA reports them with traps 66 (create) and 67 (delete).',
    check: 'Sim: check the DUT\'s InformInfo registrations.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4392-1.3.2.3-b', rfc: 4392, section: '1.3.2.3', level: 'FACT', keyword: 'none',
    summary: 'After a delete report the MLID is no longer valid for that group and may be reused.',
    check: 'Stale-MLID probe (RFC4392-4.2.5-f).',
    fabrics: ['sim'],
  },
  {
    id: 'RFC4392-2-a', rfc: 4392, section: '2', level: 'FACT', keyword: 'none',
    summary: 'MIBs for IB components are defined in separate documents.',
    check: 'No check of its own: a definition or design note.',
    fabrics: ['offline'], definitional: true,
  },
  {
    id: 'RFC4392-3-a', rfc: 4392, section: '3', level: 'MUST NOT', keyword: 'lc',
    summary: 'IPoIB must not demand changes to IP or higher-layer protocols, nor special user-level programs; it should slot into stacks like any other medium.',
    check: 'Host: unmodified tools (ping, ip neigh, ndisc6, DHCP client) work on the DUT interface.',
    fabrics: ['sim', 'ib', 'host'],
  },
  {
    id: 'RFC4392-3.1-a', rfc: 4392, section: '3.1', level: 'FACT', keyword: 'none',
    summary: 'IPoIB could in principle run over any of RC, RD, UC, UD or the raw modes.',
    check: 'No check of its own: a definition or design note.',
    fabrics: ['offline'], definitional: true,
  },
  {
    id: 'RFC4392-3.1-b', rfc: 4392, section: '3.1', level: 'FACT', keyword: 'none',
    summary: 'UD is mandatory on every IB node and RC/UC on HCAs (not TCAs). Raw modes are optional and carry only a 16-bit CRC instead of the 32-bit ICRC.',
    check: 'No check of its own: a definition or design note.',
    fabrics: ['offline'], definitional: true,
  },
  {
    id: 'RFC4392-3.1-c', rfc: 4392, section: '3.1', level: 'FACT', keyword: 'none',
    summary: 'Only UD and the raw modes can multicast, so UD (universal, multicast-capable, strong CRC) is the IPoIB choice.',
    check: 'No check of its own: a definition or design note.',
    fabrics: ['offline'], definitional: true,
  },
  {
    id: 'RFC4392-3.1-d', rfc: 4392, section: '3.1', level: 'FACT', keyword: 'none',
    summary: 'Connected modes could give larger MTUs and APM (later specified in RFC 4755).',
    check: 'No check of its own: a definition or design note.',
    fabrics: ['offline'], definitional: true,
  },
  {
    id: 'RFC4392-3.2-a', rfc: 4392, section: '3.2', level: 'MUST', keyword: 'lc',
    summary: 'IPoIB subnets must be built on multicast-capable IB fabrics.',
    check: 'As RFC4391-2-a.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4392-3.2.1-a', rfc: 4392, section: '3.2.1', level: 'SHOULD', keyword: 'lc',
    summary: 'Map each IP multicast group to its own IB group as far as possible, to avoid duplicate packets in the fabric and needless filtering at hosts.',
    check: 'Check that distinct IPv4 groups give distinct MGIDs (always true for IPv4); IPv6 collisions are allowed by RFC4391-4-f.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4392-3.2.2-a', rfc: 4392, section: '3.2.2', level: 'MUST NOT', keyword: 'lc',
    summary: 'No IP-to-IB multicast mapping may produce an IB well-known (T=0) MGID, so IPoIB MGIDs always have the transient bit set.',
    check: 'As RFC4391-4-c.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4392-3.3-a', rfc: 4392, section: '3.3', level: 'FACT', keyword: 'none',
    summary: 'An IPoIB subnet spanning several IB subnets needs IB additions (cross-subnet MGIDs with consistent P_Keys, an IB routing protocol, node-router procedures); not possible when written, but the specs allow for it.',
    check: 'No check of its own: a definition or design note.',
    fabrics: ['offline'], definitional: true,
  },
  {
    id: 'RFC4392-4-a', rfc: 4392, section: '4', level: 'FACT', keyword: 'none',
    summary: 'Step 1: when the IP subnet is set up, the fabric administrator (or the first IB_join) creates the broadcast group; how is not defined by IPoIB.',
    check: 'No check of its own: a definition or design note.',
    fabrics: ['offline'], definitional: true,
  },
  {
    id: 'RFC4392-4-b', rfc: 4392, section: '4', level: 'SHOULD', keyword: 'lc',
    summary: 'Choose the broadcast-group values (P_Key, Q_Key, SL, HopLimit, FlowLabel, TClass, MTU) so that every potential member can communicate with them.',
    check: 'Configuration review.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4392-4-c', rfc: 4392, section: '4', level: 'MUST', keyword: 'lc',
    summary: 'All unicast packets must also use the P_Key and Q_Key of the broadcast group.',
    check: 'Peer unicast with the broadcast P_Key/Q_Key is accepted; other values are dropped; DUT unicast carries them (sim).',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4392-4-d', rfc: 4392, section: '4', level: 'FACT', keyword: 'none',
    summary: 'Step 2: every IPoIB interface IB_joins the broadcast group; its membership defines the extent and members of the IPoIB link, and the join hands out the parameters.',
    check: 'No check of its own: a definition or design note.',
    fabrics: ['offline'], definitional: true,
  },
  {
    id: 'RFC4392-4-e', rfc: 4392, section: '4', level: 'FACT', keyword: 'none',
    summary: 'The broadcast join is FullMember. If the port or switches on its path cannot meet the group\'s parameters (e.g. path MTU, P_Key), the join fails and the port is not part of the IPoIB subnet.',
    check: 'As RFC4391-4.1-c.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4392-4-f', rfc: 4392, section: '4', level: 'FACT', keyword: 'none',
    summary: 'Step 3: the Q_Key and MTU come from the broadcast join, and other groups reuse the broadcast parameters. P_Key and scope must be known before the join; how they are obtained (e.g. admin config) is implementation-defined.',
    check: 'No check of its own: a definition or design note.',
    fabrics: ['offline'], definitional: true,
  },
  {
    id: 'RFC4392-4.1-a', rfc: 4392, section: '4.1', level: 'MUST', keyword: 'lc',
    summary: 'All members of an IP subnet must have compatible P_Keys, and an IP subnet has exactly one P_Key; an endpoint may hold several P_Keys.',
    check: 'Two DUT child interfaces on one port with different P_Keys form two separate IP links.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4392-4.1-b', rfc: 4392, section: '4.1', level: 'FACT', keyword: 'none',
    summary: 'One MGID per group, with the P_Key inside the MGID, so each partition gets its own broadcast MGID and therefore a separate IPoIB link (an "IPoIB VLAN").',
    check: 'DUT child interfaces for 0x8001 and 0x8002 join FF12:401B:8001::FFFF:FFFF and FF12:401B:8002::FFFF:FFFF. An ARP on one partition is never answered through the other.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4392-4.2-a', rfc: 4392, section: '4.2', level: 'FACT', keyword: 'none',
    summary: 'IP multicast over IB follows normal IP rules but needs interaction with the SM.',
    check: 'No check of its own: a definition or design note.',
    fabrics: ['offline'], definitional: true,
  },
  {
    id: 'RFC4392-4.2-b', rfc: 4392, section: '4.2', level: 'FACT', keyword: 'none',
    summary: 'UD multicast frame: LRH, GRH, BTH, DETH, payload, ICRC, VCRC. The GRH carries the group\'s MGID, the LRH the MLID; switches forward by LID; the receiving driver sees the GID and can tell which group a packet belongs to.',
    check: 'Peer receive completion has IBV_WC_GRH set, and GRH DGID = MGID.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4392-4.2-c', rfc: 4392, section: '4.2', level: 'FACT', keyword: 'none',
    summary: 'IPv4 hosts have multicast levels 0 (none), 1 (send-only) and 2 (full), while IPv6 needs full multicast. IPv4 subnets always support 255.255.255.255 broadcast.',
    check: 'No check of its own: a definition or design note.',
    fabrics: ['offline'], definitional: true,
  },
  {
    id: 'RFC4392-4.2-d', rfc: 4392, section: '4.2', level: 'MUST', keyword: 'lc',
    summary: 'Every IPoIB subnet must define a broadcast GID, so broadcast is always possible.',
    check: 'As RFC4391-5-a.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4392-4.2.1-a', rfc: 4392, section: '4.2.1', level: 'FACT', keyword: 'none',
    summary: 'An IP host may send to any multicast group at any time.',
    check: 'No check of its own: a definition or design note.',
    fabrics: ['offline'], definitional: true,
  },
  {
    id: 'RFC4392-4.2.1-b', rfc: 4392, section: '4.2.1', level: 'MUST', keyword: 'lc',
    summary: 'Before sending, the IPoIB module must try to IB_join the target group; otherwise IB does not guarantee delivery.',
    check: 'As RFC4391-10-e.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4392-4.2.1-c', rfc: 4392, section: '4.2.1', level: 'MAY', keyword: 'lc',
    summary: 'A pure sender may join as FullMember (it then receives group traffic and keeps the group alive) or as SendOnlyNonMember (no traffic to it, group deletable; it may ask for delete reports).',
    check: 'Record which the DUT uses.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4392-4.2.1-d', rfc: 4392, section: '4.2.1', level: 'MAY', keyword: 'lc',
    summary: 'If the group does not exist, send to the all-routers MGID (RFC 4391\'s recommendation) or to the broadcast group, and optionally ask the SM for creation reports.',
    check: 'As RFC4391-10-b/c.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4392-4.2.2-a', rfc: 4392, section: '4.2.2', level: 'MUST', keyword: 'lc',
    summary: 'A host listening to an IP group must join the matching IB group (auto-created if absent).',
    check: 'As RFC4391-10-k.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4392-4.2.2-b', rfc: 4392, section: '4.2.2', level: 'MUST', keyword: 'lc',
    summary: 'When the IP layer stops listening, the receiver must leave the IB group.',
    check: 'The DUT\'s record vanishes from SA after the IP leave.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4392-4.2.3-a', rfc: 4392, section: '4.2.3', level: 'FACT', keyword: 'none',
    summary: 'Routers learn IP groups via IGMPv3/MLD but must still IB_join to send and receive; there is no promiscuous mode.',
    check: 'No check of its own: a definition or design note.',
    fabrics: ['offline'], definitional: true,
  },
  {
    id: 'RFC4392-4.2.3-b', rfc: 4392, section: '4.2.3', level: 'MUST', keyword: 'lc',
    summary: 'IPoIB routers must ask the SM to report every group creation, and join the reported groups.',
    check: 'Router DUT only: InformInfo registered; joins follow creations.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4392-4.2.3-c', rfc: 4392, section: '4.2.3', level: 'SHOULD', keyword: 'lc',
    summary: 'A router\'s join in response to a create report should not keep the group alive after all receivers leave, so it should use a NonMember join.',
    check: 'SA shows the router DUT with 0x2.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4392-4.2.3-d', rfc: 4392, section: '4.2.3', level: 'SHOULD', keyword: 'lc',
    summary: 'Routers should also ask for delete reports so they can release resources and avoid stale cached MLIDs; a router that re-joins on every create report still works.',
    check: 'Sim: delete the group and re-create it with a new MLID; the router DUT must use the new MLID.',
    fabrics: ['sim'],
  },
  {
    id: 'RFC4392-4.2.3-e', rfc: 4392, section: '4.2.3', level: 'MAY', keyword: 'lc',
    summary: 'A router may FullMember-join when an application or routing daemon asks it to (it then controls the group\'s lifetime).',
    check: 'No separate check; covered through the rows it qualifies.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4392-4.2.4-a', rfc: 4392, section: '4.2.4', level: 'FACT', keyword: 'none',
    summary: 'An HCA or TCA may cap the number of MGIDs it can attach, so per-interface limits can apply even when SM/subnet limits do not; provision HCAs suitably.',
    check: 'Probe P-MC-6 (exceed the MGID limit).',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4392-4.2.5-a', rfc: 4392, section: '4.2.5', level: 'MUST', keyword: 'lc',
    summary: 'An IPv4 send-only (level 1) host that joined just to send must leave at some point, e.g. with a per-group idle timer restarted on each send.',
    check: 'DUT sends a few packets to 239.x then stops; its send-only record disappears after some timeout (record the value).',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4392-4.2.5-b', rfc: 4392, section: '4.2.5', level: 'FACT', keyword: 'none',
    summary: 'That timer idea does not apply to the broadcast group or the all-hosts group.',
    check: 'No check of its own: a definition or design note.',
    fabrics: ['offline'], definitional: true,
  },
  {
    id: 'RFC4392-4.2.5-c', rfc: 4392, section: '4.2.5', level: 'MUST', keyword: 'lc',
    summary: 'An IPv4 host must stay in the broadcast group at all times.',
    check: 'After a long idle period the DUT\'s broadcast-group record is still present.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4392-4.2.5-d', rfc: 4392, section: '4.2.5', level: 'FACT', keyword: 'none',
    summary: 'A receiver leaves the IB group when it leaves the IP group; an IPv4 host that keeps sending may keep the group under a timer instead.',
    check: 'No check of its own: a definition or design note.',
    fabrics: ['offline'], definitional: true,
  },
  {
    id: 'RFC4392-4.2.5-e', rfc: 4392, section: '4.2.5', level: 'FACT', keyword: 'none',
    summary: 'After the last FullMember leaves, the SM may free the group\'s resources; the MLID becomes invalid and can be reassigned.',
    check: 'No check of its own: a definition or design note.',
    fabrics: ['offline'], definitional: true,
  },
  {
    id: 'RFC4392-4.2.5-f', rfc: 4392, section: '4.2.5', level: 'MUST', keyword: 'lc',
    summary: 'SendOnlyNonMember or NonMember ports that cache an MLID must guard against it going stale, by requesting delete reports. A router receiving all create reports need not, since a re-join returns the new MLID.',
    check: 'Sim: delete a group the DUT sends to, reassign its MLID to another group: the DUT must not keep sending to the old MLID.',
    fabrics: ['sim'],
  },
  {
    id: 'RFC4392-4.2.5-g', rfc: 4392, section: '4.2.5', level: 'MAY', keyword: 'lc',
    summary: 'A router may leave a group when it has no IP members on the subnet and no known need to forward.',
    check: 'No separate check; covered through the rows it qualifies.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4392-4.3-a', rfc: 4392, section: '4.3', level: 'FACT', keyword: 'none',
    summary: 'IPoIB packets carry an EtherType; the link-layer address consists of the GID and the QPN.',
    check: 'No check of its own: a definition or design note.',
    fabrics: ['offline'], definitional: true,
  },
  {
    id: 'RFC4392-4.3-b', rfc: 4392, section: '4.3', level: 'FACT', keyword: 'none',
    summary: 'Address resolution has an extra IB step: map the resolved GID to a LID, and possibly learn SL and path rate.',
    check: 'As RFC4391-9.1.2-a.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4392-4.3-c', rfc: 4392, section: '4.3', level: 'FACT', keyword: 'lc',
    summary: 'All IPoIB traffic on the subnet takes its Q_Key from the broadcast group.',
    check: 'As RFC4391-9.1.2-d.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4392-4.4-a', rfc: 4392, section: '4.4', level: 'FACT', keyword: 'none',
    summary: 'Static ARP and RARP entries depend on stable link addresses, so with IPoIB they work only if the QPN is kept constant.',
    check: 'As RFC4391-9.4-a.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4392-4.5-a', rfc: 4392, section: '4.5', level: 'FACT', keyword: 'none',
    summary: 'The DHCPv4 hardware-address field is 16 octets but the IPoIB address is 20, so RFC 4390 has clients use the broadcast flag.',
    check: 'See RFC 4390 rows.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4392-5-a', rfc: 4392, section: '5', level: 'FACT', keyword: 'none',
    summary: 'IB leaves SL choice to the endnode; IPoIB defines no SL selection method, so each implementation applies its own policy.',
    check: 'Record the SL used; informational.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4392-6-a', rfc: 4392, section: '6', level: 'FACT', keyword: 'none',
    summary: 'RFC 4392 adds no requirements and no security issues of its own; see RFC 4391 and RFC 4390.',
    check: 'No check of its own: a definition or design note.',
    fabrics: ['offline'], definitional: true,
  },
  {
    id: 'RFC4755-1-a', rfc: 4755, section: '1', level: 'FACT', keyword: 'none',
    summary: 'IB\'s connected modes are RC and UC; IPoIB over either is called IPoIB-CM, and IPoIB over UD (RFC 4391) is IPoIB-UD.',
    check: 'No check of its own: a definition or design note.',
    fabrics: ['offline'], definitional: true,
  },
  {
    id: 'RFC4755-1-b', rfc: 4755, section: '1', level: 'FACT', keyword: 'none',
    summary: 'HCAs must support RC and UC; TCAs need not.',
    check: 'No check of its own: a definition or design note.',
    fabrics: ['offline'], definitional: true,
  },
  {
    id: 'RFC4755-1-c', rfc: 4755, section: '1', level: 'FACT', keyword: 'none',
    summary: 'Connected modes allow messages up to 2^31 octets, while IB datagram modes stop at 4096; APM can add reliability.',
    check: 'No check of its own: a definition or design note.',
    fabrics: ['offline'], definitional: true,
  },
  {
    id: 'RFC4755-2-a', rfc: 4755, section: '2', level: 'MAY', keyword: 'BCP14',
    keywordNote: 'OPTIONAL',
    summary: 'IPoIB-CM is an optional extension of IPoIB-UD.',
    check: 'No check of its own: a definition or design note.',
    fabrics: ['offline'], definitional: true,
  },
  {
    id: 'RFC4755-2-b', rfc: 4755, section: '2', level: 'MUST', keyword: 'BCP14',
    summary: 'Every IPoIB implementation supports RFC 4391.',
    check: 'A CM-capable DUT must still work with a UD-only peer (flags 0x00): ARP and ping succeed over UD.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4755-2-c', rfc: 4755, section: '2', level: 'MAY', keyword: 'BCP14',
    summary: 'Implementations may support the connected-mode extension.',
    check: 'No check of its own: a definition or design note.',
    fabrics: ['offline'], definitional: true,
  },
  {
    id: 'RFC4755-2-d', rfc: 4755, section: '2', level: 'FACT', keyword: 'none',
    summary: 'Encapsulation, default MTU, link-layer address format and IPv6 SLAAC are the same for IPoIB-CM as in RFC 4391.',
    check: 'Re-run the RFC 4391 encapsulation/ND rows with the DUT in CM mode.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4755-2.1-a', rfc: 4755, section: '2.1', level: 'FACT', keyword: 'none',
    summary: 'Connected modes form a non-broadcast multiple-access network and have no multicast.',
    check: 'No check of its own: a definition or design note.',
    fabrics: ['offline'], definitional: true,
  },
  {
    id: 'RFC4755-2.1-b', rfc: 4755, section: '2.1', level: 'MUST', keyword: 'BCP14',
    summary: 'Multicast mapping, multicast send and receive, and multicast routing all use the interface\'s UD QP.',
    check: 'DUT in CM mode: its multicast is UD (DETH present) and `wc.src_qp` = the UD QPN from its address.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4755-2.2-a', rfc: 4755, section: '2.2', level: 'MUST', keyword: 'BCP14',
    summary: 'An IPoIB-CM interface has one UD QP plus one or more connected-mode QPs.',
    check: 'The local QPN in the DUT\'s REQ/REP differs from its UD QPN, and the UD QPN stays the same.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4755-2.2-b', rfc: 4755, section: '2.2', level: 'FACT', keyword: 'none',
    summary: 'Address-resolution replies arrive on the UD QP.',
    check: 'As RFC4755-7-d.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4755-2.3-a', rfc: 4755, section: '2.3', level: 'MUST', keyword: 'lc',
    summary: 'Once the peer\'s address is known, an IB connection must exist before IP is exchanged over a connected mode.',
    check: 'The first RC data from the DUT follows a completed REQ/REP/RTU exchange.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4755-2.3-b', rfc: 4755, section: '2.3', level: 'MUST', keyword: 'lc',
    summary: 'The initiator must know the Service-ID and must offer its connected QP; the peer answers with its own. Each connection uses one connected QP at each end.',
    check: 'Decode the DUT REQ/REP.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4755-2.3-c', rfc: 4755, section: '2.3', level: 'FACT', keyword: 'none',
    summary: 'Resolution happens per IP address, but the connection is per pair of IB endpoints; a new resolution does not imply a new connection.',
    check: 'Peer with two IP aliases behind one link-layer address: count the DUT connections (implementation-defined; expect 1).',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4755-3-a', rfc: 4755, section: '3', level: 'FACT', keyword: 'none',
    summary: 'Resolution queries go to the broadcast-GID over the UD QP, and the unicast reply returns on the UD QP.',
    check: 'No separate check; covered through the rows it qualifies.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4755-3.1-a', rfc: 4755, section: '3.1', level: 'FACT', keyword: 'none',
    summary: 'The link-layer address becomes Flags(1 octet) : QPN(3) : GID(16); this replaces the reserved octet of RFC 4391.',
    check: 'No check of its own: a definition or design note.',
    fabrics: ['offline'], definitional: true,
  },
  {
    id: 'RFC4755-3.1-b', rfc: 4755, section: '3.1', level: 'FACT', keyword: 'none',
    summary: 'Flag bit 0 (the most significant bit) advertises RC support and bit 1 advertises UC support.',
    check: 'Decode the DUT\'s ARP `sha` / NA TLLA in CM mode: 0x80 (Linux), see D5.',
    fabrics: ['sim', 'rxe', 'ib'], partialOn: ['rxe'],
  },
  {
    id: 'RFC4755-3.1-c', rfc: 4755, section: '3.1', level: 'MUST', keyword: 'BCP14',
    summary: 'The other six flag bits are sent as zero.',
    check: 'Check every DUT address instance.',
    fabrics: ['sim', 'rxe', 'ib'], partialOn: ['rxe'],
  },
  {
    id: 'RFC4755-3.1-d', rfc: 4755, section: '3.1', level: 'MUST', keyword: 'BCP14',
    summary: 'The other six flag bits are ignored on receipt.',
    check: 'Peer advertises 0xBF: the DUT treats it as RC-capable only and never fails.',
    fabrics: ['sim', 'rxe', 'ib'], partialOn: ['rxe'],
  },
  {
    id: 'RFC4755-3.1-e', rfc: 4755, section: '3.1', level: 'MAY', keyword: 'BCP14',
    summary: 'An interface supporting both modes may set RC and UC together.',
    check: 'No separate check; covered through the rows it qualifies.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4755-3.1-f', rfc: 4755, section: '3.1', level: 'FACT', keyword: 'none',
    summary: 'UD support is implicit; there is no UD flag.',
    check: 'No check of its own: a definition or design note.',
    fabrics: ['offline'], definitional: true,
  },
  {
    id: 'RFC4755-3.1-g', rfc: 4755, section: '3.1', level: 'MUST', keyword: 'BCP14',
    summary: 'A UD-only implementation ignores the flags octet it receives.',
    check: 'UD-only DUT receives ARPs with flags 0x80 / 0x40 / 0xC0: it replies and keeps using UD normally.',
    fabrics: ['sim', 'rxe', 'ib'], partialOn: ['rxe'],
  },
  {
    id: 'RFC4755-3.1-h', rfc: 4755, section: '3.1', level: 'MUST', keyword: 'BCP14',
    summary: 'A UD-only implementation sends the flags octet as all zeros.',
    check: 'Check DUT ARP/ND with CM disabled.',
    fabrics: ['sim', 'rxe', 'ib'], partialOn: ['rxe'],
  },
  {
    id: 'RFC4755-3.1-i', rfc: 4755, section: '3.1', level: 'FACT', keyword: 'none',
    summary: 'The QPN field holds the UD QPN on which unicast resolution replies are received; each IPoIB interface has exactly one UD QP, CM or not.',
    check: 'No check of its own: a definition or design note.',
    fabrics: ['offline'], definitional: true,
  },
  {
    id: 'RFC4755-3.1-j', rfc: 4755, section: '3.1', level: 'FACT', keyword: 'none',
    summary: 'That UD QPN is also used to build the CM Service-ID.',
    check: 'See RFC4755-3.5-e.',
    fabrics: ['offline'], definitional: true,
  },
  {
    id: 'RFC4755-3.1-k', rfc: 4755, section: '3.1', level: 'FACT', keyword: 'none',
    summary: 'A node answering a multicast or broadcast resolution request returns its own address, with its UD QPN and the right flags, unicast after resolving GID to LID as in IPoIB-UD.',
    check: 'No separate check; covered through the rows it qualifies.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4755-3.1-l', rfc: 4755, section: '3.1', level: 'MAY', keyword: 'BCP14',
    keywordNote: 'NOT REQUIRED',
    summary: 'A peer\'s advertised connected-mode support does not oblige a node to connect; whether to connect is a local decision.',
    check: 'Informational: record whether and when the DUT initiates a REQ.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4755-3.2-a', rfc: 4755, section: '3.2', level: 'FACT', keyword: 'none',
    summary: 'Either end may open a connection with CM MADs naming a Service-ID; an accepted request returns the peer\'s connected-mode QPN. The exchange is REQ, REP or REJ, then RTU (the RFC prints "RTA").',
    check: 'Capture or decode the CM exchange.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4755-3.2-b', rfc: 4755, section: '3.2', level: 'FACT', keyword: 'none',
    summary: 'CM messages carry, among other things, the Service-ID, the local connected-mode QPN and the payload size for the connection.',
    check: 'No separate check; covered through the rows it qualifies.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4755-3.2-c', rfc: 4755, section: '3.2', level: 'MUST', keyword: 'BCP14',
    summary: 'A node keeps track of the IB connections it is part of.',
    check: 'Host-only (connection tables or stats). Black-box proxy: handling of repeated or duplicate REQs stays consistent.',
    fabrics: ['sim', 'ib', 'host'],
  },
  {
    id: 'RFC4755-3.2-d', rfc: 4755, section: '3.2', level: 'MAY', keyword: 'BCP14',
    summary: 'A node may try an extra connection to a peer using the Service-ID of an existing connection.',
    check: 'Informational.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4755-3.2-e', rfc: 4755, section: '3.2', level: 'MAY', keyword: 'BCP14',
    summary: 'The receiver of such an extra request may turn it down with an error in the CM response.',
    check: 'Peer sends a second REQ to the same SID: record whether the DUT accepts or rejects (both conform).',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4755-3.2-f', rfc: 4755, section: '3.2', level: 'FACT', keyword: 'none',
    summary: 'Whether to accept or start multiple connections per interface is an implementation choice.',
    check: 'No check of its own: a definition or design note.',
    fabrics: ['offline'], definitional: true,
  },
  {
    id: 'RFC4755-3.2-g', rfc: 4755, section: '3.2', level: 'MUST', keyword: 'BCP14',
    summary: 'Every CM message exchanged while setting up the connection carries the sender\'s IPoIB-UD QPN in its private data, because the passive side cannot otherwise work out the initiator\'s link-layer address.',
    check: 'Peer passive: the DUT\'s REQ carries its UD QPN (it matches the DUT\'s address). Peer active: the DUT\'s REP does too.',
    fabrics: ['sim', 'rxe', 'ib'], partialOn: ['rxe'],
  },
  {
    id: 'RFC4755-3.2-h', rfc: 4755, section: '3.2', level: 'MUST', keyword: 'BCP14',
    summary: 'REJ messages also carry the UD QPN.',
    check: 'Provoke a consumer-level REJ (crossing-REQ loser, or an extra connection the DUT refuses) and check that its private data holds the DUT UD QPN.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4755-3.3-a', rfc: 4755, section: '3.3', level: 'MUST', keyword: 'BCP14',
    summary: 'To settle crossed REQs, the receiver rebuilds the sender\'s address from the private-data UD QPN and the REQ\'s GID. If its own REQ to that address is pending, the side with the smaller address accepts and the other rejects with Consumer Reject.',
    check: 'Peer and DUT start connections at the same time (the peer holds back its REP to the DUT\'s REQ and sends its own REQ). Check that the side with the larger address rejects, with reason 28 and its UD QPN in the private data.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4755-3.3-b', rfc: 4755, section: '3.3', level: 'FACT', keyword: 'none',
    summary: 'For this comparison the flags octet is zeroed, and the addresses are compared from the most significant octet down (byte-wise big-endian, so QPN first, then GID).',
    check: 'Encoder vector: choose QPNs and GIDs so the order is known.',
    fabrics: ['sim', 'ib', 'offline'],
  },
  {
    id: 'RFC4755-3.3-c', rfc: 4755, section: '3.3', level: 'MUST', keyword: 'BCP14',
    summary: 'The rule applies even when the receiver allows several connections per peer, so crossing REQs create only one extra connection.',
    check: 'Repeat 3.3-a with multi-connection enabled.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4755-3.4-a', rfc: 4755, section: '3.4', level: 'SHOULD', keyword: 'BCP14',
    summary: 'CM connections belong to their IPoIB interface and should be torn down when it is.',
    check: '`ip link set down` on the DUT: the peer receives a DREQ (or sees the connection error) for each connection.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4755-3.4-b', rfc: 4755, section: '3.4', level: 'MAY', keyword: 'BCP14',
    summary: 'Either peer may tear a connection down when its address-resolution entry expires; other teardown policies are allowed.',
    check: 'Let the neighbour entry expire and record when the DREQ comes (informational).',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4755-3.5-a', rfc: 4755, section: '3.5', level: 'FACT', keyword: 'none',
    summary: 'IBTA reserved a block of 64-bit Service-IDs for the IETF to manage; the RFC\'s figure shows the block\'s first octet as binary 00000001.',
    check: 'No check of its own: a definition or design note.',
    fabrics: ['offline'], definitional: true,
  },
  {
    id: 'RFC4755-3.5-b', rfc: 4755, section: '3.5', level: 'FACT', keyword: 'none',
    summary: 'IPoIB Service-ID layout: octet 0 = 0x01, octet 1 = Type, octets 2-4 reserved, octets 5-7 = QPN.',
    check: 'Decode the ServiceID in the DUT\'s REQ.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4755-3.5-c', rfc: 4755, section: '3.5', level: 'MUST', keyword: 'BCP14',
    summary: 'Type = 0.',
    check: 'DUT REQ. Robustness: the peer\'s REQ with Type 1 must be rejected or ignored.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4755-3.5-d', rfc: 4755, section: '3.5', level: 'MUST', keyword: 'BCP14',
    summary: 'The reserved octets are zero.',
    check: 'DUT REQ.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4755-3.5-e', rfc: 4755, section: '3.5', level: 'MUST', keyword: 'BCP14',
    summary: 'The QPN is the UD QPN learnt during address resolution (so a requester targets the listener\'s UD QPN, and each interface listens on the SID built from its own UD QPN).',
    check: 'Low 24 bits of the DUT REQ SID = the peer\'s advertised UD QPN. A peer REQ to the DUT\'s SID is accepted; to any other SID it gets REJ reason 8 (invalid Service ID, IBTA, UNVERIFIED).',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4755-4-a', rfc: 4755, section: '4', level: 'FACT', keyword: 'none',
    summary: 'IP datagrams on a connection carry the same 4-octet header as RFC 4391 (Type, then Reserved).',
    check: 'Sim/sniffer: the RC SEND payload begins with the header; the peer RC QP receives it.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4755-4-b', rfc: 4755, section: '4', level: 'MUST', keyword: 'BCP14',
    keywordNote: 'SHALL',
    summary: 'On connections the Type identifies the protocol: 0x0800 IPv4, 0x86DD IPv6 (ARP is not listed; resolution stays on UD).',
    check: 'Check DUT RC payloads. Robustness: peer sends an ARP (0x0806) or an unknown Type over RC; the DUT drops it without tearing the connection down (implementation-defined).',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4755-4-c', rfc: 4755, section: '4', level: 'FACT', keyword: 'none',
    summary: 'Other EtherTypes may use the format but are outside the RFC.',
    check: 'No check of its own: a definition or design note.',
    fabrics: ['offline'], definitional: true,
  },
  {
    id: 'RFC4755-5-a', rfc: 4755, section: '5', level: 'FACT', keyword: 'none',
    summary: 'One connection may carry both IPv4 and IPv6, or each may use its own connection.',
    check: 'No check of its own: a definition or design note.',
    fabrics: ['offline'], definitional: true,
  },
  {
    id: 'RFC4755-5-b', rfc: 4755, section: '5', level: 'MUST', keyword: 'BCP14',
    summary: 'The link MTU supports at least the minimum MTU the protocols require.',
    check: 'Peer offers Receive MTU 1024 in its REP: the DUT must not run IPv6 on that connection below 1280 (fall back to UD or reject).',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4755-5-c', rfc: 4755, section: '5', level: 'FACT', keyword: 'none',
    summary: 'Default IPoIB-CM interface MTU is 2044 (2048 - 4).',
    check: 'Default config check.',
    fabrics: ['sim', 'ib', 'host'],
  },
  {
    id: 'RFC4755-5-d', rfc: 4755, section: '5', level: 'FACT', keyword: 'none',
    summary: 'Connected modes allow much larger unicast MTUs (messages up to 2^31); the practical maximum depends on the implementation, the HCA and configured resources.',
    check: 'No check of its own: a definition or design note.',
    fabrics: ['offline'], definitional: true,
  },
  {
    id: 'RFC4755-5-e', rfc: 4755, section: '5', level: 'MAY', keyword: 'BCP14',
    summary: 'An implementation may exchange a per-connection optimal message size using §5.1.',
    check: 'No check of its own: a definition or design note.',
    fabrics: ['offline'], definitional: true,
  },
  {
    id: 'RFC4755-5.1-a', rfc: 4755, section: '5.1', level: 'FACT', keyword: 'none',
    summary: 'Every connection-setup message has a private-data field.',
    check: 'No check of its own: a definition or design note.',
    fabrics: ['offline'], definitional: true,
  },
  {
    id: 'RFC4755-5.1-b', rfc: 4755, section: '5.1', level: 'MUST', keyword: 'BCP14',
    summary: 'The REQ\'s private data includes the Receive MTU, the largest packet the requester can accept.',
    check: 'Decode the DUT REQ: Receive MTU > 0 and matches the DUT\'s CM MTU + 4.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4755-5.1-c', rfc: 4755, section: '5.1', level: 'MUST', keyword: 'BCP14',
    summary: 'The requester must also cope with a smaller MTU.',
    check: 'Peer REP advertises 2048: the DUT keeps the connection and limits IP packets on it to 2044.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4755-5.1-d', rfc: 4755, section: '5.1', level: 'FACT', keyword: 'none',
    summary: 'Using the mechanism is optional. If used, both ends take the smaller of the two Receive MTUs.',
    check: 'No separate check; covered through the rows it qualifies.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4755-5.1-e', rfc: 4755, section: '5.1', level: 'MUST', keyword: 'lc',
    summary: 'The IP MTU on the connection is that value minus the 4-octet header.',
    check: 'Peer REP Receive MTU 4000: a DUT DF packet of 3996 octets goes over RC; 3997 triggers ICMP/PMTU handling, not a silent drop.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4755-6-a', rfc: 4755, section: '6', level: 'MUST', keyword: 'lc',
    summary: 'The private data of every connection-establishment CM message must contain the sender\'s UD QPN and its supported Receive MTU.',
    check: 'As 3.2-g and 5.1-b.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4755-6-b', rfc: 4755, section: '6', level: 'MUST', keyword: 'BCP14',
    summary: 'Private-data layout: 1 reserved octet, 24-bit UD QPN, then a 32-bit Receive MTU.',
    check: 'Decode the DUT REQ, REP and REJ.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4755-6-c', rfc: 4755, section: '6', level: 'MUST', keyword: 'BCP14',
    summary: 'The reserved octet is sent as zero.',
    check: 'DUT REQ/REP/REJ.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4755-6-d', rfc: 4755, section: '6', level: 'MUST', keyword: 'BCP14',
    summary: 'The reserved octet is ignored on receipt.',
    check: 'Peer REQ with octet 0 = 0xFF: the DUT accepts and uses QPN = octets 1-3 (the Linux `ipoib_cm_data` comment requires this).',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4755-7-a', rfc: 4755, section: '7', level: 'MAY', keyword: 'BCP14',
    summary: 'An interface may send and receive over RC, UC or UD, depending on what it and the peer both support.',
    check: 'No separate check; covered through the rows it qualifies.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4755-7-b', rfc: 4755, section: '7', level: 'MUST', keyword: 'BCP14',
    summary: 'A conforming implementation accepts IP unicast on every IPoIB mode it supports.',
    check: 'With an RC connection up, the peer sends an ICMP echo over UD to the DUT\'s UD QPN: the DUT answers. Also the reverse: RC data from a peer while the DUT still prefers UD.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4755-7-c', rfc: 4755, section: '7', level: 'FACT', keyword: 'none',
    summary: 'Multicast and broadcast always use the UD QP.',
    check: 'As 2.1-b.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4755-7-d', rfc: 4755, section: '7', level: 'MUST', keyword: 'BCP14',
    summary: 'ARP and ND responses are always sent in UD packets.',
    check: 'With an RC connection up, the peer sends an ARP request / NS: the DUT\'s reply lands on the peer\'s UD QP, not the RC QP.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4755-7.1-a', rfc: 4755, section: '7.1', level: 'FACT', keyword: 'none',
    summary: 'RC retransmits lost packets until the whole message arrives, which can outlast upper-layer timers (TCP then enters slow start, and other protocols may add retransmissions).',
    check: 'No check of its own: a definition or design note.',
    fabrics: ['offline'], definitional: true,
  },
  {
    id: 'RFC4755-7.1-b', rfc: 4755, section: '7.1', level: 'SHOULD', keyword: 'lc',
    summary: 'RC timer values should be short compared with the minimum timers of upper end-to-end transports; RC over long or highly variable latency fabrics is a concern.',
    check: 'Decode the timeout and retry fields in the DUT REQ; compare the worst-case retry time with a 200 ms TCP minimum RTO.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4755-7.2-a', rfc: 4755, section: '7.2', level: 'MAY', keyword: 'lc',
    summary: 'MTUs may differ per destination (negotiated, or UD vs CM). An implementation may set a large interface MTU and lower it per destination in a route or neighbour cache.',
    check: 'CM DUT (MTU 65520) to a UD-only peer: large packets must be cut to 2044 via ICMP Frag-Needed / Packet-Too-Big (D6), not silently dropped.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4755-7.2-b', rfc: 4755, section: '7.2', level: 'MAY', keyword: 'lc',
    summary: 'Or the implementation may not support per-destination MTUs and always use the UD MTU from the broadcast group.',
    check: 'Record which model the DUT uses.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4755-8-a', rfc: 4755, section: '8', level: 'FACT', keyword: 'none',
    summary: 'A spoofer can advertise false flags or bogus QPNs during address resolution, causing needless connection attempts and delay or disruption.',
    check: 'Probe P-CM-6 (RC flag without a listener).',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4755-9-a', rfc: 4755, section: '9', level: 'MUST', keyword: 'BCP14',
    summary: 'Any future use of reserved bits or octets in the address flags, the Service-ID or the private data must be defined by RFC.',
    check: 'Process rule.',
    fabrics: ['offline'], definitional: true,
  },
  {
    id: 'RFC4755-9-b', rfc: 4755, section: '9', level: 'MUST', keyword: 'lc',
    summary: '(Restated) reserved bits are sent as zero.',
    check: 'See 3.1-c, 3.5-d, 6-c.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4390-1-a', rfc: 4390, section: '1', level: 'FACT', keyword: 'none',
    summary: 'DHCP\'s `chaddr` holds 16 octets but the IPoIB address needs 20, so a server cannot use `chaddr` to unicast to an unconfigured client.',
    check: 'No check of its own: a definition or design note.',
    fabrics: ['offline'], definitional: true,
  },
  {
    id: 'RFC4390-2-a', rfc: 4390, section: '2', level: 'MUST', keyword: 'BCP14',
    summary: 'When ARP cannot be used (the client does not yet know its IP address), the client asks for broadcast replies by setting the BROADCAST flag.',
    check: 'Capture the DUT DHCPDISCOVER on the broadcast MGID (IPv4 dst 255.255.255.255, UDP 68 to 67): flags = 0x8000.',
    fabrics: ['sim', 'rxe', 'ib'], partialOn: ['rxe'],
  },
  {
    id: 'RFC4390-2-b', rfc: 4390, section: '2', level: 'FACT', keyword: 'none',
    summary: 'RFC 1542 discourages broadcast replies, but IPoIB needs them. RFC 2131\'s random 1-10 s delay before discovery also spreads out the resulting broadcast replies.',
    check: 'Measure the DUT\'s delay from link-up to its first DISCOVER (informational).',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4390-2-c', rfc: 4390, section: '2', level: 'MUST', keyword: 'lc',
    summary: 'Because `chaddr` cannot identify the client, some other unique client identifier must be used.',
    check: 'No separate check; covered through the rows it qualifies.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4390-2-d', rfc: 4390, section: '2', level: 'MUST', keyword: 'lc',
    summary: 'The client identifier must be unique within the client\'s subnet.',
    check: 'Two DUT interfaces (different ports or P_Keys) present different option-61 values.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4390-2-e', rfc: 4390, section: '2', level: 'SHOULD', keyword: 'lc',
    summary: 'If the client identifier holds a hardware address, its type should be an IANA ARP hardware type (32 for IB).',
    check: 'Superseded in practice by RFC4390-2.1-e (RFC 4361 form); flag type-32 identifiers as legacy.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4390-2.1-a', rfc: 4390, section: '2.1', level: 'MUST', keyword: 'BCP14',
    summary: '`htype` = 32.',
    check: 'DUT DISCOVER / REQUEST.',
    fabrics: ['sim', 'rxe', 'ib'], partialOn: ['rxe'],
  },
  {
    id: 'RFC4390-2.1-b', rfc: 4390, section: '2.1', level: 'MUST', keyword: 'BCP14',
    summary: '`hlen` = 0.',
    check: 'DUT DISCOVER / REQUEST.',
    fabrics: ['sim', 'rxe', 'ib'], partialOn: ['rxe'],
  },
  {
    id: 'RFC4390-2.1-c', rfc: 4390, section: '2.1', level: 'MUST', keyword: 'BCP14',
    summary: '`chaddr` is all zeros.',
    check: 'DUT DISCOVER / REQUEST.',
    fabrics: ['sim', 'rxe', 'ib'], partialOn: ['rxe'],
  },
  {
    id: 'RFC4390-2.1-d', rfc: 4390, section: '2.1', level: 'MUST', keyword: 'BCP14',
    summary: 'DHCP messages carry the client-identifier option.',
    check: 'Present in every DUT DHCP message.',
    fabrics: ['sim', 'rxe', 'ib'], partialOn: ['rxe'],
  },
  {
    id: 'RFC4390-2.1-e', rfc: 4390, section: '2.1', level: 'MUST', keyword: 'BCP14',
    summary: 'The client identifier follows RFC 4361 (node-specific identifier).',
    check: 'Decode DUT option 61: first octet 0xFF, then a 4-octet IAID, then a DUID (type 1 / 2 / 3 / 4).',
    fabrics: ['sim', 'rxe', 'ib'], partialOn: ['rxe'],
  },
  {
    id: 'RFC4390-2.2-a', rfc: 4390, section: '2.2', level: 'MUST', keyword: 'BCP14',
    summary: 'A client on IPoIB sets the BROADCAST flag and a zero `ciaddr` in DHCPDISCOVER and DHCPREQUEST, so the server or relay broadcasts its reply.',
    check: 'DUT DISCOVER and SELECTING/INIT-REBOOT REQUEST.',
    fabrics: ['sim', 'rxe', 'ib'], partialOn: ['rxe'],
  },
  {
    id: 'RFC4390-2.2-b', rfc: 4390, section: '2.2', level: 'MUST', keyword: 'BCP14',
    keywordNote: 'restating RFC 2131',
    summary: 'In BOUND, RENEWING and REBINDING the client fills `ciaddr` with its own address.',
    check: 'Let the lease reach T1: the DUT\'s unicast REQUEST carries `ciaddr`.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4390-2.2-c', rfc: 4390, section: '2.2', level: 'MUST NOT', keyword: 'BCP14',
    summary: 'In those states the BROADCAST flag is not set; the server unicasts the DHCPACK to `ciaddr`, and the link address is resolved with ARP.',
    check: 'Renewing REQUEST from the DUT has flags 0. The peer server first ARPs for the DUT: the DUT must answer and then accept the unicast ACK.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4390-2.2-d', rfc: 4390, section: '2.2', level: 'FACT', keyword: 'none',
    summary: 'Reading note: 2.2-a says "DHCPREQUEST" without naming states, while 2.2-c excludes renew/rebind; the suite applies 2.2-a only to SELECTING and INIT-REBOOT.',
    check: 'Test-design note.',
    fabrics: ['offline'], definitional: true,
  },
  {
    id: 'RFC4390-2.2-e', rfc: 4390, section: '2.2', level: 'FACT', keyword: 'none',
    summary: 'So a server or relay answering a flagged client sends to 255.255.255.255, which on IPoIB is the broadcast-GID.',
    check: 'Server-side DUT: the peer client sends a flagged DISCOVER and the DUT\'s OFFER appears on the broadcast MGID.',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'RFC4390-3-a', rfc: 4390, section: '3', level: 'FACT', keyword: 'none',
    summary: 'No security issues beyond those of RFC 2131.',
    check: 'No check of its own: a definition or design note.',
    fabrics: ['offline'], definitional: true,
  },
];

/** Updates from later RFCs (not counted in the per-RFC totals). */
export const RFC_UPDATES: readonly RequirementUpdate[] = [
  {
    id: 'RFC8064-upd-a', rfc: 8064, section: 'upd', level: 'SHOULD', keyword: 'BCP14',
    keywordNote: 'wording UNVERIFIED; from abstract',
    summary: 'For stable SLAAC addresses, RFC 8064 (which updates RFC 4391) recommends RFC 7217 opaque IIDs and advises against IIDs that embed a stable link-layer identifier such as the GUID.',
    check: 'Send an RA with a prefix; the DUT\'s stable global address IID is not GUID-derived (RFC 7217 mode). Report the mode either way.',
    fabrics: ['sim', 'ib'],
  },
];

/** Linux ib_ipoib on both the sim lab (the reference stack mirrors it) and real HCAs; never rxe (ib_ipoib does not bind RoCE ports). */
const LINUX_FABRICS: readonly Fabric[] = ['sim', 'ib'];

/**
 * The Linux ib_ipoib interface rows (kernel-ipoib.md), by area. Every check reads the DUT through
 * its adapter (sysfs, netlink, debugfs, ethtool, module parameters on a kernel DUT; ipoibctl on
 * the reference stack) and, where the row is about the fabric, the SA or the tap.
 */
export const LINUX_REQUIREMENTS: readonly LinuxRequirement[] = [
  {
    id: 'LINUX-CHILD-a', source: 'linux', area: 'CHILD', section: '1', level: 'MUST',
    summary: 'create_child on a parent makes a child named after the parent (at most 10 characters of it), a dot and the written value as four hex digits; kernels before the uniqueness rework used the value with 0x8000 already ORed in.',
    check: 'Write 0x8001 and 0x0001 to create_child: <parent>.8001 and <parent>.0001 (or <parent>.8001 on older kernels) appear among the interfaces.',
    fabrics: LINUX_FABRICS,
  },
  {
    id: 'LINUX-CHILD-b', source: 'linux', area: 'CHILD', section: '1', level: 'MUST',
    summary: 'Every IPoIB interface holds its P_Key with the full-membership bit set, whatever was asked for: a child asked for 0x0001 has P_Key 0x8001, in its pkey, its broadcast address and its broadcast MGID.',
    check: 'Make children with 0x8001 and 0x0001 (create_child and netlink) and read back their pkey and broadcast address.',
    fabrics: LINUX_FABRICS,
  },
  {
    id: 'LINUX-CHILD-c', source: 'linux', area: 'CHILD', section: '1', level: 'MUST',
    summary: 'create_child refuses 0 and 0x8000 (no partition) with EINVAL and makes no interface.',
    check: 'Write 0 and 0x8000 to create_child: EINVAL each time, and the interface list is unchanged.',
    fabrics: LINUX_FABRICS,
  },
  {
    id: 'LINUX-CHILD-d', source: 'linux', area: 'CHILD', section: '1', level: 'MUST',
    summary: 'create_child compares the value as written with the parent\'s P_Key and the stored P_Keys of create_child children: a match is ENOTUNIQ. A value that passes but whose name is taken is EEXIST, so 0x0001 beside <parent>.8001 succeeds.',
    check: 'With <parent>.8001 present: 0x8001 again and the parent\'s own P_Key give ENOTUNIQ; 0x0001 makes <parent>.0001 in partition 0x8001; 0x0001 again gives EEXIST.',
    fabrics: LINUX_FABRICS,
  },
  {
    id: 'LINUX-CHILD-e', source: 'linux', area: 'CHILD', section: '1', level: 'MUST',
    summary: 'A new child starts administratively down, in datagram mode with umcast off. It shares the parent\'s port GID but has a UD QP of its own, so its address carries another QPN.',
    check: 'Read a new child\'s state and address: down, datagram, umcast 0, the parent\'s GID, a QPN other than the parent\'s.',
    fabrics: LINUX_FABRICS,
  },
  {
    id: 'LINUX-CHILD-f', source: 'linux', area: 'CHILD', section: '1', level: 'MUST',
    summary: 'delete_child removes the create_child child whose stored (0x8000-ORed) P_Key equals the value written; with none it answers ENODEV, and it never removes netlink children.',
    check: 'A child made with 0x0001: delete_child 0x0001 gives ENODEV, 0x8001 removes it. delete_child of a P_Key only netlink children hold gives ENODEV and they stay.',
    fabrics: LINUX_FABRICS,
  },
  {
    id: 'LINUX-NETLINK-a', source: 'linux', area: 'NETLINK', section: '2', level: 'MUST',
    summary: 'A netlink child (ip link add … type ipoib) gets the name asked for (ipoib<N> without one), the P_Key asked for with 0x8000 ORed in (the parent\'s without one), and the mode and umcast asked for.',
    check: 'Add a named child with P_Key 0x0001 and an unnamed one without a P_Key; read back name, pkey, parent, mode, umcast and broadcast address.',
    fabrics: LINUX_FABRICS,
  },
  {
    id: 'LINUX-NETLINK-b', source: 'linux', area: 'NETLINK', section: '2', level: 'MUST',
    summary: 'Netlink children may share a P_Key. A taken name is EEXIST, P_Key 0 or 0x8000 is EINVAL, and a child of a child is EINVAL.',
    check: 'Two netlink children in 0x8001 both succeed; a taken name, P_Key 0, P_Key 0x8000 and a child whose link is a child are refused with those errors and make nothing.',
    fabrics: LINUX_FABRICS,
  },
  {
    id: 'LINUX-NETLINK-c', source: 'linux', area: 'NETLINK', section: '2', level: 'MUST',
    summary: 'A netlink child asked for connected mode on a port whose address lacks the RC flag is refused with EINVAL and removed again: no device is left behind.',
    check: 'Without the RC flag in the parent\'s address, add a child with mode connected: EINVAL, and no interface of that name exists afterwards.',
    fabrics: LINUX_FABRICS,
  },
  {
    id: 'LINUX-NETLINK-d', source: 'linux', area: 'NETLINK', section: '2', level: 'MUST',
    summary: 'A netlink child is an IPoIB interface like a create_child one: set up, it joins its partition\'s broadcast group, gets carrier and the group\'s MTU - 4, and carries IP traffic in its partition.',
    check: 'Set up a netlink child in 0x8001 with an address while the peer has a create_child child there: carrier, MTU, the SA lists the DUT in the group, and pings cross.',
    fabrics: LINUX_FABRICS,
  },
  {
    id: 'LINUX-ATTR-a', source: 'linux', area: 'ATTR', section: '1', level: 'MUST',
    summary: 'pkey reads the P_Key with 0x8000 set; a parent\'s is entry 0 of the port\'s P_Key table (with that bit), a child\'s the one it was made with.',
    check: 'Compare the parent\'s pkey with index 0 of the port\'s table as the SM set it, and each child\'s with its request ORed with 0x8000.',
    fabrics: LINUX_FABRICS,
  },
  {
    id: 'LINUX-ATTR-b', source: 'linux', area: 'ATTR', section: '1', level: 'MUST',
    summary: 'A child reports the parent it was made on (sysfs parent for create_child children, the netlink link for netlink children); a parent reports none.',
    check: 'Read the parent of a create_child child, of a netlink child and of the parent itself.',
    fabrics: LINUX_FABRICS,
  },
  {
    id: 'LINUX-MODE-a', source: 'linux', area: 'MODE', section: '1', level: 'MUST',
    summary: 'mode reads datagram by default. Connected mode needs the RC flag (0x80) in the interface\'s own address: without it the switch is EINVAL and mode and MTU stay as they were.',
    check: 'Read mode; where the address lacks 0x80, ask for connected: EINVAL, then mode and MTU unchanged.',
    fabrics: LINUX_FABRICS,
  },
  {
    id: 'LINUX-MODE-b', source: 'linux', area: 'MODE', section: '1', level: 'MUST',
    summary: 'Switching to connected mode sets the MTU to 65520; switching back to datagram sets it to the smaller of the broadcast group\'s MTU - 4 and the MTU it had.',
    check: 'On an interface whose address carries 0x80: switch to connected (MTU 65520), then back to datagram (MTU = group MTU - 4).',
    fabrics: LINUX_FABRICS,
  },
  {
    id: 'LINUX-UMCAST-a', source: 'linux', area: 'UMCAST', section: '1', level: 'MUST',
    summary: 'umcast reads 0 by default and reads back what was written (any positive value sets it); a netlink child made with umcast 1 has it set.',
    check: 'Read umcast, write 1 and 0 and read back; make a netlink child with umcast 1 and read it.',
    fabrics: LINUX_FABRICS,
  },
  {
    id: 'LINUX-MTU-a', source: 'linux', area: 'MTU', section: '6', level: 'MUST',
    summary: 'In datagram mode the MTU in use is the broadcast group\'s IB MTU - 4 once joined: 2044 on a 2048-octet group, 4092 on a 4096-octet one.',
    check: 'Compare the MTU of the parent and of a child on a 4096-octet partition with their groups\' MTU in the SA.',
    fabrics: LINUX_FABRICS,
  },
  {
    id: 'LINUX-MTU-b', source: 'linux', area: 'MTU', section: '6', level: 'MUST',
    summary: 'A datagram-mode MTU request below 72 or above the port\'s IB MTU - 4 is refused with EINVAL; requests between are accepted.',
    check: 'Ask for 71, 72, the port MTU - 4 and one more: EINVAL, ok, ok, EINVAL.',
    fabrics: LINUX_FABRICS,
  },
  {
    id: 'LINUX-MTU-c', source: 'linux', area: 'MTU', section: '6', level: 'MUST',
    summary: 'An accepted request above the broadcast group\'s MTU - 4 is remembered but clamped: the MTU in use stays the group\'s MTU - 4 while smaller requests apply as asked.',
    check: 'On a 2048-octet group with a 4096-octet port, ask for 4092: accepted, MTU 2044; ask for 1500: MTU 1500.',
    fabrics: LINUX_FABRICS,
  },
  {
    id: 'LINUX-DEBUGFS-a', source: 'linux', area: 'DEBUGFS', section: '3', level: 'SHOULD',
    summary: '<if>_mcg has one record per multicast group of the interface, the broadcast and send-only groups included, in MGID order, each with its creation time, queue length, complete (joined) and send_only.',
    check: 'Parse _mcg after a send to a new group: records in MGID order, complete groups equal to the SA\'s for the DUT, send_only matching the JoinState.',
    fabrics: LINUX_FABRICS,
  },
  {
    id: 'LINUX-DEBUGFS-b', source: 'linux', area: 'DEBUGFS', section: '3', level: 'SHOULD',
    summary: '<if>_path has one record per unicast path in GID order, each with complete and, once complete, the DLID, SL and rate of the path record the SA gave.',
    check: 'Parse _path after a ping to the peer: the peer\'s GID is listed, complete, with the DLID, SL and rate the SA gives for it.',
    fabrics: LINUX_FABRICS,
  },
  {
    id: 'LINUX-ETHTOOL-a', source: 'linux', area: 'ETHTOOL', section: '4', level: 'MUST',
    summary: 'ethtool -S of an IPoIB interface has the eight counters rx_packets, tx_packets, rx_bytes, tx_bytes, tx_errors, rx_dropped, tx_dropped and multicast.',
    check: 'Read the counters of the DUT interface and look for each of the eight names.',
    fabrics: LINUX_FABRICS,
  },
  {
    id: 'LINUX-ETHTOOL-b', source: 'linux', area: 'ETHTOOL', section: '4', level: 'SHOULD',
    summary: 'The counters follow the traffic: tx_bytes count the 4-octet IPoIB header and rx_bytes do not, multicast counts accepted frames to groups other than the broadcast group, and clean traffic moves no error or drop counter.',
    check: 'Around a unicast and a group ping, compare each counter\'s change with what the tap saw the DUT send and accept.',
    fabrics: LINUX_FABRICS,
  },
  {
    id: 'LINUX-PKEY-a', source: 'linux', area: 'PKEY', section: '6', level: 'MUST',
    summary: 'An interface whose P_Key is missing from the port\'s table can still be set up: the request succeeds, and the interface stays administratively up without carrier, joining nothing.',
    check: 'Make a child for a P_Key the DUT port lacks and set it up: accepted, admin up, no carrier, no SA join, no frames in that partition.',
    fabrics: LINUX_FABRICS,
  },
  {
    id: 'LINUX-PKEY-b', source: 'linux', area: 'PKEY', section: '6', level: 'MUST',
    summary: 'When a P_Key change event brings the missing P_Key into the port\'s table, such an interface joins its broadcast group and carrier comes on.',
    check: 'Have the SM add the P_Key to the DUT port\'s table: carrier within seconds, and the SA lists the DUT in the partition\'s broadcast group.',
    fabrics: LINUX_FABRICS,
  },
  {
    id: 'LINUX-DEBUG-a', source: 'linux', area: 'DEBUG', section: '5', level: 'SHOULD',
    summary: 'The debug levels (module parameters debug_level and mcast_debug_level, present when the driver is built with debugging) can be changed while the driver runs and read back.',
    check: 'Read each level the DUT has, raise it, read it back, put it back and read again.',
    fabrics: LINUX_FABRICS,
  },
  {
    id: 'LINUX-DEBUG-b', source: 'linux', area: 'DEBUG', section: '5', level: 'SHOULD',
    summary: 'A raised debug level makes the driver log events it is silent about at level 0, and lowering it again silences them.',
    check: 'Provoke the same kind of event at level 0, raised and lowered again, each time with a fresh token: only the raised round shows it in the log.',
    fabrics: LINUX_FABRICS,
  },
];

/** Known deviations of deployed stacks from the RFCs (research §0.4), shortened in our own words. */
export const FINDINGS: readonly Finding[] = [
  {
    id: 'D1', topic: 'IPoIB-CM Service-ID top octet',
    rfcSays: 'The RFC 4755 §3.5 figure puts 0x01 in octet 0 of the Service-ID (0x0100_0000_00QQ_QQQQ).',
    deployedDoes: 'Linux ipoib_cm listens on and connects to 0x1000_0000_00QQ_QQQQ (octet 0 = 0x10).',
    suiteAction: 'Keep the expected prefix configurable, report both, and probe which prefix the DUT accepts.',
    relatedIds: ['RFC4755-3.5-a', 'RFC4755-3.5-b'],
  },
  {
    id: 'D2', topic: 'IPv6 interface identifier from the GUID',
    rfcSays: 'Flip the u bit only when the GUID is an unmodified EUI-64; leave an already-modified one alone.',
    deployedDoes: 'Linux copies the GUID and always sets bit 0x02 of its first octet, never clearing it.',
    suiteAction: 'Test with a GUID whose 0x02 bit is already set (sim, or an SR-IOV VF GUID); only then do the two differ.',
    relatedIds: ['RFC4391-8-e', 'RFC4391-8-f', 'RFC4391-8-g'],
  },
  {
    id: 'D3', topic: 'Broadcast group Q_Key',
    rfcSays: 'A controlled Q_Key (top bit set) is recommended for the broadcast group.',
    deployedDoes: 'Linux and libvma default to Q_Key 0x00000B1B, which is not controlled.',
    suiteAction: 'Report as a SHOULD-level finding, not as a failure.',
    relatedIds: ['RFC4391-4.1-b'],
  },
  {
    id: 'D4', topic: 'Reserved bits in the header and the address',
    rfcSays: 'Reserved header bits and address flag bits are sent as zero and ignored on receipt.',
    deployedDoes: 'MLNX_OFED TSS/RSS sets flag 0x20 in address octet 0 and uses the reserved header field.',
    suiteAction: 'A DUT must interoperate with such peers; the robustness probes inject these values.',
    relatedIds: ['RFC4391-6-b', 'RFC4391-6-c', 'RFC4391-9.1.1-d', 'RFC4391-9.1.1-e', 'RFC4755-3.1-c', 'RFC4755-3.1-d'],
  },
  {
    id: 'D5', topic: 'UC flag in the link-layer address',
    rfcSays: 'An address may advertise RC (0x80), UC (0x40) or both.',
    deployedDoes: 'Linux supports RC only and looks at bit 0x80 alone.',
    suiteAction: 'Probe the DUT with a UC-only peer: it must fall back to UD.',
    relatedIds: ['RFC4755-3.1-b', 'RFC4755-3.1-e', 'RFC4755-8-a'],
  },
  {
    id: 'D6', topic: 'Connected-mode MTU',
    rfcSays: 'Connected mode allows very large messages, negotiated per connection.',
    deployedDoes: 'Linux caps the CM IP MTU at 65520 and answers over-long packets to UD-only neighbours with a local ICMP too-big.',
    suiteAction: 'Use that behaviour as the oracle of the path-MTU probes.',
    relatedIds: ['RFC4755-5-d', 'RFC4755-7.2-a'],
  },
  {
    id: 'D7', topic: 'RFC 8064 and stable interface identifiers',
    rfcSays: 'RFC 8064 updates RFC 4391 §8: stable addresses should use RFC 7217 identifiers, not the GUID.',
    deployedDoes: 'The kernel still derives the identifier from the GUID unless addr_gen_mode is changed.',
    suiteAction: 'Treat the GUID recommendation as superseded for stable global addresses; link-local rows still apply in EUI-64 mode.',
    relatedIds: ['RFC4391-8-d', 'RFC8064-upd-a'],
  },
  {
    id: 'D8', topic: 'Multicast create/delete traps',
    rfcSays: 'Multicast senders subscribe to the SA traps for group creation and deletion (66 and 67).',
    deployedDoes: 'Not verified for Linux ipoib, which seems to re-join after SM events instead.',
    suiteAction: 'Expect findings; check on the simulated fabric by logging InformInfo requests.',
    relatedIds: ['RFC4391-10-i'],
  },
];

/** Robustness probes (research §6.2): stimulus from the peer and what the DUT should do. */
export const ROBUSTNESS_PROBES: readonly RobustnessProbe[] = [
  {
    id: 'P-ENC-1',
    summary: 'Short frames: UD messages of 0, 1, 2, 3 octets, and exactly 4 (header, no payload)',
    expected: 'silent drop; error counter; no crash or read past the buffer',
    fabrics: ['sim', 'rxe', 'ib'], partialOn: ['rxe'],
  },
  {
    id: 'P-ENC-2',
    summary: 'Unknown EtherType: Type 0x0000, 0xFFFF, 0x8100 (VLAN), 0x88CC (LLDP), 0x88B5 (local experimental), 0x0806 over RC',
    expected: 'drop (or deliver to a raw socket), no state change; over RC the connection must survive',
    fabrics: ['sim', 'rxe', 'ib'], partialOn: ['rxe'],
  },
  {
    id: 'P-ENC-3',
    summary: 'Reserved field: Reserved = 0xFFFF / 0x0001 / TSS-style values on valid IPv4/IPv6/ARP',
    expected: 'must be accepted normally (RFC4391-6-c; D4)',
    fabrics: ['sim', 'rxe', 'ib'], partialOn: ['rxe'],
  },
  {
    id: 'P-ENC-4',
    summary: 'Type/payload mismatch: Type 0x0800 carrying an IPv6 packet; Type 0x86DD carrying IPv4; Type 0x0806 with an IPv4 packet',
    expected: 'dropped by the L3 demultiplexer, no misparse',
    fabrics: ['sim', 'rxe', 'ib'], partialOn: ['rxe'],
  },
  {
    id: 'P-ENC-5',
    summary: 'Length mismatch: IP total length greater than the UD payload (truncated); UD payload longer than the IP length (trailing junk)',
    expected: 'truncated: drop; trailing: trim or accept per IP rules',
    fabrics: ['sim', 'rxe', 'ib'], partialOn: ['rxe'],
  },
  {
    id: 'P-ENC-6',
    summary: 'Oversize: UD message larger than broadcast MTU + 4 but within the path IB MTU (e.g. 4096 on a 2048 link); IPv4 fragments reassembling above the MTU',
    expected: 'accept or drop, but no buffer overrun; record the policy',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'P-GRH-1',
    summary: 'GRH variants: unicast with and without GRH; GRH whose DGID is not the DUT\'s GID; SGID that does not match the source LID; multicast without GRH (sim only)',
    expected: 'with/without: accepted (RFC4391-6-h); bad DGID: HCA or driver drops; record',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'P-ARP-1',
    summary: 'Bad lengths and types: hlen 6, 16, 0, 255; plen 0, 16; htype 1 (Ethernet) or 6; ptype 0x86DD; op 0, 3, 4 (RARP), 8, 9 (InARP), 0xFFFF; ARP body truncated below 8 + 2*(hlen+plen)',
    expected: 'drop, no cache entry, no reply to malformed requests',
    fabrics: ['sim', 'rxe', 'ib'], partialOn: ['rxe'],
  },
  {
    id: 'P-ARP-2',
    summary: 'Odd addresses: sha with QPN 0, 1 or 0xFFFFFF; sha GID multicast (FFxx) or all-zero; sha GID with a foreign subnet prefix; sha flags 0xFF',
    expected: 'QPN 0/1/0xFFFFFF and multicast/zero GIDs should be rejected (not cached); flags ignored (RFC4391-9.1.1-e)',
    fabrics: ['sim', 'rxe', 'ib'], partialOn: ['rxe'],
  },
  {
    id: 'P-ARP-3',
    summary: 'QPN churn and spoofing: gratuitous ARP moving the peer\'s IP to a new QPN or GID; the same IP claimed from two QPNs',
    expected: 'cache update policy recorded; DUT traffic follows; no flapping crash',
    fabrics: ['sim', 'rxe', 'ib'], partialOn: ['rxe'],
  },
  {
    id: 'P-ARP-4',
    summary: 'Misdirected reply: ARP reply sent to the DUT via the broadcast MGID instead of unicast; reply to a request the DUT never sent',
    expected: 'accepted or ignored per stack policy; record',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'P-ND-1',
    summary: 'Bad link-layer address option: SLLA/TLLA with len 1, 2 (Ethernet size), 4; len 0 (RFC 4861 says discard the packet); non-zero pad octets 2-3; flags bits set',
    expected: 'len 0: discard; wrong len: ignore the option or packet, no garbage neighbour entry; pad/flags: record (ignoring is lenient)',
    fabrics: ['sim', 'rxe', 'ib'], partialOn: ['rxe'],
  },
  {
    id: 'P-MC-1',
    summary: 'Unknown multicast: peer creates and sends to an IPoIB MGID the DUT never joined (the HCA should not deliver); DUT joined MGID carrying an IP destination the DUT does not listen to',
    expected: 'nothing delivered / IP-layer drop',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'P-MC-2',
    summary: 'Signature and flag mismatch: IPv4 payload sent on a 0x601B group; IPv6 on 0x401B; MGID with T=0 or the wrong scope',
    expected: 'drop or ignore; the DUT never joins T=0 groups',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'P-MC-3',
    summary: 'IPv6 many-to-one: DUT listens on ff02::1:3 while the peer sends ff05::1:3 (same MGID)',
    expected: 'the IPv6 layer filters on the full destination',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'P-MC-4',
    summary: 'Own traffic looped back: DUT\'s own multicast (ARP, NS) delivered back to it by the fabric',
    expected: 'must be recognised as self (source QPN and LID / GID) and dropped; no DAD false positive',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'P-MC-5',
    summary: 'SM churn: SM restart, P_Key table change, client re-register, broadcast group deleted and re-created with a new Q_Key or MTU',
    expected: 'DUT re-joins; adopts the new Q_Key/MTU; logs failures (RFC4391-12-b)',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'P-MC-6',
    summary: 'Resource exhaustion: make the DUT join more groups than the HCA MGID/QP-attach limit; SA returns errors or times out',
    expected: 'graceful failure plus a log message',
    fabrics: ['sim', 'ib', 'host'],
  },
  {
    id: 'P-KEY-1',
    summary: 'P_Key mismatch: traffic with a P_Key not in the DUT table; limited-to-limited (0x7FFF to 0x7FFF); same base with a different membership bit; invalid 0x0000/0x8000; traffic for partition A sent to the QP of a partition-B child interface',
    expected: 'dropped by the HCA (P_KeyViolations increments) or driver; never delivered on the wrong child interface',
    fabrics: ['sim', 'rxe', 'ib'], partialOn: ['rxe'],
  },
  {
    id: 'P-KEY-2',
    summary: 'Q_Key mismatch: correct P_Key but Q_Key ≠ broadcast Q_Key; controlled Q_Key put in the WR by an unprivileged sender',
    expected: 'dropped (Q_KeyViolations increments); controlled-Q_Key spoof not delivered',
    fabrics: ['sim', 'rxe', 'ib'], partialOn: ['rxe'],
  },
  {
    id: 'P-CM-1',
    summary: 'Bad Service-ID: REQ to SID with prefix 0x01 vs 0x10 (D1), Type ≠ 0, reserved ≠ 0, QPN ≠ DUT UD QPN',
    expected: 'REJ (reason 8) or silence; no crash; record which prefixes are accepted',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'P-CM-2',
    summary: 'Bad private data: REQ with private data shorter than 8 octets, reserved octet ≠ 0, UD QPN 0 or 0xFFFFFF, Receive MTU 0, < 1280, 0xFFFFFFFF, not matching any IB MTU',
    expected: 'reserved ignored; nonsense MTU leads to REJ or a fallback to UD; no crash',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'P-CM-3',
    summary: 'REQ crossing: simultaneous REQs in both directions with known address ordering',
    expected: 'exactly one connection survives; the loser sends REJ reason 28 with its UD QPN (RFC4755-3.3-a)',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'P-CM-4',
    summary: 'Duplicates and teardown: a second REQ on the same SID; DREQ mid-transfer; RC QP errors (peer QP destroyed)',
    expected: 'MAY-level choice recorded; after teardown the DUT falls back to UD or reconnects; no traffic black hole',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'P-CM-5',
    summary: 'REQ when CM off: REQ to a DUT whose address flags are 0x00',
    expected: 'REJ or ignore; UD keeps working',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'P-CM-6',
    summary: 'False flags: peer advertises RC (0x80) but has no CM listener, or UC-only (0x40)',
    expected: 'the DUT\'s REQ gets a REJ or times out, then the DUT must fall back to UD (RFC4755-8-a; D5)',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'P-PMTU-1',
    summary: 'UD MTU edge: IPv4 DF and IPv6 packets of MTU and MTU+1 between the peer and the DUT (UD 2044; CM negotiated)',
    expected: 'MTU passes; MTU+1 draws ICMP Frag-Needed (type 3 code 4, next-hop MTU) or ICMPv6 Packet-Too-Big (type 2, MTU field) from whichever node sends too large',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'P-PMTU-2',
    summary: 'Mixed UD/CM: CM DUT (large MTU) sends large packets to a UD-only peer',
    expected: 'the DUT lowers the per-destination MTU and emits ICMP towards its own stack, or fragments (IPv4, no DF); never a silent drop (D6, RFC4755-7.2-a)',
    fabrics: ['sim', 'ib'],
  },
  {
    id: 'P-DHCP-1',
    summary: 'Server side: client DISCOVER with hlen 20 or a non-zero `chaddr` (legacy); missing option 61; BROADCAST flag clear',
    expected: 'the DUT server copes: broadcasts the reply, or identifies the client by option 61; record',
    fabrics: ['sim', 'ib'],
  },
];

const BY_ID: ReadonlyMap<string, CatalogueRow> = new Map(
  [...REQUIREMENTS, ...RFC_UPDATES, ...LINUX_REQUIREMENTS].map((r) => [r.id, r] as const),
);

/** The row for `id` (RFC rows, RFC 8064 updates, Linux rows); throws on an unknown ID so a typo in `covers` fails loudly. */
export function requirement(id: string): CatalogueRow {
  const row = BY_ID.get(id);
  if (row === undefined) throw new Error(`unknown requirement ID ${JSON.stringify(id)}`);
  return row;
}

/** Rows of one RFC, optionally of one level (`MUST` does not include `MUST NOT`). */
export function requirementsFor(rfc: Rfc, level?: Level): Requirement[] {
  return REQUIREMENTS.filter((r) => r.rfc === rfc && (level === undefined || r.level === level));
}

/** Rows whose check can be run, at least partly, on `fabric`. */
export function coverableOn(fabric: Fabric): Requirement[] {
  return REQUIREMENTS.filter((r) => r.fabrics.includes(fabric));
}
