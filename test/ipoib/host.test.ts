/**
 * Child interfaces by P_Key: the sysfs create_child/delete_child rules and the netlink
 * link add/del rules of Linux ib_ipoib, every errno case, on an in-memory port; then a child
 * on the simulated fabric with its own QP, broadcast group and counters.
 */
import { expect } from 'chai';
import { IpoibControlError } from '../../src/errors.js';
import { IpoibHost } from '../../src/ipoib/host.js';
import { broadcastMgid } from '../../src/wire/mgid.js';
import { ETH_P_IP } from '../../src/wire/constants.js';
import { createFakeClock } from '../fabric/fake-clock.js';
import { FakePort } from './fake-port.js';
import { icmpEcho, SimLab, until } from './sim-fixture.js';

async function errnoOf(fn: () => unknown): Promise<string> {
  try {
    await fn();
  } catch (e) {
    if (e instanceof IpoibControlError) return e.code;
    throw e;
  }
  return 'ok';
}

describe('child interfaces through create_child and delete_child @pkey @ipoib-stack', function () {
  let host: IpoibHost;
  beforeEach(() => {
    host = new IpoibHost({ clock: createFakeClock(0) });
    host.addPort(new FakePort({ pkeys: [0xffff, 0x8001, 0x8002] }));
  });
  afterEach(() => host.close());

  it('names a child after the value as written and ORs 0x8000 into its P_Key; it starts down @pkey @ipoib-stack', function () {
    const c = host.createChild('ib0', '0x8001\n');
    expect(c.name).to.equal('ib0.8001');
    expect(c.pkey).to.equal(0x8001);
    expect(c.parent).to.equal('ib0');
    expect(c.childType).to.equal('legacy');
    expect(c.state).to.equal('down');
    const d = host.createChild('ib0', '2');
    expect(d.name, 'the raw value in the name').to.equal('ib0.0002');
    expect(d.pkey, 'full membership in the P_Key').to.equal(0x8002);
    expect(host.createChild('ib0', '0x0003').name).to.equal('ib0.0003');
    expect(host.createChild('ib0', '010').name, 'octal 010 is 8').to.equal('ib0.0008');
  });

  it('refuses unparsable text and 0, 0x8000, negative and >0xffff values with EINVAL @pkey @ipoib-stack', async function () {
    for (const t of ['', 'abc', 'x1', '0', '0x8000', '32768', '-1', '0x10000', '0x']) {
      expect(await errnoOf(() => host.createChild('ib0', t)), JSON.stringify(t)).to.equal('EINVAL');
    }
    expect(host.list().map((i) => i.name)).to.deep.equal(['ib0']);
  });

  it('answers ENOTUNIQ for the parent P_Key or a legacy child P_Key written as stored, EEXIST for a taken name @pkey @ipoib-stack', async function () {
    host.createChild('ib0', '0x8001');
    expect(await errnoOf(() => host.createChild('ib0', '0x8001')), 'same P_Key again').to.equal('ENOTUNIQ');
    expect(await errnoOf(() => host.createChild('ib0', '0xffff')), 'the parent P_Key').to.equal('ENOTUNIQ');
    const dup = host.createChild('ib0', '1');
    expect(dup.name, '1 passes the check next to ib0.8001').to.equal('ib0.0001');
    expect(dup.pkey).to.equal(0x8001);
    expect(await errnoOf(() => host.createChild('ib0', '1')), '1 twice: the name is taken').to.equal('EEXIST');
    const shadow = host.createChild('ib0', '0x7fff');
    expect(shadow.pkey, '0x7fff duplicates the parent partition').to.equal(0xffff);
  });

  it('refuses create_child on a child (no such file) and on an unknown interface @pkey @ipoib-stack', async function () {
    host.createChild('ib0', '0x8001');
    expect(await errnoOf(() => host.createChild('ib0.8001', '0x8002'))).to.equal('ENOENT');
    expect(await errnoOf(() => host.createChild('ib7', '0x8002'))).to.equal('ENODEV');
  });

  it('deletes by the stored P_Key: 0x8001 finds ib0.0001, 1 finds nothing (ENODEV) @pkey @ipoib-stack', async function () {
    host.createChild('ib0', '1');
    expect(await errnoOf(() => host.deleteChild('ib0', '1'))).to.equal('ENODEV');
    expect(await errnoOf(() => host.deleteChild('ib0', '0x8001'))).to.equal('ok');
    expect(host.get('ib0.0001')).to.equal(undefined);
    for (const t of ['-1', '0x10000', 'zz', '']) expect(await errnoOf(() => host.deleteChild('ib0', t)), JSON.stringify(t)).to.equal('EINVAL');
    expect(await errnoOf(() => host.deleteChild('ib0', '0'))).to.equal('ENODEV');
    expect(await errnoOf(() => host.deleteChild('ib9', '0x8001'))).to.equal('ENODEV');
  });

  it('cuts the parent name to 10 characters in a child name @pkey @ipoib-stack', function () {
    const h = new IpoibHost({ clock: createFakeClock(0) });
    h.addPort(new FakePort(), 'verylongname0');
    expect(h.createChild('verylongname0', '0x8001').name).to.equal('verylongna.8001');
    void h.close();
  });
});

describe('child interfaces through netlink link add and del @pkey @ipoib-stack', function () {
  let host: IpoibHost;
  beforeEach(() => {
    host = new IpoibHost({ clock: createFakeClock(0) });
    host.addPort(new FakePort({ pkeys: [0xffff, 0x8001, 0x8002] }));
  });
  afterEach(() => host.close());

  it('refuses a missing, unknown or child link, and P_Keys 0 and 0x8000 @pkey @ipoib-stack', async function () {
    const c = await host.addLink({ link: 'ib0', name: 'c1', pkey: 0x8001 });
    expect(await errnoOf(() => host.addLink({ name: 'x' }))).to.equal('EINVAL');
    expect(await errnoOf(() => host.addLink({ link: 'ib5', name: 'x' }))).to.equal('ENODEV');
    expect(await errnoOf(() => host.addLink({ link: c.name, name: 'x' }))).to.equal('EINVAL');
    expect(await errnoOf(() => host.addLink({ link: 'ib0', name: 'x', pkey: 0 }))).to.equal('EINVAL');
    expect(await errnoOf(() => host.addLink({ link: 'ib0', name: 'x', pkey: 0x8000 }))).to.equal('EINVAL');
    expect(await errnoOf(() => host.addLink({ link: 'ib0', name: 'x', pkey: 0x10000 }))).to.equal('EINVAL');
    expect(await errnoOf(() => host.addLink({ link: 'ib0', name: 'a-name-too-long-x' }))).to.equal('EINVAL');
  });

  it('takes the parent P_Key by default, allows duplicate P_Keys and names ipoib%d, EEXIST for a taken name @pkey @ipoib-stack', async function () {
    const a = await host.addLink({ link: 'ib0' });
    const b = await host.addLink({ link: 'ib0', pkey: 0x0002 });
    const c = await host.addLink({ link: 'ib0', pkey: 0x0002 });
    expect([a.name, b.name, c.name]).to.deep.equal(['ipoib0', 'ipoib1', 'ipoib2']);
    expect(a.pkey).to.equal(0xffff);
    expect([b.pkey, c.pkey]).to.deep.equal([0x8002, 0x8002]);
    expect(a.childType).to.equal('rtnl');
    expect(await errnoOf(() => host.addLink({ link: 'ib0', name: 'ipoib1' }))).to.equal('EEXIST');
  });

  it('refuses connected mode with EINVAL and removes the new device; applies umcast @pkey @ipoib-stack', async function () {
    expect(await errnoOf(() => host.addLink({ link: 'ib0', name: 'cm0', mode: 'connected' }))).to.equal('EINVAL');
    expect(host.get('cm0')).to.equal(undefined);
    expect(await errnoOf(() => host.addLink({ link: 'ib0', name: 'cm1', mode: 2 }))).to.equal('EINVAL');
    const d = await host.addLink({ link: 'ib0', name: 'dg0', mode: 0, umcast: 1 });
    expect(d.mode).to.equal('datagram');
    expect(d.umcast).to.equal(1);
  });

  it('deletes children of either kind with link del, never through delete_child for netlink ones, and keeps the parent @pkey @ipoib-stack', async function () {
    await host.addLink({ link: 'ib0', name: 'n1', pkey: 0x8002 });
    expect(await errnoOf(() => host.deleteChild('ib0', '0x8002')), 'netlink children are not deleted by P_Key').to.equal('ENODEV');
    host.createChild('ib0', '0x8001');
    expect(await errnoOf(() => host.deleteLink('ib0.8001'))).to.equal('ok');
    expect(await errnoOf(() => host.deleteLink('n1'))).to.equal('ok');
    expect(await errnoOf(() => host.deleteLink('ib0')), 'a parent "deletes" without error').to.equal('ok');
    expect(host.get('ib0')).to.not.equal(undefined);
    expect(await errnoOf(() => host.deleteLink('nope'))).to.equal('ENODEV');
    expect(host.list().map((i) => i.name)).to.deep.equal(['ib0']);
  });
});

describe('a child interface on the simulated fabric @fabric @pkey @multicast @ipoib-stack', function () {
  this.timeout(20_000);
  let lab: SimLab;
  const hosts: IpoibHost[] = [];
  beforeEach(async () => {
    lab = await SimLab.start();
  });
  afterEach(async () => {
    for (const h of hosts.splice(0)) await h.close();
    await lab.close();
  });

  it('has its own QP, broadcast group and counters, and carries traffic in its partition @fabric @pkey @multicast @ipoib-stack', async function () {
    const [h1, h2] = [new IpoibHost(), new IpoibHost()];
    hosts.push(h1, h2);
    const ib0 = h1.addPort(await lab.port('node1'));
    h2.addPort(await lab.port('node2'));
    const c1 = h1.createChild('ib0', '0x8001');
    const c2 = h2.createChild('ib0', '0x8001');
    c1.addAddress('10.1.0.1/24');
    c2.addAddress('10.1.0.2/24');
    const got: Buffer[] = [];
    c2.onDeliver((p) => got.push(p));
    for (const i of [ib0, c1, c2]) await i.open();
    await until('carriers', () => ib0.carrier && c1.carrier && c2.carrier, 5000);
    expect(c1.qpn).to.not.equal(ib0.qpn);
    expect(lab.mgr.sm.members(broadcastMgid(0x8001)).map((m) => m.lid).sort()).to.deep.equal([2, 3]);
    c1.transmit(icmpEcho('10.1.0.1', '10.1.0.2', 1), ETH_P_IP);
    await until('delivery in 0x8001', () => got.length === 1);
    expect(c1.stats().tx_packets, 'the child counts its own sends').to.be.at.least(2);
    expect(ib0.stats().tx_packets, 'the parent sent nothing').to.equal(0);
    await h1.deleteChild('ib0', '0x8001');
    await until('left the group', () => !lab.mgr.sm.members(broadcastMgid(0x8001)).some((m) => m.lid === 2));
  });
});
