/**
 * The reference stack and the simulated SA's group created/deleted Reports end to end: real
 * SubnAdmSet(InformInfo) and SubnAdmReport MADs over QP1 between the stacks' ports and the
 * fabric manager's SA.
 */
import { expect } from 'chai';
import type { SimHcaPort } from '../../src/fabric/sim/provider.js';
import { IpoibInterface } from '../../src/ipoib/interface.js';
import { ETH_P_IP, TRAP_MCAST_GROUP_CREATED, TRAP_MCAST_GROUP_DELETED } from '../../src/wire/constants.js';
import { broadcastMgid, formatGid, mgidForIpv4Group } from '../../src/wire/mgid.js';
import { icmpEcho, SimLab, until } from './sim-fixture.js';

describe('reference IPoIB stack and the SA group Reports on the simulated fabric @fabric @multicast @sa @ipoib-stack', function () {
  this.timeout(30_000);
  let lab: SimLab;
  const interfaces: IpoibInterface[] = [];

  const up = async (n: 1 | 2, ip: string): Promise<{ port: SimHcaPort; ib0: IpoibInterface; guid: bigint }> => {
    const port = await lab.port(`node${n}`);
    const ib0 = new IpoibInterface({ name: 'ib0', port });
    interfaces.push(ib0);
    ib0.addAddress(`${ip}/24`);
    await ib0.open();
    await until(`node${n} carrier`, () => ib0.carrier, 5000);
    return { port, ib0, guid: port.attributes().guid };
  };

  /** The SA's subscriptions of a port, as `<trap> <MGID>`. */
  const subscriptionsOf = (guid: bigint): string[] =>
    lab.mgr.sm.informs
      .forPort(guid)
      .map((s) => `${s.trapNumber} ${formatGid(s.gid)}`)
      .sort();

  beforeEach(async function () {
    lab = await SimLab.start();
  });

  afterEach(async function () {
    for (const i of interfaces.splice(0)) await i.destroy();
    await lab.close();
  });

  it('subscribes at the SA for the broadcast group, and for a group when it starts sending to it @fabric @multicast @sa @mgid @ipoib-stack', async function () {
    const a = await up(1, '10.0.0.1');
    const bcast = formatGid(broadcastMgid(0xffff));
    await until('broadcast subscriptions at the SA', () => subscriptionsOf(a.guid).includes(`66 ${bcast}`) && subscriptionsOf(a.guid).includes(`67 ${bcast}`));
    const group = formatGid(mgidForIpv4Group('239.1.2.3', 0xffff));
    expect(subscriptionsOf(a.guid), 'before the first send').to.not.include(`66 ${group}`);
    a.ib0.transmit(icmpEcho('10.0.0.1', '239.1.2.3', 1), ETH_P_IP);
    await until('subscriptions for the group sent to', () => subscriptionsOf(a.guid).includes(`66 ${group}`) && subscriptionsOf(a.guid).includes(`67 ${group}`));
    await a.ib0.close();
    await until('everything given back on close', () => subscriptionsOf(a.guid).length === 0);
  });

  it('joins a group it could not join as soon as the SA reports it created, well before its retry @fabric @multicast @sa @ipoib-stack', async function () {
    const a = await up(1, '10.0.0.1');
    const b = await up(2, '10.0.0.2');
    const mgid = mgidForIpv4Group('239.7.7.7', 0xffff);
    await lab.control({ op: 'sa-refuse', on: true });
    a.ib0.transmit(icmpEcho('10.0.0.1', '239.7.7.7', 1), ETH_P_IP);
    await until('the send-only join refused', () => a.ib0.stats().mcast_join_failures === 1);
    await until('subscribed for the group', () => subscriptionsOf(a.guid).includes(`${TRAP_MCAST_GROUP_CREATED} ${formatGid(mgid)}`));
    const refusedAt = Date.now();
    await lab.control({ op: 'sa-refuse', on: false });
    b.ib0.joinGroup('239.7.7.7');
    const joined = (): boolean => a.ib0.multicastGroups().some((g) => g.mgid === formatGid(mgid) && g.joined);
    await until('node1 joined after the Report', joined, 5000);
    expect(Date.now() - refusedAt, 'ms from the refusal to the join (the retry would come after 2000)').to.be.below(1500);
    expect(a.ib0.stats().mcast_reports, 'Reports acted on').to.equal(1);
    await until('the SA has its ReportResp', () => lab.mgr.sa.reporter!.outstanding === 0);
  });

  it('subscribes again after an SM restart, which forgets every subscription @fabric @multicast @sa @ipoib-stack', async function () {
    const a = await up(1, '10.0.0.1');
    await until('subscribed', () => subscriptionsOf(a.guid).length > 0);
    const before = subscriptionsOf(a.guid);
    await lab.control({ op: 'sm', running: false });
    await lab.control({ op: 'sm', running: true });
    await until('the same subscriptions after the client reregister', () => JSON.stringify(subscriptionsOf(a.guid)) === JSON.stringify(before), 8000);
    expect(before.filter((s) => s.startsWith(`${TRAP_MCAST_GROUP_DELETED} `)).length, 'trap 67 too').to.equal(before.length / 2);
  });
});
