/**
 * Robustness probes on the encapsulation (research §6.2, P-ENC-1..6 and P-GRH-1): the probe
 * sends malformed or unusual IPoIB frames to the DUT's UD QP and to the broadcast group; the
 * DUT must drop what it cannot use (and count it where it counts drops), accept what the RFC
 * says to accept, and afterwards still answer as before (unharmed.ts expectUnharmed).
 */
import { expect } from 'chai';
import { ETH_P_ARP, ETH_P_IP, ETH_P_IPV6, GID_LEN, ICMP_ECHO_REQUEST, IPOIB_DEFAULT_QKEY, IPPROTO_ICMP, MCAST_QPN } from '../../src/wire/constants.js';
import { makeIpv4Packet, ipv4Packet } from '../../src/wire/ipv4.js';
import { encodeToBuffer } from '../../src/wire/codec.js';
import { icmpv4Message, withIcmpChecksum } from '../../src/wire/icmp.js';
import { formatGid } from '../../src/wire/mgid.js';
import { conformance } from '../harness/conformance.js';
import { arpBody, echoReplyOf, ipoibFrame, isArpReply, reservedOf } from '../harness/frames.js';
import { hex } from '../harness/hex.js';
import { ANSWER_MS, SILENCE_MS } from '../harness/probe-helpers.js';
import { PROBE_IPV4, ProbeHost } from './probe-host.js';
import { expectDropsCounted, expectUnharmed } from './unharmed.js';

describe('robustness probes: encapsulation header and frame shape @robustness @encap', function () {
  conformance(
    {
      covers: ['RFC4391-9.1.1-f', 'RFC4391-9.1.1-g', 'RFC4391-9.1.2-d', 'RFC4392-4-c', 'RFC4391-6-b', 'RFC4391-6-d'],
      title: "answers the probe's ARP request and echo requests from the QPN it advertises, with the broadcast Q_Key and a zero reserved field (baseline of the probes)",
      tags: ['robustness', 'arp', 'encap', 'qkey', 'hwaddr', 'icmp'],
      requires: ['probe', 'ipv4', 'ipv6'],
    },
    async (t) => {
      const host = await ProbeHost.open(t);
      // First through the broadcast group, which reaches the DUT whatever QPN it advertises.
      const bcastReply = await host.expectArpAnswer('baseline, request to the broadcast group', { to: host.toBroadcast() });
      expect(host.dut.link.hwaddr.qpn, `QPN in the DUT's interface address vs. the QP its ARP reply came from (${hex(bcastReply.srcQpn, 6)})`).to.equal(bcastReply.srcQpn);
      const arpReply = await host.expectArpAnswer('baseline, unicast request');
      const na = await host.expectNdAnswer('baseline');
      const v4 = await host.expectEchoReply(4, host.sendEcho(4), 'baseline');
      const v6 = await host.expectEchoReply(6, host.sendEcho(6), 'baseline');
      const dutQpn = host.dut.link.hwaddr.qpn;
      for (const [what, f] of [['ARP reply', arpReply], ['neighbor advertisement', na], ['IPv4 echo reply', v4], ['IPv6 echo reply', v6]] as const) {
        expect(f.srcQpn, `source QP of the DUT's ${what} vs. the QPN in its link-layer address ${hex(dutQpn, 6)}`).to.equal(dutQpn);
        expect(f.payload.readUInt16BE(0), `EtherType of the DUT's ${what}`).to.equal(what === 'ARP reply' ? ETH_P_ARP : what === 'IPv4 echo reply' ? ETH_P_IP : ETH_P_IPV6);
      }
    },
  );

  conformance(
    {
      covers: ['RFC4391-6-a', 'RFC4391-6-f'],
      title: 'drops UD messages of 0 to 3 octets and header-only frames, and keeps working (P-ENC-1)',
      tags: ['robustness', 'encap'],
      requires: ['probe', 'ipv4'],
    },
    async (t) => {
      const host = await ProbeHost.open(t);
      const before = host.countersAtOpen;
      host.clear();
      const short = [Buffer.alloc(0), Buffer.from([0x08]), Buffer.from([0x08, 0x00]), Buffer.from([0x08, 0x00, 0x00])];
      const headerOnly = [ETH_P_IP, ETH_P_IPV6, ETH_P_ARP].map((type) => ipoibFrame(type, Buffer.alloc(0)));
      for (const to of [host.toDut(), host.toBroadcast()]) for (const f of [...short, ...headerOnly]) host.send(to, f);
      const answers = await host.unicastWithin(SILENCE_MS);
      await t.attachJson('unicast frames that reached the probe after the short frames', answers.map((f) => ({ srcQpn: hex(f.srcQpn, 6), octets: f.payload.length })));
      expect(answers.length, 'frames the DUT sent to the probe in answer to short frames').to.equal(0);
      const delta = await expectUnharmed(t, host, before, 'short frames');
      expectDropsCounted(delta, { short: 2 * short.length, ip: 4, arp: 2 }, 'short and header-only frames');
    },
  );

  conformance(
    {
      covers: ['RFC4391-6-e', 'RFC4391-6-d'],
      title: 'drops frames of unknown EtherTypes (0x0000, 0xffff, VLAN, LLDP, local experimental) without answering, and keeps working (P-ENC-2)',
      tags: ['robustness', 'encap'],
      requires: ['probe', 'ipv4'],
    },
    async (t) => {
      const host = await ProbeHost.open(t);
      const before = host.countersAtOpen;
      host.clear();
      const types = [0x0000, 0xffff, 0x8100, 0x88cc, 0x88b5];
      // The body is an ARP request for the DUT: a stack that ignored the Type and parsed the body would answer it.
      const body = arpBody({ sha: host.hwaddr, spa: PROBE_IPV4, tpa: host.dutIpv4 });
      for (const to of [host.toDut(), host.toBroadcast()]) for (const type of types) host.send(to, ipoibFrame(type, body));
      const answers = await host.unicastWithin(SILENCE_MS);
      expect(answers.map((f) => hex(f.payload.readUInt16BE(0), 4)), 'frames the DUT sent to the probe after unknown EtherTypes').to.deep.equal([]);
      const delta = await expectUnharmed(t, host, before, 'unknown EtherTypes');
      expectDropsCounted(delta, { ethertype: 2 * types.length }, 'unknown EtherTypes');
    },
  );

  conformance(
    {
      covers: ['RFC4391-6-c', 'RFC4391-6-b', 'RFC4391-14-c'],
      title: 'accepts ARP, ND and echo requests whose header Reserved field is 0xffff, 0x0001 or 0x8000, and answers with Reserved 0 (P-ENC-3)',
      tags: ['robustness', 'encap', 'arp', 'nd', 'icmp'],
      requires: ['probe', 'ipv4', 'ipv6'],
    },
    async (t) => {
      const host = await ProbeHost.open(t);
      const before = host.countersAtOpen;
      host.clear();
      for (const reserved of [0xffff, 0x0001, 0x8000]) {
        await t.step(`Reserved ${hex(reserved, 4)}`, async () => {
          const what = `request with Reserved ${hex(reserved, 4)}`;
          await host.expectArpAnswer(what, { reserved });
          await host.expectNdAnswer(what, { reserved });
          await host.expectEchoReply(4, host.sendEcho(4, { reserved }), what);
          await host.expectEchoReply(6, host.sendEcho(6, { reserved }), what);
        });
      }
      const delta = await expectUnharmed(t, host, before, 'frames with the Reserved field set');
      if (delta.rx_dropped !== undefined) expect(delta.rx_dropped, 'rx_dropped: frames with Reserved set must not be dropped').to.equal(0);
    },
  );

  conformance(
    {
      covers: ['RFC4391-6-d', 'RFC4391-6-a'],
      title: 'drops frames whose Type does not match the payload (IPv6 under 0x0800, IPv4 under 0x86dd or 0x0806) without misparsing them (P-ENC-4)',
      tags: ['robustness', 'encap', 'ipv6'],
      requires: ['probe', 'ipv4', 'ipv6'],
    },
    async (t) => {
      const host = await ProbeHost.open(t);
      // Teach the DUT the probe's addresses first, so that a misparsed echo would be answered.
      await host.expectArpAnswer('setup');
      await host.expectNdAnswer('setup');
      const before = host.countersAtOpen;
      host.clear();
      host.send(host.toDut(), ipoibFrame(ETH_P_IP, host.echoPacket(6, host.nextSeq())));
      host.send(host.toDut(), ipoibFrame(ETH_P_IPV6, host.echoPacket(4, host.nextSeq())));
      host.send(host.toDut(), ipoibFrame(ETH_P_ARP, host.echoPacket(4, host.nextSeq())));
      const answers = await host.unicastWithin(SILENCE_MS);
      await t.attachJson('frames that reached the probe after the mismatched frames', answers.map((f) => ({ type: hex(f.payload.readUInt16BE(0), 4), echoReply: echoReplyOf(f.payload) !== null })));
      expect(answers.length, 'frames the DUT sent to the probe after Type/payload mismatches (an echo reply means it misparsed one)').to.equal(0);
      const delta = await expectUnharmed(t, host, before, 'Type/payload mismatches');
      expectDropsCounted(delta, { ip: 2, arp: 1 }, 'Type/payload mismatches');
    },
  );

  conformance(
    {
      covers: ['RFC4391-6-f', 'RFC4391-6-a'],
      title: 'drops IP packets cut short of their length field and answers those with trailing octets after the IP packet (P-ENC-5)',
      tags: ['robustness', 'encap', 'ip', 'icmp'],
      requires: ['probe', 'ipv4', 'ipv6'],
    },
    async (t) => {
      const host = await ProbeHost.open(t);
      await host.expectArpAnswer('setup');
      await host.expectNdAnswer('setup');
      const before = host.countersAtOpen;
      host.clear();
      const truncated: number[] = [];
      for (const family of [4, 6] as const) {
        const seq = host.nextSeq();
        truncated.push(seq);
        const whole = host.echoPacket(family, seq);
        host.send(host.toDut(), ipoibFrame(family === 4 ? ETH_P_IP : ETH_P_IPV6, whole.subarray(0, whole.length - 8)));
      }
      const cutAnswers = (await host.echoRepliesWithin(SILENCE_MS)).filter((f) => truncated.includes(echoReplyOf(f.payload)!.sequence));
      expect(cutAnswers.length, 'echo replies to packets 8 octets shorter than their length field says').to.equal(0);
      for (const family of [4, 6] as const) {
        const seq = host.nextSeq();
        const whole = host.echoPacket(family, seq);
        host.send(host.toDut(), ipoibFrame(family === 4 ? ETH_P_IP : ETH_P_IPV6, Buffer.concat([whole, Buffer.alloc(16, 0xee)])));
        const reply = await host.expectEchoReply(family, seq, `IPv${family} echo with 16 trailing octets`);
        expect(echoReplyOf(reply.payload)!.data.equals(Buffer.alloc(56, seq & 0xff)), `IPv${family} echo reply data: the 56 octets sent, without the trailing octets`).to.equal(true);
      }
      await expectUnharmed(t, host, before, 'length mismatches');
    },
  );

  conformance(
    {
      covers: ['RFC4391-7-a', 'RFC4391-7-b'],
      title: 'survives a UD message above the link MTU but within the path IB MTU, and IPv4 fragments that reassemble above the link MTU (P-ENC-6)',
      tags: ['robustness', 'encap', 'mtu', 'ib', 'icmp'],
      requires: ['probe', 'ipv4'],
    },
    async (t) => {
      const host = await ProbeHost.open(t);
      await host.expectArpAnswer('setup');
      const before = host.countersAtOpen;
      host.clear();
      const mtu = host.dut.link.mtu;
      // One UD message of 3000 octets of IPv4 (the path allows 4096; the link MTU is mtu).
      const bigSeq = host.sendEcho(4, { dataBytes: 3000 - 28 });
      // The same size again, as two fragments that each fit the link MTU.
      const fragSeq = host.nextSeq();
      const icmp = encodeToBuffer(icmpv4Message, withIcmpChecksum({ type: ICMP_ECHO_REQUEST, code: 0, checksum: 0, identifier: host.echoId, sequence: fragSeq, data: Buffer.alloc(3972, fragSeq & 0xff) }));
      const firstBytes = 2016;
      for (const [offset, part, more] of [[0, icmp.subarray(0, firstBytes), true], [firstBytes / 8, icmp.subarray(firstBytes), false]] as const) {
        const p = makeIpv4Packet({ src: PROBE_IPV4, dst: host.dutIpv4, protocol: IPPROTO_ICMP, identification: fragSeq, moreFragments: more, fragmentOffset: offset, payload: part });
        host.send(host.toDut(), ipoibFrame(ETH_P_IP, encodeToBuffer(ipv4Packet, p)));
      }
      const replies = await host.echoRepliesWithin(ANSWER_MS / 2);
      const policy = {
        linkMtu: mtu,
        oversizeMessage: replies.some((f) => echoReplyOf(f.payload)!.sequence === bigSeq) ? 'accepted (echo answered)' : 'dropped (no answer)',
        fragmentsAboveMtu: replies.some((f) => echoReplyOf(f.payload)!.sequence === fragSeq) ? 'reassembled (echo answered)' : 'dropped (no answer)',
      };
      await t.attachJson('oversize policy (recorded, not judged)', policy);
      await expectUnharmed(t, host, before, 'oversize frames');
    },
  );

  conformance(
    {
      covers: ['RFC4391-6-h', 'RFC4391-6-g'],
      title: 'answers unicast echo requests with and without a GRH, and survives a GRH naming another GID and multicast without a GRH (P-GRH-1)',
      tags: ['robustness', 'ib', 'icmp', 'multicast'],
      requires: ['probe', 'ipv4'],
    },
    async (t) => {
      const host = await ProbeHost.open(t);
      await host.expectArpAnswer('setup');
      const before = host.countersAtOpen;
      host.clear();
      await host.expectEchoReply(4, host.sendEcho(4), 'unicast without a GRH');
      await host.expectEchoReply(4, host.sendEcho(4, { to: host.toDut({ grh: { dgid: host.dut.link.hwaddr.gid } }) }), 'unicast with a GRH naming the DUT');
      const otherGid = Buffer.alloc(GID_LEN);
      host.dut.link.hwaddr.gid.copy(otherGid);
      otherGid.writeUInt32BE(0xdeadbeef, GID_LEN - 4);
      const wrongDgidSeq = host.sendEcho(4, { to: host.toDut({ grh: { dgid: otherGid } }) });
      // An ARP request to the broadcast MLID without the GRH multicast needs.
      host.send({ dlid: host.broadcast.mlid, dqpn: MCAST_QPN, qkey: IPOIB_DEFAULT_QKEY }, ipoibFrame(ETH_P_ARP, arpBody({ sha: host.hwaddr, spa: PROBE_IPV4, tpa: host.dutIpv4 })));
      const seen = await host.unicastWithin(SILENCE_MS);
      await t.attachJson('GRH policy (recorded, not judged)', {
        wrongDgid: formatGid(otherGid),
        echoWithWrongDgid: seen.some((f) => echoReplyOf(f.payload)?.sequence === wrongDgidSeq) ? 'answered' : 'dropped',
        multicastWithoutGrh: seen.some((f) => isArpReply(f.payload, { from: host.dutIpv4 })) ? 'answered' : 'dropped',
        reservedOfAnswers: seen.map((f) => reservedOf(f.payload)),
      });
      await expectUnharmed(t, host, before, 'GRH variants');
    },
  );
});
