import { expect } from 'chai';
import type { GsiAddress, GsiPort } from '../../src/fabric/gsi.js';
import type { CmConnection } from '../../src/fabric/sim/cm-connection.js';
import { CmClosedError, CmRejectError, CmStateError, CmTimeoutError } from '../../src/fabric/sim/cm-errors.js';
import { buildCmMad, cmRejReasonName, parseCmMad } from '../../src/fabric/sim/cm-messages.js';
import {
  type CmAcceptOptions,
  type CmConnectOptions,
  type CmIncomingRequest,
  CmService,
  type CmServiceOptions,
} from '../../src/fabric/sim/cm-service.js';
import { cmResponseWaitMs, cmTimewaitMs, ibTimeExponentFor, ibTimeMs } from '../../src/fabric/sim/cm-timing.js';
import {
  CM_ATTRIBUTE_IDS,
  CM_REJ_MSG_OTHER,
  CM_REJ_MSG_REQ,
  CM_REJ_REASONS,
  CM_RTU_PRIVATE_DATA_LEN,
  CM_TRANSPORT_RC,
  CM_TRANSPORT_RD,
  type CmKind,
  type CmMessage,
  type CmPath,
  type CmReq,
  decodeCmMessage,
  encodeCmMessage,
  ipoibCmPrivateData,
  ipoibCmServiceId,
} from '../../src/wire/cm.js';
import { encodeToBuffer } from '../../src/wire/codec.js';
import {
  CM_ATTR_MRA,
  CM_CLASS_VERSION,
  IPOIB_CM_MAX_MESSAGE_BYTES,
  MAD_METHOD_GET,
  MAD_METHOD_SEND,
  MGMT_CLASS_CM,
  MGMT_CLASS_SUBN_ADM,
} from '../../src/wire/constants.js';
import { type MadHeader, mad, parseMad } from '../../src/wire/mad.js';
import { expectWireError, hex } from '../helpers/roundtrip.js';
import { createFakeClock, type FakeClock } from './fake-clock.js';
import { createGsiLoopback, type GsiLoopback, loopbackCaGuid } from './gsi-loopback.js';

// ---- fixtures

const A_UD_QPN = 0x000048;
const B_UD_QPN = 0x000049;
const A_RC_QPN = 0x000101;
const B_RC_QPN = 0x000202;
const B_PSN = 0x123456;
/** Linux IPoIB-CM Service IDs: 0x10 prefix, then the listener's UD QPN. */
const SID_A = ipoibCmServiceId(A_UD_QPN, 'linux');
const SID_B = ipoibCmServiceId(B_UD_QPN, 'linux');
/**
 * Wait between sends with the Linux IPoIB-CM timeout (20) and the sim's PacketLifeTime (0x12):
 * 4.096 µs × 2^20 = 4294.967296 ms, plus 2 × 4.096 µs × 2^18 = 2147.483648 ms,
 * = 6442.450944 ms, rounded up to 6443.
 */
const WAIT = 6443;
/** Same with response timeout 15: 134.217728 + 2147.483648 = 2281.701376 → 2282 ms. */
const WAIT_15 = 2282;
/** Time-wait: 2 × 1073.741824 ms = 2147.483648 → 2148 ms. */
const TIMEWAIT = 2148;

function must<T>(v: T | undefined, what: string): T {
  if (v === undefined) throw new Error(`missing ${what}`);
  return v;
}

/** The 8-octet IPoIB-CM private data (RFC 4755 §6) for a UD QPN, receive MTU 65524. */
function ipoibData(qpn: number): Buffer {
  return encodeToBuffer(ipoibCmPrivateData, { reserved: 0, qpn, receiveMtu: IPOIB_CM_MAX_MESSAGE_BYTES });
}

interface Env {
  clock: FakeClock;
  net: GsiLoopback;
  a: CmService;
  b: CmService;
  /** Port 3: no CM, for injecting raw MADs. */
  probe: GsiPort;
  portA: GsiPort;
  portB: GsiPort;
  close(): void;
}

function setup(o: { lossRate?: number; seed?: number; a?: CmServiceOptions } = {}): Env {
  const clock = createFakeClock();
  const net = createGsiLoopback(3, { lossRate: o.lossRate, seed: o.seed, now: clock.now });
  const portA = must(net.ports[0], 'port A');
  const portB = must(net.ports[1], 'port B');
  const a = new CmService(portA, { clock, firstCommId: 0x0a000001, tidHigh: 0xaaaa, ...o.a });
  const b = new CmService(portB, { clock, firstCommId: 0x0b000001, tidHigh: 0xbbbb });
  return {
    clock,
    net,
    a,
    b,
    probe: must(net.ports[2], 'probe port'),
    portA,
    portB,
    close() {
      a.close();
      b.close();
    },
  };
}

function addressOf(p: GsiPort): GsiAddress {
  return { lid: p.lid, gid: p.gid, qpn: 1 };
}

function connectOpts(env: Env, over: Partial<CmConnectOptions> = {}): CmConnectOptions {
  return {
    serviceId: SID_B,
    dest: addressOf(env.portB),
    localQpn: A_RC_QPN,
    startingPsn: 0,
    pkey: 0xffff,
    pathMtu: 5,
    privateData: ipoibData(A_UD_QPN),
    ...over,
  };
}

/** B listens on SID_B and accepts every REQ. */
function listenAccept(env: Env, over: Partial<CmAcceptOptions> = {}) {
  const seen: CmIncomingRequest[] = [];
  const accepted: Promise<CmConnection>[] = [];
  env.b.listen(SID_B, (r) => {
    seen.push(r);
    accepted.push(r.accept({ localQpn: B_RC_QPN, startingPsn: B_PSN, privateData: ipoibData(B_UD_QPN), ...over }));
  });
  return { seen, accepted };
}

/** Watches a promise without awaiting it. */
function track<T>(p: Promise<T>) {
  const s: { settled: boolean; value?: T; error?: unknown } = { settled: false };
  p.then(
    (v) => {
      s.settled = true;
      s.value = v;
    },
    (e: unknown) => {
      s.settled = true;
      s.error = e;
    },
  );
  return s;
}

interface OnWire {
  kind: CmKind;
  header: MadHeader;
  msg: CmMessage;
  from: number;
  toLid: number;
  at: number;
  lost?: string;
}

/** Every MAD the two CMs put on the wire, decoded with the wire codecs (a CM MAD that fails to decode fails the test). */
function decodeWire(net: GsiLoopback, fromPorts: readonly number[] = [0, 1]): OnWire[] {
  return net.wire
    .filter((r) => fromPorts.includes(r.from))
    .map((r) => {
      const m = parseMad(r.mad);
      const msg = decodeCmMessage(m);
      return { kind: msg.kind, header: m.header, msg, from: r.from, toLid: r.to.lid, at: r.at, lost: r.lost };
    });
}

type BodyOf<K extends CmKind> = Extract<CmMessage, { kind: K }>['body'];

function bodies<K extends CmKind>(wire: readonly OnWire[], kind: K): BodyOf<K>[] {
  return wire.filter((w) => w.kind === kind).map((w) => w.msg.body as BodyOf<K>);
}

function ofKind(wire: readonly OnWire[], kind: CmKind): OnWire[] {
  return wire.filter((w) => w.kind === kind);
}

/** Drop predicate: a CM MAD of `kind` (AttributeID at MAD octet 16). */
function isKind(kind: CmKind) {
  return (m: Buffer) => m.length >= 18 && m.readUInt8(1) === MGMT_CLASS_CM && m.readUInt16BE(16) === CM_ATTRIBUTE_IDS[kind];
}

function cmHeader(tid: bigint, attributeId: number, over: Partial<MadHeader> = {}): MadHeader {
  return {
    baseVersion: 1,
    mgmtClass: MGMT_CLASS_CM,
    classVersion: CM_CLASS_VERSION,
    method: MAD_METHOD_SEND,
    status: 0,
    classSpecific: 0,
    transactionId: tid,
    attributeId,
    reserved: 0,
    attributeModifier: 0,
    ...over,
  };
}

/** A whole MAD built with the wire codecs only (independent of the CM's own builder). */
function rawCmMad(msg: CmMessage, tid: bigint, over: Partial<MadHeader> = {}): Buffer {
  const { attributeId, data } = encodeCmMessage(msg);
  return encodeToBuffer(mad, { header: cmHeader(tid, attributeId, over), data });
}

function zeroPath(): CmPath {
  return {
    localLid: 0,
    remoteLid: 0,
    localGid: Buffer.alloc(16),
    remoteGid: Buffer.alloc(16),
    flowLabel: 0,
    reserved38: 0,
    packetRate: 0,
    trafficClass: 0,
    hopLimit: 0,
    sl: 0,
    subnetLocal: false,
    reserved42: 0,
    localAckTimeout: 0,
    reserved43: 0,
  };
}

/** A REQ as the probe port would send it. */
function probeReq(env: Env, over: Partial<CmReq> = {}): CmReq {
  return {
    localCommId: 0x00c0ffee,
    reserved4: 0,
    vendorId: 0,
    serviceId: SID_B,
    localCaGuid: env.probe.caGuid,
    reserved24: 0,
    localQkey: 0,
    localQpn: 0x000333,
    responderResources: 4,
    localEecn: 0,
    initiatorDepth: 0,
    remoteEecn: 0,
    remoteCmResponseTimeout: 20,
    transportServiceType: CM_TRANSPORT_RC,
    endToEndFlowControl: false,
    startingPsn: 0,
    localCmResponseTimeout: 20,
    retryCount: 0,
    pkey: 0xffff,
    pathMtu: 5,
    rdcExists: false,
    rnrRetryCount: 0,
    maxCmRetries: 15,
    srq: false,
    extendedTransportType: 0,
    primaryPath: { ...zeroPath(), localLid: env.probe.lid, remoteLid: env.portB.lid, localGid: env.probe.gid, remoteGid: env.portB.gid },
    alternatePath: zeroPath(),
    sapSupported: false,
    privateData: Buffer.alloc(92),
    ...over,
  };
}

/** MADs the probe port receives. */
function probeInbox(env: Env): Buffer[] {
  const got: Buffer[] = [];
  env.probe.onMad((m) => got.push(m));
  return got;
}

async function establish(env: Env) {
  const { seen, accepted } = listenAccept(env);
  const active = await env.a.connect(connectOpts(env));
  await env.clock.settle();
  const passive = await must(accepted[0], 'accept() of the first REQ');
  return { active, passive, seen };
}

// ---- tests

describe('CM service on a simulated port @cm @fabric', function () {
  it('completes REQ/REP/RTU and carries the IPoIB-CM UD QPN and receive MTU both ways @mad @mtu', async function () {
    const env = setup();
    try {
      const { active, passive, seen } = await establish(env);
      expect(seen, 'REQs handed to the listener').to.have.length(1);
      expect(active.state, 'active state').to.equal('ESTABLISHED');
      expect(passive.state, 'passive state').to.equal('ESTABLISHED');
      expect(active.role).to.equal('active');
      expect(passive.role).to.equal('passive');

      const atB = ipoibCmPrivateData.decode(passive.remotePrivateData, 0).value;
      expect(atB.qpn, 'UD QPN the passive side learnt').to.equal(A_UD_QPN);
      expect(atB.receiveMtu, 'receive MTU the passive side learnt').to.equal(65524);
      const atA = ipoibCmPrivateData.decode(active.remotePrivateData, 0).value;
      expect(atA.qpn, 'UD QPN the active side learnt').to.equal(B_UD_QPN);
      expect(atA.receiveMtu, 'receive MTU the active side learnt').to.equal(65524);

      expect(active.remoteQpn, 'active: peer RC QPN').to.equal(B_RC_QPN);
      expect(passive.remoteQpn, 'passive: peer RC QPN').to.equal(A_RC_QPN);
      expect(active.sendPsn).to.equal(0);
      expect(active.receivePsn).to.equal(B_PSN);
      expect(passive.sendPsn).to.equal(B_PSN);
      expect(passive.receivePsn).to.equal(0);
      expect(active.remoteCommId).to.equal(passive.localCommId);
      expect(passive.remoteCommId).to.equal(active.localCommId);

      const wire = decodeWire(env.net);
      expect(wire.map((w) => w.kind), 'messages on the wire').to.deep.equal(['REQ', 'REP', 'RTU']);
      expect(wire.map((w) => [w.from, w.toLid]), 'sender port and destination LID').to.deep.equal([
        [0, 2],
        [1, 1],
        [0, 2],
      ]);
      for (const w of wire) {
        expect(w.header.mgmtClass, `${w.kind} class`).to.equal(0x07);
        expect(w.header.classVersion, `${w.kind} class version`).to.equal(2);
        expect(w.header.method, `${w.kind} method`).to.equal(0x03);
        expect(w.header.status, `${w.kind} status`).to.equal(0);
        expect(w.header.transactionId, `${w.kind} TransactionID`).to.equal(must(wire[0], 'REQ').header.transactionId);
      }
      const req = must(bodies(wire, 'REQ')[0], 'REQ');
      const rep = must(bodies(wire, 'REP')[0], 'REP');
      const rtu = must(bodies(wire, 'RTU')[0], 'RTU');
      expect(req.serviceId, 'REQ Service ID').to.equal(0x1000000000000049n);
      expect(req.localCaGuid).to.equal(loopbackCaGuid(0));
      expect(req.localQpn).to.equal(A_RC_QPN);
      expect(req.startingPsn).to.equal(0);
      expect(req.pkey).to.equal(0xffff);
      expect(req.pathMtu).to.equal(5);
      expect(req.transportServiceType).to.equal(CM_TRANSPORT_RC);
      expect(req.maxCmRetries, 'MaxCMRetries (Linux IPoIB-CM value)').to.equal(15);
      expect(req.remoteCmResponseTimeout, 'RemoteCMResponseTimeout').to.equal(20);
      expect(req.localCmResponseTimeout, 'LocalCMResponseTimeout').to.equal(20);
      expect(req.primaryPath.localLid).to.equal(1);
      expect(req.primaryPath.remoteLid).to.equal(2);
      expect(req.primaryPath.remoteGid.equals(env.portB.gid), 'REQ remote GID').to.equal(true);
      expect(ipoibCmPrivateData.decode(req.privateData, 0).value.qpn, 'REQ private data UD QPN').to.equal(A_UD_QPN);
      expect(rep.remoteCommId).to.equal(req.localCommId);
      expect(rep.localCommId).to.equal(passive.localCommId);
      expect(rep.localQpn).to.equal(B_RC_QPN);
      expect(rep.startingPsn).to.equal(B_PSN);
      expect(rep.localCaGuid).to.equal(loopbackCaGuid(1));
      expect(rep.rnrRetryCount, 'REP RNR retry count copied from the REQ').to.equal(req.rnrRetryCount);
      expect(ipoibCmPrivateData.decode(rep.privateData, 0).value.qpn, 'REP private data UD QPN').to.equal(B_UD_QPN);
      expect(rtu.localCommId).to.equal(req.localCommId);
      expect(rtu.remoteCommId).to.equal(rep.localCommId);
    } finally {
      env.close();
    }
  });

  it('answers a REQ for an unknown Service ID with REJ reason 8 on the wire @mad', async function () {
    const env = setup();
    try {
      const err = await env.a.connect(connectOpts(env)).catch((e: unknown) => e);
      expect(err, 'connect() outcome').to.be.instanceOf(CmRejectError);
      const rejErr = err as CmRejectError;
      expect(rejErr.reason).to.equal(8);
      expect(rejErr.reasonName).to.equal('invalidServiceId');

      const wire = decodeWire(env.net);
      expect(wire.map((w) => w.kind)).to.deep.equal(['REQ', 'REJ']);
      const req = must(bodies(wire, 'REQ')[0], 'REQ');
      const rej = must(bodies(wire, 'REJ')[0], 'REJ');
      expect(rej.reason, 'REJ reason on the wire').to.equal(CM_REJ_REASONS.invalidServiceId);
      expect(rej.messageRejected, 'MessageRejected').to.equal(CM_REJ_MSG_REQ);
      expect(rej.remoteCommId, 'REJ names the REQ comm ID').to.equal(req.localCommId);
      expect(must(wire[1], 'REJ').header.transactionId, 'REJ echoes the TransactionID').to.equal(
        must(wire[0], 'REQ').header.transactionId,
      );
      expect(must(wire[1], 'REJ').from, 'REJ sender').to.equal(1);

      await env.clock.tick(10 * WAIT);
      expect(ofKind(decodeWire(env.net), 'REQ'), 'REQs after the REJ').to.have.length(1);
      expect(env.clock.pendingTimers(), 'timers left').to.equal(0);
      expect(env.a.connections()).to.deep.equal([]);
      expect(env.b.connections()).to.deep.equal([]);
    } finally {
      env.close();
    }
  });

  it('passes a listener reject with its own reason code, ARI and private data to the active side @mad', async function () {
    const env = setup();
    try {
      env.b.listen(SID_B, (r) => r.reject(CM_REJ_REASONS.consumerDefined, { ari: hex('c0ffee'), privateData: Buffer.from('busy') }));
      const err = await env.a.connect(connectOpts(env)).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(CmRejectError);
      const rejErr = err as CmRejectError;
      expect(rejErr.reason).to.equal(28);
      expect(rejErr.reasonName).to.equal('consumerDefined');
      expect(rejErr.ari.toString('hex'), 'ARI seen by the active side').to.equal('c0ffee');

      const rej = must(bodies(decodeWire(env.net), 'REJ')[0], 'REJ');
      expect(rej.reason).to.equal(28);
      expect(rej.rejectedInfoLength).to.equal(3);
      expect(rej.ari.subarray(0, 3).toString('hex')).to.equal('c0ffee');
      expect(rej.privateData.subarray(0, 4).toString(), 'REJ private data').to.equal('busy');
      expect(rej.messageRejected).to.equal(CM_REJ_MSG_REQ);
      expect(rej.localCommId, 'REJ carries the passive comm ID').to.not.equal(0);
      expect(env.b.connections(), 'passive side after rejecting').to.deep.equal([]);
      expect(env.a.connections(), 'active side after the REJ').to.deep.equal([]);
    } finally {
      env.close();
    }
  });

  it('disconnects with DREQ/DREP when the active side hangs up, then leaves time-wait @mad', async function () {
    const env = setup();
    try {
      const { active, passive } = await establish(env);
      const seenAtB: unknown[] = [];
      passive.on('disconnected', (e) => seenAtB.push(e));
      const idle: string[] = [];
      active.on('idle', () => idle.push('A'));
      passive.on('idle', () => idle.push('B'));

      const result = await active.disconnect(Buffer.from('bye'));
      await env.clock.settle();
      expect(result).to.deep.equal({ initiator: 'local', confirmed: true });
      expect(seenAtB).to.have.length(1);
      expect(seenAtB[0]).to.include({ initiator: 'remote', confirmed: true });
      expect(active.state).to.equal('TIMEWAIT');
      expect(passive.state).to.equal('TIMEWAIT');

      const wire = decodeWire(env.net);
      const dreqW = must(ofKind(wire, 'DREQ')[0], 'DREQ');
      const drepW = must(ofKind(wire, 'DREP')[0], 'DREP');
      const dreq = dreqW.msg.body as BodyOf<'DREQ'>;
      const drep = drepW.msg.body as BodyOf<'DREP'>;
      expect(dreqW.from).to.equal(0);
      expect(dreq.localCommId).to.equal(active.localCommId);
      expect(dreq.remoteCommId).to.equal(passive.localCommId);
      expect(dreq.remoteQpn, 'DREQ names the peer QPN').to.equal(B_RC_QPN);
      expect(dreq.privateData.subarray(0, 3).toString()).to.equal('bye');
      expect(drepW.from).to.equal(1);
      expect(drep.localCommId).to.equal(passive.localCommId);
      expect(drep.remoteCommId).to.equal(active.localCommId);
      expect(drepW.header.transactionId, 'DREP echoes the DREQ TransactionID').to.equal(dreqW.header.transactionId);
      expect(dreqW.header.transactionId, 'DREQ starts a new exchange').to.not.equal(must(wire[0], 'REQ').header.transactionId);

      await env.clock.tick(TIMEWAIT - 1);
      expect(idle, 'still in time-wait').to.deep.equal([]);
      await env.clock.tick(1);
      expect(idle.sort()).to.deep.equal(['A', 'B']);
      expect(active.state).to.equal('IDLE');
      expect(env.a.connections()).to.deep.equal([]);
      expect(env.b.connections()).to.deep.equal([]);
      expect(env.clock.pendingTimers()).to.equal(0);
    } finally {
      env.close();
    }
  });

  it('disconnects with DREQ/DREP when the passive side hangs up @mad', async function () {
    const env = setup();
    try {
      const { active, passive } = await establish(env);
      const seenAtA: unknown[] = [];
      active.on('disconnected', (e) => seenAtA.push(e));
      const result = await passive.disconnect();
      await env.clock.settle();
      expect(result).to.deep.equal({ initiator: 'local', confirmed: true });
      expect(seenAtA).to.have.length(1);
      expect(seenAtA[0]).to.include({ initiator: 'remote', confirmed: true });
      const wire = decodeWire(env.net);
      expect(wire.map((w) => `${w.kind}:${w.from}`)).to.deep.equal(['REQ:0', 'REP:1', 'RTU:0', 'DREQ:1', 'DREP:0']);
      expect((must(ofKind(wire, 'DREQ')[0], 'DREQ').msg.body as BodyOf<'DREQ'>).remoteQpn).to.equal(A_RC_QPN);
    } finally {
      env.close();
    }
  });

  it('confirms both disconnects when DREQs cross @mad', async function () {
    const env = setup();
    try {
      const { active, passive } = await establish(env);
      const [ra, rb] = await Promise.all([active.disconnect(), passive.disconnect()]);
      await env.clock.settle();
      expect(ra).to.deep.equal({ initiator: 'local', confirmed: true });
      expect(rb).to.deep.equal({ initiator: 'local', confirmed: true });
      const wire = decodeWire(env.net);
      expect(ofKind(wire, 'DREQ'), 'one DREQ each').to.have.length(2);
      expect(ofKind(wire, 'DREP'), 'one DREP each').to.have.length(2);
      expect(env.a.counters().rxDuplicates.DREP + env.b.counters().rxDuplicates.DREP, 'DREPs arriving in time-wait').to.equal(2);
    } finally {
      env.close();
    }
  });

  it('resends a lost REQ after the response timeout and then connects @mad', async function () {
    const env = setup();
    try {
      const { seen } = listenAccept(env);
      env.net.dropWhen(isKind('REQ'), 1);
      const t = track(env.a.connect(connectOpts(env)));
      await env.clock.tick(WAIT - 1);
      expect(t.settled, 'before the timeout').to.equal(false);
      expect(ofKind(decodeWire(env.net), 'REQ')).to.have.length(1);
      await env.clock.tick(1);
      expect(t.error, 'connect() error').to.equal(undefined);
      expect(must(t.value, 'connection').state).to.equal('ESTABLISHED');

      const reqs = ofKind(decodeWire(env.net), 'REQ');
      expect(reqs.map((r) => r.lost ?? 'delivered')).to.deep.equal(['dropWhen', 'delivered']);
      expect(reqs.map((r) => r.at), 'send times').to.deep.equal([0, WAIT]);
      const [first, second] = reqs.map((r) => r.msg.body as BodyOf<'REQ'>);
      expect(must(second, 'second REQ').localCommId, 'same comm ID').to.equal(must(first, 'first REQ').localCommId);
      expect(must(reqs[1], 'second').header.transactionId, 'same TransactionID').to.equal(must(reqs[0], 'first').header.transactionId);
      expect(env.a.counters().txRetries.REQ).to.equal(1);
      expect(seen, 'listener calls').to.have.length(1);
    } finally {
      env.close();
    }
  });

  it('gives up after exactly 1 + 15 REQs when every REQ is lost, then sends REJ timeout with its CA GUID @mad', async function () {
    const env = setup();
    try {
      listenAccept(env);
      env.net.dropWhen(isKind('REQ'));
      const t = track(env.a.connect(connectOpts(env)));
      await env.clock.tick(16 * WAIT - 1);
      expect(t.settled, 'just before the last timeout').to.equal(false);
      await env.clock.tick(1);
      expect(t.error).to.be.instanceOf(CmTimeoutError);
      const err = t.error as CmTimeoutError;
      expect(err.unanswered).to.equal('REQ');
      expect(err.attempts).to.equal(16);
      expect(err.waitMs).to.equal(WAIT);

      const wire = decodeWire(env.net);
      expect(ofKind(wire, 'REQ'), 'REQs seen on the wire').to.have.length(16);
      expect(env.a.counters().txRetries.REQ).to.equal(15);
      const rej = must(bodies(wire, 'REJ')[0], 'REJ timeout');
      expect(rej.reason).to.equal(CM_REJ_REASONS.timeout);
      expect(rej.messageRejected).to.equal(CM_REJ_MSG_OTHER);
      expect(rej.rejectedInfoLength).to.equal(8);
      expect(rej.ari.readBigUInt64BE(0), 'ARI = CA GUID').to.equal(loopbackCaGuid(0));
      expect(env.clock.pendingTimers()).to.equal(0);
      expect(env.a.connections()).to.deep.equal([]);
    } finally {
      env.close();
    }
  });

  it('spaces REQs by 4.096 us x 2^20 plus two packet lifetimes (6443 ms) @mad', async function () {
    const env = setup();
    try {
      env.net.dropWhen(isKind('REQ'));
      const t = track(env.a.connect(connectOpts(env, { retries: 2 })));
      await env.clock.tick(3 * WAIT);
      expect(ofKind(decodeWire(env.net), 'REQ').map((r) => r.at)).to.deep.equal([0, 6443, 12886]);
      expect(t.error).to.be.instanceOf(CmTimeoutError);
      expect((t.error as CmTimeoutError).attempts).to.equal(3);
      expect(must(bodies(decodeWire(env.net), 'REQ')[0], 'REQ').maxCmRetries, 'MaxCMRetries carried').to.equal(2);
    } finally {
      env.close();
    }
  });

  it('answers a REQ repeated after a lost REP with the same REP, keeping one connection @mad', async function () {
    const env = setup();
    try {
      const { seen, accepted } = listenAccept(env);
      env.net.dropWhen(isKind('REP'), 1);
      // The active side retries after 2282 ms, long before the passive REP timer (6443 ms).
      const t = track(env.a.connect(connectOpts(env, { responseTimeout: 15, localResponseTimeout: 20 })));
      await env.clock.tick(WAIT_15);
      expect(must(t.value, 'connection').state).to.equal('ESTABLISHED');
      const passive = await must(accepted[0], 'accept()');
      expect(passive.state).to.equal('ESTABLISHED');
      expect(seen, 'listener calls').to.have.length(1);
      expect(env.b.connections(), 'connections at the passive side').to.have.length(1);
      expect(env.b.counters().rxDuplicates.REQ).to.equal(1);
      expect(env.b.counters().txRetries.REP, 'REP timer never fired').to.equal(0);

      await env.clock.tick(3 * WAIT);
      const reps = ofKind(decodeWire(env.net), 'REP');
      expect(reps, 'REPs on the wire').to.have.length(2);
      expect(reps.map((r) => r.lost ?? 'delivered')).to.deep.equal(['dropWhen', 'delivered']);
      const [r1, r2] = reps.map((r) => r.msg.body as BodyOf<'REP'>);
      expect(must(r2, 'second REP').localCommId, 'the same REP').to.equal(must(r1, 'first REP').localCommId);
      expect(must(r2, 'second REP').startingPsn).to.equal(must(r1, 'first REP').startingPsn);
      expect(ofKind(decodeWire(env.net), 'REQ')).to.have.length(2);
    } finally {
      env.close();
    }
  });

  it('retries a lost REP on its own timer when the REQ is not repeated @mad', async function () {
    const env = setup();
    try {
      const { accepted } = listenAccept(env);
      env.net.dropWhen(isKind('REP'), 1);
      // The passive side waits the REQ's LocalCMResponseTimeout (15: 2282 ms) for the RTU.
      const t = track(env.a.connect(connectOpts(env, { responseTimeout: 20, localResponseTimeout: 15 })));
      await env.clock.tick(WAIT_15 - 1);
      expect(t.settled).to.equal(false);
      await env.clock.tick(1);
      expect(must(t.value, 'connection').state).to.equal('ESTABLISHED');
      expect((await must(accepted[0], 'accept()')).state).to.equal('ESTABLISHED');
      const wire = decodeWire(env.net);
      expect(ofKind(wire, 'REQ'), 'REQs').to.have.length(1);
      expect(ofKind(wire, 'REP').map((r) => r.at), 'REP send times').to.deep.equal([0, WAIT_15]);
      expect(env.b.counters().txRetries.REP).to.equal(1);
    } finally {
      env.close();
    }
  });

  it('recovers a lost RTU: the passive side resends the REP and the active side resends the RTU @mad', async function () {
    const env = setup();
    try {
      const { accepted } = listenAccept(env);
      env.net.dropWhen(isKind('RTU'), 1);
      const active = await env.a.connect(connectOpts(env));
      const acc = track(must(accepted[0], 'accept()'));
      await env.clock.tick(WAIT - 1);
      expect(acc.settled, 'passive side before its REP timeout').to.equal(false);
      await env.clock.tick(1);
      expect(must(acc.value, 'passive connection').state).to.equal('ESTABLISHED');
      expect(active.state).to.equal('ESTABLISHED');
      expect(env.a.connections(), 'still one connection').to.deep.equal([active]);
      expect(env.a.counters().rxDuplicates.REP).to.equal(1);
      const wire = decodeWire(env.net);
      expect(wire.map((w) => `${w.kind}${w.lost ? '(lost)' : ''}`)).to.deep.equal(['REQ', 'REP', 'RTU(lost)', 'REP', 'RTU']);
    } finally {
      env.close();
    }
  });

  it('fails accept() after every RTU is lost and tears the active side down with REJ timeout @mad', async function () {
    const env = setup();
    try {
      const { accepted } = listenAccept(env);
      env.net.dropWhen(isKind('RTU'));
      const active = await env.a.connect(connectOpts(env, { retries: 2 }));
      const errors: unknown[] = [];
      active.on('error', (e) => errors.push(e));
      const acc = track(must(accepted[0], 'accept()'));
      await env.clock.tick(3 * WAIT);
      expect(acc.error).to.be.instanceOf(CmTimeoutError);
      expect((acc.error as CmTimeoutError).unanswered).to.equal('REP');
      expect((acc.error as CmTimeoutError).attempts).to.equal(3);
      expect(ofKind(decodeWire(env.net), 'REP'), 'REPs sent').to.have.length(3);
      const rej = must(bodies(decodeWire(env.net), 'REJ')[0], 'REJ');
      expect(rej.reason).to.equal(CM_REJ_REASONS.timeout);
      expect(rej.ari.readBigUInt64BE(0)).to.equal(loopbackCaGuid(1));
      expect(errors, 'error event at the active side').to.have.length(1);
      expect(errors[0]).to.be.instanceOf(CmRejectError);
      expect(active.state).to.equal('TIMEWAIT');
    } finally {
      env.close();
    }
  });

  it('sets up two independent connections when both sides connect to each other at once', async function () {
    const env = setup();
    try {
      const acceptIn = (svc: CmService, sid: bigint, qpn: number, ud: number) =>
        svc.listen(sid, (r) => void r.accept({ localQpn: qpn, startingPsn: 7, privateData: ipoibData(ud) }));
      acceptIn(env.a, SID_A, 0x000102, A_UD_QPN);
      acceptIn(env.b, SID_B, B_RC_QPN, B_UD_QPN);
      const [ab, ba] = await Promise.all([
        env.a.connect(connectOpts(env)),
        env.b.connect({ ...connectOpts(env), serviceId: SID_A, dest: addressOf(env.portA), localQpn: 0x000203, privateData: ipoibData(B_UD_QPN) }),
      ]);
      await env.clock.settle();
      expect(ab.state).to.equal('ESTABLISHED');
      expect(ba.state).to.equal('ESTABLISHED');
      for (const [name, svc] of [
        ['A', env.a],
        ['B', env.b],
      ] as const) {
        const conns = svc.connections();
        expect(conns.map((c) => c.role).sort(), `${name} roles`).to.deep.equal(['active', 'passive']);
        expect(conns.every((c) => c.state === 'ESTABLISHED'), `${name} all established`).to.equal(true);
        expect(new Set(conns.map((c) => c.localCommId)).size, `${name} comm IDs distinct`).to.equal(2);
      }
      const kinds = decodeWire(env.net).map((w) => w.kind).sort();
      expect(kinds).to.deep.equal(['REP', 'REP', 'REQ', 'REQ', 'RTU', 'RTU']);
    } finally {
      env.close();
    }
  });

  it('answers a DREQ for an unknown connection with a DREP @mad', async function () {
    const env = setup();
    try {
      const inbox = probeInbox(env);
      const dreq = { localCommId: 0x5555, remoteCommId: 0x7777, remoteQpn: 0x999, reserved11: 0, privateData: Buffer.alloc(220) };
      env.probe.sendMad(addressOf(env.portB), rawCmMad({ kind: 'DREQ', body: dreq }, 0x1234n));
      await env.clock.settle();
      expect(inbox, 'MADs back at the probe').to.have.length(1);
      const m = parseMad(must(inbox[0], 'DREP'));
      const msg = decodeCmMessage(m);
      expect(msg.kind).to.equal('DREP');
      const drep = msg.body as BodyOf<'DREP'>;
      expect(drep.localCommId).to.equal(0x7777);
      expect(drep.remoteCommId).to.equal(0x5555);
      expect(m.header.transactionId, 'echoed TransactionID').to.equal(0x1234n);
      expect(env.b.counters().rxDuplicates.DREQ).to.equal(1);
    } finally {
      env.close();
    }
  });

  it('counts and ignores malformed MADs (wrong class, truncated private data, unknown attribute) without crashing @mad', async function () {
    const env = setup();
    try {
      const errors: unknown[] = [];
      env.b.on('error', (e) => errors.push(e));
      const { seen } = listenAccept(env);
      const to = addressOf(env.portB);
      const goodReq = rawCmMad({ kind: 'REQ', body: probeReq(env) }, 1n);
      const send = (m: Buffer) => env.probe.sendMad(to, m);
      send(encodeToBuffer(mad, { header: cmHeader(2n, 0x0038, { mgmtClass: MGMT_CLASS_SUBN_ADM, method: MAD_METHOD_GET }), data: Buffer.alloc(232) }));
      send(goodReq.subarray(0, 200)); // cut inside the REQ private data (MAD octets 164..255)
      send(Buffer.alloc(0));
      send(encodeToBuffer(mad, { header: cmHeader(3n, CM_ATTR_MRA), data: Buffer.alloc(232) }));
      send(encodeToBuffer(mad, { header: cmHeader(4n, 0x00ff), data: Buffer.alloc(232) }));
      send(rawCmMad({ kind: 'REQ', body: probeReq(env) }, 5n, { classVersion: 1 }));
      send(rawCmMad({ kind: 'REQ', body: probeReq(env) }, 6n, { method: MAD_METHOD_GET }));
      const badBase = Buffer.from(goodReq);
      badBase.writeUInt8(2, 0);
      send(badBase);
      await env.clock.settle();

      expect(env.b.counters().dropped).to.deep.equal({
        notCm: 1,
        badLength: 2,
        badBaseVersion: 1,
        badClassVersion: 1,
        badMethod: 1,
        unhandledAttribute: 2,
        unmatched: 0,
      });
      expect(env.b.counters().rxMsgs.REQ, 'nothing counted as received').to.equal(0);
      expect(env.net.wire.filter((r) => r.from === 1), 'answers sent').to.deep.equal([]);
      expect(errors, 'error events').to.deep.equal([]);
      expect(seen, 'listener calls').to.have.length(0);

      const conn = await env.a.connect(connectOpts(env));
      expect(conn.state, 'a good REQ afterwards').to.equal('ESTABLISHED');
    } finally {
      env.close();
    }
  });

  it('ignores a REQ repeating an established connection @mad', async function () {
    const env = setup();
    try {
      const { seen } = await establish(env);
      const reqMad = must(env.net.wire.find((r) => isKind('REQ')(r.mad)), 'REQ on the wire').mad;
      const before = env.net.wire.length;
      env.probe.sendMad(addressOf(env.portB), reqMad);
      await env.clock.settle();
      expect(env.net.wire.length, 'nothing sent in answer').to.equal(before + 1);
      expect(env.b.counters().rxDuplicates.REQ).to.equal(1);
      expect(seen, 'listener calls').to.have.length(1);
      expect(env.b.connections()).to.have.length(1);
    } finally {
      env.close();
    }
  });

  it('rejects a REQ repeated during time-wait as a stale connection @mad', async function () {
    const env = setup();
    try {
      const { active } = await establish(env);
      await active.disconnect();
      const inbox = probeInbox(env);
      const reqMad = must(env.net.wire.find((r) => isKind('REQ')(r.mad)), 'REQ on the wire').mad;
      env.probe.sendMad(addressOf(env.portB), reqMad);
      await env.clock.settle();
      expect(inbox).to.have.length(1);
      const msg = decodeCmMessage(parseMad(must(inbox[0], 'REJ')));
      expect(msg.kind).to.equal('REJ');
      expect((msg.body as BodyOf<'REJ'>).reason, 'REJ reason').to.equal(CM_REJ_REASONS.staleConnection);
    } finally {
      env.close();
    }
  });

  it('rejects a REQ from a QP that a live connection already uses as stale, and disconnects that connection @mad', async function () {
    const env = setup();
    try {
      const { passive, seen } = await establish(env);
      const inbox = probeInbox(env);
      // The same CA GUID and QPN as the established active side, but a new comm ID: the peer lost its connection.
      const req = probeReq(env, { localCaGuid: env.portA.caGuid, localQpn: A_RC_QPN, localCommId: 0x999 });
      env.probe.sendMad(addressOf(env.portB), rawCmMad({ kind: 'REQ', body: req }, 77n));
      await env.clock.settle();
      expect(inbox, 'answers at the probe').to.have.length(1);
      const m = parseMad(must(inbox[0], 'REJ'));
      const msg = decodeCmMessage(m);
      expect(msg.kind).to.equal('REJ');
      expect((msg.body as BodyOf<'REJ'>).reason).to.equal(CM_REJ_REASONS.staleConnection);
      expect((msg.body as BodyOf<'REJ'>).remoteCommId).to.equal(0x999);
      expect(m.header.transactionId).to.equal(77n);
      const dreq = must(ofKind(decodeWire(env.net), 'DREQ')[0], 'DREQ to the old peer');
      expect([dreq.from, dreq.toLid]).to.deep.equal([1, 1]);
      expect((dreq.msg.body as BodyOf<'DREQ'>).localCommId).to.equal(passive.localCommId);
      expect(passive.state, 'old connection after the DREP').to.equal('TIMEWAIT');
      expect(seen, 'listener calls').to.have.length(1);
    } finally {
      env.close();
    }
  });

  it('ends a connect whose REPs were all lost when the passive side gives up with REJ timeout @mad', async function () {
    const env = setup();
    try {
      const { seen, accepted } = listenAccept(env);
      env.net.dropWhen(isKind('REP'));
      // The passive side waits 2282 ms per REP (LocalCMResponseTimeout 15), the active side 6443 ms per REQ.
      const t = track(env.a.connect(connectOpts(env, { retries: 2, responseTimeout: 20, localResponseTimeout: 15 })));
      await env.clock.settle();
      const acc = track(must(accepted[0], 'accept()'));
      await env.clock.tick(3 * WAIT_15 - 1);
      expect(t.settled, 'before the passive side gives up').to.equal(false);
      await env.clock.tick(1);
      expect(t.error, 'connect() outcome').to.be.instanceOf(CmRejectError);
      expect((t.error as CmRejectError).reason).to.equal(CM_REJ_REASONS.timeout);
      expect(acc.error).to.be.instanceOf(CmTimeoutError);
      expect(seen, 'listener calls').to.have.length(1);
      await env.clock.tick(5 * WAIT);
      expect(ofKind(decodeWire(env.net), 'REQ'), 'no REQ after the REJ').to.have.length(2);
      expect(env.a.connections()).to.deep.equal([]);
      expect(env.b.connections()).to.deep.equal([]);
      expect(env.clock.pendingTimers()).to.equal(0);
    } finally {
      env.close();
    }
  });

  it('rejects a REQ with the RD transport type as invalid transport type @mad', async function () {
    const env = setup();
    try {
      const { seen } = listenAccept(env);
      const inbox = probeInbox(env);
      env.probe.sendMad(addressOf(env.portB), rawCmMad({ kind: 'REQ', body: probeReq(env, { transportServiceType: CM_TRANSPORT_RD }) }, 9n));
      await env.clock.settle();
      const msg = decodeCmMessage(parseMad(must(inbox[0], 'REJ')));
      expect(msg.kind).to.equal('REJ');
      expect((msg.body as BodyOf<'REJ'>).reason).to.equal(CM_REJ_REASONS.invalidTransportType);
      expect((msg.body as BodyOf<'REJ'>).remoteCommId).to.equal(0x00c0ffee);
      expect(seen).to.have.length(0);
    } finally {
      env.close();
    }
  });

  it('rejects with consumer-defined when a listener throws, and reports the exception', async function () {
    const env = setup();
    try {
      const errors: unknown[] = [];
      env.b.on('error', (e) => errors.push(e));
      env.b.listen(SID_B, () => {
        throw new Error('listener bug');
      });
      const err = await env.a.connect(connectOpts(env)).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(CmRejectError);
      expect((err as CmRejectError).reason).to.equal(CM_REJ_REASONS.consumerDefined);
      expect(errors).to.have.length(1);
      expect((errors[0] as Error).message).to.equal('listener bug');
    } finally {
      env.close();
    }
  });

  it('close() rejects a pending connect, resolves a pending disconnect and clears every timer', async function () {
    const env = setup();
    try {
      const { active } = await establish(env);
      env.net.dropWhen(isKind('DREP'));
      const disc = track(active.disconnect());
      env.net.dropWhen(isKind('REQ'));
      const pending = track(env.a.connect(connectOpts(env)));
      await env.clock.tick(10);
      expect(env.clock.pendingTimers(), 'retry timers running').to.be.greaterThan(0);
      env.a.close();
      env.b.close();
      await env.clock.settle();
      expect(pending.error).to.be.instanceOf(CmClosedError);
      expect(disc.value).to.deep.equal({ initiator: 'local', confirmed: false });
      expect(env.clock.pendingTimers(), 'timers after close').to.equal(0);
      expect(env.clock.created.length).to.be.greaterThan(0);
      expect(env.clock.created.every((t) => t.unrefd), 'every timer unref()d').to.equal(true);

      const after = await env.a.connect(connectOpts(env)).catch((e: unknown) => e);
      expect(after).to.be.instanceOf(CmClosedError);
      expect(() => env.b.listen(SID_A, () => {})).to.throw(CmClosedError);
      const rxBefore = env.b.counters();
      env.probe.sendMad(addressOf(env.portB), rawCmMad({ kind: 'REQ', body: probeReq(env) }, 1n));
      await env.clock.settle();
      expect(env.b.counters(), 'a closed CM reads nothing').to.deep.equal(rxBefore);
    } finally {
      env.close();
    }
  });

  it('hands out unique comm IDs (skipping 0 on wrap) and one TransactionID per exchange @mad', async function () {
    const env = setup({ a: { firstCommId: 0xfffffffe } });
    try {
      listenAccept(env);
      const conns = [];
      for (let i = 0; i < 3; i++) conns.push(await env.a.connect(connectOpts(env, { localQpn: 0x400 + i })));
      await env.clock.settle();
      expect(conns.map((c) => c.localCommId), 'comm IDs').to.deep.equal([0xfffffffe, 0xffffffff, 1]);
      await must(conns[0], 'first').disconnect();

      const wire = decodeWire(env.net);
      const tidsOf = (k: CmKind) => ofKind(wire, k).map((w) => w.header.transactionId);
      const reqTids = tidsOf('REQ');
      expect(new Set(reqTids).size, 'distinct REQ TransactionIDs').to.equal(3);
      expect(tidsOf('REP'), 'REP TIDs follow their REQ').to.deep.equal(reqTids);
      expect(tidsOf('RTU'), 'RTU TIDs follow their REQ').to.deep.equal(reqTids);
      const [dreqTid] = tidsOf('DREQ');
      expect(reqTids, 'DREQ TID is new').to.not.include(dreqTid);
      expect(tidsOf('DREP')).to.deep.equal([dreqTid]);
      expect(reqTids.every((t) => t >> 32n === 0xaaaan), 'upper 32 bits of the TIDs').to.equal(true);
      const passiveIds = env.b.connections().map((c) => c.localCommId);
      expect(new Set(passiveIds).size, 'distinct passive comm IDs').to.equal(3);
    } finally {
      env.close();
    }
  });

  it('refuses connect, accept and reject options that do not fit the message, naming the field', async function () {
    const env = setup();
    try {
      const refused = async (over: Partial<CmConnectOptions>, field: string) => {
        const err = await env.a.connect(connectOpts(env, over)).catch((e: unknown) => e);
        expectWireError(() => {
          throw err;
        }, field, field);
      };
      await refused({ privateData: Buffer.alloc(93) }, 'cm.req.privateData');
      await refused({ localQpn: 0x1000000 }, 'cm.req.localQpn');
      await refused({ startingPsn: -1 }, 'cm.req.startingPsn');
      await refused({ retries: 16 }, 'cm.req.maxCmRetries');
      await refused({ pathMtu: 6 }, 'cm.req.pathMtu');
      await refused({ pkey: 0x10000 }, 'cm.req.pkey');
      await refused({ responseTimeout: 32 }, 'cm.req.remoteCmResponseTimeout');
      await refused({ dest: { lid: 2, qpn: 1 } }, 'cm.req.primaryPath.remoteGid');
      expect(env.net.wire, 'nothing sent').to.deep.equal([]);
      expect(env.a.connections()).to.deep.equal([]);

      const answers: Promise<unknown>[] = [];
      const rejects: unknown[] = [];
      env.b.listen(SID_B, (r) => {
        answers.push(r.accept({ localQpn: B_RC_QPN, startingPsn: 0, privateData: Buffer.alloc(197) }).catch((e: unknown) => e));
        try {
          r.reject(CM_REJ_REASONS.consumerDefined, { ari: Buffer.alloc(73) });
        } catch (e) {
          rejects.push(e);
        }
        r.reject(CM_REJ_REASONS.noResources);
      });
      const err = await env.a.connect(connectOpts(env)).catch((e: unknown) => e);
      expectWireError(() => {
        throw must(rejects[0], 'reject() error');
      }, 'cm.rej.ari');
      const acceptErr = await must(answers[0], 'accept() outcome');
      expectWireError(() => {
        throw acceptErr;
      }, 'cm.rep.privateData');
      expect((err as CmRejectError).reason, 'the valid reject went out').to.equal(CM_REJ_REASONS.noResources);
      expect(ofKind(decodeWire(env.net), 'REP'), 'no REP').to.have.length(0);
    } finally {
      env.close();
    }
  });

  it('connects and disconnects through 30 % seeded MAD loss without duplicate connections @mad', async function () {
    const env = setup({ lossRate: 0.3, seed: 7 });
    try {
      const { seen, accepted } = listenAccept(env);
      const t = track(env.a.connect(connectOpts(env)));
      for (let i = 0; i < 40 && !t.settled; i++) await env.clock.tick(WAIT);
      const active = must(t.value, 'connection through loss');
      const acc = track(must(accepted[0], 'accept()'));
      for (let i = 0; i < 40 && !acc.settled; i++) await env.clock.tick(WAIT);
      const passive = must(acc.value, 'passive connection through loss');
      expect(active.state).to.equal('ESTABLISHED');
      expect(passive.state).to.equal('ESTABLISHED');
      expect(seen, 'listener calls').to.have.length(1);
      expect(env.b.connections(), 'passive connections').to.have.length(1);

      const d = track(active.disconnect());
      for (let i = 0; i < 40 && !d.settled; i++) await env.clock.tick(WAIT);
      expect(d.settled, 'disconnect finished').to.equal(true);
      await env.clock.tick(20 * WAIT);
      expect(passive.state, 'passive side after the DREQ').to.be.oneOf(['TIMEWAIT', 'IDLE']);
      expect(env.net.wire.filter((r) => r.lost === 'random').length, 'MADs lost').to.be.greaterThan(0);
      for (const w of decodeWire(env.net)) expect(w.header.mgmtClass).to.equal(MGMT_CLASS_CM);
    } finally {
      env.close();
    }
  });

  it('builds the CM MAD header by hand-derived golden octets and sorts truncated MADs as bad length @mad', function () {
    const rtu = { localCommId: 0x01020304, remoteCommId: 0x0a0b0c0d, privateData: Buffer.alloc(CM_RTU_PRIVATE_DATA_LEN) };
    const m = buildCmMad({ kind: 'RTU', body: rtu }, 0x1112131415161718n);
    // 01 BaseVersion | 07 class CM | 02 ClassVersion | 03 method Send | 0000 Status |
    // 0000 ClassSpecific | 1112131415161718 TransactionID | 0014 AttributeID RTU |
    // 0000 reserved | 00000000 AttributeModifier | then the RTU body: 01020304 0a0b0c0d
    expect(m.subarray(0, 32).toString('hex')).to.equal(
      hex('01 07 02 03 0000 0000 1112131415161718 0014 0000 00000000 01020304 0a0b0c0d').toString('hex'),
    );
    expect(m.length).to.equal(256);
    const parsed = parseCmMad(m);
    expect(parsed.ok).to.equal(true);
    if (parsed.ok) expect(parsed.msg).to.deep.equal({ kind: 'RTU', body: rtu });
    for (let n = 0; n < m.length; n++) {
      expect(parseCmMad(m.subarray(0, n)), `prefix of ${n}`).to.deep.equal({ ok: false, reason: 'badLength' });
    }
    expect(cmRejReasonName(8)).to.equal('invalidServiceId');
    expect(cmRejReasonName(99)).to.equal('unknown(99)');
    expectWireError(() => buildCmMad({ kind: 'RTU', body: { ...rtu, localCommId: 2 ** 32 } }, 1n), 'cm.rtu.localCommId');
    expectWireError(() => buildCmMad({ kind: 'RTU', body: rtu }, -1n), 'mad.transactionId');
  });

  it('converts IBA time exponents: 4.096 us x 2^n, rounding waits up', function () {
    expect(ibTimeMs(0)).to.equal(0.004096);
    expect(ibTimeMs(20)).to.equal(4294.967296);
    expect(ibTimeExponentFor(100), '100 ms → 2^15 × 4.096 µs = 134.2 ms').to.equal(15);
    expect(ibTimeExponentFor(4294.967296)).to.equal(20);
    expect(ibTimeExponentFor(1e9)).to.equal(31);
    expect(cmResponseWaitMs(20, 0x12)).to.equal(WAIT);
    expect(cmResponseWaitMs(15, 0x12)).to.equal(WAIT_15);
    expect(cmTimewaitMs(0x12)).to.equal(TIMEWAIT);
    expectWireError(() => ibTimeMs(32), 'cm.timeExponent');
    expect(() => ibTimeExponentFor(-1)).to.throw(RangeError);
  });

  it('puts timeoutMs into the REQ as the next IBA exponent and waits that long', async function () {
    const env = setup({ a: { packetLifeTime: 0 } });
    try {
      env.net.dropWhen(isKind('REQ'));
      const t = track(env.a.connect(connectOpts(env, { timeoutMs: 100, retries: 1 })));
      // 4.096 µs × 2^15 = 134.217728 ms, plus 2 × 0.004096 ms of packet lifetime → 135 ms.
      await env.clock.tick(270);
      const reqs = ofKind(decodeWire(env.net), 'REQ');
      expect((must(reqs[0], 'REQ').msg.body as BodyOf<'REQ'>).remoteCmResponseTimeout).to.equal(15);
      expect(reqs.map((r) => r.at)).to.deep.equal([0, 135]);
      expect(t.error).to.be.instanceOf(CmTimeoutError);
    } finally {
      env.close();
    }
  });

  it('refuses a second listener on the same Service ID and accept() after reject()', async function () {
    const env = setup();
    try {
      const stop = env.b.listen(SID_B, (r) => {
        r.reject(CM_REJ_REASONS.noResources);
        void r.accept({ localQpn: 1, startingPsn: 0 }).catch((e: unknown) => late.push(e));
      });
      const late: unknown[] = [];
      expect(() => env.b.listen(SID_B, () => {})).to.throw(CmStateError);
      await env.a.connect(connectOpts(env)).catch(() => undefined);
      await env.clock.settle();
      expect(late[0]).to.be.instanceOf(CmStateError);
      stop();
      const err = await env.a.connect(connectOpts(env)).catch((e: unknown) => e);
      expect((err as CmRejectError).reason, 'after unlisten').to.equal(CM_REJ_REASONS.invalidServiceId);
    } finally {
      env.close();
    }
  });
});
