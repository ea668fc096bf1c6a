/**
 * FastPathTables without privileges: a scripted control plane on one side, a recorder of the
 * data plane's table calls on the other; and the fast path's use reaching the ageing of a real
 * IpoibInterface on an in-memory port with a fake clock.
 */
import { expect } from 'chai';
import { type FastPathNeighbour, IpoibInterface } from '../../src/ipoib/interface.js';
import type { McastGroupInfo } from '../../src/ipoib/mcast-manager.js';
import { NEIGH_IDLE_LIMIT_MS } from '../../src/ipoib/neighbours.js';
import { FAST_PATH_USE_POLL_MS } from '../../src/ipoib/node.js';
import { FastPathTables, type TablesSource, type TablesTarget } from '../../src/ipoib/node-tables.js';
import type { MulticastEntry, NeighbourEntry } from '../../src/ipoib/native/tun-data-plane.js';
import { buildArpReply } from '../../src/ipoib/arp-messages.js';
import { frame } from '../../src/ipoib/frames.js';
import { encodeToBuffer } from '../../src/wire/codec.js';
import { ETH_P_ARP, ETH_P_IP, IPOIB_DEFAULT_QKEY, JOIN_STATE_SEND_ONLY_FULL } from '../../src/wire/constants.js';
import { ipv4Packet, makeIpv4Packet } from '../../src/wire/ipv4.js';
import { broadcastMgid, formatGid, mgidForIpv4Group, mgidForIpv6Group, parseGid } from '../../src/wire/mgid.js';
import { createFakeClock } from '../fabric/fake-clock.js';
import { fakePortWithGroups } from '../ipoib/fake-port.js';

class FakeSource implements TablesSource {
  carrier = true;
  pkey = 0xffff;
  neighbours: FastPathNeighbour[] = [];
  groups: McastGroupInfo[] = [];
  addresses = ['192.0.2.1/24'];
  fastPathNeighbours(): FastPathNeighbour[] {
    return this.neighbours;
  }
  multicastGroups(): McastGroupInfo[] {
    return this.groups;
  }
  broadcastMgid(): Buffer {
    return broadcastMgid(this.pkey);
  }
  addressList(): string[] {
    return this.addresses;
  }
}

class Recorder implements TablesTarget {
  closed = false;
  readonly calls: string[] = [];
  /** What takeUsed() reports next (then empties), as the native table would. */
  used: { neighbours: string[]; groups: string[] } = { neighbours: [], groups: [] };
  takeUsed(): { neighbours: string[]; groups: string[] } {
    const u = this.used;
    this.used = { neighbours: [], groups: [] };
    return u;
  }
  readonly neighbours = new Map<string, NeighbourEntry>();
  readonly groups = new Map<string, MulticastEntry>();
  setNeighbour(ip: string, e: NeighbourEntry): void {
    this.calls.push(`set ${ip}`);
    this.neighbours.set(ip, e);
  }
  deleteNeighbour(ip: string): boolean {
    this.calls.push(`del ${ip}`);
    return this.neighbours.delete(ip);
  }
  setMulticast(ip: string, e: MulticastEntry): void {
    this.calls.push(`mset ${ip}`);
    this.groups.set(ip, e);
  }
  deleteMulticast(ip: string): boolean {
    this.calls.push(`mdel ${ip}`);
    return this.groups.delete(ip);
  }
}

const neighbour = (ip: string, dlid: number, qpn = 0x48): FastPathNeighbour => ({ ip, family: ip.includes(':') ? 6 : 4, qpn, flags: 0, dlid, sl: 0 });
const group = (mgid: Buffer, mlid: number | null, joined = true): McastGroupInfo => ({
  mgid: formatGid(mgid),
  kind: 'full',
  joined,
  attached: joined,
  mlid,
  queueLen: 0,
  backoffS: 0,
});

describe('FastPathTables: the data plane tables follow the control plane @ipoib-stack @tun', function () {
  it('installs resolved neighbours once, replaces a moved one and deletes those the control plane forgot @ipoib-stack @tun @arp @nd', function () {
    const src = new FakeSource();
    const dst = new Recorder();
    const t = new FastPathTables(src, dst);
    src.neighbours = [neighbour('192.0.2.2', 3), neighbour('2001:db8::2', 3)];
    t.sync();
    t.sync();
    expect(dst.calls.filter((c) => !c.startsWith('m'))).to.deep.equal(['set 192.0.2.2', 'set 2001:db8::2']);
    expect(dst.neighbours.get('192.0.2.2')).to.deep.equal({ dlid: 3, dqpn: 0x48, flags: 0, sl: 0 });

    dst.calls.length = 0;
    src.neighbours = [neighbour('192.0.2.2', 7, 0x99)]; // the peer moved; ::2 aged out
    t.sync();
    expect(dst.calls.filter((c) => !c.startsWith('m'))).to.deep.equal(['del 2001:db8::2', 'set 192.0.2.2']);
    expect(dst.neighbours.get('192.0.2.2')).to.deep.equal({ dlid: 7, dqpn: 0x99, flags: 0, sl: 0 });
    expect(t.sizes().neighbours).to.equal(1);
  });

  it('maps the broadcast addresses and tracked groups only while their InfiniBand group is joined with an MLID @ipoib-stack @tun @multicast @mgid', function () {
    const src = new FakeSource();
    const dst = new Recorder();
    const t = new FastPathTables(src, dst);
    const bcast = broadcastMgid(0xffff);
    const g = mgidForIpv4Group('239.1.2.3', 0xffff);
    const g6 = mgidForIpv6Group('ff02::1', 0xffff);
    src.groups = [group(bcast, 0xc000), group(g, null, false), group(g6, 0xc002)];
    t.track('239.1.2.3');
    t.track('ff02::1');
    t.sync();
    expect([...dst.groups.keys()].sort()).to.deep.equal(['192.0.2.255', '255.255.255.255', 'ff02::1']);
    expect(dst.groups.get('192.0.2.255')?.mlid).to.equal(0xc000);
    expect(dst.groups.get('ff02::1')?.mgid.equals(g6)).to.equal(true);

    src.groups = [group(bcast, 0xc000), group(g, 0xc001)]; // 239.1.2.3 joined; ff02::1 left
    t.sync();
    expect([...dst.groups.keys()].sort()).to.deep.equal(['192.0.2.255', '239.1.2.3', '255.255.255.255']);
    expect(dst.groups.get('239.1.2.3')?.mgid.equals(g)).to.equal(true);

    t.untrack('239.1.2.3');
    t.untrack('255.255.255.255'); // not a tracked group: stays
    t.sync();
    expect([...dst.groups.keys()].sort()).to.deep.equal(['192.0.2.255', '255.255.255.255']);
  });

  it('empties both tables while the carrier is off, and clear() removes what it installed @ipoib-stack @tun @multicast', function () {
    const src = new FakeSource();
    const dst = new Recorder();
    const t = new FastPathTables(src, dst);
    src.neighbours = [neighbour('192.0.2.2', 3)];
    src.groups = [group(broadcastMgid(0xffff), 0xc000)];
    t.sync();
    expect([dst.neighbours.size, dst.groups.size]).to.deep.equal([1, 2]);
    src.carrier = false;
    t.sync();
    expect([dst.neighbours.size, dst.groups.size]).to.deep.equal([0, 0]);
    src.carrier = true;
    t.sync();
    t.clear();
    expect([dst.neighbours.size, dst.groups.size, t.sizes().neighbours, t.sizes().groups]).to.deep.equal([0, 0, 0, 0]);
  });

  it('does nothing once the data plane is closed @ipoib-stack @tun', function () {
    const src = new FakeSource();
    const dst = new Recorder();
    const t = new FastPathTables(src, dst);
    dst.closed = true;
    src.neighbours = [neighbour('192.0.2.2', 3)];
    t.sync();
    expect(dst.calls).to.deep.equal([]);
  });

  it('reports the entries the data plane sent to by the control plane\'s names: its IP text and its MGIDs @ipoib-stack @tun @arp @nd @multicast @ip @mgid', function () {
    const src = new FakeSource();
    const dst = new Recorder();
    const t = new FastPathTables(src, dst);
    const bcast = broadcastMgid(0xffff);
    const g = mgidForIpv4Group('239.1.2.3', 0xffff);
    src.neighbours = [neighbour('192.0.2.2', 3), neighbour('2001:db8::2', 3), neighbour('192.0.2.5', 4)];
    src.groups = [group(bcast, 0xc000), group(g, 0xc001)];
    t.track('239.1.2.3');
    t.sync();
    // The data plane spells IPv6 its own way; 192.0.2.99 was never installed (deleted meanwhile).
    dst.used = { neighbours: ['2001:db8:0:0:0:0:0:2', '192.0.2.2', '192.0.2.99'], groups: ['255.255.255.255', '192.0.2.255', '239.1.2.3'] };
    const used = t.takeUsed();
    expect(used.neighbours.sort()).to.deep.equal(['192.0.2.2', '2001:db8::2']);
    expect(used.mgids.sort(), 'both broadcast addresses are one group').to.deep.equal([formatGid(bcast), formatGid(g)].sort());
    expect(t.takeUsed()).to.deep.equal({ neighbours: [], mgids: [] });
    dst.closed = true;
    dst.used = { neighbours: ['192.0.2.2'], groups: [] };
    expect(t.takeUsed(), 'closed: nothing asked').to.deep.equal({ neighbours: [], mgids: [] });
  });
});

describe('FastPathTables: the fast path\'s sends keep control-plane entries from ageing out @ipoib-stack @tun', function () {
  const PEER_GID = parseGid('fe80::2:c903:0:201');
  const PEER = { flags: 0, qpn: 0x99, gid: PEER_GID };
  const ipv4 = (dst: string): Buffer => encodeToBuffer(ipv4Packet, makeIpv4Packet({ src: '10.0.0.1', dst, protocol: 17, payload: Buffer.alloc(8) }));

  it('keeps a neighbour and a send-only group in use for minutes, and ages them out 60 s after the use stops @ipoib-stack @tun @arp @multicast', async function () {
    const clock = createFakeClock(10_000);
    const port = fakePortWithGroups();
    port.sa.paths.set(PEER_GID.toString('hex'), { dlid: 3, sl: 0, rate: 3 });
    const iface = new IpoibInterface({ name: 'ib0', port, clock });
    await iface.open();
    await clock.settle();
    iface.addAddress('10.0.0.1/24');
    try {
      // Resolve 10.0.0.2 and join 239.5.5.5 send-only, as the first punted packets would.
      iface.transmit(ipv4('10.0.0.2'), ETH_P_IP);
      iface.transmit(ipv4('239.5.5.5'), ETH_P_IP);
      const qp = port.liveQp();
      if (!qp) throw new Error('no live QP');
      const reply = frame(ETH_P_ARP, buildArpReply(PEER, '10.0.0.2', iface.hwAddr(), '10.0.0.1'));
      qp.deliver([{ qpn: qp.qpn, srcQpn: PEER.qpn, slid: 3, sl: 0, pkey: 0xffff, qkey: IPOIB_DEFAULT_QKEY, payload: reply }]);
      await clock.settle();

      const plane = new Recorder();
      const tables = new FastPathTables(iface, plane);
      tables.track('239.5.5.5');
      tables.sync();
      expect([...plane.neighbours.keys()], 'installed in the fast path').to.deep.equal(['10.0.0.2']);
      expect([...plane.groups.keys()], 'the group too, once joined').to.include('239.5.5.5');
      const group = formatGid(mgidForIpv4Group('239.5.5.5', 0xffff));
      const inControlPlane = (): [boolean, boolean] => [
        iface.neighbours().some((n) => n.ip === '10.0.0.2'),
        iface.multicastGroups().some((g) => g.mgid === group),
      ];

      // Three minutes of fast-path traffic: the node's poll reports it every FAST_PATH_USE_POLL_MS.
      // The peer is alive: it answers the unicast ARP requests that revalidate its entry.
      let seen = port.sent.length;
      const report = (): void => {
        const used = tables.takeUsed();
        iface.noteFastPathUse(used.neighbours, used.mgids);
        const probed = port.sent.slice(seen).some((s) => s.to.dqpn === PEER.qpn && s.payload.readUInt16BE(0) === ETH_P_ARP);
        seen = port.sent.length;
        if (probed) qp.deliver([{ qpn: qp.qpn, srcQpn: PEER.qpn, slid: 3, sl: 0, pkey: 0xffff, qkey: IPOIB_DEFAULT_QKEY, payload: reply }]);
      };
      for (let ms = 0; ms < 3 * 60_000; ms += FAST_PATH_USE_POLL_MS) {
        plane.used = { neighbours: ['10.0.0.2'], groups: ['239.5.5.5'] };
        await clock.tick(FAST_PATH_USE_POLL_MS);
        report();
      }
      expect(inControlPlane(), 'busy for 3 min: both kept').to.deep.equal([true, true]);
      expect(iface.stats().neigh_gc_removed).to.equal(0);
      expect(iface.neighbours()[0]!.idleMs, 'idle no longer than one poll').to.be.at.most(FAST_PATH_USE_POLL_MS);

      // The traffic stops: gone after the idle limit, at the next collection (every 30 s).
      for (let ms = 0; ms < NEIGH_IDLE_LIMIT_MS; ms += FAST_PATH_USE_POLL_MS) {
        await clock.tick(FAST_PATH_USE_POLL_MS);
        report();
      }
      expect(inControlPlane(), 'idle for exactly the limit: not more than it yet').to.deep.equal([true, true]);
      await clock.tick(30_000);
      expect(inControlPlane(), 'idle beyond the limit: both gone').to.deep.equal([false, false]);
      expect(iface.stats().neigh_gc_removed).to.equal(1);
      expect(port.sa.leaves.some((l) => l.mgid === mgidForIpv4Group('239.5.5.5', 0xffff).toString('hex') && l.joinState === JOIN_STATE_SEND_ONLY_FULL)).to.equal(true);
      tables.sync();
      expect(plane.neighbours.size, 'and the fast path forgets the neighbour').to.equal(0);
    } finally {
      await iface.destroy();
    }
  });
});
