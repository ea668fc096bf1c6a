import { expect } from 'chai';
import { GsiSaClient } from '../../src/fabric/sa-client.js';
import type { GsiPort } from '../../src/fabric/gsi.js';
import { SaError } from '../../src/errors.js';
import { JOIN_STATE_FULL, MGMT_CLASS_SUBN_ADM } from '../../src/wire/constants.js';
import { parseSaMad } from '../../src/wire/sa.js';
import { createGsiLoopback } from './gsi-loopback.js';
import { DEFAULT_BCAST, GID2, GID3, GID4, LAB_BCAST, makeLab } from './sim-fixture.js';

/** The lab subnet's SA answering on loopback port 0 (LID 1), clients on the other ports. */
function rig() {
  const { sm, sa } = makeLab();
  const loop = createGsiLoopback(4);
  const smPort = loop.ports[0]!;
  smPort.onMad((mad, from) => {
    for (const r of sa.handle(mad, { lid: from.lid })) smPort.sendMad(from, r);
  });
  // Loopback ports have their own GIDs; give clients the GIDs the subnet knows them by.
  const as = (i: 1 | 2 | 3, gid: Buffer): GsiPort => ({ ...loop.ports[i]!, gid });
  const client = (i: 1 | 2 | 3, gid: Buffer, attemptTimeoutMs = 200) => new GsiSaClient(as(i, gid), { smLid: () => 1, attempts: 3, attemptTimeoutMs });
  return { sm, loop, client };
}

describe('SA client over QP1 @sa @mad @fabric', function () {
  it('joins the broadcast group as a full member and returns the group record the SA holds @sa @mad @fabric @multicast @qkey', async function () {
    const { sm, loop, client } = rig();
    const c = client(1, GID2);
    const rec = await c.join({ mgid: DEFAULT_BCAST, joinState: JOIN_STATE_FULL });
    c.close();
    expect(rec.mlid, 'MLID').to.equal(0xc000);
    expect(rec.qkey, 'Q_Key').to.equal(0x0b1b);
    expect(rec.mtu, 'MTU code').to.equal(4);
    expect(rec.joinState & JOIN_STATE_FULL, 'JoinState').to.equal(JOIN_STATE_FULL);
    expect(sm.members(DEFAULT_BCAST).map((m) => m.lid), 'SA member list').to.include(2);
    const sent = loop.wire.filter((w) => w.from === 1).map((w) => parseSaMad(w.mad));
    expect(sent.length, 'one request').to.equal(1);
    expect(sent[0]!.header.mgmtClass).to.equal(MGMT_CLASS_SUBN_ADM);
    expect(sent[0]!.header.method, 'SubnAdmSet').to.equal(0x02);
  });

  it('leaves a group: the SA drops the member @sa @mad @fabric @multicast', async function () {
    const { sm, client } = rig();
    const c = client(3, GID4);
    await c.join({ mgid: DEFAULT_BCAST, joinState: JOIN_STATE_FULL });
    expect(sm.members(DEFAULT_BCAST).map((m) => m.lid)).to.include(4);
    await c.leave(DEFAULT_BCAST, JOIN_STATE_FULL);
    c.close();
    expect(sm.members(DEFAULT_BCAST).map((m) => m.lid)).to.not.include(4);
  });

  it('a port without the partition P_Key is refused with the SA status, as an SaError @sa @mad @fabric @pkey @multicast', async function () {
    const { client } = rig();
    const c = client(2, GID3); // node3 holds no 0x8001
    let err: unknown;
    try {
      await c.join({ mgid: LAB_BCAST, joinState: JOIN_STATE_FULL });
    } catch (e) {
      err = e;
    }
    c.close();
    expect(err).to.be.instanceOf(SaError);
    expect((err as SaError).status, 'a response with a status, not a timeout').to.not.equal(null);
    expect((err as SaError).saError, 'SA error code').to.be.greaterThan(0);
  });

  it('queries a path: LIDs and the shared P_Key come back @sa @mad @fabric @pkey', async function () {
    const { client } = rig();
    const c = client(1, GID2);
    const path = await c.pathTo(GID4, 0xffff);
    c.close();
    expect(path.slid, 'SLID').to.equal(2);
    expect(path.dlid, 'DLID').to.equal(4);
    expect(path.pkey & 0x7fff, 'P_Key base').to.equal(0x7fff);
  });

  it('retries a silent SA, then fails with a timeout SaError after exactly the configured attempts @sa @mad @fabric', async function () {
    const { sm, loop, client } = rig();
    sm.stop();
    const c = client(1, GID2, 50);
    let err: unknown;
    try {
      await c.join({ mgid: DEFAULT_BCAST, joinState: JOIN_STATE_FULL });
    } catch (e) {
      err = e;
    }
    c.close();
    expect(err).to.be.instanceOf(SaError);
    expect((err as SaError).status, 'no answer').to.equal(null);
    const tids = loop.wire.filter((w) => w.from === 1).map((w) => parseSaMad(w.mad).header.transactionId);
    expect(tids.length, 'attempts on the wire').to.equal(3);
    expect(new Set(tids).size, 'a new TransactionID per attempt').to.equal(3);
  });
});
