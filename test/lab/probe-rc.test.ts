/**
 * The probe's RC side on the simulated fabric: one probe listens on a Service ID and answers
 * REQs as its accept function says, another connects with chosen private data; messages cross
 * the connection; a REQ for a Service ID nobody listens on, or one the listener refuses, comes
 * back as the REJ the CM or the listener sent.
 */
import { expect } from 'chai';
import { RcRejectedError } from '../../src/errors.js';
import type { RcConnectRequest, RcQp } from '../../src/lab/probe.js';
import { CM_REJ_REASONS } from '../../src/wire/cm.js';
import { formatGid } from '../../src/wire/mgid.js';
import { ProbeFabric } from './probe-fabric.js';

const SERVICE_ID = 0x1000_0000_0000_0abcn;

describe('probe RC connections on the simulated fabric @lab @fabric @rc @cm', function () {
  let fabric: ProbeFabric;

  beforeEach(async function () {
    fabric = await ProbeFabric.start('probe-rc');
  });

  afterEach(async function () {
    await fabric.close();
  });

  it('accepts a REQ with the listener\'s REP private data, hands over the REQ as sent, and carries messages both ways @lab @fabric @rc @cm', async function () {
    const [a, b] = [await fabric.probe('node1'), await fabric.probe('node2')];
    const requests: RcConnectRequest[] = [];
    const listener = b.listenRc(SERVICE_ID, (req) => {
      requests.push(req);
      return { accept: true, privateData: Buffer.from([0, 0, 0, 0x42, 0, 0, 0x0f, 0xa0]) };
    });
    const passive = new Promise<RcQp>((resolve) => listener.onConnection(resolve));
    const qp = await a.connectRc({ serviceId: SERVICE_ID, dgid: b.gid, dlid: b.lid, privateData: Buffer.from([0, 0, 0, 0x41, 0, 0, 0xff, 0xf4]) });
    const other = await passive;
    expect(requests.length, 'REQs the listener saw').to.equal(1);
    expect(requests[0]!.serviceId, 'Service ID of the REQ').to.equal(SERVICE_ID);
    expect(requests[0]!.privateData.subarray(0, 8).toString('hex'), 'REQ private data as sent (then zero padding)').to.equal('000000410000fff4');
    expect(formatGid(requests[0]!.remoteGid), 'the requester GID').to.equal(formatGid(a.gid));
    expect(qp.attributes.remotePrivateData.subarray(0, 8).toString('hex'), 'REP private data the connecting probe got').to.equal('0000004200000fa0');
    const got = new Promise<Buffer>((resolve) => other.onMessage(resolve));
    const back = new Promise<Buffer>((resolve) => qp.onMessage(resolve));
    await qp.send(Buffer.alloc(5000, 0x5a));
    await other.send(Buffer.from('reply'));
    expect((await got).length, 'octets of the message across the connection').to.equal(5000);
    expect((await back).toString(), 'message the other way').to.equal('reply');
    listener.close();
    await qp.close();
  });

  it('reports the REJ of an unknown Service ID (reason 8) and of a listener that refuses (its reason and private data) @lab @fabric @rc @cm', async function () {
    const [a, b] = [await fabric.probe('node1'), await fabric.probe('node2')];
    const unknown = await a.connectRc({ serviceId: SERVICE_ID + 1n, dgid: b.gid, dlid: b.lid, cmTimeoutMs: 200, cmRetries: 1 }).catch((e: unknown) => e);
    expect(unknown, 'a REQ for a Service ID nobody listens on').to.be.instanceOf(RcRejectedError);
    expect((unknown as RcRejectedError).reason, 'REJ reason').to.equal(CM_REJ_REASONS.invalidServiceId);
    const listener = b.listenRc(SERVICE_ID, () => ({ accept: false, rejectReason: CM_REJ_REASONS.consumerDefined, privateData: Buffer.from([0, 0, 0, 0x42]) }));
    const refused = await a.connectRc({ serviceId: SERVICE_ID, dgid: b.gid, dlid: b.lid, cmTimeoutMs: 200, cmRetries: 1 }).catch((e: unknown) => e);
    listener.close();
    expect(refused, 'a REQ the listener refuses').to.be.instanceOf(RcRejectedError);
    expect((refused as RcRejectedError).reason, 'REJ reason').to.equal(CM_REJ_REASONS.consumerDefined);
    expect((refused as RcRejectedError).privateData.subarray(0, 4).toString('hex'), 'REJ private data as the listener gave it').to.equal('00000042');
  });
});
