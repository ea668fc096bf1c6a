/**
 * RC connections over the simulated fabric, end to end in one process: a fabric manager, ports
 * with real native endpoints, the CM over QP1 and RC QPs inside the endpoints. Covers the CM
 * handshake (IPoIB-CM private data, Service ID routing, REJ, timeouts, disconnects from either
 * side) and the RC data path (65,524-octet messages through a 4096-octet path MTU at 0 % and
 * 1 % loss, tiny messages, both directions, the packets on the wire, retry exhaustion).
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ArgumentError,
  RcConnectTimeoutError,
  RcQpError,
  RcRejectedError,
  RcSendError,
  StateError,
} from '../../src/errors.js';
import type { PortEvent, RcConnectOptions, RcConnectRequest, RcQp } from '../../src/fabric/hca.js';
import { CmRejectError, CmTimeoutError } from '../../src/fabric/sim/cm-errors.js';
import { openManagerEndpoint, openPortEndpoint, openTapWriter } from '../../src/fabric/sim/endpoint-factory.js';
import { FabricClient } from '../../src/fabric/sim/fabric-client.js';
import { FabricManager } from '../../src/fabric/sim/fabric-manager.js';
import { parsePartitionsConf } from '../../src/fabric/sim/partitions-conf.js';
import { SimHcaPort } from '../../src/fabric/sim/provider.js';
import { ensurePrivateDir, type FabricRunPaths, fabricPaths } from '../../src/fabric/sim/run-dir.js';
import { classifySyndrome } from '../../src/wire/aeth.js';
import {
  CM_REJ_REASONS,
  ipoibCmPrivateData,
  ipoibCmPrivateDataField,
  ipoibCmServiceId,
} from '../../src/wire/cm.js';
import {
  IPOIB_CM_MAX_MESSAGE_BYTES,
  IPOIB_DEFAULT_QKEY,
  OP_RC_ACK,
  OP_RC_SEND_FIRST,
  OP_RC_SEND_LAST,
  OP_RC_SEND_MIDDLE,
  OP_RC_SEND_ONLY,
} from '../../src/wire/constants.js';
import { decodeIbPacket, type IbPacket } from '../../src/wire/ib-packet.js';
import { parseErfRecord, readPcap } from '../../src/wire/pcap.js';

const PARTITIONS = 'Default=0x7fff, ipoib : ALL=full ;\n';
const PSN_MASK = 0xffffff;
const MTU_BYTES = 4096;

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

/** `size` octets whose content depends on `seed` and on every octet's position. */
function message(size: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  let x = (Math.imul(seed + 1, 0x9e3779b1) >>> 0) | 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

/** What a promise settled with, for asserting on rejections. */
async function settle(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
    return undefined;
  } catch (e) {
    return e;
  }
}

/** Everything `qp` receives, in order. */
function collect(qp: RcQp): Buffer[] {
  const got: Buffer[] = [];
  qp.onMessage((m) => got.push(m));
  return got;
}

/** Expects `got` to equal `sent`, message by message, octet by octet. */
function expectSame(got: readonly Buffer[], sent: readonly Buffer[]): void {
  expect(got.length, 'messages received').to.equal(sent.length);
  for (let i = 0; i < sent.length; i++) {
    const g = got[i];
    expect(g?.length, `length of message ${i}`).to.equal(sent[i]!.length);
    expect(g?.equals(sent[i]!), `content of message ${i}`).to.equal(true);
  }
}

describe('RC connections over the simulated fabric @rc @cm @fabric', function () {
  this.timeout(30_000);
  let base: string;
  let paths: FabricRunPaths;
  let mgr: FabricManager;
  const open: SimHcaPort[] = [];

  // A CM packet lifetime of 2^8 × 4.096 µs (1 ms) instead of the SA's 0x12 (1.07 s), so that a
  // CM timeout (the response timeout plus two packet lifetimes per attempt) takes milliseconds.
  const port = async (node: string): Promise<SimHcaPort> => {
    const p = await SimHcaPort.open({ socketPath: paths.socket, node, openEndpoint: openPortEndpoint, cmPacketLifeTime: 8 });
    open.push(p);
    return p;
  };

  const control = async <T>(req: Parameters<FabricClient['request']>[0]): Promise<T> => {
    const ctl = await FabricClient.connect(paths.socket);
    try {
      return await ctl.request<T>(req);
    } finally {
      ctl.close();
    }
  };

  /** A listener on `b` that accepts everything, and a connection to it from `a`. */
  async function connectPair(
    a: SimHcaPort,
    b: SimHcaPort,
    o: Partial<RcConnectOptions> = {},
  ): Promise<{ active: RcQp; passive: RcQp }> {
    const serviceId = o.serviceId ?? 0x1000_0000_0000_0abcn;
    const listener = b.listenRc(serviceId, () => ({ accept: true }));
    const passive = new Promise<RcQp>((resolve) => listener.onConnection(resolve));
    const active = await a.connectRc({ serviceId, dgid: b.attributes().gid, dlid: b.attributes().lid, ...o });
    return { active, passive: await passive };
  }

  beforeEach(async function () {
    base = mkdtempSync(path.join(tmpdir(), 'ipoib-lab-rc-'));
    paths = fabricPaths('t', base);
    ensurePrivateDir(paths.dir);
    mgr = await FabricManager.start({
      paths,
      nodes: 3,
      partitions: parsePartitionsConf(PARTITIONS),
      openEndpoint: openManagerEndpoint,
      openTap: openTapWriter,
    });
  });

  afterEach(async function () {
    for (const p of open.splice(0)) await p.close();
    await mgr.close();
    rmSync(base, { recursive: true, force: true });
  });

  describe('the CM handshake @rc @cm @fabric', function () {
    it('connects with IPoIB-CM private data both ways, routed to the listener of the Service ID the REQ names @rc @cm @fabric', async function () {
      const [a, b] = [await port('node1'), await port('node2')];
      expect(a.capabilities.connectedMode, 'the sim provider offers RC').to.equal(true);
      const aUd = await a.createUdQp({ qkey: IPOIB_DEFAULT_QKEY, pkeyIndex: 0 });
      const bUd = await b.createUdQp({ qkey: IPOIB_DEFAULT_QKEY, pkeyIndex: 0 });
      const cmData = (qpn: number): Buffer => ipoibCmPrivateDataField({ reserved: 0, qpn, receiveMtu: IPOIB_CM_MAX_MESSAGE_BYTES }, 8);
      // Two listeners on b: the REQ names the first one's Service ID (Linux profile, b's UD QPN).
      const serviceId = ipoibCmServiceId(bUd.qpn, 'linux');
      const otherId = ipoibCmServiceId(bUd.qpn + 1, 'linux');
      const requests: RcConnectRequest[] = [];
      const otherRequests: RcConnectRequest[] = [];
      const listener = b.listenRc(serviceId, (req) => {
        requests.push(req);
        return { accept: true, privateData: cmData(bUd.qpn) };
      });
      b.listenRc(otherId, (req) => {
        otherRequests.push(req);
        return { accept: true };
      });
      const passiveP = new Promise<RcQp>((resolve) => listener.onConnection(resolve));
      const active = await a.connectRc({ serviceId, dgid: b.attributes().gid, privateData: cmData(aUd.qpn) });
      const passive = await passiveP;

      expect(otherRequests, 'the other Service ID was not asked').to.have.length(0);
      expect(requests, 'one REQ reached the listener').to.have.length(1);
      const req = requests[0]!;
      expect(req.serviceId).to.equal(serviceId);
      expect(req.privateData.length, 'REQ private data is 92 octets').to.equal(92);
      expect(ipoibCmPrivateData.decode(req.privateData, 0).value, 'IPoIB-CM data in the REQ').to.deep.equal({
        reserved: 0,
        qpn: aUd.qpn,
        receiveMtu: IPOIB_CM_MAX_MESSAGE_BYTES,
      });
      expect(req.remoteLid, 'REQ from node1').to.equal(a.attributes().lid);
      expect(req.remoteQpn, 'REQ names the active QP').to.equal(active.qpn);
      expect(req.pathMtuCode, 'path MTU: the port MTU').to.equal(a.attributes().activeMtuCode);

      const ra = active.attributes;
      const rp = passive.attributes;
      expect(ipoibCmPrivateData.decode(ra.remotePrivateData, 0).value, 'IPoIB-CM data in the REP').to.deep.equal({
        reserved: 0,
        qpn: bUd.qpn,
        receiveMtu: IPOIB_CM_MAX_MESSAGE_BYTES,
      });
      expect(ra.remotePrivateData.length, 'REP private data is 196 octets').to.equal(196);
      expect([active.state, passive.state], 'both QPs in RTS').to.deep.equal(['RTS', 'RTS']);
      expect([ra.role, rp.role]).to.deep.equal(['active', 'passive']);
      expect([ra.remoteQpn, rp.remoteQpn], 'each names the other').to.deep.equal([passive.qpn, active.qpn]);
      expect([ra.remoteLid, rp.remoteLid]).to.deep.equal([b.attributes().lid, a.attributes().lid]);
      expect(ra.sendPsn, 'active sends from the PSN the passive side expects').to.equal(rp.receivePsn);
      expect(rp.sendPsn, 'passive sends from the PSN the active side expects').to.equal(ra.receivePsn);
      // The QPs in the endpoints agree with the handshake.
      const na = a.rcQpInfo(active.qpn);
      const nb = b.rcQpInfo(passive.qpn);
      expect([na.state, nb.state]).to.deep.equal(['RTS', 'RTS']);
      expect(na.path).to.include({ destQpn: passive.qpn, dlid: b.attributes().lid, sqPsn: ra.sendPsn, rqPsn: ra.receivePsn, pathMtuCode: 5 });
      expect(nb.path).to.include({ destQpn: active.qpn, dlid: a.attributes().lid, sqPsn: rp.sendPsn, rqPsn: rp.receivePsn, pathMtuCode: 5 });
      expect([na.pkey, nb.pkey], 'the default partition').to.deep.equal([0xffff, 0xffff]);
      expect(nb.recvsPosted, 'receive buffers posted before the REP').to.be.greaterThan(0);
    });

    it('refuses bad connect options and a second listener on one Service ID before anything is sent @rc @cm @fabric', async function () {
      const [a, b] = [await port('node1'), await port('node2')];
      const good: RcConnectOptions = { serviceId: 0x10n, dgid: b.attributes().gid, dlid: b.attributes().lid };
      const bad: Array<[Partial<Record<keyof RcConnectOptions, unknown>>, RegExp]> = [
        [{ serviceId: 16 }, /o\.serviceId/],
        [{ serviceId: 1n << 64n }, /o\.serviceId/],
        [{ dgid: Buffer.alloc(15) }, /o\.dgid/],
        [{ dlid: 0xc000 }, /o\.dlid/],
        [{ privateData: Buffer.alloc(93) }, /o\.privateData/],
        [{ pathMtuCode: 6 }, /o\.pathMtuCode/],
        [{ retryCount: 8 }, /o\.retryCount/],
        [{ pkeyIndex: 1 }, /o\.pkeyIndex/],
        [{ cmTimeoutMs: 0 }, /o\.cmTimeoutMs/],
      ];
      for (const [change, field] of bad) {
        const err = await settle(a.connectRc({ ...good, ...change } as RcConnectOptions));
        expect(err, JSON.stringify(Object.keys(change))).to.be.instanceOf(ArgumentError);
        expect((err as Error).message).to.match(field);
      }
      expect(a.cm.counters().txMsgs.REQ, 'no REQ went out').to.equal(0);
      expect(a.rcQpns(), 'no QP was made').to.deep.equal([]);
      b.listenRc(0x10n, () => ({ accept: true }));
      expect(() => b.listenRc(0x10n, () => ({ accept: true })), 'one listener per Service ID').to.throw(/already has a listener/);
    });

    it('rejects a REQ for a Service ID nobody listens on with REJ invalid Service ID, and frees the QP @rc @cm @fabric', async function () {
      const [a, b] = [await port('node1'), await port('node2')];
      b.listenRc(0x42n, () => ({ accept: true }));
      const err = await settle(a.connectRc({ serviceId: 0x43n, dgid: b.attributes().gid, dlid: b.attributes().lid }));
      expect(err).to.be.instanceOf(RcRejectedError);
      const rej = err as RcRejectedError;
      expect(rej.reason).to.equal(CM_REJ_REASONS.invalidServiceId);
      expect(rej.reasonName).to.equal('invalidServiceId');
      expect(rej.cause, 'the CM error is the cause').to.be.instanceOf(CmRejectError);
      expect(a.rcQpns(), 'no RC QP left on the active port').to.deep.equal([]);
      expect(b.rcQpns(), 'none made on the passive port').to.deep.equal([]);
    });

    it('passes a listener reject to the active side as a REJ with its reason and private data @rc @cm @fabric', async function () {
      const [a, b] = [await port('node1'), await port('node2')];
      b.listenRc(0x77n, async () => ({ accept: false, rejectReason: CM_REJ_REASONS.noResources, privateData: Buffer.from('try later') }));
      b.listenRc(0x78n, () => {
        throw new Error('listener bug');
      });
      const target = { dgid: b.attributes().gid, dlid: b.attributes().lid };
      const refused = await settle(a.connectRc({ serviceId: 0x77n, ...target }));
      expect(refused).to.be.instanceOf(RcRejectedError);
      expect((refused as RcRejectedError).reason, 'the listener reason').to.equal(CM_REJ_REASONS.noResources);
      expect((refused as RcRejectedError).privateData.subarray(0, 9).toString(), 'REJ private data').to.equal('try later');
      const thrown = await settle(a.connectRc({ serviceId: 0x78n, ...target }));
      expect((thrown as RcRejectedError).reason, 'a throwing listener rejects as consumer-defined').to.equal(CM_REJ_REASONS.consumerDefined);
      expect([a.rcQpns(), b.rcQpns()], 'no QP left on either side').to.deep.equal([[], []]);
    });

    it('fails connectRc with a CM timeout when the peer never answers the REQ @rc @cm @fabric', async function () {
      const [a, b] = [await port('node1'), await port('node2')];
      const events: PortEvent['type'][] = [];
      b.onEvent((e) => events.push(e.type));
      await control({ op: 'link', node: 'node2', up: false });
      await waitFor('port-down on node2', 2000, () => (events.includes('port-down') ? true : undefined));
      const started = Date.now();
      const err = await settle(a.connectRc({ serviceId: 0x99n, dgid: b.attributes().gid, dlid: b.attributes().lid, cmTimeoutMs: 20, cmRetries: 2 }));
      expect(err).to.be.instanceOf(RcConnectTimeoutError);
      expect((err as RcConnectTimeoutError).unanswered).to.equal('REQ');
      expect((err as RcConnectTimeoutError).attempts, 'the REQ and two retries').to.equal(3);
      expect((err as RcConnectTimeoutError).cause).to.be.instanceOf(CmTimeoutError);
      // cmTimeoutMs 20 rounds up to the exponent 13 (33.6 ms); each wait adds two 1-ms lifetimes.
      expect(Date.now() - started, 'three waits of about 36 ms').to.be.within(100, 2000);
      expect(a.rcQpns(), 'the QP is freed').to.deep.equal([]);
    });

    it('disconnects from the active side: both QPs are freed and the passive one hears a remote disconnect @rc @cm @fabric', async function () {
      const [a, b] = [await port('node1'), await port('node2')];
      const { active, passive } = await connectPair(a, b);
      const heard = new Promise<{ initiator: string }>((resolve) => passive.onDisconnect(resolve));
      const localHeard: string[] = [];
      active.onDisconnect((e) => localHeard.push(e.initiator));
      await active.close();
      expect(localHeard, 'the closing side hears its own disconnect').to.deep.equal(['local']);
      expect(a.rcQpns(), 'freed at once on the closing side').to.deep.equal([]);
      expect((await heard).initiator).to.equal('remote');
      expect(b.rcQpns(), 'freed on the DREQ').to.deep.equal([]);
      expect([active.state, passive.state]).to.deep.equal(['RESET', 'RESET']);
      expect(await settle(active.send(Buffer.from('late'))), 'no sends after close').to.be.instanceOf(StateError);
      expect(a.cm.counters().txMsgs.DREQ, 'one DREQ sent').to.equal(1);
      await waitFor('the DREP', 2000, () => (a.cm.counters().rxMsgs.DREP === 1 ? true : undefined));
    });

    it('disconnects from the passive side: the active QP is freed with a remote disconnect @rc @cm @fabric', async function () {
      const [a, b] = [await port('node1'), await port('node2')];
      const { active, passive } = await connectPair(a, b);
      const heard = new Promise<{ initiator: string }>((resolve) => active.onDisconnect(resolve));
      await passive.close();
      expect(b.rcQpns()).to.deep.equal([]);
      expect((await heard).initiator).to.equal('remote');
      expect(a.rcQpns()).to.deep.equal([]);
      expect(await settle(active.send(Buffer.from('late')))).to.be.instanceOf(StateError);
      expect(b.cm.counters().txMsgs.DREQ).to.equal(1);
    });
  });

  describe('RC data through the fabric @rc @fabric', function () {
    it('carries 48 messages of 65,524 octets through a 4096-octet path MTU intact and in order @rc @fabric @mtu', async function () {
      const [a, b] = [await port('node1'), await port('node2')];
      const { active, passive } = await connectPair(a, b);
      expect(active.attributes.pathMtuCode, '4096-octet path MTU').to.equal(5);
      const got = collect(passive);
      const sent = Array.from({ length: 48 }, (_, i) => message(IPOIB_CM_MAX_MESSAGE_BYTES, i));
      await Promise.all(sent.map((m) => active.send(m)));
      await waitFor('every message', 5000, () => (got.length >= sent.length ? true : undefined));
      expectSame(got, sent);
      const stats = a.rcQpInfo(active.qpn).stats;
      const packets = Math.ceil(IPOIB_CM_MAX_MESSAGE_BYTES / MTU_BYTES) * sent.length;
      expect(stats.packetsSent, '16 packets per message at least').to.be.at.least(packets);
      expect(b.rcQpInfo(passive.qpn).stats.messagesDelivered).to.equal(sent.length);
    });

    it('carries them intact and in order at 1 % loss on both ports (seeded), retransmitting what was lost @rc @fabric', async function () {
      const [a, b] = [await port('node1'), await port('node2')];
      const { active, passive } = await connectPair(a, b, { ackTimeoutExp: 12 });
      for (const node of ['node1', 'node2']) await control({ op: 'fault', node, lossRate: 0.01, seed: 4242 });
      await new Promise((r) => setTimeout(r, 100)); // the manager pushes the fault to each owner; let it land
      const got = collect(passive);
      const sent = Array.from({ length: 48 }, (_, i) => message(IPOIB_CM_MAX_MESSAGE_BYTES, 1000 + i));
      await Promise.all(sent.map((m) => active.send(m)));
      await waitFor('every message', 10_000, () => (got.length >= sent.length ? true : undefined));
      expectSame(got, sent);
      const lost = (a.counters() as Record<string, number>).lossFaultDrops ?? 0;
      expect(lost, 'the fault dropped packets of node1').to.be.greaterThan(0);
      expect(a.rcQpInfo(active.qpn).stats.retransmissions, 'and the requester sent them again').to.be.greaterThan(0);
      expect(b.rcQpInfo(passive.qpn).stats.messagesDelivered, 'each message delivered once').to.equal(sent.length);
    });

    it('delivers a 0-octet and a 1-octet message @rc @fabric', async function () {
      const [a, b] = [await port('node1'), await port('node2')];
      const { active, passive } = await connectPair(a, b);
      const got = collect(passive);
      const sent = [Buffer.alloc(0), Buffer.from([0x5a]), Buffer.alloc(0)];
      await Promise.all(sent.map((m) => active.send(m)));
      await waitFor('three messages', 2000, () => (got.length >= 3 ? true : undefined));
      expectSame(got, sent);
      expect(a.rcQpInfo(active.qpn).stats.packetsSent, 'one SEND ONLY each').to.equal(3);
    });

    it('carries messages in both directions at once @rc @fabric', async function () {
      const [a, b] = [await port('node1'), await port('node2')];
      const { active, passive } = await connectPair(a, b);
      const atB = collect(passive);
      const atA = collect(active);
      const toB = Array.from({ length: 24 }, (_, i) => message(IPOIB_CM_MAX_MESSAGE_BYTES - i * 1000, 2000 + i));
      const toA = Array.from({ length: 24 }, (_, i) => message(1 + i * 2731, 3000 + i));
      await Promise.all([...toB.map((m) => active.send(m)), ...toA.map((m) => passive.send(m))]);
      await waitFor('both streams', 5000, () => (atA.length >= toA.length && atB.length >= toB.length ? true : undefined));
      expectSame(atB, toB);
      expectSame(atA, toA);
    });

    it('puts SEND FIRST, MIDDLE, LAST and ONLY with consecutive PSNs on the wire, answered by ACKs with an AETH, as src/wire/ib-packet.ts decodes them @rc @fabric @ib', async function () {
      const [a, b] = [await port('node1'), await port('node2')];
      const { active, passive } = await connectPair(a, b);
      const file = path.join(base, 'rc.pcap');
      await control({ op: 'tap', file, nodes: ['node1'] }); // node1 only: each packet once
      await new Promise((r) => setTimeout(r, 50));
      const got = collect(passive);
      const sent = [message(IPOIB_CM_MAX_MESSAGE_BYTES, 1), message(IPOIB_CM_MAX_MESSAGE_BYTES, 2), message(101, 3)];
      for (const m of sent) await active.send(m); // one at a time: every message is acknowledged before the next
      await waitFor('the messages', 2000, () => (got.length >= 3 ? true : undefined));
      await new Promise((r) => setTimeout(r, 100));
      await control({ op: 'tap', file: null });
      const packets: IbPacket[] = readPcap(readFileSync(file)).records.map((r) => decodeIbPacket(parseErfRecord(r.data).packet));

      // Both ports hand out QPNs from the same first number: tell the directions apart by DLID.
      const toB = (p: IbPacket): boolean => p.lrh.dlid === b.attributes().lid && p.bth.destQp === passive.qpn;
      const toA = (p: IbPacket): boolean => p.lrh.dlid === a.attributes().lid && p.bth.destQp === active.qpn;
      const data = packets.filter(toB);
      // 65,524 = 15 × 4096 + 4084: FIRST, 14 MIDDLE, LAST; then 101 octets in one SEND ONLY.
      const perMessage = [OP_RC_SEND_FIRST, ...Array<number>(14).fill(OP_RC_SEND_MIDDLE), OP_RC_SEND_LAST];
      expect(data.map((p) => p.bth.opcode), 'OpCodes in order').to.deep.equal([...perMessage, ...perMessage, OP_RC_SEND_ONLY]);
      const start = active.attributes.sendPsn;
      expect(data.map((p) => p.bth.psn), 'consecutive PSNs from the handshake').to.deep.equal(data.map((_, i) => (start + i) & PSN_MASK));
      expect(data.map((p) => p.payload.length), 'payload per packet').to.deep.equal([
        ...Array<number>(15).fill(4096), 4084, ...Array<number>(15).fill(4096), 4084, 101,
      ]);
      expect(data.at(-1)?.bth.padCnt, '101 octets + 3 pad octets').to.equal(3);
      expect(Buffer.concat(data.slice(0, 16).map((p) => p.payload)).equals(sent[0]!), 'the first message, reassembled from the capture').to.equal(true);
      expect([data[15]?.bth.ackReq, data[31]?.bth.ackReq, data[32]?.bth.ackReq], 'ACK asked for on each last packet').to.deep.equal([true, true, true]);
      expect(data.every((p) => p.lrh.slid === a.attributes().lid && p.lrh.dlid === b.attributes().lid && p.grh === undefined && p.bth.pKey === 0xffff)).to.equal(true);

      const acks = packets.filter(toA);
      expect(acks.length, 'ACKs came back').to.be.greaterThan(0);
      expect(acks.every((p) => p.bth.opcode === OP_RC_ACK && p.aeth !== undefined), 'every response is an ACKNOWLEDGE with an AETH').to.equal(true);
      expect(acks.every((p) => classifySyndrome(p.aeth!.syndrome).kind === 'ack'), 'no NAKs at 0 % loss').to.equal(true);
      const last = acks.at(-1)!;
      expect(last.bth.psn, 'the last ACK names the last PSN').to.equal(data.at(-1)!.bth.psn);
      expect(last.aeth!.msn, 'three messages completed').to.equal(3);
      expect(last.lrh.slid, 'from node2').to.equal(b.attributes().lid);
    });

    it('ends in retry-exceeded when the peer link goes down: the send fails, onError fires, the QP is in ERROR @rc @fabric', async function () {
      const [a, b] = [await port('node1'), await port('node2')];
      const { active } = await connectPair(a, b, { retryCount: 2, ackTimeoutExp: 12 });
      const errors: Error[] = [];
      active.onError((e) => errors.push(e));
      const events: PortEvent['type'][] = [];
      b.onEvent((e) => events.push(e.type));
      await control({ op: 'link', node: 'node2', up: false });
      await waitFor('port-down on node2', 2000, () => (events.includes('port-down') ? true : undefined));
      const first = settle(active.send(message(10_000, 1)));
      const second = settle(active.send(message(10, 2)));
      const firstErr = await first;
      expect(firstErr).to.be.instanceOf(RcSendError);
      expect((firstErr as RcSendError).status).to.equal('retry-exceeded');
      expect(((await second) as RcSendError).status, 'the send behind it is flushed').to.equal('flushed');
      await waitFor('onError', 2000, () => (errors.length ? true : undefined));
      expect(errors[0]).to.be.instanceOf(RcQpError);
      expect((errors[0] as RcQpError).reason).to.equal('retry-exceeded');
      expect(active.state).to.equal('ERROR');
      const info = a.rcQpInfo(active.qpn);
      expect(info.state).to.equal('ERROR');
      expect(info.stats.timeouts, 'the first timeout and two retries').to.equal(3);
      expect(info.errorDetail).to.match(/no ACK for PSN/);
      await active.close();
      expect(a.rcQpns(), 'close frees the QP in ERROR').to.deep.equal([]);
    });
  });

  it('frees every QP and handle on close, so a process that used RC exits by itself @rc @cm @fabric', async function () {
    const child = fileURLToPath(new URL('./rc-exit-child.ts', import.meta.url));
    const out: Buffer[] = [];
    const proc = spawn(process.execPath, ['--import', 'tsx/esm', child], { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'inherit'] });
    proc.stdout.on('data', (d: Buffer) => out.push(d));
    const code = await new Promise<number | string>((resolve) => {
      const timer = setTimeout(() => {
        proc.kill('SIGKILL');
        resolve('still running after 20 s: a handle leaked');
      }, 20_000);
      proc.on('exit', (c, signal) => {
        clearTimeout(timer);
        resolve(c ?? String(signal));
      });
    });
    const report = Buffer.concat(out).toString();
    expect(code, report).to.equal(0);
    const result = JSON.parse(report.trim().split('\n').at(-1) ?? '{}') as { received: number; rcQpnsAfterClose: number[][] };
    expect(result.received, 'the child moved data before closing').to.equal(4);
    expect(result.rcQpnsAfterClose, 'no RC QP left on either port').to.deep.equal([[], []]);
  });
});
