/**
 * A flood of malformed frames (research §6.2 expectations, at rate): 2000 short frames, frames
 * of unknown EtherTypes, malformed ARP and ND with bad link-layer options, half to the DUT's QP
 * and half to the broadcast group, as fast as the probe can send. The DUT must come through it
 * answering as before; its drop counters show drops of each kind, never more than were sent.
 */
import { expect } from 'chai';
import { ARPHRD_INFINIBAND, ARP_OP_REQUEST, ETH_P_ARP, ETH_P_IP, ETH_P_IPV6, ND_OPT_SOURCE_LLADDR } from '../../src/wire/constants.js';
import { conformance } from '../harness/conformance.js';
import { ipoibFrame, nsPacket, rawArpBody } from '../harness/frames.js';
import { PROBE_IPV6, ProbeHost } from './probe-host.js';
import { type DropReason, dropsCounted, expectUnharmed } from './unharmed.js';

const FLOOD_FRAMES = 2000;
/** Frames sent between two yields to the event loop, so the probe's own receive side keeps up. */
const BATCH_FRAMES = 100;

describe('robustness probes: flood of malformed frames @robustness', function () {
  conformance(
    {
      covers: ['RFC4391-6-a', 'RFC4391-9.2-d', 'RFC4391-9.3-c'],
      title: 'comes through 2000 malformed frames (short, unknown EtherType, bad ARP, bad ND options) to its QP and the broadcast group and answers as before',
      tags: ['robustness', 'encap', 'arp', 'nd'],
      requires: ['probe', 'ipv4', 'ipv6'],
      timeoutMs: 45_000,
    },
    async (t) => {
      const host = await ProbeHost.open(t);
      const badArp = rawArpBody({ htype: ARPHRD_INFINIBAND, ptype: ETH_P_IP, hlen: 6, plen: 4, op: ARP_OP_REQUEST, sha: host.hwaddr, spa: '192.0.2.199', tpa: host.dutIpv4 });
      const badNd = nsPacket({ src: PROBE_IPV6, dst: host.dutIpv6, target: host.dutIpv6, options: [{ kind: 'raw', type: ND_OPT_SOURCE_LLADDR, length: 1, data: Buffer.alloc(6) }] });
      const kinds: Array<{ reason: DropReason; frame: Buffer }> = [
        { reason: 'short', frame: Buffer.from([0x08, 0x00]) },
        { reason: 'ethertype', frame: ipoibFrame(0x88b5, Buffer.alloc(60, 0x5a)) },
        { reason: 'arp', frame: ipoibFrame(ETH_P_ARP, badArp) },
        { reason: 'nd', frame: ipoibFrame(ETH_P_IPV6, badNd) },
      ];
      const before = host.countersAtOpen;
      const sent: Record<string, number> = Object.fromEntries(kinds.map((k) => [k.reason, 0]));
      const destinations = [host.toDut(), host.toBroadcast()];
      const started = performance.now();
      for (let i = 0; i < FLOOD_FRAMES; i++) {
        const k = kinds[i % kinds.length]!;
        host.send(destinations[Math.floor(i / kinds.length) % 2]!, k.frame);
        sent[k.reason]!++;
        if (i % BATCH_FRAMES === BATCH_FRAMES - 1) await new Promise((r) => setImmediate(r));
      }
      const sendMs = Math.round(performance.now() - started);
      const delta = await expectUnharmed(t, host, before, `a flood of ${FLOOD_FRAMES} malformed frames`);
      await t.attachJson('flood', { frames: FLOOD_FRAMES, sendMs, sentByKind: sent });
      // Under a flood a stack may shed frames before it classifies them, so each reason must show
      // some drops, and never more than frames of that kind were sent.
      for (const k of kinds) {
        const counted = dropsCounted(delta, k.reason);
        if (counted === null) continue;
        expect(counted, `drops counted for "${k.reason}" after the flood: between 1 and the ${sent[k.reason]} such frames sent`).to.be.within(1, sent[k.reason]!);
      }
    },
  );
});
