/**
 * TEST ONLY: known non-conformances the reference stack can be told to commit (`ipoibd --defect
 * NAME`), so the suites' power can be measured: a meta-run executes the suites against each
 * defect and reports which tests caught it. This file is the one registry: what each defect
 * gets wrong, which catalogue rows it violates (suites/requirements.ts; `requirements` names
 * REQUIREMENTS rows, `probes` ROBUSTNESS_PROBES rows), and how a black-box test sees it.
 *
 * Each defect is one small change at the one place its value is produced (src/ipoib, never the
 * src/wire codecs, which stay correct for the suites). With no defect named, the stack behaves
 * exactly as without this file. A `Defects` value is immutable and handed down to whoever needs
 * it; there is no module-global switch.
 */
import { UsageError } from '../errors.js';

export interface DefectInfo {
  /** One sentence: what is wrong. */
  readonly summary: string;
  /** IDs of catalogue rows (REQUIREMENTS or LINUX_REQUIREMENTS) the defect violates. */
  readonly requirements: readonly string[];
  /** IDs of ROBUSTNESS_PROBES rows whose expectation the defect breaks. */
  readonly probes: readonly string[];
  /** How a black-box test sees it: which frame and field, which state, which traffic outcome. */
  readonly visibleAs: string;
}

export const DEFECTS = {
  'arp-htype-1': {
    summary: 'ARP requests and replies the stack sends carry hardware type 1 (Ethernet) instead of 32 (InfiniBand).',
    requirements: ['RFC4391-9.2-a', 'RFC4391-14-a'],
    probes: [],
    visibleAs: 'htype (ARP octets 0-1) of the DUT\'s ARP on the fabric tap; peers drop its requests and replies, so IPv4 resolution fails both ways.',
  },
  'arp-hlen-6': {
    summary: 'ARP packets the stack sends give hardware length 6 while still carrying 20-octet addresses.',
    requirements: ['RFC4391-9.2-d', 'RFC4391-9.2-c'],
    probes: [],
    visibleAs: 'hlen (ARP octet 4) of the DUT\'s ARP on the tap; peers cannot parse the packet, so IPv4 resolution fails both ways.',
  },
  'mtu-plus-4': {
    summary: 'The interface MTU is the broadcast group\'s IB MTU itself instead of that MTU - 4 (2048 on a 2048 group).',
    requirements: ['RFC4391-7-f', 'RFC4391-7-b'],
    probes: [],
    visibleAs: 'mtu and mcastMtu in ipoibctl show (and the TUN device MTU): 2048 on a 2048 group; full-size host packets leave as 2052-octet UD payloads.',
  },
  'mgid-signature-ipv4': {
    summary: 'IPv4 multicast MGIDs, the broadcast group\'s included, are built with signature 0x401A instead of 0x401B.',
    requirements: ['RFC4391-4-d', 'RFC4391-4-h'],
    probes: [],
    visibleAs: 'MGID octets 2-3 in the DUT\'s SA join requests on the tap; the broadcast group the SM created is never joined, so the DUT stays without carrier.',
  },
  'mgid-signature-ipv6': {
    summary: 'IPv6 multicast MGIDs are built with signature 0x601A instead of 0x601B (the broadcast group is unaffected).',
    requirements: ['RFC4391-4-e'],
    probes: [],
    visibleAs: 'MGIDs of the DUT\'s IPv6 joins (solicited-node, all-nodes) on the tap and in ipoibctl mcg; a peer\'s NS never reaches the DUT, so the peer cannot resolve it over IPv6.',
  },
  'mgid-scope-site': {
    summary: 'The MGIDs of every group but the broadcast group carry scope 5 (site-local) instead of the broadcast group\'s scope 2.',
    requirements: ['RFC4391-4-i'],
    probes: [],
    visibleAs: 'scope nibble (MGID octet 1) of the DUT\'s non-broadcast joins on the tap and in ipoibctl mcg; IPv6 ND and IPv4 multicast from peers never reach the DUT.',
  },
  'mgid-pkey-no-full-bit': {
    summary: 'The P_Key octets of every MGID are written without the 0x8000 full-membership bit (0x7fff in partition 0xffff).',
    requirements: ['RFC4391-4.1-a', 'RFC4392-4.1-b'],
    probes: [],
    visibleAs: 'MGID octets 4-5 in the DUT\'s SA join requests on the tap; the partition\'s broadcast group is never joined, so the DUT stays without carrier.',
  },
  'header-reserved-set': {
    summary: 'Frames the stack sends carry 0x0001 in the IPoIB header\'s reserved field instead of zero (control-plane frames and the native fast path).',
    requirements: ['RFC4391-6-b', 'RFC4391-14-c'],
    probes: [],
    visibleAs: 'octets 2-3 of the IPoIB header of any DUT frame on the tap; a reference peer counts rx_header_reserved_nonzero.',
  },
  'qkey-zero': {
    summary: 'Unicast frames the control plane sends (ARP replies, neighbor advertisements, the first packets to a new neighbour) carry Q_Key 0 instead of the broadcast group\'s Q_Key.',
    requirements: ['RFC4391-9.1.2-d', 'RFC4392-4-c'],
    probes: [],
    visibleAs: 'DETH Q_Key of the DUT\'s ARP replies and NAs on the tap; the peer\'s port drops them (Q_Key mismatch), so the peer cannot resolve the DUT.',
  },
  'bcast-join-send-only': {
    summary: 'The broadcast group is joined with JoinState 0x4 (SendOnlyNonMember) instead of FullMember.',
    requirements: ['RFC4391-5-b', 'RFC4392-4.2.5-c'],
    probes: [],
    visibleAs: 'JoinState of the DUT\'s broadcast join on the tap and in the SA\'s member list; the fabric does not deliver broadcasts to the DUT, so peers\' ARP requests go unanswered.',
  },
  'carrier-before-join': {
    summary: 'Carrier is reported as soon as the broadcast join is sent, before it completes, and stays on when the join fails.',
    requirements: ['RFC4391-2-a', 'RFC4391-5-a'],
    probes: [],
    visibleAs: 'carrier true (LOWER_UP) in ipoibctl show, and the TUN device\'s carrier, while the broadcast group is not joined (e.g. with the SA refusing joins).',
  },
  'nd-option-len-2': {
    summary: 'The IPoIB source/target link-layer option in ND messages the stack sends has length 2 (16 octets, the address cut short) instead of 3.',
    requirements: ['RFC4391-9.3-b', 'RFC4391-9.3-c'],
    probes: [],
    visibleAs: 'length octet of the lladdr option in the DUT\'s NS and NA on the tap; peers find no usable address in them, so IPv6 resolution fails both ways.',
  },
  'linklocal-no-ul-flip': {
    summary: 'The IPv6 link-local interface identifier has its U/L bit (0x02 of octet 0) the other way round from the GUID-derived one: the modified-EUI-64 step is skipped.',
    requirements: ['RFC4391-8-g', 'RFC4391-8.1-a'],
    probes: [],
    visibleAs: 'the fe80:: address in ipoibctl show, the source of the DUT\'s NS, and the solicited-node group it joins, compared with the port GUID.',
  },
  'mcast-echo': {
    summary: 'The stack does not drop its own multicast frames that the fabric delivers back (own LID and QPN), in the control plane and the native receive path.',
    requirements: [],
    probes: ['P-MC-4'],
    visibleAs: 'ipoibctl stats: rx_packets and rx_arp move for the DUT\'s own broadcast ARP requests and rx_own_echo stays 0; the host receives its own multicast packets.',
  },
  'hwaddr-qpn-off': {
    summary: 'The link-layer address the stack advertises (ARP sender address, ND option, ipoibctl show) names its UD QPN + 1.',
    requirements: ['RFC4391-9.1.1-f', 'RFC4391-9.1.1-g'],
    probes: [],
    visibleAs: 'QPN in the DUT\'s ARP sha and ND option on the tap differs from the source QPN in the DETH of the same frame; unicast to the DUT goes to a QP it does not have.',
  },
  'hwaddr-flags-reserved': {
    summary: 'The flags octet of the link-layer address the stack advertises has 0x20, a reserved bit, set (0x20 instead of 0x00, or 0xa0 instead of 0x80 with connected mode).',
    requirements: ['RFC4391-9.1.1-d', 'RFC4391-14-c'],
    probes: [],
    visibleAs: 'octet 0 of the DUT\'s ARP sha and ND option on the tap, and of the address in ipoibctl show.',
  },
  'ignore-pkey-table': {
    summary: 'An interface whose P_Key is absent from the port\'s P_Key table is brought up anyway (a UD QP on index 0, a broadcast join in that partition) instead of waiting without carrier.',
    requirements: ['RFC4391-5-f'],
    probes: [],
    visibleAs: 'SA join requests for the absent partition\'s broadcast MGID on the tap (a conforming stack sends none); ipoibctl show state joining instead of no-pkey, mcast_join_failures rising.',
  },
  'no-trap-subscription': {
    summary: 'The stack never subscribes to the SA\'s multicast group created/deleted reports (traps 66 and 67) for the groups it uses.',
    requirements: ['RFC4391-10-i'],
    probes: [],
    visibleAs: 'no SubnAdmSet(InformInfo) from the DUT on the tap after it starts sending to a group.',
  },
  'cm-service-id-no-prefix': {
    summary: 'Connected mode uses Service IDs without the IETF prefix (0x0000000000QQQQQQ instead of 0x10… or 0x01… | UD QPN), both for the REQs it sends and the ID it listens on.',
    requirements: ['RFC4755-3.5-e', 'RFC4755-3.5-b'],
    probes: ['P-CM-1'],
    visibleAs: 'ServiceID of the DUT\'s CM REQ on the tap has octet 0 = 0x00; a REQ to prefix | DUT UD QPN gets REJ reason 8 (invalid Service ID), so a peer cannot connect to the DUT.',
  },
  'cm-private-data-qpn-off': {
    summary: 'The IPoIB-CM private data of the REQs, REPs and REJs the stack sends names its UD QPN + 1.',
    requirements: ['RFC4755-3.2-g', 'RFC4755-6-a'],
    probes: [],
    visibleAs: 'octets 1-3 of the private data in the DUT\'s CM REQ, REP and REJ on the tap differ from the QPN of its link-layer address (and from the source QPN of its UD frames).',
  },
  'cm-rep-mtu-ignored': {
    summary: 'The active side ignores the receive MTU in the peer\'s REP and sends frames up to its own 65524 octets on the connection.',
    requirements: ['RFC4755-5.1-c', 'RFC4755-5.1-e'],
    probes: [],
    visibleAs: 'after a REP with receive MTU 2048, RC SEND messages from the DUT longer than 2048 octets on that connection on the tap (a conforming DUT sends nothing longer and answers larger host packets with PMTU emulation); the peer\'s QP takes them as a length error.',
  },
  'cm-refuse-connections': {
    summary: 'The link-layer address advertises RC (0x80) and the stack listens, but every REQ is answered with a REJ (consumer-defined).',
    requirements: ['RFC4755-7-b', 'RFC4755-2.3-b'],
    probes: [],
    visibleAs: 'a REQ to prefix | DUT UD QPN (from the address with 0x80) is answered with REJ reason 28 instead of a REP on the tap; a peer in connected mode cannot send IP to the DUT at all (no fallback to UD for an RC-flagged address).',
  },
  'pmtu-icmp-cm-mtu': {
    summary: 'PMTU emulation reports the interface MTU (65520 in connected mode) instead of the UD MTU in the ICMP fragmentation-needed / packet-too-big it delivers to the host.',
    requirements: ['RFC4755-7.2-a'],
    probes: ['P-PMTU-2'],
    visibleAs: 'the DUT host\'s ping -M do -s 3000 to a UD-only peer or a group in connected mode prints "mtu = 65520" (never 2044) and keeps failing; ip route get shows no cached MTU 2044, so TCP to the peer stalls on full-size segments.',
  },
  'cm-arp-over-rc': {
    summary: 'In connected mode, ARP replies and neighbor advertisements to a peer with an established connection go as RC SENDs on that connection instead of UD.',
    requirements: ['RFC4755-7-d', 'RFC4755-4-b'],
    probes: [],
    visibleAs: 'with the DUT in connected mode and its connection to the peer up, the DUT\'s ARP reply (EtherType 0x0806) or NA to the peer appears in an RC SEND on the tap, not in a UD frame to the peer\'s UD QPN.',
  },
  'cm-mode-mtu-unchanged': {
    summary: 'Switching to connected mode leaves the MTU as it was (2044) instead of setting the connected-mode MTU 65520.',
    requirements: ['LINUX-MODE-b', 'RFC4755-5-d'],
    probes: [],
    visibleAs: 'mtu in ipoibctl show (and the TUN device MTU) stays 2044 after mode connected (LINUX-MODE-b: 65520); no host packet larger than 2044 octets ever crosses an RC connection.',
  },
} as const satisfies Record<string, DefectInfo>;

export type DefectName = keyof typeof DEFECTS;

/** Every defect name, in registry order. */
export const DEFECT_NAMES = Object.keys(DEFECTS) as DefectName[];

export function isDefectName(name: string): name is DefectName {
  return Object.prototype.hasOwnProperty.call(DEFECTS, name);
}

/** Names as given on a command line; UsageError naming every known defect for an unknown one. */
export function parseDefects(list: readonly string[]): Set<DefectName> {
  const out = new Set<DefectName>();
  const unknown = list.filter((n) => !isDefectName(n));
  if (unknown.length > 0) {
    throw new UsageError(`unknown defect${unknown.length > 1 ? 's' : ''} ${unknown.map((n) => JSON.stringify(n)).join(', ')}; known: ${DEFECT_NAMES.join(', ')}`);
  }
  for (const n of list) if (isDefectName(n)) out.add(n);
  return out;
}

/** The defects one stack instance commits; immutable. `Defects.NONE` is a conforming stack. */
export class Defects {
  static readonly NONE = new Defects([]);
  private readonly active: ReadonlySet<DefectName>;

  private constructor(names: Iterable<DefectName>) {
    this.active = new Set(names);
    Object.freeze(this);
  }

  static of(names: Iterable<DefectName>): Defects {
    const d = new Defects(names);
    return d.any ? d : Defects.NONE;
  }

  has(name: DefectName): boolean {
    return this.active.has(name);
  }

  /** True when at least one defect is on. */
  get any(): boolean {
    return this.active.size > 0;
  }

  /** The active names, in registry order. */
  list(): DefectName[] {
    return DEFECT_NAMES.filter((n) => this.active.has(n));
  }
}

/** The loud line a daemon logs at start (undefined for a conforming stack). */
export function defectBanner(defects: Defects): string | undefined {
  return defects.any ? `TEST BUILD: seeded defects active: ${defects.list().join(', ')}` : undefined;
}

/** `ipoibd --list-defects`: name, the rows it violates, and the summary, one line each under a header. */
export function formatDefectTable(): string[] {
  const ids = (n: DefectName): string => [...DEFECTS[n].requirements, ...DEFECTS[n].probes].join(',');
  const nameWidth = Math.max(4, ...DEFECT_NAMES.map((n) => n.length));
  const idWidth = Math.max(12, ...DEFECT_NAMES.map((n) => ids(n).length));
  const row = (a: string, b: string, c: string): string => `${a.padEnd(nameWidth)}  ${b.padEnd(idWidth)}  ${c}`;
  return [row('NAME', 'REQUIREMENTS', 'WHAT IS WRONG'), ...DEFECT_NAMES.map((n) => row(n, ids(n), DEFECTS[n].summary))];
}
