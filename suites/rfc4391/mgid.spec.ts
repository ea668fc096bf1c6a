/**
 * RFC 4391 §4: how the DUT maps IP multicast groups to MGIDs. Every group the fabric's SM lists
 * the DUT port in must be an IPoIB MGID (0xFF, T flag set, the broadcast-GID's scope, signature
 * 0x401B for IPv4 or 0x601B for IPv6, the interface's P_Key); the groups a host must hold
 * (all-hosts, all-nodes, the solicited-node group of each address) must be there under the
 * MGID the RFC computes; and groups the node's IP stack joins through a socket must be joined
 * at the link's scope, whatever scope the IP group has, and must deliver what is sent to them.
 */
import { expect } from 'chai';
import { type Case, conformance } from '../harness/conformance.js';
import type { BackgroundProcess } from '../../src/lab/transport.js';
import { encodeToBuffer } from '../../src/wire/codec.js';
import { ETH_P_IP, ETH_P_IPV6, MGID_FLAGS_TRANSIENT, PKEY_FULL_MEMBER_BIT } from '../../src/wire/constants.js';
import { internetChecksum, ipv6PseudoHeader } from '../../src/wire/inet-checksum.js';
import { formatIpv6, parseIpv6 } from '../../src/wire/ip-text.js';
import { ipv4Packet, makeIpv4Packet } from '../../src/wire/ipv4.js';
import { ipv6Packet, makeIpv6Packet } from '../../src/wire/ipv6.js';
import { formatGid, mgidForIpv4Group, mgidForIpv6Group, parseIpoibMgid, parseGid } from '../../src/wire/mgid.js';
import { dutOnFabric, smGroupsOf } from '../harness/fabric-view.js';
import { ipoibFrame, solicitedNode } from '../harness/frames.js';
import { hex4 } from '../harness/hex.js';
import { poll, sleep } from '../harness/poll.js';
import { openQp, sendToGroup } from '../harness/probe-helpers.js';

const IPPROTO_UDP = 17;
const UDP_HEADER_LEN = 8;
/** The IPv4 all-hosts group and the IPv6 all-nodes group every host holds. */
const ALL_HOSTS = '224.0.0.1';
const ALL_NODES = 'ff02::1';
/** Groups a socket on the DUT joins: an administratively scoped IPv4 group and a site-scope IPv6 group. */
const SOCKET_GROUP_V4 = '239.1.2.3';
const SOCKET_GROUP_V6 = 'ff05::1:3';
const SOCKET_PORT = 43911;
/** The host's memberships are read by polling; how long the DUT gets to join after the socket did. */
const JOIN_TIMEOUT_MS = 4_000;
/** How long datagrams the probe sent get to reach the socket. */
const DELIVERY_MS = 400;

/** What is wrong with an MGID as an IPoIB MGID of this link (empty when nothing). */
function mgidProblems(mgid: Buffer, link: { pkey: number; scope: number }): string[] {
  const info = parseIpoibMgid(mgid, { requireTransient: false });
  if (!info) return [`not an IPoIB MGID (prefix 0x${(mgid[0] ?? 0).toString(16)}, signature ${hex4(mgid.readUInt16BE(2))}: want 0xff and 0x401b or 0x601b)`];
  const problems: string[] = [];
  if (info.flags !== MGID_FLAGS_TRANSIENT) problems.push(`flags 0x${info.flags.toString(16)}, want 0x1 (T set)`);
  if (info.scope !== link.scope) problems.push(`scope 0x${info.scope.toString(16)}, want the broadcast-GID's 0x${link.scope.toString(16)}`);
  if (info.pkey !== link.pkey) problems.push(`P_Key ${hex4(info.pkey)}, want ${hex4(link.pkey)}`);
  return problems;
}

/** A UDP datagram (checksum computed for IPv6, where it is mandatory; 0 = none for IPv4). */
function udp(data: Buffer, ipv6?: { src: Buffer; dst: Buffer }): Buffer {
  const out = Buffer.alloc(UDP_HEADER_LEN + data.length);
  out.writeUInt16BE(SOCKET_PORT, 0);
  out.writeUInt16BE(SOCKET_PORT, 2);
  out.writeUInt16BE(out.length, 4);
  data.copy(out, UDP_HEADER_LEN);
  if (ipv6) {
    const sum = internetChecksum(ipv6PseudoHeader(ipv6.src, ipv6.dst, IPPROTO_UDP, out.length), out);
    out.writeUInt16BE(sum === 0 ? 0xffff : sum, 6);
  }
  return out;
}

/**
 * A listener in the DUT's namespace: one UDP socket per family joined to the group on the
 * interface (IP_ADD_MEMBERSHIP / IPV6_JOIN_GROUP), printing a line per datagram received.
 */
const LISTENER = `
const dgram = require('dgram');
const [v4, v6, ifaddr, ifname, port] = process.argv.slice(1);
let ready = 0;
const up = () => { if (++ready === 2) console.log('ready'); };
const s4 = dgram.createSocket({ type: 'udp4', reuseAddr: true });
s4.on('message', () => console.log('v4'));
s4.bind(Number(port), () => { s4.addMembership(v4, ifaddr); up(); });
const s6 = dgram.createSocket({ type: 'udp6', reuseAddr: true });
s6.on('message', () => console.log('v6'));
s6.bind(Number(port), () => { s6.addMembership(v6, '::%' + ifname); up(); });
process.on('SIGTERM', () => process.exit(0));
`;

describe('RFC 4391 §4: MGIDs of the groups the DUT joins @mgid @multicast', () => {
  conformance({
    covers: ['RFC4391-4-a', 'RFC4391-4-c', 'RFC4391-4-d', 'RFC4391-4-e', 'RFC4391-4-i'],
    title: 'is a member only of transient IPoIB MGIDs with its link\'s scope and P_Key, all-hosts, all-nodes and its solicited-node groups among them',
    tags: ['mgid', 'multicast', 'ipv6', 'pkey', 'sa'],
    requires: ['probe', 'sa', 'fabric-control'],
  }, async (t: Case) => {
    const me = await dutOnFabric(t);
    const addresses = await t.dut.adapter.addresses();
    const memberships = await smGroupsOf(t, me.hwaddr.gid);
    if (!memberships) return t.skip('the sim fabric\'s status does not list group members');
    const groups = memberships.map((g) => ({ mgid: formatGid(g.mgid), joinState: g.joinState }));
    await t.attachJson('groups the SM lists the DUT port in', groups);
    await t.attachJson('DUT addresses', addresses);
    const parsed = groups.map((g) => ({ ...g, info: parseIpoibMgid(parseGid(g.mgid), { requireTransient: false }) }));
    const pkey = me.pkey | PKEY_FULL_MEMBER_BIT;
    const broadcast = parsed.find((g) => g.info?.isBroadcast && g.info.pkey === pkey);
    if (!broadcast) {
      // Not even the broadcast group: what the DUT thinks it joined says why.
      const mcg = await t.dut.adapter.mcgDump();
      await t.attachJson('groups in the DUT\'s mcg dump', mcg.map((r) => ({ mgid: formatGid(r.mgid), complete: r.complete, sendOnly: r.sendOnly })));
    }
    expect(broadcast, `the DUT is a member of its broadcast-GID (P_Key ${hex4(pkey)}); groups: ${groups.map((g) => g.mgid).join(', ') || 'none'}`).to.not.equal(undefined);
    const link = { pkey, scope: broadcast!.info!.scope };
    const problems = groups.map((g) => ({ mgid: g.mgid, problems: mgidProblems(parseGid(g.mgid), link) })).filter((p) => p.problems.length > 0);
    expect(problems, `groups the DUT is a member of whose MGID is not this link's IPoIB form (scope ${link.scope}, P_Key ${hex4(pkey)})`).to.deep.equal([]);
    const v6 = addresses.filter((a) => a.family === 'inet6').map((a) => a.address);
    const required = [
      { why: `IPv4 all-hosts ${ALL_HOSTS}`, mgid: mgidForIpv4Group(ALL_HOSTS, pkey, link.scope) },
      ...(v6.length > 0 ? [{ why: `IPv6 all-nodes ${ALL_NODES}`, mgid: mgidForIpv6Group(ALL_NODES, pkey, link.scope) }] : []),
      ...v6.map((a) => {
        const sn = formatIpv6(solicitedNode(parseIpv6(a)));
        return { why: `solicited-node ${sn} of ${a}`, mgid: mgidForIpv6Group(sn, pkey, link.scope) };
      }),
    ];
    const held = new Set(groups.map((g) => g.mgid));
    const missing = required.filter((r) => !held.has(formatGid(r.mgid))).map((r) => `${formatGid(r.mgid)} (${r.why})`);
    expect(missing, 'MGIDs RFC 4391 computes for groups the DUT must hold, absent from its memberships').to.deep.equal([]);
  });

  conformance({
    covers: ['RFC4391-4-d', 'RFC4391-4-e', 'RFC4391-4-f', 'RFC4391-4-i'],
    title: 'joins the link-scope MGIDs of 239.1.2.3 and ff05::1:3 when a socket on its host joins them, and delivers datagrams sent there',
    tags: ['mgid', 'multicast', 'ipv6', 'sa'],
    requires: ['probe', 'sa', 'ipv4', 'ipv6'],
  }, async (t: Case) => {
    const { dut } = t;
    if (!dut.ipv4) t.skip('the lab file gives the DUT no IPv4 address');
    const me = await dutOnFabric(t);
    const pkey = me.pkey | PKEY_FULL_MEMBER_BIT;
    const scope = (await t.dut.adapter.broadcast()).gid.readUInt8(1) & 0xf;
    const want = { v4: mgidForIpv4Group(SOCKET_GROUP_V4, pkey, scope), v6: mgidForIpv6Group(SOCKET_GROUP_V6, pkey, scope) };
    await t.parameter('expected MGIDs', `${formatGid(want.v4)}, ${formatGid(want.v6)}`);
    const listener: BackgroundProcess = await dut.transport.spawn([process.execPath, '-e', LISTENER, SOCKET_GROUP_V4, SOCKET_GROUP_V6, dut.ipv4, dut.ifname, String(SOCKET_PORT)]);
    t.defer(async () => void (await listener.stop({ graceMs: 500 })), 'stop the multicast listener on the DUT');
    const isMember = async (mgid: Buffer): Promise<boolean> => (await t.probe.groupMembers(mgid)).some((m) => m.portGid.equals(me.hwaddr.gid));
    const joined = (await poll(async () => ({ v4: await isMember(want.v4), v6: await isMember(want.v6) }), (j) => j.v4 && j.v6, JOIN_TIMEOUT_MS, 200)).value;
    await t.attachJson('DUT joined (SA)', { [formatGid(want.v4)]: joined.v4, [formatGid(want.v6)]: joined.v6 });
    if (!joined.v4 || !joined.v6) {
      const out = await listener.stop({ graceMs: 500 });
      await t.attachJson('listener output', { stdout: out.stdout, stderr: out.stderr });
      // The listener is the test's own tool: if its sockets never joined, the DUT had nothing to follow.
      if (!out.stdout.startsWith('ready')) throw new Error(`the multicast listener on the DUT did not join its groups: ${out.stderr.trim() || out.stdout.trim() || `exit ${out.code}`}`);
      const mcg = await t.dut.adapter.mcgDump();
      await t.attachJson('groups in the DUT\'s mcg dump', mcg.map((r) => formatGid(r.mgid)));
    }
    expect(joined.v4, `the SA lists the DUT in ${formatGid(want.v4)} (for ${SOCKET_GROUP_V4}) within ${JOIN_TIMEOUT_MS} ms of the socket joining`).to.equal(true);
    expect(joined.v6, `the SA lists the DUT in ${formatGid(want.v6)} (for ${SOCKET_GROUP_V6}, link scope, not the group's site scope) within ${JOIN_TIMEOUT_MS} ms`).to.equal(true);

    // Delivery: the probe sends one datagram to each MGID, as any member of the link would.
    const [r4] = await t.probe.groupMembers(want.v4);
    const [r6] = await t.probe.groupMembers(want.v6);
    const qp = await openQp(t, { pkey: me.pkey, qkey: r4!.qkey });
    const probeV4 = '192.0.2.78';
    const probeV6 = parseIpv6('fe80::78');
    const groupV6 = parseIpv6(SOCKET_GROUP_V6);
    const data = Buffer.from('ipoib mgid delivery');
    sendToGroup(qp, r4!, ipoibFrame(ETH_P_IP, encodeToBuffer(ipv4Packet, makeIpv4Packet({ src: probeV4, dst: SOCKET_GROUP_V4, protocol: IPPROTO_UDP, ttl: 1, payload: udp(data) }))));
    sendToGroup(qp, r6!, ipoibFrame(ETH_P_IPV6, encodeToBuffer(ipv6Packet, makeIpv6Packet({ src: probeV6, dst: groupV6, nextHeader: IPPROTO_UDP, hopLimit: 1, payload: udp(data, { src: probeV6, dst: groupV6 }) }))));
    await sleep(DELIVERY_MS);
    const out = await listener.stop({ graceMs: 500 });
    const lines = out.stdout.split('\n').filter(Boolean);
    await t.attachJson('listener output', { stdout: out.stdout, stderr: out.stderr });
    if (lines[0] !== 'ready') throw new Error(`the multicast listener on the DUT did not join its groups: ${out.stderr.trim() || out.stdout.trim()}`);
    expect(lines.filter((l) => l === 'v4').length, `datagrams the DUT's socket got from ${formatGid(want.v4)}`).to.equal(1);
    expect(lines.filter((l) => l === 'v6').length, `datagrams the DUT's socket got from ${formatGid(want.v6)}`).to.equal(1);
  });
});
