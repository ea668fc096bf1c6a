/**
 * RC QPs inside bare native endpoints (no manager, no CM): QPs connected by hand, so each
 * receive check and each engine behaviour the fabric relies on can be provoked directly.
 */
import { expect } from 'chai';
import { ArgumentError, StateError } from '../../src/errors.js';
import { SimEndpoint } from '../../src/fabric/sim/native-endpoint.js';
import type { RcPortEvent, RcQpPath, SimRcPort } from '../../src/fabric/sim/native-rc.js';

const gidOf = (lid: number): Buffer => Buffer.from(`fe800000000000000002c903000000${lid.toString(16).padStart(2, '0')}`, 'hex');

interface Side {
  ep: SimEndpoint;
  rc: SimRcPort;
  events: RcPortEvent[];
}

async function withPair(pkeys: [number[], number[]], fn: (a: Side, b: Side) => Promise<void>): Promise<void> {
  const eps = [1, 2].map((lid, i) => SimEndpoint.open({ lid, gid: gidOf(lid), mtuCode: 5, pkeys: pkeys[i]! }));
  try {
    const routes = eps.map((e) => ({ lid: e.lid, udpPort: e.udpPort }));
    const sides = eps.map((ep) => {
      ep.setRoutes(routes, []);
      const events: RcPortEvent[] = [];
      return { ep, events, rc: ep.openRc((batch) => events.push(...batch)) };
    });
    await fn(sides[0]!, sides[1]!);
  } finally {
    await Promise.all(eps.map((e) => e.close()));
  }
}

/** Takes an RC QP from RESET to RTS towards `path.destQpn` at `path.dlid`. */
function connect(rc: SimRcPort, qpn: number, path: RcQpPath): void {
  rc.modifyQp(qpn, 'INIT', path);
  rc.modifyQp(qpn, 'RTR', path);
  rc.modifyQp(qpn, 'RTS', path);
}

function waitFor<T>(what: string, timeoutMs: number, poll: () => T | undefined): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const tick = (): void => {
      const v = poll();
      if (v !== undefined) return resolve(v);
      if (Date.now() > deadline) return reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      setTimeout(tick, 5);
    };
    tick();
  });
}

const received = (s: Side): Buffer[] => s.events.flatMap((e) => (e.type === 'recv' && e.status === 'success' ? [e.message] : []));
const sendStatuses = (s: Side): string[] => s.events.flatMap((e) => (e.type === 'send' ? [e.status] : []));

describe('RC QPs in the native endpoint @rc @native @fabric', function () {
  it('carries a message between QPs connected by hand, and gives back the receive buffer it used @rc @native @fabric', async function () {
    await withPair([[0xffff], [0xffff]], async (a, b) => {
      const qa = a.rc.createQp();
      const qb = b.rc.createQp({ recvQueueDepth: 4, maxRecvBytes: 70_000 });
      connect(a.rc, qa, { destQpn: qb, dlid: 2, pathMtuCode: 5, sqPsn: 0xfffff0, rqPsn: 7 });
      b.rc.modifyQp(qb, 'INIT');
      expect(b.rc.postRecv(qb, 10), 'the receive queue holds 4').to.equal(4);
      connect(b.rc, qb, { destQpn: qa, dlid: 1, pathMtuCode: 5, sqPsn: 7, rqPsn: 0xfffff0 });
      const msg = Buffer.alloc(70_000, 0xab); // 18 packets, PSNs wrapping through 0xffffff
      expect(a.rc.postSend(qa, 41, msg)).to.equal(true);
      await waitFor('the send completion', 2000, () => (sendStatuses(a).length ? true : undefined));
      expect(sendStatuses(a)).to.deep.equal(['success']);
      expect(a.events.find((e) => e.type === 'send')).to.include({ wrId: 41, qpn: qa });
      await waitFor('the message', 2000, () => (received(b).length ? true : undefined));
      expect(received(b)[0]?.equals(msg)).to.equal(true);
      expect(b.events.find((e) => e.type === 'recv')).to.include({ srcQp: qa, qpn: qb });
      await waitFor('the buffer given back', 2000, () => (b.rc.qpInfo(qb).recvsPosted === 4 ? true : undefined));
      const info = a.rc.qpInfo(qa);
      expect(info.stats.packetsSent, '18 packets').to.equal(18);
      expect(info.path).to.include({ destQpn: qb, dlid: 2, sqPsn: 0xfffff0, pathMtuCode: 5 });
      expect(b.ep.counters().portRcvPkts, 'every packet accepted').to.equal(18);
      expect(a.ep.counters().portRcvPkts, 'ACKs came back').to.be.greaterThan(0);
    });
  });

  it('fails a message longer than the receive buffer: remote invalid request at the sender, local length error at the receiver @rc @native @fabric', async function () {
    await withPair([[0xffff], [0xffff]], async (a, b) => {
      const qa = a.rc.createQp();
      const qb = b.rc.createQp({ maxRecvBytes: 5000 });
      connect(a.rc, qa, { destQpn: qb, dlid: 2, pathMtuCode: 5, sqPsn: 0, rqPsn: 0 });
      b.rc.modifyQp(qb, 'INIT');
      b.rc.postRecv(qb, 2);
      connect(b.rc, qb, { destQpn: qa, dlid: 1, pathMtuCode: 5, sqPsn: 0, rqPsn: 0 });
      a.rc.postSend(qa, 1, Buffer.alloc(5001));
      await waitFor('the send to fail', 2000, () => (sendStatuses(a).length ? true : undefined));
      expect(sendStatuses(a)).to.deep.equal(['remote-invalid-request']);
      await waitFor('both QPs in ERROR', 2000, () =>
        a.rc.qpInfo(qa).state === 'ERROR' && b.rc.qpInfo(qb).state === 'ERROR' ? true : undefined,
      );
      const recvs = b.events.flatMap((e) => (e.type === 'recv' ? [e.status] : []));
      expect(recvs, 'the buffer in use fails, the other is flushed').to.deep.equal(['local-length-error', 'flushed']);
      const toError = b.events.find((e) => e.type === 'state' && e.to === 'ERROR');
      expect(toError).to.include({ reason: 'local-length-error' });
    });
  });

  it('drops RC packets for a QPN without an RC QP, a UD QP included, as unknownQpnDrops @rc @native @fabric', async function () {
    await withPair([[0xffff], [0xffff]], async (a, b) => {
      const ud = b.ep.createUdQp({ qkey: 1, pkeyIndex: 0 });
      const qa = a.rc.createQp();
      const qa2 = a.rc.createQp();
      // No retries and a 4 ms ACK timeout: each send goes out once and then fails.
      connect(a.rc, qa, { destQpn: 0x123456, dlid: 2, pathMtuCode: 5, sqPsn: 0, rqPsn: 0, retryCount: 0, timeoutExp: 10 });
      connect(a.rc, qa2, { destQpn: ud, dlid: 2, pathMtuCode: 5, sqPsn: 0, rqPsn: 0, retryCount: 0, timeoutExp: 10 });
      a.rc.postSend(qa, 1, Buffer.from('nobody'));
      a.rc.postSend(qa2, 2, Buffer.from('a UD QP'));
      await waitFor('both sends to fail', 2000, () => (sendStatuses(a).length === 2 ? true : undefined));
      expect(sendStatuses(a)).to.deep.equal(['retry-exceeded', 'retry-exceeded']);
      const c = b.ep.counters();
      expect(c.unknownQpnDrops, 'one packet each').to.equal(2);
      expect(c.portRcvPkts, 'none accepted').to.equal(0);
    });
  });

  it('drops RC packets whose P_Key the receiving QP entry does not match as pKeyViolations @rc @native @fabric @pkey', async function () {
    await withPair([[0xffff], [0xffff, 0x8001]], async (a, b) => {
      const qa = a.rc.createQp();
      const qb = b.rc.createQp({ pkeyIndex: 1 }); // 0x8001: the port has 0xffff too, the QP does not
      connect(a.rc, qa, { destQpn: qb, dlid: 2, pathMtuCode: 5, sqPsn: 0, rqPsn: 0, retryCount: 1, timeoutExp: 10 });
      b.rc.modifyQp(qb, 'INIT');
      b.rc.postRecv(qb, 8);
      connect(b.rc, qb, { destQpn: qa, dlid: 1, pathMtuCode: 5, sqPsn: 0, rqPsn: 0 });
      a.rc.postSend(qa, 1, Buffer.from('wrong partition'));
      await waitFor('the send to fail', 2000, () => (sendStatuses(a).length ? true : undefined));
      expect(sendStatuses(a)).to.deep.equal(['retry-exceeded']);
      expect(b.ep.counters().pKeyViolations, 'the send and its retry').to.equal(2);
      expect(received(b)).to.have.length(0);
      expect(b.rc.qpInfo(qb).pkey).to.equal(0x8001);
    });
  });

  it('answers a SEND with RNR NAKs while no receive buffer is posted, and delivers once one is @rc @native @fabric', async function () {
    await withPair([[0xffff], [0xffff]], async (a, b) => {
      const qa = a.rc.createQp();
      const qb = b.rc.createQp();
      connect(a.rc, qa, { destQpn: qb, dlid: 2, pathMtuCode: 5, sqPsn: 0, rqPsn: 0, minRnrTimer: 1 });
      connect(b.rc, qb, { destQpn: qa, dlid: 1, pathMtuCode: 5, sqPsn: 0, rqPsn: 0, minRnrTimer: 1 });
      a.rc.postSend(qa, 1, Buffer.from('wait for me'));
      await waitFor('RNR NAKs', 2000, () => (a.rc.qpInfo(qa).stats.rnrNaksReceived! >= 2 ? true : undefined));
      expect(received(b), 'nothing delivered without a buffer').to.have.length(0);
      b.rc.postRecv(qb, 1);
      await waitFor('the message', 2000, () => (received(b).length ? true : undefined));
      expect(received(b)[0]?.toString()).to.equal('wait for me');
      await waitFor('the send completion', 2000, () => (sendStatuses(a).length ? true : undefined));
      expect(sendStatuses(a)).to.deep.equal(['success']);
      expect(b.rc.qpInfo(qb).stats.rnrNaksSent, 'counted on the responder too').to.be.at.least(2);
    });
  });

  it('shares the QPN space with UD QPs @rc @native @fabric', async function () {
    await withPair([[0xffff], [0xffff]], async (a) => {
      const ud = a.ep.createUdQp({ qkey: 1, pkeyIndex: 0 });
      const rc = a.rc.createQp();
      expect(rc, 'a different QPN').to.not.equal(ud);
      expect(() => a.rc.createQp({ qpn: ud })).to.throw(ArgumentError, /o\.qpn/);
      expect(() => a.ep.createUdQp({ qkey: 1, pkeyIndex: 0, qpn: rc })).to.throw(ArgumentError, /o\.qpn/);
      expect(a.rc.qpns()).to.deep.equal([rc]);
      expect(a.ep.qps().map((q) => q.qpn), 'RC QPs are not UD QPs').to.deep.equal([ud]);
      a.rc.destroyQp(rc);
      expect(a.rc.qpns()).to.deep.equal([]);
      expect(a.rc.createQp({ qpn: rc }), 'a destroyed QPN is free again').to.equal(rc);
    });
  });

  it('refuses bad arguments with ArgumentError and disallowed transitions or posts with StateError @rc @native @fabric', async function () {
    await withPair([[0xffff], [0xffff]], async (a) => {
      const q = a.rc.createQp();
      const path: RcQpPath = { destQpn: 5, dlid: 2, pathMtuCode: 5, sqPsn: 0, rqPsn: 0 };
      expect(() => a.rc.modifyQp(q, 'RTR', path), 'RESET to RTR').to.throw(StateError, /RESET/);
      expect(() => a.rc.modifyQp(q + 1, 'INIT'), 'no such QP').to.throw(ArgumentError, /qpn/);
      expect(() => a.rc.modifyQp(q, 'RTR'), 'RTR needs a path').to.throw(ArgumentError, /path/);
      a.rc.modifyQp(q, 'INIT');
      expect(() => a.rc.postSend(q, 1, Buffer.alloc(1)), 'a send in INIT').to.throw(StateError, /INIT/);
      expect(() => a.rc.modifyQp(q, 'RTR', { ...path, dlid: 0xc000 })).to.throw(ArgumentError, /path\.dlid/);
      expect(() => a.rc.modifyQp(q, 'RTR', { ...path, pathMtuCode: 6 })).to.throw(ArgumentError, /path\.pathMtuCode/);
      expect(() => a.rc.modifyQp(q, 'RTR', { ...path, sqPsn: 0x1000000 })).to.throw(ArgumentError, /path\.sqPsn/);
      expect(() => a.rc.modifyQp(q, 'RTR', { ...path, retryCount: 8 })).to.throw(ArgumentError, /path\.retryCount/);
      expect(() => a.rc.createQp({ pkeyIndex: 1 })).to.throw(ArgumentError, /o\.pkeyIndex/);
      expect(() => a.rc.createQp({ sendWindowPackets: 0 })).to.throw(ArgumentError, /o\.sendWindowPackets/);
      expect(() => a.rc.postSend(q, -1, Buffer.alloc(1))).to.throw(ArgumentError, /wrId/);
      expect(() => a.rc.postSend(q, 1, 'text' as unknown as Buffer)).to.throw(ArgumentError, /message/);
      expect(() => a.ep.openRc(() => {}), 'one RC port per endpoint').to.throw(StateError);
      expect(a.rc.qpInfo(q).state, 'nothing above changed the QP').to.equal('INIT');
      await a.rc.close();
      expect(() => a.rc.createQp(), 'after close').to.throw(StateError, /closed/);
    });
  });
});
