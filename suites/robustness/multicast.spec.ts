/**
 * Robustness probes on multicast (research §6.2, P-MC-1, P-MC-2, P-MC-4, P-MC-5): traffic on
 * groups the DUT never joined or whose signature, flags or scope do not fit what they carry,
 * the DUT's own multicast coming back from the fabric, and subnet-manager churn. P-MC-3 needs
 * an IPv6 listener on the DUT host and P-MC-6 a per-port group limit, neither of which the
 * simulated lab offers; they are not claimed here.
 */
import { expect } from 'chai';
import { ETH_P_ARP, ETH_P_IP, ETH_P_IPV6, IPOIB_DEFAULT_QKEY, JOIN_STATE_FULL, MCAST_QPN, PKEY_DEFAULT } from '../../src/wire/constants.js';
import { formatHwAddr } from '../../src/wire/ipoib-hwaddr.js';
import { broadcastMgid, formatGid, mgidForIpv4Group, mgidForIpv6Group } from '../../src/wire/mgid.js';
import { SA_SELECTOR_EXACTLY } from '../../src/wire/sa.js';
import type { ProbeDestination } from '../../src/lab/probe.js';
import { uniqueFrames } from '../harness/capture-views.js';
import { conformance, type Case } from '../harness/conformance.js';
import { lidOf, smPkeysOf } from '../harness/fabric-view.js';
import { arpBody, arpOf, echo6Packet, echoReplyOf, ipoibFrame, isArpReply } from '../harness/frames.js';
import { hex } from '../harness/hex.js';
import { setPortPkeys } from '../harness/node-actions.js';
import { poll, sleep } from '../harness/poll.js';
import { joinFromProbe, SILENCE_MS } from '../harness/probe-helpers.js';
import { PROBE_IPV4, PROBE_IPV6, ProbeHost } from './probe-host.js';
import { counterDelta, expectUnharmed } from './unharmed.js';

const IB_MTU_2048_CODE = 4;

/** The probe creates (or joins) `mgid` as a full member and can send to it; undone after the case. */
async function probeGroup(t: Case, mgid: Buffer): Promise<ProbeDestination> {
  const record = await joinFromProbe(t, mgid, JOIN_STATE_FULL, {
    record: { qkey: IPOIB_DEFAULT_QKEY, pkey: PKEY_DEFAULT, mtu: IB_MTU_2048_CODE, mtuSelector: SA_SELECTOR_EXACTLY, sl: 0, trafficClass: 0, flowLabel: 0 },
  });
  if (!record) throw new Error(`the SA refused the probe's FullMember join of ${formatGid(mgid)}`);
  return { dlid: record.mlid, dqpn: MCAST_QPN, qkey: IPOIB_DEFAULT_QKEY, grh: { dgid: mgid } };
}

/** An ICMPv6 echo request from the probe to `dst` (a group), with this host's identifier. */
function groupEcho6(host: ProbeHost, dst: string, sequence: number): Buffer {
  return ipoibFrame(ETH_P_IPV6, echo6Packet({ src: PROBE_IPV6, dst, identifier: host.echoId, sequence, data: Buffer.alloc(56, sequence & 0xff) }));
}

/** Polls the SA until `gid` is a full member of `mgid` (or the deadline passes); resolves with whether it is. */
async function waitForMember(t: Case, mgid: Buffer, gid: Buffer, deadlineMs: number): Promise<boolean> {
  const r = await poll(() => t.probe.groupMembers(mgid), (members) => members.some((m) => m.portGid.equals(gid) && (m.joinState & JOIN_STATE_FULL) !== 0), deadlineMs);
  return r.reached;
}

describe('robustness probes: multicast @robustness @multicast', function () {
  conformance(
    {
      covers: ['RFC4391-10-f', 'RFC4392-1.2-k'],
      title: 'takes nothing from a multicast group it never joined, and on a group it joined answers only the IPv6 destinations it listens to (P-MC-1)',
      tags: ['robustness', 'multicast', 'ipv6', 'icmp'],
      requires: ['probe', 'ipv4', 'ipv6'],
    },
    async (t) => {
      const host = await ProbeHost.open(t);
      await host.expectNdAnswer('setup: the DUT learns the probe');
      const allNodes = await probeGroup(t, mgidForIpv6Group('ff02::1', PKEY_DEFAULT));
      const before = host.countersAtOpen;
      // The control: an echo to all-nodes on the all-nodes group is answered, so the path works.
      host.clear();
      const control = host.nextSeq();
      host.send(allNodes, groupEcho6(host, 'ff02::1', control));
      await host.expectEchoReply(6, control, 'echo to ff02::1 on the all-nodes group');
      // The same group carrying an echo to ff02::1:3, which the DUT does not listen to.
      const notListening = host.nextSeq();
      host.send(allNodes, groupEcho6(host, 'ff02::1:3', notListening));
      // A group nobody but the probe joined, carrying an ARP request and an echo for the DUT's own addresses.
      const unknown = await probeGroup(t, mgidForIpv4Group('239.10.10.10', PKEY_DEFAULT));
      host.send(unknown, ipoibFrame(ETH_P_ARP, arpBody({ sha: host.hwaddr, spa: PROBE_IPV4, tpa: host.dutIpv4 })));
      const unknownEcho = host.nextSeq();
      host.send(unknown, ipoibFrame(ETH_P_IP, host.echoPacket(4, unknownEcho)));
      const seen = await host.unicastWithin(SILENCE_MS);
      const echoes = seen.map((f) => echoReplyOf(f.payload)?.sequence).filter((s) => s !== undefined);
      await t.attachJson('answers', { echoSequences: echoes, arpReplies: seen.filter((f) => isArpReply(f.payload, { from: host.dutIpv4 })).length, notListening, unknownEcho });
      expect(echoes, `echo reply to ff02::1:3 (sequence ${notListening}), a group the DUT does not listen to`).to.not.include(notListening);
      expect(echoes, `echo reply to an echo sent on ${formatGid(unknown.grh!.dgid)}, a group the DUT never joined`).to.not.include(unknownEcho);
      expect(seen.filter((f) => isArpReply(f.payload, { from: host.dutIpv4 })).length, `ARP replies to a request sent on ${formatGid(unknown.grh!.dgid)}, a group the DUT never joined`).to.equal(0);
      await expectUnharmed(t, host, before, 'unknown multicast');
    },
  );

  conformance(
    {
      covers: ['RFC4391-4-c', 'RFC4392-3.2.2-a', 'RFC4391-4-i'],
      title: 'never joins a T=0 or other-scope twin of its groups, takes nothing sent there, and survives IPv4 on a 0x601b group and IPv6 on a 0x401b group (P-MC-2)',
      tags: ['robustness', 'multicast', 'mgid', 'ipv6'],
      requires: ['probe', 'ipv4', 'ipv6'],
    },
    async (t) => {
      const host = await ProbeHost.open(t);
      await host.expectArpAnswer('setup');
      await host.expectNdAnswer('setup');
      const bcast = broadcastMgid(PKEY_DEFAULT);
      const permanent = Buffer.from(bcast);
      permanent[1] = (permanent[1]! & 0x0f) | 0x00; // flags nibble 0: T=0
      const siteScope = broadcastMgid(PKEY_DEFAULT, 0x5);
      const allNodes = await probeGroup(t, mgidForIpv6Group('ff02::1', PKEY_DEFAULT));
      const twins = [await probeGroup(t, permanent), await probeGroup(t, siteScope)];
      const before = host.countersAtOpen;
      host.clear();
      const v4OnV6 = host.nextSeq();
      host.send(allNodes, ipoibFrame(ETH_P_IP, host.echoPacket(4, v4OnV6)));
      const v6OnV4 = host.nextSeq();
      host.send(host.toBroadcast(), ipoibFrame(ETH_P_IPV6, host.echoPacket(6, v6OnV4)));
      for (const twin of twins) host.send(twin, ipoibFrame(ETH_P_ARP, arpBody({ sha: host.hwaddr, spa: PROBE_IPV4, tpa: host.dutIpv4 })));
      const seen = await host.unicastWithin(SILENCE_MS);
      const echoes = seen.map((f) => echoReplyOf(f.payload)?.sequence);
      await t.attachJson('signature mismatch policy (recorded)', { ipv4OnIpv6Group: echoes.includes(v4OnV6) ? 'answered' : 'dropped', ipv6OnIpv4Group: echoes.includes(v6OnV4) ? 'answered' : 'dropped' });
      expect(seen.filter((f) => isArpReply(f.payload, { from: host.dutIpv4 })).length, `ARP replies to requests sent on ${twins.map((d) => formatGid(d.grh!.dgid)).join(' and ')}, groups the DUT never joined`).to.equal(0);
      const dutGid = host.dut.link.hwaddr.gid;
      for (const twin of twins) {
        const members = await t.probe.groupMembers(twin.grh!.dgid);
        expect(members.filter((m) => m.portGid.equals(dutGid)).map((m) => m.joinState), `the DUT's membership of ${formatGid(twin.grh!.dgid)}`).to.deep.equal([]);
      }
      const mcg = await t.dut.adapter.mcgDump();
      await t.attachJson('DUT multicast groups', mcg.map((r) => formatGid(r.mgid)));
      for (const row of mcg) {
        expect(row.mgid[1]! >> 4, `flags nibble of ${formatGid(row.mgid)} (T must be 1)`).to.equal(0x1);
        expect(row.mgid[1]! & 0x0f, `scope of ${formatGid(row.mgid)} vs. the broadcast group's`).to.equal(bcast[1]! & 0x0f);
      }
      await expectUnharmed(t, host, before, 'signature, flag and scope mismatches');
    },
  );

  conformance(
    {
      covers: ['RFC4392-1.3-a', 'RFC4391-5-d'],
      title: 'drops its own ARP requests when the broadcast group delivers them back, and its addresses pass duplicate address detection (P-MC-4)',
      tags: ['robustness', 'multicast', 'arp'],
      requires: ['probe', 'wire-capture', 'ipv4'],
    },
    async (t) => {
      const [link, before] = await Promise.all([t.dut.adapter.link(), t.dut.adapter.counters()]);
      const dutLid = await lidOf(t, link.hwaddr.gid, PKEY_DEFAULT);
      // The DUT resolves an address nobody holds: its ARP requests go to the broadcast group, of which it is a member.
      const nobody = '192.0.2.77';
      const { frames } = await t.capture(() => t.dut.adapter.ping(nobody, { count: 1, waitSeconds: 1 }));
      const after = await t.dut.adapter.counters();
      const delta = counterDelta(before, after);
      const isArp = (f: (typeof frames)[number]): boolean => f.header?.type === ETH_P_ARP;
      const own = frames.filter((f) => isArp(f) && f.slid === dutLid && f.srcQpn === link.hwaddr.qpn && f.destQpn === MCAST_QPN);
      // Well-formed ARP from other ports that the DUT was meant to receive (to the broadcast group or its QP).
      const others = frames.filter((f) => isArp(f) && f.slid !== dutLid && (f.destQpn === MCAST_QPN || f.destQpn === link.hwaddr.qpn));
      // A multicast packet may be captured once per receiving port: each ARP packet counts once.
      const othersOnce = uniqueFrames(others, (f) => `${f.slid}/${f.srcQpn}/${f.body.toString('hex')}`);
      await t.attachJson('ARP on the fabric while the DUT resolved an absent address', {
        own: own.map((f) => ({ dlid: f.dlid, tpa: arpOf(f.ib.payload)?.tpa ?? null })),
        others: others.map((f) => ({ slid: f.slid, srcQpn: hex(f.srcQpn, 6), dlid: f.dlid })),
        counterDelta: Object.fromEntries(Object.entries(delta).filter(([, v]) => v !== 0)),
      });
      expect(own.length, `ARP requests the DUT sent to the broadcast group while resolving ${nobody} (the stimulus)`).to.be.at.least(1);
      if (delta.rx_arp !== undefined) {
        expect(delta.rx_arp, `rx_arp: ARP the DUT took in while it sent ${own.length} request(s) of its own; only the ${others.length} from other ports may count`).to.be.at.most(othersOnce.length);
      }
      const addresses = await t.dut.adapter.addresses();
      expect(addresses.filter((a) => a.dadFailed).map((a) => a.address), 'DUT addresses whose duplicate address detection failed').to.deep.equal([]);
    },
  );

  conformance(
    {
      covers: ['RFC4391-5-b', 'RFC4392-4.2.5-c'],
      title: 'joins the broadcast group again as a full member after the subnet manager restarts and after a P_Key table change, and keeps working (P-MC-5)',
      tags: ['robustness', 'multicast', 'sa', 'pkey'],
      requires: ['probe', 'fabric-control', 'ipv4'],
      timeoutMs: 40_000,
    },
    async (t) => {
      const sim = t.lab.sim!;
      const [link, peerLink, before] = await Promise.all([t.dut.adapter.link(), t.peer.adapter.link(), t.dut.adapter.counters()]);
      const bcast = broadcastMgid(PKEY_DEFAULT);
      await t.step('SM stops and comes back (client reregister)', async () => {
        await sim.setSmRunning(false);
        t.defer(() => sim.setSmRunning(true), 'the SM runs again');
        await sleep(200);
        await sim.setSmRunning(true);
        const [dutBack, peerBack] = await Promise.all([waitForMember(t, bcast, link.hwaddr.gid, 8000), waitForMember(t, bcast, peerLink.hwaddr.gid, 8000)]);
        expect(peerBack, 'the peer is a full member of the broadcast group again within 8 s (lab precondition)').to.equal(true);
        expect(dutBack, 'the DUT is a full member of the broadcast group again within 8 s of the SM restart').to.equal(true);
      });
      await t.step('P_Key table change', async () => {
        const table = await smPkeysOf(t, t.dut.fabricNode);
        if (!table) throw new Error(`the fabric status lists no port ${t.dut.fabricNode}`);
        await setPortPkeys(t, t.dut.fabricNode, [...table, 0x8007]);
        await sleep(300);
        expect(await waitForMember(t, bcast, link.hwaddr.gid, 5000), 'the DUT is a full member of the broadcast group after the P_Key change').to.equal(true);
      });
      await t.attachJson('not exercised here', { reason: 'the simulated SM cannot delete and re-create a pre-created broadcast group with a new Q_Key or MTU' });
      const host = await ProbeHost.open(t);
      const delta = await expectUnharmed(t, host, before, 'SM restart and P_Key change');
      await t.attachJson('DUT address before and after', { before: formatHwAddr(link.hwaddr), joinsDelta: delta.mcast_joins });
    },
  );
});
