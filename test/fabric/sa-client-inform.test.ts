/**
 * The SA client's event subscriptions over QP1 against the simulated SA: the InformInfo it
 * sends, subscriptions shared by count, refusals, and Reports answered with a ReportResp and
 * heard once however often the SA resends them.
 */
import { expect } from 'chai';
import { GsiSaClient, INFORM_RESP_TIME_VALUE } from '../../src/fabric/sa-client.js';
import type { GsiPort } from '../../src/fabric/gsi.js';
import type { SaNotice } from '../../src/fabric/hca.js';
import { SaEngine } from '../../src/fabric/sim/sa-engine.js';
import { reportResendMs } from '../../src/fabric/sim/sa-reports.js';
import { SaError } from '../../src/errors.js';
import {
  INFORM_ALL_LIDS,
  JOIN_STATE_FULL,
  MAD_METHOD_REPORT,
  MAD_METHOD_REPORT_RESP,
  MAD_METHOD_SET,
  NOTICE_TYPE_SUBNET_MANAGEMENT,
  PRODUCER_TYPE_CLASS_MANAGER,
  SA_ATTR_INFORM_INFO,
  SA_ATTR_NOTICE,
  TRAP_GID_IN_SERVICE,
  TRAP_MCAST_GROUP_CREATED,
  TRAP_MCAST_GROUP_DELETED,
} from '../../src/wire/constants.js';
import { informInfo } from '../../src/wire/inform-info.js';
import { SA_ERR_REQ_INVALID } from '../../src/wire/mad.js';
import { parseSaMad } from '../../src/wire/sa.js';
import { createFakeClock } from './fake-clock.js';
import { createGsiLoopback } from './gsi-loopback.js';
import { GID2, GID3, GID4, makeLab, testMgid } from './sim-fixture.js';

/** The lab SA on loopback port 0 (LID 1), Reports from that port on a fake clock; clients on LIDs 2-4. */
function rig() {
  const { sm } = makeLab();
  const loop = createGsiLoopback(4);
  const smPort = loop.ports[0]!;
  const clock = createFakeClock();
  const sa = new SaEngine(sm, { reports: { clock, send: (to, mad) => smPort.sendMad({ lid: to.lid, qpn: 1 }, mad) } });
  smPort.onMad((mad, from) => {
    for (const r of sa.handle(mad, { lid: from.lid })) smPort.sendMad(from, r);
  });
  const gids = [GID2, GID3, GID4];
  const clients: GsiSaClient[] = [];
  const client = (i: 1 | 2 | 3): GsiSaClient => {
    const port: GsiPort = { ...loop.ports[i]!, gid: gids[i - 1]! };
    const c = new GsiSaClient(port, { smLid: () => 1, attempts: 2, attemptTimeoutMs: 200 });
    clients.push(c);
    return c;
  };
  const close = (): void => {
    for (const c of clients) c.close();
    sa.close();
  };
  /** The SA MADs port `i` put on the wire, decoded. */
  const sentBy = (i: number) => loop.wire.filter((w) => w.from === i).map((w) => parseSaMad(w.mad));
  return { sm, sa, loop, clock, client, close, sentBy };
}

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('SA client: event subscriptions over QP1 @sa @mad @fabric @multicast', function () {
  it('subscribes with one SubnAdmSet(InformInfo) the SA keeps: generic, subnet management, class manager, QP1 @sa @mad @fabric @multicast @mgid', async function () {
    const { sm, client, close, sentBy } = rig();
    try {
      await client(1).subscribe({ trap: TRAP_MCAST_GROUP_CREATED, gid: testMgid(1) });
      const sets = sentBy(1);
      expect(sets.map((m) => [m.header.method, m.header.attributeId]), 'one Set of InformInfo').to.deep.equal([[MAD_METHOD_SET, SA_ATTR_INFORM_INFO]]);
      expect(informInfo.decode(sets[0]!.data, 0).value).to.deep.equal({
        gid: testMgid(1), lidRangeBegin: INFORM_ALL_LIDS, lidRangeEnd: 0, reserved: 0, isGeneric: 1, subscribe: 1,
        type: NOTICE_TYPE_SUBNET_MANAGEMENT, trapNumber: TRAP_MCAST_GROUP_CREATED, qpn: 1, reserved2: 0,
        respTimeValue: INFORM_RESP_TIME_VALUE, reserved3: 0, producerType: PRODUCER_TYPE_CLASS_MANAGER,
      });
      expect(sm.informs.all().map((s) => s.trapNumber), 'at the SA').to.deep.equal([TRAP_MCAST_GROUP_CREATED]);
    } finally {
      close();
    }
  });

  it('shares one subscription between holders: the last unsubscribe tells the SA @sa @mad @fabric @multicast', async function () {
    const { sm, client, close, sentBy } = rig();
    try {
      const c = client(1);
      const s = { trap: TRAP_MCAST_GROUP_DELETED, gid: testMgid(2) };
      await Promise.all([c.subscribe(s), c.subscribe(s)]);
      expect(sentBy(1).length, 'two holders, one Set').to.equal(1);
      await c.unsubscribe(s);
      expect(sentBy(1).length, 'one holder left: nothing sent').to.equal(1);
      expect(sm.informs.all().length).to.equal(1);
      await c.unsubscribe(s);
      const sets = sentBy(1);
      expect(sets.length).to.equal(2);
      expect(informInfo.decode(sets[1]!.data, 0).value.subscribe, 'the last one out sends Subscribe 0').to.equal(0);
      expect(sm.informs.all(), 'at the SA').to.deep.equal([]);
      await c.unsubscribe(s);
      expect(sentBy(1).length, 'unsubscribing what is not held sends nothing').to.equal(2);
    } finally {
      close();
    }
  });

  it('rejects a refused subscription with the SA status and holds nothing for it @sa @mad @fabric @multicast', async function () {
    const { client, close, sentBy } = rig();
    try {
      const c = client(2);
      let err: unknown;
      await c.subscribe({ trap: TRAP_GID_IN_SERVICE }).catch((e: unknown) => (err = e));
      expect(err).to.be.instanceOf(SaError);
      expect((err as SaError).saError).to.equal(SA_ERR_REQ_INVALID);
      await c.unsubscribe({ trap: TRAP_GID_IN_SERVICE });
      expect(sentBy(2).length, 'no unsubscribe for a refused subscription').to.equal(1);
    } finally {
      close();
    }
  });

  it('answers a Report with a ReportResp echoing it and hands its MGID to listeners @sa @mad @fabric @multicast @mgid', async function () {
    const { sa, client, close, sentBy } = rig();
    try {
      const listener = client(1);
      await listener.subscribe({ trap: TRAP_MCAST_GROUP_CREATED });
      const heard: SaNotice[] = [];
      listener.onNotice((n) => heard.push(n));
      await client(3).join({ mgid: testMgid(3), joinState: JOIN_STATE_FULL, record: { qkey: 0x1234, pkey: 0xffff, trafficClass: 0, flowLabel: 0, sl: 0 } });
      await settle();
      expect(heard.map((n) => [n.trap, n.gid?.toString('hex')])).to.deep.equal([[TRAP_MCAST_GROUP_CREATED, testMgid(3).toString('hex')]]);
      const resp = sentBy(1).filter((m) => m.header.method === MAD_METHOD_REPORT_RESP);
      expect(resp.length, 'one ReportResp').to.equal(1);
      expect(resp[0]!.header.attributeId, 'Notice').to.equal(SA_ATTR_NOTICE);
      expect(sa.reporter!.outstanding, 'the SA has its answer').to.equal(0);
    } finally {
      close();
    }
  });

  it('answers every copy of a resent Report but hands it to listeners once @sa @mad @fabric @multicast', async function () {
    const { sa, loop, clock, client, close, sentBy } = rig();
    try {
      const listener = client(1);
      await listener.subscribe({ trap: TRAP_MCAST_GROUP_CREATED });
      let heard = 0;
      listener.onNotice(() => heard++);
      loop.dropWhen((mad) => mad[3] === MAD_METHOD_REPORT_RESP, 1);
      await client(3).join({ mgid: testMgid(4), joinState: JOIN_STATE_FULL, record: { qkey: 0x1234, pkey: 0xffff, trafficClass: 0, flowLabel: 0, sl: 0 } });
      await settle();
      expect(sa.reporter!.outstanding, 'the first ReportResp was lost').to.equal(1);
      await clock.tick(reportResendMs(INFORM_RESP_TIME_VALUE));
      await settle();
      const reports = loop.wire.filter((w) => w.from === 0 && w.mad[3] === MAD_METHOD_REPORT);
      expect(reports.length, 'the SA resent the Report').to.equal(2);
      expect(sentBy(1).filter((m) => m.header.method === MAD_METHOD_REPORT_RESP).length, 'each copy answered').to.equal(2);
      expect(heard, 'heard once').to.equal(1);
      expect(sa.reporter!.outstanding).to.equal(0);
    } finally {
      close();
    }
  });
});
