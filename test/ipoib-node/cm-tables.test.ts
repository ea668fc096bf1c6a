/**
 * FastPathTables in connected mode, without privileges: a neighbour whose connection is being
 * made goes to the data plane with `connecting`, then with `rc` (QP and MTU) once it is up, and
 * back to plain UD when the interface leaves connected mode; each change is installed once.
 */
import { expect } from 'chai';
import type { FastPathNeighbour } from '../../src/ipoib/interface.js';
import type { McastGroupInfo } from '../../src/ipoib/mcast-manager.js';
import { FastPathTables, type TablesSource, type TablesTarget } from '../../src/ipoib/node-tables.js';
import type { MulticastEntry, NeighbourEntry } from '../../src/ipoib/native/tun-data-plane.js';
import { broadcastMgid } from '../../src/wire/mgid.js';

class Source implements TablesSource {
  carrier = true;
  pkey = 0xffff;
  neighbours: FastPathNeighbour[] = [];
  fastPathNeighbours(): FastPathNeighbour[] {
    return this.neighbours;
  }
  multicastGroups(): McastGroupInfo[] {
    return [];
  }
  broadcastMgid(): Buffer {
    return broadcastMgid(this.pkey);
  }
  addressList(): string[] {
    return [];
  }
}

class Plane implements TablesTarget {
  closed = false;
  readonly sets: Array<[string, NeighbourEntry]> = [];
  readonly neighbours = new Map<string, NeighbourEntry>();
  takeUsed(): { neighbours: string[]; groups: string[] } {
    return { neighbours: [], groups: [] };
  }
  setNeighbour(ip: string, e: NeighbourEntry): void {
    this.sets.push([ip, e]);
    this.neighbours.set(ip, e);
  }
  deleteNeighbour(ip: string): boolean {
    return this.neighbours.delete(ip);
  }
  setMulticast(_ip: string, _e: MulticastEntry): void {}
  deleteMulticast(): boolean {
    return false;
  }
}

const peer = (extra: Partial<FastPathNeighbour> = {}): FastPathNeighbour => ({ ip: '192.0.2.2', family: 4, qpn: 0x48, flags: 0x80, dlid: 3, sl: 0, ...extra });

describe('fast-path tables in connected mode @cm @rc @tun @ipoib-stack', function () {
  it('installs connecting, then the connection, then UD again, each once @cm @rc @tun @ipoib-stack', function () {
    const source = new Source();
    const plane = new Plane();
    const tables = new FastPathTables(source, plane);
    source.neighbours = [peer({ connecting: true })];
    tables.sync();
    tables.sync();
    source.neighbours = [peer({ rc: { qpn: 0x99, mtu: 65524 } })];
    tables.sync();
    tables.sync();
    source.neighbours = [peer({ rc: { qpn: 0x9a, mtu: 2048 } })];
    tables.sync();
    source.neighbours = [peer()];
    tables.sync();
    expect(plane.sets.map(([, e]) => ({ rc: e.rc, connecting: e.connecting }))).to.deep.equal([
      { rc: undefined, connecting: true },
      { rc: { qpn: 0x99, mtu: 65524 }, connecting: undefined },
      { rc: { qpn: 0x9a, mtu: 2048 }, connecting: undefined },
      { rc: undefined, connecting: undefined },
    ]);
    expect(plane.neighbours.get('192.0.2.2')).to.deep.equal({ dlid: 3, dqpn: 0x48, flags: 0x80, sl: 0 });
  });
});
