/**
 * The reference stack and the SA's group created/deleted Reports (traps 66 and 67, RFC 4391
 * §10), on an in-memory port with a fake clock: which groups it subscribes for and when, that a
 * flush subscribes again, and what it does when a Report arrives.
 */
import { expect } from 'chai';
import { Defects } from '../../src/ipoib/defects.js';
import { IpoibInterface } from '../../src/ipoib/interface.js';
import { encodeToBuffer } from '../../src/wire/codec.js';
import { ETH_P_IP, TRAP_MCAST_GROUP_CREATED, TRAP_MCAST_GROUP_DELETED } from '../../src/wire/constants.js';
import { ipv4Packet, makeIpv4Packet } from '../../src/wire/ipv4.js';
import { broadcastMgid, formatGid, mgidForIpv4Group } from '../../src/wire/mgid.js';
import { createFakeClock, type FakeClock } from '../fabric/fake-clock.js';
import { type FakePort, fakePortWithGroups } from './fake-port.js';

const BCAST = broadcastMgid(0xffff);
const SENT_TO = mgidForIpv4Group('239.1.2.3', 0xffff);
const LISTENED = mgidForIpv4Group('239.5.5.5', 0xffff);

function ipv4To(dst: string): Buffer {
  return encodeToBuffer(ipv4Packet, makeIpv4Packet({ src: '10.0.0.1', dst, protocol: 17, payload: Buffer.alloc(8, 0xab) }));
}

/** `+66 <mgid hex>`-style entries of the fake SA's log for one MGID. */
function informsFor(port: FakePort, mgid: Buffer): string[] {
  return port.sa.informLog.filter((e) => e.endsWith(mgid.toString('hex')));
}

describe('IPoIB interface: SA group create/delete subscriptions @multicast @sa @ipoib-stack', function () {
  let clock: FakeClock;
  let port: FakePort;
  let lines: string[];
  const open = async (): Promise<IpoibInterface> => {
    const iface = new IpoibInterface({ name: 'ib0', port, clock, log: (l) => lines.push(l) });
    await iface.open();
    await clock.settle();
    return iface;
  };
  beforeEach(() => {
    clock = createFakeClock(10_000);
    port = fakePortWithGroups();
    lines = [];
  });

  it('subscribes to traps 66 and 67 for the broadcast group only once its join succeeded, then for each host group @multicast @sa @mgid @ipoib-stack', async function () {
    port.sa.hold = true;
    const iface = await open();
    expect(port.sa.joins.length, 'the broadcast join is out').to.equal(1);
    expect(port.sa.informLog, 'nothing subscribed while the broadcast join is unanswered').to.deep.equal([]);
    port.sa.hold = false;
    port.sa.release();
    await clock.settle();
    expect(iface.carrier).to.equal(true);
    expect(informsFor(port, BCAST), 'the broadcast group').to.deep.equal([`+66 ${BCAST.toString('hex')}`, `+67 ${BCAST.toString('hex')}`]);
    const hostGroups = port.sa.joins.slice(1).map((j) => j.mgid);
    expect(hostGroups.length, 'host groups joined after the broadcast group').to.be.greaterThan(0);
    for (const mgid of hostGroups) expect(informsFor(port, mgid).length, `subscriptions for ${formatGid(mgid)}`).to.equal(2);
  });

  it('subscribes nothing while the broadcast join keeps failing @multicast @sa @ipoib-stack', async function () {
    port.sa.refuse = 1;
    await open();
    await clock.tick(20_000);
    expect(port.sa.joins.length, 'broadcast join retried').to.be.greaterThan(1);
    expect(port.sa.informLog).to.deep.equal([]);
  });

  it('subscribes for a group when it starts sending to it, once however many packets follow @multicast @sa @mgid @ipoib-stack', async function () {
    const iface = await open();
    const before = port.sa.informLog.length;
    for (let i = 0; i < 3; i++) iface.transmit(ipv4To('239.1.2.3'), ETH_P_IP);
    await clock.settle();
    expect(port.sa.informLog.slice(before), 'subscriptions made by the sends').to.deep.equal([`+66 ${SENT_TO.toString('hex')}`, `+67 ${SENT_TO.toString('hex')}`]);
  });

  it('with the seeded defect no-trap-subscription, subscribes to nothing while joining and sending as before @multicast @sa @power @ipoib-stack', async function () {
    const iface = new IpoibInterface({ name: 'ib0', port, clock, log: (l) => lines.push(l), defects: Defects.of(['no-trap-subscription']) });
    await iface.open();
    await clock.settle();
    iface.transmit(ipv4To('239.1.2.3'), ETH_P_IP);
    await clock.settle();
    expect(iface.carrier).to.equal(true);
    expect(port.sa.joins.length, 'joins still made').to.be.greaterThan(1);
    expect(port.sa.informLog).to.deep.equal([]);
  });

  it('gives the subscriptions back on close and subscribes again after a client reregister or a P_Key change @multicast @sa @pkey @ipoib-stack', async function () {
    const iface = await open();
    const held = (): string[] => [...port.sa.subscribed.keys()].sort();
    const atBringUp = held();
    expect(atBringUp).to.include(`66 ${BCAST.toString('hex')}`);
    port.emit({ type: 'client-reregister' });
    await clock.settle();
    expect(port.sa.informLog.filter((e) => e === `+66 ${BCAST.toString('hex')}`).length, 'the broadcast group subscribed twice in all').to.equal(2);
    expect(held(), 'the same subscriptions, each held once').to.deep.equal(atBringUp);
    expect([...port.sa.subscribed.values()].every((n) => n === 1)).to.equal(true);

    port.attrs = { ...port.attrs, pkeys: [0x8001, 0xffff] };
    port.emit({ type: 'pkey-change', pkeys: [0x8001, 0xffff] });
    await clock.settle();
    const lab = broadcastMgid(0x8001);
    expect(held(), 'the new partition broadcast group').to.include(`66 ${lab.toString('hex')}`);
    expect(held(), 'nothing of the old partition').to.not.include(`66 ${BCAST.toString('hex')}`);

    await iface.close();
    await clock.settle();
    expect(held(), 'after close').to.deep.equal([]);
  });

  it('joins at once a group it sends to when the SA reports it created, instead of waiting for the retry @multicast @sa @ipoib-stack', async function () {
    const iface = await open();
    port.sa.refuse = 1;
    iface.transmit(ipv4To('239.1.2.3'), ETH_P_IP);
    await clock.settle();
    const joinsBefore = port.sa.joins.length;
    expect(iface.multicastGroups().find((g) => g.mgid === formatGid(SENT_TO))?.joined, 'refused').to.equal(false);
    port.sa.refuse = null;
    port.sa.report(TRAP_MCAST_GROUP_CREATED, SENT_TO);
    await clock.settle();
    expect(port.sa.joins.length, 'joined at once, no clock tick').to.equal(joinsBefore + 1);
    expect(iface.multicastGroups().find((g) => g.mgid === formatGid(SENT_TO))?.joined).to.equal(true);
    expect(port.sent.filter((s) => s.to.grh?.dgid.equals(SENT_TO)).length, 'the queued packet went out').to.equal(1);
    expect(iface.stats().mcast_reports).to.equal(1);
  });

  it('forgets the MLID of a deleted group it sends to, sends no leave, and joins again on the next packet @multicast @sa @ipoib-stack', async function () {
    const iface = await open();
    iface.transmit(ipv4To('239.1.2.3'), ETH_P_IP);
    await clock.settle();
    const first = port.sent.filter((s) => s.to.grh?.dgid.equals(SENT_TO));
    expect(first.length).to.equal(1);
    const joins = port.sa.joins.length;
    port.sa.groups.set(SENT_TO.toString('hex'), { mlid: 0xc1ff, qkey: 0x0b1b, mtu: 4 });
    port.sa.report(TRAP_MCAST_GROUP_DELETED, SENT_TO);
    await clock.settle();
    const info = iface.multicastGroups().find((g) => g.mgid === formatGid(SENT_TO));
    expect(info, 'still wanted').to.deep.include({ joined: false, mlid: null });
    expect(port.sa.leaves.length, 'no leave for a group that is gone').to.equal(0);
    expect(port.sa.joins.length, 'no join before the next packet').to.equal(joins);
    iface.transmit(ipv4To('239.1.2.3'), ETH_P_IP);
    await clock.settle();
    expect(port.sa.joins.length, 'joined again').to.equal(joins + 1);
    const again = port.sent.filter((s) => s.to.grh?.dgid.equals(SENT_TO));
    expect(again[1]?.to.dlid, 'sent to the group\'s new MLID').to.equal(0xc1ff);
  });

  it('rejoins a deleted group its host listens to at once and attaches to the new MLID @multicast @sa @ipoib-stack', async function () {
    const iface = await open();
    iface.joinGroup('239.5.5.5');
    await clock.settle();
    const qp = port.liveQp()!;
    expect(qp.attached.some((a) => a.mgid === LISTENED.toString('hex'))).to.equal(true);
    port.sa.groups.set(LISTENED.toString('hex'), { mlid: 0xc2ff, qkey: 0x0b1b, mtu: 4 });
    port.sa.report(TRAP_MCAST_GROUP_DELETED, LISTENED);
    await clock.settle();
    expect(qp.events.filter((e) => e === `detach ${LISTENED.toString('hex')}`).length, 'detached').to.equal(1);
    expect(qp.attached.filter((a) => a.mgid === LISTENED.toString('hex')).map((a) => a.mlid), 'attached again, to the new MLID').to.deep.equal([0xc2ff]);
  });

  it('ignores Reports about groups it does not use, and Reports after close @multicast @sa @ipoib-stack', async function () {
    const iface = await open();
    const joins = port.sa.joins.length;
    port.sa.report(TRAP_MCAST_GROUP_CREATED, mgidForIpv4Group('239.9.9.9', 0xffff));
    port.sa.report(TRAP_MCAST_GROUP_DELETED, mgidForIpv4Group('239.9.9.9', 0xffff));
    await clock.settle();
    expect(port.sa.joins.length).to.equal(joins);
    await iface.close();
    expect(port.sa.noticeListenerCount, 'no listener after close').to.equal(0);
  });

  it('logs a refused subscription and a failed join as failed multicast operations @multicast @sa @ipoib-stack', async function () {
    port.sa.refuseSubscribe = 1;
    const iface = await open();
    port.sa.refuse = 1;
    iface.transmit(ipv4To('239.1.2.3'), ETH_P_IP);
    await clock.settle();
    const g = formatGid(SENT_TO);
    expect(lines.filter((l) => l.startsWith('ib0: multicast subscription to trap 66') && l.includes(formatGid(BCAST))).length, 'broadcast subscription').to.equal(1);
    expect(lines.some((l) => l.startsWith(`ib0: sendonly multicast join failed for ${g}`)), `join of ${g}`).to.equal(true);
    expect(iface.stats().mcast_subscribe_failures, 'two traps per group').to.be.greaterThan(1);
  });
});
