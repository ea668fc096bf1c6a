/**
 * Robustness probes on address resolution (research §6.2, P-ARP-1..4 and P-ND-1): malformed,
 * odd, spoofed and misdirected ARP and ND from the probe. The DUT must not answer or learn from
 * what it cannot parse, must keep its entry for the peer, must ignore the reserved flag bits of
 * a link-layer address, and must keep working; where the RFCs leave the choice to the stack
 * (cache update policy, odd sender addresses) the case records what the DUT did.
 */
import { expect } from 'chai';
import type { Neighbour } from '../../src/lab/adapters/dut.js';
import type { ProbeFrame } from '../../src/lab/probe.js';
import { ARP_OP_REPLY, ARP_OP_REQUEST, ARPHRD_INFINIBAND, ETH_P_ARP, ETH_P_IP, ETH_P_IPV6, MCAST_QPN, ND_OPT_SOURCE_LLADDR } from '../../src/wire/constants.js';
import { encodeToBuffer } from '../../src/wire/codec.js';
import { formatHwAddr, type IpoibHwAddr, ipoibHwAddr } from '../../src/wire/ipoib-hwaddr.js';
import { formatIpv6, parseIpv6 } from '../../src/wire/ip-text.js';
import { parseGid } from '../../src/wire/mgid.js';
import { conformance } from '../harness/conformance.js';
import type { Case } from '../harness/conformance.js';
import { arpBody, arpOf, echoReplyOf, ipoibFrame, isArpReply, isArpRequest, naOf, nsPacket, rawArpBody } from '../harness/frames.js';
import { hex } from '../harness/hex.js';
import { sleep } from '../harness/poll.js';
import { ANSWER_MS, openQp, SILENCE_MS } from '../harness/probe-helpers.js';
import { PROBE_IPV4, PROBE_IPV6, ProbeHost } from './probe-host.js';
import { expectDropsCounted, expectUnharmed, showNeighbour } from './unharmed.js';

/** Lab-subnet addresses no node holds, one per malformed stimulus, so any entry for them was learnt from it. */
const unusedIpv4 = (i: number): string => `192.0.2.${100 + i}`;
const unusedIpv6 = (i: number): string => `2001:db8:1b::${(0x100 + i).toString(16)}`;

/** Makes sure the DUT has an entry for the peer before a case tries to poison it. */
async function ensurePeerEntry(t: Case): Promise<void> {
  const ping = await t.peer.adapter.ping(t.dut.ipv4!, { count: 1, waitSeconds: 2 });
  expect(ping.received, 'setup: the peer pings the DUT').to.equal(1);
}

function entriesFor(neighbours: Neighbour[], ips: readonly string[]): Neighbour[] {
  const want = new Set(ips.map((ip) => (ip.includes(':') ? formatIpv6(parseIpv6(ip)) : ip)));
  return neighbours.filter((n) => want.has(n.ip.includes(':') ? formatIpv6(parseIpv6(n.ip)) : n.ip));
}

describe('robustness probes: ARP and ND @robustness @arp @nd', function () {
  conformance(
    {
      covers: ['RFC4391-9.2-a', 'RFC4391-9.2-b', 'RFC4391-9.2-d'],
      title: 'neither answers nor learns from ARP with wrong lengths, types or ops, or a truncated body, and keeps its entry for the peer (P-ARP-1)',
      tags: ['robustness', 'arp'],
      requires: ['probe', 'ipv4'],
    },
    async (t) => {
      const host = await ProbeHost.open(t);
      await ensurePeerEntry(t);
      const good = { htype: ARPHRD_INFINIBAND, ptype: ETH_P_IP, hlen: 20, plen: 4, op: ARP_OP_REQUEST };
      const variants: Array<{ what: string; body: (spa: string) => Buffer }> = [
        ...[6, 16, 0, 255].map((hlen) => ({ what: `hlen ${hlen}`, body: (spa: string) => rawArpBody({ ...good, hlen, sha: host.hwaddr, spa, tpa: host.dutIpv4 }) })),
        ...[0, 16].map((plen) => ({ what: `plen ${plen}`, body: (spa: string) => rawArpBody({ ...good, plen, sha: host.hwaddr, spa, tpa: host.dutIpv4 }) })),
        ...[1, 6].map((htype) => ({ what: `htype ${htype}`, body: (spa: string) => rawArpBody({ ...good, htype, sha: host.hwaddr, spa, tpa: host.dutIpv4 }) })),
        { what: 'ptype 0x86dd', body: (spa: string) => rawArpBody({ ...good, ptype: ETH_P_IPV6, sha: host.hwaddr, spa, tpa: host.dutIpv4 }) },
        ...[0, 3, 4, 8, 9, 0xffff].map((op) => ({ what: `op ${op}`, body: (spa: string) => rawArpBody({ ...good, op, sha: host.hwaddr, spa, tpa: host.dutIpv4 }) })),
        { what: 'body cut to 30 octets', body: (spa: string) => arpBody({ sha: host.hwaddr, spa, tpa: host.dutIpv4 }).subarray(0, 30) },
      ];
      const before = host.countersAtOpen;
      host.clear();
      const spas = variants.map((_, i) => unusedIpv4(i));
      variants.forEach((v, i) => host.send(host.toDut(), ipoibFrame(ETH_P_ARP, v.body(spas[i]!))));
      // The same malformed requests again, now claiming the peer's address: none may rewrite the DUT's entry for it.
      for (const v of variants) host.send(host.toBroadcast(), ipoibFrame(ETH_P_ARP, v.body(t.peer.ipv4!)));
      const answers = await host.unicastWithin(SILENCE_MS, (f) => f.payload.readUInt16BE(0) === ETH_P_ARP);
      await t.attachJson('stimuli', variants.map((v, i) => ({ what: v.what, spa: spas[i] })));
      expect(answers.map((f) => arpOf(f.payload)?.tpa ?? 'undecodable'), 'ARP packets the DUT sent to the probe in answer to malformed ARP').to.deep.equal([]);
      const learnt = entriesFor(await t.dut.adapter.neighbours(), spas);
      expect(learnt.map(showNeighbour), 'neighbour entries the DUT made from malformed ARP').to.deep.equal([]);
      const delta = await expectUnharmed(t, host, before, 'malformed ARP');
      expectDropsCounted(delta, { arp: 2 * variants.length }, 'malformed ARP');
    },
  );

  conformance(
    {
      covers: ['RFC4391-9.1.1-e', 'RFC4391-14-c', 'RFC4391-9.1.1-c', 'RFC4391-9.1.1-h'],
      title: 'answers ARP whose sender address has reserved flag bits set and uses that entry; records what it does with QPN 0, 1, 0xffffff and multicast, zero or foreign GIDs (P-ARP-2)',
      tags: ['robustness', 'arp', 'hwaddr', 'icmp', 'multicast'],
      requires: ['probe', 'ipv4'],
    },
    async (t) => {
      const host = await ProbeHost.open(t);
      const before = host.countersAtOpen;
      for (const flags of [0x3f, 0x20, 0xff]) {
        await t.step(`sha flags ${hex(flags, 2)}`, async () => {
          await host.expectArpAnswer(`request whose sha flags are ${hex(flags, 2)}`, { sha: { ...host.hwaddr, flags } });
          // The entry must work: an echo from the probe's address is answered at the probe QP.
          await host.expectEchoReply(4, host.sendEcho(4), `echo after the sha with flags ${hex(flags, 2)}`);
        });
      }
      const foreignPrefix = Buffer.from(host.hwaddr.gid);
      foreignPrefix.writeUInt32BE(0xfec00000, 0);
      const odd: Array<{ what: string; sha: IpoibHwAddr }> = [
        { what: 'QPN 0', sha: { ...host.hwaddr, qpn: 0 } },
        { what: 'QPN 1', sha: { ...host.hwaddr, qpn: 1 } },
        { what: 'QPN 0xffffff', sha: { ...host.hwaddr, qpn: MCAST_QPN } },
        { what: 'multicast GID', sha: { ...host.hwaddr, gid: parseGid('ff12:401b:ffff::ffff:ffff') } },
        { what: 'all-zero GID', sha: { ...host.hwaddr, gid: Buffer.alloc(16) } },
        { what: 'foreign subnet prefix', sha: { ...host.hwaddr, gid: foreignPrefix } },
      ];
      host.clear();
      odd.forEach((o, i) => host.send(host.toDut(), ipoibFrame(ETH_P_ARP, arpBody({ sha: o.sha, spa: unusedIpv4(20 + i), tpa: host.dutIpv4 }))));
      const replies = await host.unicastWithin(SILENCE_MS, (f) => isArpReply(f.payload, { from: host.dutIpv4 }));
      const neighbours = await t.dut.adapter.neighbours();
      const policy = odd.map((o, i) => {
        const entry = entriesFor(neighbours, [unusedIpv4(20 + i)])[0];
        return { sha: o.what, address: formatHwAddr(o.sha), entry: entry ? showNeighbour(entry) : null };
      });
      await t.attachJson('odd sender addresses (recorded: the probe expects them not cached)', { policy, repliesAtProbeQp: replies.length });
      // A multicast GID can never name a port: an entry holding one would send unicast to a group.
      const multicastEntries = neighbours.filter((n) => n.hwaddr !== null && n.hwaddr.gid[0] === 0xff);
      expect(multicastEntries.map(showNeighbour), 'neighbour entries whose GID is a multicast GID').to.deep.equal([]);
      await expectUnharmed(t, host, before, 'odd sender addresses');
    },
  );

  conformance(
    {
      covers: ['RFC4391-9.1.1-f', 'RFC4391-9.4-a', 'RFC4391-9.4-b'],
      title: "sends its answers to the QPN its neighbour entry holds while gratuitous ARP moves the probe's address between two QPs, and survives the flapping (P-ARP-3)",
      tags: ['robustness', 'arp', 'hwaddr', 'icmp'],
      requires: ['probe', 'ipv4'],
    },
    async (t) => {
      const host = await ProbeHost.open(t);
      const second = await openQp(t, { pkey: host.qp.pkey, qkey: host.qp.qkey, exact: true });
      const before = host.countersAtOpen;
      await host.expectArpAnswer('setup: the probe address on the first QP');
      const qp2Hw: IpoibHwAddr = { ...host.hwaddr, qpn: second.qpn };
      const gratuitous = (sha: IpoibHwAddr, op: number): Buffer => ipoibFrame(ETH_P_ARP, arpBody({ op, sha, spa: PROBE_IPV4, tpa: PROBE_IPV4 }));
      // The echo comes from the same IPv4 source either way; which QP it is answered on shows the entry in use.
      const observe = async (what: string): Promise<{ what: string; answeredOn: string; entry: string | null }> => {
        const seq = host.nextSeq();
        host.send(host.toDut(), ipoibFrame(ETH_P_IP, host.echoPacket(4, seq)));
        const match = (f: ProbeFrame): boolean => echoReplyOf(f.payload)?.sequence === seq;
        // The first answer on either QP, then a short look for a second copy on the other.
        const arrived = (qp: typeof second): Promise<boolean> => qp.waitFor(match, ANSWER_MS).then(() => true, () => false);
        await Promise.race([arrived(host.qp), arrived(second)]);
        const [a, b] = await Promise.all([host.qp.collect(match, 100), second.collect(match, 100)]);
        const entry = entriesFor(await t.dut.adapter.neighbours(), [PROBE_IPV4])[0];
        const answeredOn = a.length > 0 && b.length > 0 ? 'both' : a.length > 0 ? 'first' : b.length > 0 ? 'second' : 'none';
        return { what, answeredOn, entry: entry?.hwaddr ? formatHwAddr(entry.hwaddr) : null };
      };
      const seen = [await observe('after the request from the first QP')];
      host.send(host.toBroadcast(), gratuitous(qp2Hw, ARP_OP_REQUEST));
      await sleep(50);
      seen.push(await observe('after a gratuitous request moving the address to the second QP'));
      // The same address claimed from both QPs in turn, fast.
      for (let i = 0; i < 20; i++) host.send(host.toBroadcast(), gratuitous(i % 2 === 0 ? host.hwaddr : qp2Hw, i % 4 < 2 ? ARP_OP_REQUEST : ARP_OP_REPLY));
      await sleep(50);
      seen.push(await observe('after 20 claims alternating between the two QPs'));
      await t.attachJson('cache update policy (recorded)', seen);
      const qpnOf = { first: host.qp.qpn, second: second.qpn };
      for (const s of seen) {
        expect(s.answeredOn, `echo reply ${s.what}: it must reach exactly one of the two QPs`).to.be.oneOf(['first', 'second']);
        const expected = formatHwAddr({ ...host.hwaddr, qpn: qpnOf[s.answeredOn as 'first' | 'second'] });
        expect(s.entry, `the DUT's entry for ${PROBE_IPV4} ${s.what} vs. the QP its echo reply went to`).to.equal(expected);
      }
      await expectUnharmed(t, host, before, 'QPN churn');
    },
  );

  conformance(
    {
      covers: ['RFC4391-9.2-a', 'RFC4391-5-d'],
      title: 'survives ARP replies sent through the broadcast group and replies to requests it never sent; records whether it takes them (P-ARP-4)',
      tags: ['robustness', 'arp', 'multicast'],
      requires: ['probe', 'ipv4'],
    },
    async (t) => {
      const host = await ProbeHost.open(t);
      const before = host.countersAtOpen;
      // A reply the DUT never asked for, unicast to it.
      const unsolicited = unusedIpv4(40);
      host.send(host.toDut(), ipoibFrame(ETH_P_ARP, arpBody({ op: ARP_OP_REPLY, sha: host.hwaddr, spa: unsolicited, tha: host.dut.link.hwaddr, tpa: host.dutIpv4 })));
      // A reply to a request the DUT did send, but through the broadcast group instead of unicast.
      const asked = unusedIpv4(41);
      host.clear();
      const pinging = t.dut.adapter.ping(asked, { count: 1, waitSeconds: 1 });
      const request = await host.qp.waitFor((f) => isArpRequest(f.payload, { to: asked }), ANSWER_MS);
      const requester = arpOf(request.payload)!.sha;
      host.send(host.toBroadcast(), ipoibFrame(ETH_P_ARP, arpBody({ op: ARP_OP_REPLY, sha: host.hwaddr, spa: asked, tha: requester, tpa: host.dutIpv4 })));
      const echo = await host.qp.collect((f) => f.payload.readUInt16BE(0) === ETH_P_IP && f.payload.subarray(4 + 16, 4 + 20).equals(Buffer.from(asked.split('.').map(Number))), ANSWER_MS / 2);
      await pinging;
      const neighbours = await t.dut.adapter.neighbours();
      await t.attachJson('misdirected ARP policy (recorded)', {
        unsolicitedReply: entriesFor(neighbours, [unsolicited]).map(showNeighbour),
        replyThroughBroadcastGroup: { entry: entriesFor(neighbours, [asked]).map(showNeighbour), dutSentItsEchoToTheProbe: echo.length > 0 },
      });
      await expectUnharmed(t, host, before, 'misdirected ARP replies');
    },
  );

  conformance(
    {
      covers: ['RFC4391-9.3-b', 'RFC4391-9.3-c', 'RFC4391-9.1.1-e'],
      title: 'discards ND whose IPoIB link-layer option has length 0, 1, 2 or 4 without learning garbage, and answers one whose address has reserved flag bits set (P-ND-1)',
      tags: ['robustness', 'nd', 'ipv6', 'hwaddr'],
      requires: ['probe', 'ipv6'],
    },
    async (t) => {
      const host = await ProbeHost.open(t);
      const address = encodeToBuffer(ipoibHwAddr, host.hwaddr);
      // Options of the wrong length: the address cut or padded to length*8-2 octets after type and length.
      const sized = (units: number): Buffer => {
        const data = Buffer.alloc(Math.max(0, units * 8 - 2));
        Buffer.concat([Buffer.alloc(2), address]).copy(data, 0, 0, data.length);
        return data;
      };
      const bad = [1, 2, 4].map((units) => ({ what: `length ${units}`, option: { kind: 'raw' as const, type: ND_OPT_SOURCE_LLADDR, length: units, data: sized(units) } }));
      const before = host.countersAtOpen;
      host.clear();
      const srcs = bad.map((_, i) => unusedIpv6(i));
      bad.forEach((b, i) => host.send(host.toDut(), ipoibFrame(ETH_P_IPV6, nsPacket({ src: srcs[i]!, dst: host.dutIpv6, target: host.dutIpv6, options: [b.option] }))));
      // Length 0 cannot be encoded by the codec (an option of no octets): write it by hand.
      const zeroSrc = unusedIpv6(9);
      const good = nsPacket({ src: zeroSrc, dst: host.dutIpv6, target: host.dutIpv6, options: [host.sourceOption()] });
      const zeroLen = Buffer.from(good);
      zeroLen[40 + 24 + 1] = 0; // the option's length octet; the checksum is left as it was, as a sender of garbage would
      host.send(host.toDut(), ipoibFrame(ETH_P_IPV6, zeroLen));
      const answers = await host.unicastWithin(SILENCE_MS, (f) => naOf(f.payload) !== null);
      expect(answers.length, 'neighbor advertisements the DUT sent to the probe for solicitations with a bad option').to.equal(0);
      const learnt = entriesFor(await t.dut.adapter.neighbours(), [...srcs, zeroSrc]).filter((n) => n.hwaddr !== null);
      expect(learnt.map(showNeighbour), 'neighbour entries with an address learnt from a bad option').to.deep.equal([]);
      for (const flags of [0x3f, 0x20]) {
        await host.expectNdAnswer(`solicitation whose source address has flags ${hex(flags, 2)}`, { options: [host.sourceOption({ ...host.hwaddr, flags })] });
      }
      host.clear();
      host.send(host.toDut(), ipoibFrame(ETH_P_IPV6, nsPacket({ src: PROBE_IPV6, dst: host.dutIpv6, target: host.dutIpv6, options: [{ kind: 'lladdr', type: ND_OPT_SOURCE_LLADDR, pad: 0xabcd, address: host.hwaddr }] })));
      const padAnswer = await host.unicastWithin(SILENCE_MS, (f) => naOf(f.payload) !== null);
      await t.attachJson('non-zero pad octets (recorded)', { answered: padAnswer.length > 0 });
      const delta = await expectUnharmed(t, host, before, 'bad ND options');
      expectDropsCounted(delta, { nd: bad.length + 1 }, 'bad ND options');
    },
  );
});
