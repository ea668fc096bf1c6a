/**
 * ipoibctl against in-process daemons on an in-process simulated fabric: what each command
 * prints (human and --json), the kernel's errno for every refused create_child, delete_child
 * and link add, and the debugfs and ethtool layouts from the project's kernel research
 * (../shared/research/kernel-ipoib.md §1-§4).
 */
import { expect } from 'chai';
import { ETH_P_IP } from '../../src/wire/constants.js';
import { parseIpv6 } from '../../src/wire/ip-text.js';
import { DaemonClient, DaemonRequestError } from '../../src/ipoib/daemon/client.js';
import type { IpoibDaemon } from '../../src/ipoib/daemon/daemon.js';
import { icmpEcho } from '../ipoib/sim-fixture.js';
import { DaemonLab, until } from './daemon-fixture.js';

/** The kernel's GID text: eight big-endian 16-bit groups in %x, no zero padding, no "::". */
function kernelGid(gid: Buffer): string {
  return Array.from({ length: 8 }, (_, i) => gid.readUInt16BE(i * 2).toString(16)).join(':');
}

const colonHex = (b: Buffer): string => [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');

describe('ipoibctl against a running ipoibd @ipoib-stack @cli', function () {
  this.timeout(30_000);
  let lab: DaemonLab;
  let d1: IpoibDaemon;
  let d2: IpoibDaemon;

  before(async function () {
    lab = await DaemonLab.start();
    d1 = await lab.daemon('node1', ['192.0.2.1/24']);
    // node2 offers no connected mode (ipoibd --no-connected-mode): the UD-only case of each check.
    d2 = await lab.daemon('node2', ['192.0.2.2/24'], { cm: { enabled: false } });
    await until('ib0 carrier on both nodes', () => d1.parent.carrier && d2.parent.carrier);
  });
  after(async function () {
    await lab?.close();
  });

  describe('show', function () {
    it('shows type 32, addr_len 20 and an address of flags 0x80 (0x00 without connected mode), the QPN and the port GID @ipoib-stack @cli @hwaddr', async function () {
      const r = await lab.ctl('node1', 'show', 'ib0');
      expect(r.code, r.err).to.equal(0);
      const status = await lab.status();
      const port = status.ports.find((p) => p.node === 'node1');
      expect(port, 'node1 in the manager status').to.not.equal(undefined);
      const gid = parseIpv6(port!.gid);
      const qpn = d1.parent.qpn!;
      const qpnBytes = Buffer.from([(qpn >> 16) & 0xff, (qpn >> 8) & 0xff, qpn & 0xff]);
      const address = colonHex(Buffer.concat([Buffer.from([0x80]), qpnBytes, gid]));
      expect(r.out).to.include(`link/infiniband ${address} brd 00:ff:ff:ff:ff:12:40:1b:ff:ff:00:00:00:00:00:00:ff:ff:ff:ff`);
      expect(r.out).to.match(/^ib0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 2044 state UP$/m);
      expect(r.out).to.match(/type 32 addr_len 20 carrier 1 /);
      expect(r.out).to.include('mode  datagram umcast  0000');
      expect(r.out).to.include('inet 192.0.2.1/24');
      expect((await lab.ctl('node2', 'show', 'ib0')).out).to.match(/link\/infiniband 00:/);
    });

    it('prints the same facts as JSON with --json @ipoib-stack @cli @hwaddr', async function () {
      const r = await lab.ctl('node1', '--json', 'show', 'ib0');
      expect(r.code, r.err).to.equal(0);
      const j = JSON.parse(r.out) as { kind: string; interfaces: Array<Record<string, unknown>> };
      expect(j.kind).to.equal('show');
      const i = j.interfaces[0]!;
      expect(i).to.deep.include({ name: 'ib0', type: 32, addrLen: 20, carrier: true, mode: 'datagram', umcast: 0, mtu: 2044, qpn: d1.parent.qpn });
      expect(String(i.address).slice(0, 2)).to.equal('80');
      expect(i.flags).to.deep.equal(['BROADCAST', 'MULTICAST', 'UP', 'LOWER_UP']);
    });

    it('fails with ENODEV and exit 1 for an interface that does not exist @ipoib-stack @cli', async function () {
      const r = await lab.ctl('node1', 'show', 'ib9');
      expect(r.code).to.equal(1);
      expect(r.err).to.match(/^ipoibctl: show: ENODEV: no IPoIB device ib9$/);
    });

    it('exits 2 on a command line it cannot parse @ipoib-stack @cli', async function () {
      for (const argv of [['frob'], ['mtu', 'ib0', 'big'], ['create_child', 'ib0'], ['link', 'add', 'link', 'ib0', 'type', 'vlan'], ['--bogus', 'show']]) {
        const r = await lab.ctl('node1', ...argv);
        expect(r.code, argv.join(' ')).to.equal(2);
        expect(r.err, argv.join(' ')).to.match(/^ipoibctl: /);
      }
    });
  });

  describe('create_child and delete_child (sysfs rules) @pkey', function () {
    afterEach(async function () {
      for (const name of ['ib0.8001', 'ib0.0001', 'ib0.8002']) {
        if (d1.host.get(name)) await d1.host.deleteLink(name);
      }
    });

    it('creates ib0.8001 from 0x8001, whose pkey file reads 0x8001 and parent file ib0 @ipoib-stack @cli @pkey', async function () {
      const r = await lab.ctl('node1', 'create_child', 'ib0', '0x8001');
      expect(r.code, r.err).to.equal(0);
      expect(r.out).to.equal('ib0.8001');
      expect((await lab.ctl('node1', 'pkey', 'ib0.8001')).out).to.equal('0x8001');
      expect((await lab.ctl('node1', 'parent', 'ib0.8001')).out).to.equal('ib0');
      const show = await lab.ctl('node1', 'show', 'ib0.8001');
      // A child starts admin down, as the kernel's does.
      expect(show.out).to.match(/^ib0\.8001@ib0: <BROADCAST,MULTICAST> mtu \d+ state DOWN$/m);
    });

    it('brings a child up with an address and takes it down again @ipoib-stack @cli @pkey', async function () {
      await lab.ctl('node1', 'create_child', 'ib0', '0x8001');
      const up = await lab.ctl('node1', 'up', 'ib0.8001', '192.0.3.1/24');
      expect(up.code, up.err).to.equal(0);
      await until('ib0.8001 carrier', () => d1.host.get('ib0.8001')?.carrier === true);
      const show = await lab.ctl('node1', 'show', 'ib0.8001');
      expect(show.out).to.match(/^ib0\.8001@ib0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu \d+ state UP$/m).and.to.include('inet 192.0.3.1/24');
      expect((await lab.ctl('node1', 'down', 'ib0.8001')).code).to.equal(0);
      expect((await lab.ctl('node1', 'show', 'ib0.8001')).out).to.match(/state DOWN$/m);
    });

    it('names the child from the value as written and sets the full-member bit: 1 → ib0.0001 with 0x8001 @ipoib-stack @cli @pkey', async function () {
      const r = await lab.ctl('node1', 'create_child', 'ib0', '1');
      expect(r.out).to.equal('ib0.0001');
      expect((await lab.ctl('node1', 'pkey', 'ib0.0001')).out).to.equal('0x8001');
    });

    const einval = ['abc', '0', '0x8000', '0x10000', '-1', ''];
    for (const text of einval) {
      it(`refuses create_child "${text}" with EINVAL @ipoib-stack @cli @pkey`, async function () {
        const r = await lab.ctl('node1', 'create_child', 'ib0', text);
        expect(r.code).to.equal(1);
        expect(r.err).to.match(/^ipoibctl: create_child: EINVAL: /);
        expect(d1.host.list().map((i) => i.name)).to.deep.equal(['ib0']);
      });
    }

    it('refuses the same P_Key twice with ENOTUNIQ, and the parent\'s own with ENOTUNIQ @ipoib-stack @cli @pkey', async function () {
      expect((await lab.ctl('node1', 'create_child', 'ib0', '0x8001')).code).to.equal(0);
      const again = await lab.ctl('node1', 'create_child', 'ib0', '0x8001');
      expect(again.code).to.equal(1);
      expect(again.err).to.match(/^ipoibctl: create_child: ENOTUNIQ: /);
      const parents = await lab.ctl('node1', 'create_child', 'ib0', '0xffff');
      expect(parents.err).to.match(/^ipoibctl: create_child: ENOTUNIQ: /);
    });

    it('refuses 1 twice with EEXIST (the name is taken) but accepts 1 next to ib0.8001 @ipoib-stack @cli @pkey', async function () {
      expect((await lab.ctl('node1', 'create_child', 'ib0', '0x8001')).code).to.equal(0);
      expect((await lab.ctl('node1', 'create_child', 'ib0', '1')).out).to.equal('ib0.0001');
      const again = await lab.ctl('node1', 'create_child', 'ib0', '1');
      expect(again.code).to.equal(1);
      expect(again.err).to.match(/^ipoibctl: create_child: EEXIST: ib0\.0001 exists$/);
    });

    it('refuses create_child on a child with ENOENT and on a missing device with ENODEV @ipoib-stack @cli @pkey', async function () {
      await lab.ctl('node1', 'create_child', 'ib0', '0x8001');
      expect((await lab.ctl('node1', 'create_child', 'ib0.8001', '0x8002')).err).to.match(/^ipoibctl: create_child: ENOENT: /);
      expect((await lab.ctl('node1', 'create_child', 'ib5', '0x8002')).err).to.match(/^ipoibctl: create_child: ENODEV: /);
    });

    it('deletes by the P_Key with its full-member bit: 1 → ENODEV, 0x8001 deletes ib0.0001 @ipoib-stack @cli @pkey', async function () {
      await lab.ctl('node1', 'create_child', 'ib0', '1');
      const wrong = await lab.ctl('node1', 'delete_child', 'ib0', '1');
      expect(wrong.code).to.equal(1);
      expect(wrong.err).to.match(/^ipoibctl: delete_child: ENODEV: /);
      const right = await lab.ctl('node1', 'delete_child', 'ib0', '0x8001');
      expect(right.code, right.err).to.equal(0);
      expect(d1.host.get('ib0.0001')).to.equal(undefined);
    });

    it('refuses delete_child of an unparsable or out-of-range value with EINVAL @ipoib-stack @cli @pkey', async function () {
      for (const text of ['zz', '0x10000', '-1']) {
        const r = await lab.ctl('node1', 'delete_child', 'ib0', text);
        expect(r.code, text).to.equal(1);
        expect(r.err, text).to.match(/^ipoibctl: delete_child: EINVAL: /);
      }
    });

    it('has no parent file on a parent (ENOENT) @ipoib-stack @cli @pkey', async function () {
      expect((await lab.ctl('node1', 'parent', 'ib0')).err).to.match(/^ipoibctl: parent: ENOENT: /);
      expect((await lab.ctl('node1', 'pkey', 'ib0')).out).to.equal('0xffff');
    });
  });

  describe('link add and link del (netlink rules) @pkey', function () {
    afterEach(async function () {
      for (const i of d1.host.list()) if (i.childType !== 'parent') await d1.host.deleteLink(i.name);
    });

    it('adds a child with the given name, P_Key and umcast, and deletes it @ipoib-stack @cli @pkey', async function () {
      const r = await lab.ctl('node1', 'link', 'add', 'link', 'ib0', 'name', 'lab1', 'type', 'ipoib', 'pkey', '0x8001', 'mode', 'datagram', 'umcast', '1');
      expect(r.code, r.err).to.equal(0);
      expect(r.out).to.equal('lab1');
      const j = JSON.parse((await lab.ctl('node1', '--json', 'show', 'lab1')).out) as { interfaces: Array<{ pkey: number; umcast: number; childType: string; parent: string }> };
      expect(j.interfaces[0]).to.deep.include({ pkey: 0x8001, umcast: 1, childType: 'rtnl', parent: 'ib0' });
      // A netlink child has no sysfs pkey or parent file.
      expect((await lab.ctl('node1', 'pkey', 'lab1')).err).to.match(/^ipoibctl: pkey: ENOENT: /);
      const del = await lab.ctl('node1', 'link', 'del', 'lab1');
      expect(del.code, del.err).to.equal(0);
      expect(d1.host.get('lab1')).to.equal(undefined);
    });

    it('takes the parent\'s P_Key when none is given and allows duplicates @ipoib-stack @cli @pkey', async function () {
      expect((await lab.ctl('node1', 'link', 'add', 'link', 'ib0', 'name', 'a', 'type', 'ipoib')).code).to.equal(0);
      expect((await lab.ctl('node1', 'link', 'add', 'link', 'ib0', 'name', 'b', 'type', 'ipoib', 'pkey', '0xffff')).code).to.equal(0);
      expect(d1.host.get('a')?.pkey).to.equal(0xffff);
      expect(d1.host.get('b')?.pkey).to.equal(0xffff);
    });

    it('names an unnamed child ipoib0 @ipoib-stack @cli @pkey', async function () {
      expect((await lab.ctl('node1', 'link', 'add', 'link', 'ib0', 'type', 'ipoib', 'pkey', '0x8001')).out).to.equal('ipoib0');
    });

    const refusals: Array<[string, string[], string]> = [
      ['a taken name', ['name', 'ib0'], 'EEXIST'],
      ['P_Key 0', ['pkey', '0'], 'EINVAL'],
      ['P_Key 0x8000', ['pkey', '0x8000'], 'EINVAL'],
    ];
    for (const [what, extra, errno] of refusals) {
      it(`refuses ${what} with ${errno} @ipoib-stack @cli @pkey`, async function () {
        const r = await lab.ctl('node1', 'link', 'add', 'link', 'ib0', 'type', 'ipoib', ...extra);
        expect(r.code).to.equal(1);
        expect(r.err).to.match(new RegExp(`^ipoibctl: link add: ${errno}: `));
        expect(d1.host.list().map((i) => i.name)).to.deep.equal(['ib0']);
      });
    }

    it('makes a child in connected mode where it is offered, and refuses it with EINVAL where not, leaving no child @ipoib-stack @cli @pkey', async function () {
      const made = await lab.ctl('node1', 'link', 'add', 'link', 'ib0', 'name', 'cm0', 'type', 'ipoib', 'mode', 'connected');
      expect(made.out, made.err).to.equal('cm0');
      expect((await lab.ctl('node1', 'mode', 'cm0')).out).to.equal('connected');
      expect((await lab.ctl('node1', 'mode', 'ib0')).out, 'the parent keeps its own mode').to.equal('datagram');
      await lab.ctl('node1', 'link', 'del', 'cm0');
      const r = await lab.ctl('node2', 'link', 'add', 'link', 'ib0', 'name', 'cm0', 'type', 'ipoib', 'mode', 'connected');
      expect(r.code).to.equal(1);
      expect(r.err).to.match(/^ipoibctl: link add: EINVAL: /);
      expect(d2.host.list().map((i) => i.name)).to.deep.equal(['ib0']);
    });

    it('refuses a missing link with ENODEV and a child as link with EINVAL @ipoib-stack @cli @pkey', async function () {
      expect((await lab.ctl('node1', 'link', 'add', 'link', 'ib3', 'type', 'ipoib')).err).to.match(/^ipoibctl: link add: ENODEV: /);
      await lab.ctl('node1', 'create_child', 'ib0', '0x8001');
      expect((await lab.ctl('node1', 'link', 'add', 'link', 'ib0.8001', 'type', 'ipoib')).err).to.match(/^ipoibctl: link add: EINVAL: child creation disallowed/);
    });

    it('"deletes" the parent without an error and keeps it, and refuses a missing name with ENODEV @ipoib-stack @cli @pkey', async function () {
      expect((await lab.ctl('node1', 'link', 'del', 'ib0')).code).to.equal(0);
      expect(d1.host.get('ib0')).to.not.equal(undefined);
      expect((await lab.ctl('node1', 'link', 'del', 'nothere')).err).to.match(/^ipoibctl: link del: ENODEV: /);
    });
  });

  describe('mode, umcast, mtu, debug @mtu', function () {
    after(async function () {
      await lab.ctl('node1', 'mtu', 'ib0', '2044');
      await lab.ctl('node1', 'umcast', 'ib0', '0');
    });

    it('reads datagram, accepts datagram, refuses other words with EINVAL, and connected where the address has no RC flag @ipoib-stack @cli @cm @rc', async function () {
      expect((await lab.ctl('node1', 'mode', 'ib0')).out).to.equal('datagram');
      expect((await lab.ctl('node1', 'mode', 'ib0', 'datagram')).code).to.equal(0);
      for (const word of ['Datagram', 'cm', 'connected ']) {
        const r = await lab.ctl('node1', 'mode', 'ib0', word);
        expect(r.code, word).to.equal(1);
        expect(r.err, word).to.match(/^ipoibctl: mode: EINVAL: /);
      }
      const r = await lab.ctl('node2', 'mode', 'ib0', 'connected');
      expect(r.err).to.match(/^ipoibctl: mode: EINVAL: connected mode is not supported/);
      expect((await lab.ctl('node2', 'mode', 'ib0')).out).to.equal('datagram');
      expect((await lab.ctl('node1', 'mode', 'ib0')).out).to.equal('datagram');
    });

    it('switches to connected mode (MTU 65520, its Service ID in show) and back (MTU 2044), taking only the text with its newline @ipoib-stack @cli @cm @mtu', async function () {
      expect((await lab.ctl('node1', 'mode', 'ib0', 'connected')).out).to.equal('connected');
      const show = (await lab.ctl('node1', 'show', 'ib0')).out;
      expect(show).to.match(/ mtu 65520 state UP$/m);
      expect(show).to.include(`cm linux service_id 0x${(0x1000_0000_0000_0000n | BigInt(d1.parent.qpn!)).toString(16)} tx 0 rx 0 ud_mtu 2044`);
      expect((await lab.ctl('node1', 'cm', 'ib0')).out).to.match(/^mode connected cm linux service_id 0x1/);
      const c = await DaemonClient.connect(lab.socketOf('node1'));
      try {
        const bare = await c.request({ cmd: 'mode', ifname: 'ib0', value: 'datagram' }).catch((e: unknown) => e);
        expect((bare as DaemonRequestError).body?.code, 'printf datagram (no newline)').to.equal('EINVAL');
        expect(await c.request({ cmd: 'mode', ifname: 'ib0', value: 'datagram\n' })).to.deep.include({ mode: 'datagram' });
      } finally {
        c.close();
      }
      expect((await lab.ctl('node1', 'mtu', 'ib0')).out).to.equal('2044');
    });

    it('sets umcast with any value above 0 and clears it with 0 or text that does not parse @ipoib-stack @cli', async function () {
      expect((await lab.ctl('node1', 'umcast', 'ib0', '1')).out).to.equal('1');
      expect((await lab.ctl('node1', 'umcast', 'ib0', '0')).out).to.equal('0');
      expect((await lab.ctl('node1', 'umcast', 'ib0', '0x10')).out).to.equal('1');
      expect((await lab.ctl('node1', 'umcast', 'ib0', 'garbage')).out).to.equal('0');
    });

    it('applies an MTU within [72, port max - 4] and refuses one outside with EINVAL @ipoib-stack @cli @mtu', async function () {
      expect((await lab.ctl('node1', 'mtu', 'ib0')).out).to.equal('2044');
      expect((await lab.ctl('node1', 'mtu', 'ib0', '1500')).out).to.equal('1500');
      expect((await lab.ctl('node1', 'mtu', 'ib0', '72')).out).to.equal('72');
      for (const bad of ['71', '0', '70000']) {
        const r = await lab.ctl('node1', 'mtu', 'ib0', bad);
        expect(r.code, bad).to.equal(1);
        expect(r.err, bad).to.match(/^ipoibctl: mtu: EINVAL: MTU \d+ is outside \[72, \d+\]$/);
      }
      expect((await lab.ctl('node1', 'mtu', 'ib0')).out).to.equal('72');
      // Above the broadcast group's 2044 (but within the port's maximum) is stored, not applied.
      const j = JSON.parse((await lab.ctl('node1', '--json', 'mtu', 'ib0', '2044')).out) as { mtu: number; mcastMtu: number };
      expect(j).to.deep.include({ mtu: 2044, mcastMtu: 2044 });
    });

    it('reads and sets the debug level @ipoib-stack @cli', async function () {
      expect((await lab.ctl('node1', 'debug', 'ib0')).out).to.equal('0');
      expect((await lab.ctl('node1', 'debug', 'ib0', '3')).out).to.equal('3');
      expect((await lab.ctl('node1', 'debug', 'ib0', '0')).out).to.equal('0');
    });
  });

  describe('stats, mcg, path, neigh', function () {
    before(async function () {
      d1.parent.transmit(icmpEcho('192.0.2.1', '192.0.2.2', 1), ETH_P_IP);
      await until('192.0.2.2 resolved on node1', () => d1.parent.neighbours().some((n) => n.ip === '192.0.2.2' && n.state === 'reachable'));
    });

    it('prints the eight ethtool counters in the kernel\'s order @ipoib-stack @cli', async function () {
      const r = await lab.ctl('node1', 'stats', 'ib0');
      const lines = r.out.split('\n');
      expect(lines[0]).to.equal('NIC statistics:');
      expect(lines.slice(1).map((l) => l.replace(/: \d+$/, ''))).to.deep.equal(
        ['rx_packets', 'tx_packets', 'rx_bytes', 'tx_bytes', 'tx_errors', 'rx_dropped', 'tx_dropped', 'multicast'].map((n) => `     ${n}`),
      );
      const tx = Number(/tx_packets: (\d+)/.exec(r.out)?.[1]);
      expect(tx, 'ARP request and the echo went out').to.be.greaterThan(0);
    });

    it('dumps the groups in the debugfs _mcg layout, the broadcast group complete @ipoib-stack @cli @multicast', async function () {
      const r = await lab.ctl('node1', 'mcg', 'ib0');
      const records = `${r.out}\n`.split('\n\n').filter((x) => x !== '');
      expect(records.length).to.be.greaterThan(1);
      for (const rec of records) {
        expect(rec).to.match(/^GID: [0-9a-f]{1,4}(:[0-9a-f]{1,4}){7}\n  created: [ \d]{10}\n  queuelen: [ \d]{9}\n  complete: [ a-z]{9}\n  send_only: [ a-z]{8}$/);
      }
      const bcast = records.find((x) => x.startsWith('GID: ff12:401b:ffff:0:0:0:ffff:ffff\n'));
      expect(bcast, r.out).to.include(`  complete: ${'yes'.padStart(9)}\n  send_only: ${'no'.padStart(8)}`);
      const gids = records.map((x) => x.split('\n')[0]!.slice(5));
      const sorted = [...gids].sort((a, b) => Buffer.compare(Buffer.from(a.split(':').map((g) => g.padStart(4, '0')).join(''), 'hex'), Buffer.from(b.split(':').map((g) => g.padStart(4, '0')).join(''), 'hex')));
      expect(gids).to.deep.equal(sorted);
    });

    it('dumps the path to node2 in the debugfs _path layout @ipoib-stack @cli', async function () {
      const status = await lab.status();
      const node2 = status.ports.find((p) => p.node === 'node2')!;
      const r = await lab.ctl('node1', 'path', 'ib0');
      const expected = [
        `GID: ${kernelGid(parseIpv6(node2.gid))}`,
        `  complete: ${'yes'.padStart(6)}`,
        `  DLID:     0x${node2.lid.toString(16).padStart(4, '0')}`,
        `  SL: ${'0'.padStart(12)}`,
      ].join('\n');
      expect(r.out).to.include(expected);
      expect(r.out).to.match(/\n {2}rate: [ \d]{7}\d\.\d+ Gb\/sec$/m);
    });

    it('lists the resolved neighbour with its 20-octet address @ipoib-stack @cli @hwaddr', async function () {
      const r = await lab.ctl('node1', 'neigh', 'ib0');
      const addr = d2.parent.info().address;
      expect(r.out).to.include(`192.0.2.2 dev ib0 lladdr ${addr} REACHABLE`);
    });
  });
});
