/**
 * OFA-style interoperability pings: in every mode both ends support, with the neighbour tables
 * of both ends flushed first (so each size also exercises address resolution), the node's own
 * ping reaches the other end at 511, 1025, 2044, 8192, 32768 and 65492 octets of ICMP payload,
 * over IPv4 and IPv6, DUT to peer and peer to DUT. Sizes above the link MTU travel as IP
 * fragments, each an IPoIB UD message (in connected mode an RC message on the connection, and
 * the link MTU is the connected-mode one, 65520 on Linux, so every size is one packet).
 */
import { expect } from 'chai';
import type { IpoibMode } from '../../src/lab/adapters/dut.js';
import type { LabNodeHandle } from '../../src/lab/lab-session.js';
import { conformance, type Case } from '../harness/conformance.js';
import { oncePerLab } from '../harness/once-per-lab.js';
import { enterMode, MODES } from './modes.js';

const PING_SIZES = [511, 1025, 2044, 8192, 32768, 65492] as const;
const PING_COUNT = 3;
const PING_INTERVAL_SECONDS = 0.2;
const IPV4_HEADER_LEN = 20;
const IPV6_HEADER_LEN = 40;
const IPV6_FRAGMENT_HEADER_LEN = 8;
const ICMP_HEADER_LEN = 8;
/**
 * Packets an IPoIB sender holds for one neighbour while it resolves the neighbour's path (Linux
 * ib_ipoib and the reference stack alike); packets beyond it are dropped, so after a flush the
 * echoes sent while the path resolves may be lost when they take more packets than that.
 */
const RESOLUTION_QUEUE_PACKETS = 3;

type Family = 'IPv4' | 'IPv6';
type Direction = 'DUT to peer' | 'peer to DUT';

/** IP packets one echo request of `size` payload octets becomes on a link of `mtu`. */
function fragmentsOf(family: Family, size: number, mtu: number): number {
  const icmp = ICMP_HEADER_LEN + size;
  if (family === 'IPv4') {
    if (IPV4_HEADER_LEN + icmp <= mtu) return 1;
    return Math.ceil(icmp / (Math.floor((mtu - IPV4_HEADER_LEN) / 8) * 8));
  }
  if (IPV6_HEADER_LEN + icmp <= mtu) return 1;
  return Math.ceil(icmp / (Math.floor((mtu - IPV6_HEADER_LEN - IPV6_FRAGMENT_HEADER_LEN) / 8) * 8));
}

function addressOf(node: LabNodeHandle, family: Family): string | null {
  return family === 'IPv4' ? node.ipv4 : node.ipv6;
}

/** The smaller of the two ends' interface MTUs in `mode` (a mode switch sets the MTU), asked once per lab session and mode. */
function mtuOfLink(t: Case, mode: IpoibMode): Promise<number> {
  return oncePerLab(t, `interop/link-mtu/${mode}`, async () => Math.min(...(await Promise.all([t.dut.adapter.mtu(), t.peer.adapter.mtu()]))));
}

function pingCase(mode: IpoibMode, family: Family, direction: Direction, size: number): void {
  const ipTag = family === 'IPv4' ? ('ip' as const) : ('ipv6' as const);
  conformance(
    {
      covers: [
        ...(family === 'IPv4'
          ? ['RFC4391-1-a', 'RFC4391-2-b', 'RFC4391-6-a', 'RFC4391-7-c', 'RFC4391-9.2-a', 'RFC4391-9.1.1-f']
          : ['RFC4391-1-a', 'RFC4391-2-b', 'RFC4391-6-a', 'RFC4391-7-c', 'RFC4391-9.3-a', 'RFC4391-9.1.1-f']),
        // RFC 4755 §2: resolution and encapsulation are RFC 4391's in connected mode too.
        ...(mode === 'connected' ? ['RFC4755-2-d'] : []),
      ],
      title: `${mode} mode: ${family} ping with ${size} octets of payload, ${direction}, after a neighbour flush on both ends`,
      tags: ['interop', ipTag, 'mtu', 'icmp', ...(family === 'IPv4' ? (['arp'] as const) : (['nd'] as const))],
      requires: [family === 'IPv4' ? 'ipv4' : 'ipv6', ...(mode === 'connected' ? (['connected-mode'] as const) : [])],
    },
    async (t) => {
      await t.parameter('mode', mode);
      await t.parameter('family', family);
      await t.parameter('direction', direction);
      await t.parameter('size', size);
      await enterMode(t, mode);
      const [from, to] = direction === 'DUT to peer' ? [t.dut, t.peer] : [t.peer, t.dut];
      const target = addressOf(to, family);
      if (target === null) return t.skip(`the lab file gives ${to.node.name} no ${family} address`);
      const mtu = await mtuOfLink(t, mode);
      await t.step('flush the neighbour tables of both ends', async () => {
        const undos = await Promise.all([t.dut.adapter.flushNeighbours(), t.peer.adapter.flushNeighbours()]);
        for (const u of undos) t.defer(u, 'neighbour flush (nothing to put back)');
      });
      const result = await from.adapter.ping(target, { size, count: PING_COUNT, intervalSeconds: PING_INTERVAL_SECONDS, waitSeconds: 2 });
      const fragments = fragmentsOf(family, size, mtu);
      await t.attachJson('ping', { from: from.node.name, to: `${to.node.name} ${target}`, size, linkMtu: mtu, fragmentsPerEcho: fragments, ...result });
      // Three one-packet echoes fit the resolution queue whatever the timing; fragmented ones may overflow it.
      const wanted = fragments * PING_COUNT <= RESOLUTION_QUEUE_PACKETS ? PING_COUNT : 1;
      expect(
        result.received,
        `echo replies to ${PING_COUNT} ${family} echo requests of ${size} octets from ${from.node.name} to ${target} (${fragments} fragment(s) each at MTU ${mtu}; want ${wanted}${wanted < PING_COUNT ? ': fragments beyond the resolution queue may be lost while the path resolves' : ''})`,
      ).to.be.at.least(wanted);
    },
  );
}

describe('interop: ping of every size in both directions @interop', function () {
  for (const mode of MODES) {
    for (const family of ['IPv4', 'IPv6'] as const) {
      for (const direction of ['DUT to peer', 'peer to DUT'] as const) {
        for (const size of PING_SIZES) pingCase(mode, family, direction, size);
      }
    }
  }
});
