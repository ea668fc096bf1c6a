/**
 * The only tags a test title may carry (`@name`). `npm test -- --grep NAME` selects by them;
 * test/meta/titles.test.ts fails when a title uses a tag missing here, or mentions a tag's
 * word without carrying the tag (so a grep never picks up an untagged test).
 */
export const TAGS = {
  encap: 'IPoIB encapsulation header (RFC 4391 §6)',
  hwaddr: '20-octet IPoIB link-layer address',
  arp: 'ARP over IPoIB (hardware type 32)',
  nd: 'IPv6 Neighbor Discovery and its IPoIB link-layer option',
  multicast: 'multicast groups, MGID mapping, joins',
  mgid: 'MGID construction and recognition',
  ipv6: 'IPv6 specifics (link-local, interface identifiers)',
  ip: 'IPv4 and IPv6 headers carried over IPoIB',
  icmp: 'ICMP and ICMPv6 (echo, fragmentation needed, packet too big)',
  pkey: 'partitions and P_Keys',
  qkey: 'Q_Keys',
  ib: 'InfiniBand transport headers (LRH, GRH, BTH, DETH, AETH)',
  crc: 'ICRC and VCRC',
  fabric: 'the simulated fabric: ports, routing, checks, counters, faults',
  rc: 'reliable connected transport (segmentation, PSN, ACK/NAK, retransmission)',
  mad: 'management datagrams',
  sa: 'subnet administration (MCMemberRecord, PathRecord)',
  cm: 'connection management and IPoIB-CM private data',
  pcap: 'capture files',
  tshark: 'cross-checks against Wireshark dissectors',
  native: 'the C++ addon',
  tun: 'the native TUN data plane of the reference IPoIB stack (TUN device, fast path, punts)',
  cli: 'command-line entry points',
  meta: "checks of the project's own conventions",
  catalogue: 'the requirement catalogue (suites/requirements.ts): IDs, counts, findings, probes',
  lab: 'lab files, node transports, cleanup',
  ssh: 'the SSH transport',
  'ipoib-stack': 'the reference IPoIB stack (src/ipoib): bring-up, resolution, joins, child interfaces',
  mtu: 'interface and path MTU, group MTU, fragmentation',
  robustness: 'malformed and unexpected input: the DUT stays up, drops and counts it, and works afterwards',
  interop: 'OFA-style interoperability: ping sizes both ways and checksummed file transfers',
  conformance: 'the conformance harness, certification and report generation',
  power: 'suite power: seeded defects and which tests catch them',
  offload: 'stateless offloads: software TCP segmentation (TSO), checksum completion, receive coalescing (GRO), the virtio-net header',
} as const;

export type Tag = keyof typeof TAGS;
export const TAG_NAMES = Object.keys(TAGS) as Tag[];
