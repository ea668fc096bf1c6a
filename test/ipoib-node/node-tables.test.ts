/**
 * FastPathTables without privileges: a scripted control plane on one side, a recorder of the
 * data plane's table calls on the other.
 */
import { expect } from 'chai';
import type { FastPathNeighbour } from '../../src/ipoib/interface.js';
import type { McastGroupInfo } from '../../src/ipoib/mcast-manager.js';
import { FastPathTables, type TablesSource, type TablesTarget } from '../../src/ipoib/node-tables.js';
import type { MulticastEntry, NeighbourEntry } from '../../src/ipoib/native/tun-data-plane.js';
import { broadcastMgid, formatGid, mgidForIpv4Group, mgidForIpv6Group } from '../../src/wire/mgid.js';

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
});
