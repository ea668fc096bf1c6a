/**
 * The connected-mode connection manager (src/ipoib/cm/cm-manager.ts) over the simulated
 * fabric: real ports, the fabric's CM on QP1 and RC QPs in the native endpoints, frames carried
 * by the JS data path (RcQp send/onMessage). Each manager stands in for one interface (its UD
 * QPN is only a name here: the Service ID and the private data carry it). What goes on the wire
 * is read back from the tap.
 */
import { expect } from 'chai';
import { RcRejectedError } from '../../src/errors.js';
import type { RcQp } from '../../src/fabric/hca.js';
import { parseCmMad } from '../../src/fabric/sim/cm-messages.js';
import type { SimHcaPort } from '../../src/fabric/sim/provider.js';
import { systemClock } from '../../src/ipoib/clock.js';
import type { IpoibCmConfig } from '../../src/ipoib/cm/cm-config.js';
import { IpoibCm } from '../../src/ipoib/cm/cm-manager.js';
import { IpoibCounters } from '../../src/ipoib/counters.js';
import { type DefectName, Defects } from '../../src/ipoib/defects.js';
import { frame } from '../../src/ipoib/frames.js';
import { CM_REJ_MSG_REP, CM_REJ_REASONS, type CmMessage, ipoibCmPrivateData, ipoibCmPrivateDataField, ipoibCmServiceId } from '../../src/wire/cm.js';
import { ETH_P_IP, IPOIB_CM_MAX_MESSAGE_BYTES } from '../../src/wire/constants.js';
import type { IbPacket } from '../../src/wire/ib-packet.js';
import type { IpoibHwAddr } from '../../src/wire/ipoib-hwaddr.js';
import type { PathRecord } from '../../src/wire/path-record.js';
import { icmpEcho, SimLab, until } from './sim-fixture.js';

const UD_A = 0x00a1a1;
const UD_B = 0x00b2b2;
const UD_C = 0x00c3c3;
const QP1 = 1;

interface Cm {
  cm: IpoibCm;
  counters: IpoibCounters;
  got: Buffer[];
  tooBig: Buffer[];
  changes: () => number;
}

/** The CM messages on the tap, each once (a packet is seen leaving and arriving). */
function cmMessages(packets: IbPacket[]): CmMessage[] {
  const seen = new Set<string>();
  const out: CmMessage[] = [];
  for (const p of packets) {
    if (p.bth.destQp !== QP1) continue;
    const parsed = parseCmMad(p.payload);
    if (!parsed.ok) continue;
    const key = `${p.lrh.slid}/${p.payload.toString('hex')}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(parsed.msg);
  }
  return out;
}

/** `n` IPv4 frames of `size` octets of ICMP data each, numbered from `first`. */
const frames = (n: number, size = 100, first = 1): Buffer[] =>
  Array.from({ length: n }, (_, i) => frame(ETH_P_IP, icmpEcho('10.0.0.1', '10.0.0.2', first + i, size)));

async function settle(p: Promise<unknown>): Promise<unknown> {
  try {
    return await p;
  } catch (e) {
    return e;
  }
}

describe('IPoIB-CM connection manager on the simulated fabric @cm @rc @fabric @ipoib-stack', function () {
  this.timeout(30_000);
  let lab: SimLab;
  const managers: IpoibCm[] = [];
  const rawQps: RcQp[] = [];

  const manage = (port: SimHcaPort, udQpn: number, config: Partial<IpoibCmConfig> = {}, defects: DefectName[] = []): Cm => {
    const counters = new IpoibCounters();
    const got: Buffer[] = [];
    const tooBig: Buffer[] = [];
    let changes = 0;
    const cm = new IpoibCm({
      port,
      clock: systemClock,
      counters,
      defects: Defects.of(defects),
      config: { enabled: true, profile: 'linux', maxPassive: 128, rxIdleTimeoutMs: 512_000, rxReapIntervalMs: 768_000, ...config },
      log: () => undefined,
      udQpn: () => udQpn,
      pkeyIndex: () => 0,
      deliver: (f) => got.push(f),
      tooBig: (f) => tooBig.push(f),
      changed: () => changes++,
    });
    cm.start();
    managers.push(cm);
    return { cm, counters, got, tooBig, changes: () => changes };
  };

  const hwOf = (port: SimHcaPort, qpn: number, flags = 0x80): IpoibHwAddr => ({ flags, qpn, gid: Buffer.from(port.attributes().gid) });
  const pathTo = (from: SimHcaPort, to: SimHcaPort): Promise<PathRecord> => from.sa.pathTo(to.attributes().gid, 0xffff);

  /** A bare listener on `port` for Service ID linux | `udQpn` that answers with receive MTU `mtu` and keeps what arrives. */
  const rawPeer = (port: SimHcaPort, udQpn: number, mtu: number): { got: Buffer[] } => {
    const got: Buffer[] = [];
    const l = port.listenRc(ipoibCmServiceId(udQpn, 'linux'), () => ({
      accept: true,
      privateData: ipoibCmPrivateDataField({ reserved: 0, qpn: udQpn, receiveMtu: mtu }, 8),
    }));
    l.onConnection((qp) => {
      rawQps.push(qp);
      qp.onMessage((m) => got.push(m));
    });
    return { got };
  };

  const rawConnect = async (from: SimHcaPort, to: SimHcaPort, serviceId: bigint): Promise<RcQp> => {
    const qp = await from.connectRc({ serviceId, dgid: to.attributes().gid, privateData: ipoibCmPrivateDataField({ reserved: 0, qpn: 0x42, receiveMtu: 65524 }, 8) });
    rawQps.push(qp);
    return qp;
  };

  beforeEach(async function () {
    lab = await SimLab.start();
  });

  afterEach(async function () {
    for (const m of managers.splice(0)) m.stop();
    for (const qp of rawQps.splice(0)) await qp.close();
    await lab.close();
  });

  it('listens on 0x10… | its UD QPN and answers with a REP carrying {UD QPN, 65524}; another Service ID gets REJ 8 @cm @rc @fabric @ipoib-stack', async function () {
    const [p1, p2] = [await lab.port('node1'), await lab.port('node2')];
    const a = manage(p1, UD_A);
    expect(a.cm.status()).to.deep.include({ supported: true, profile: 'linux', serviceId: '0x100000000000a1a1', tx: 0, rx: 0 });
    const qp = await rawConnect(p2, p1, 0x1000_0000_0000_a1a1n);
    const rep = ipoibCmPrivateData.decode(qp.attributes.remotePrivateData, 0).value;
    expect(rep).to.deep.equal({ reserved: 0, qpn: UD_A, receiveMtu: IPOIB_CM_MAX_MESSAGE_BYTES });
    await until('the passive connection', () => a.cm.status().rx === 1);
    const wrong = await settle(rawConnect(p2, p1, ipoibCmServiceId(UD_A + 1, 'linux')));
    expect(wrong).to.be.instanceOf(RcRejectedError);
    expect((wrong as RcRejectedError).reason).to.equal(CM_REJ_REASONS.invalidServiceId);
    // Frames on the connection reach the interface.
    const [f] = frames(1);
    await qp.send(f!);
    await until('delivery', () => a.got.length === 1);
    expect(a.got[0]?.equals(f!)).to.equal(true);
  });

  it('connects with Linux\'s REQ, sends the 3 frames that waited once in RTS and drops the 4th @cm @rc @fabric @ipoib-stack', async function () {
    const [p1, p2] = [await lab.port('node1'), await lab.port('node2')];
    const a = manage(p1, UD_A);
    const b = manage(p2, UD_B);
    const path = await pathTo(p1, p2);
    const stop = await lab.tap();
    const sent = frames(4);
    for (const f of sent) a.cm.send(hwOf(p2, UD_B), path, f);
    expect(a.cm.txView(hwOf(p2, UD_B))).to.deep.equal({ state: 'connecting' });
    await until('three frames at B', () => b.got.length === 3);
    expect(b.got.map((f) => f.toString('hex')), 'in order, the 4th dropped').to.deep.equal(sent.slice(0, 3).map((f) => f.toString('hex')));
    expect(a.counters.get('cm_tx_queue_dropped')).to.equal(1);
    expect(a.counters.get('tx_dropped')).to.equal(1);
    const view = a.cm.txView(hwOf(p2, UD_B));
    expect(view).to.include({ state: 'connected', mtu: IPOIB_CM_MAX_MESSAGE_BYTES });
    expect(a.changes(), 'the fast path is told').to.be.greaterThan(0);
    const msgs = cmMessages(await stop());
    const req = msgs.find((m) => m.kind === 'REQ');
    const rep = msgs.find((m) => m.kind === 'REP');
    expect(req?.kind === 'REQ' && req.body).to.deep.include({
      serviceId: 0x1000_0000_0000_b2b2n,
      startingPsn: 0,
      retryCount: 0,
      rnrRetryCount: 0,
      remoteCmResponseTimeout: 20,
      localCmResponseTimeout: 20,
      maxCmRetries: 15,
      responderResources: 4,
      initiatorDepth: 0,
    });
    if (req?.kind !== 'REQ' || rep?.kind !== 'REP') throw new Error('no REQ/REP on the tap');
    expect(ipoibCmPrivateData.decode(req.body.privateData, 0).value).to.deep.equal({ reserved: 0, qpn: UD_A, receiveMtu: 65524 });
    expect(ipoibCmPrivateData.decode(rep.body.privateData, 0).value).to.deep.equal({ reserved: 0, qpn: UD_B, receiveMtu: 65524 });
    expect(req.body.localQpn, 'the RC QP is not the UD QP').to.not.equal(UD_A);
    // A later frame goes straight over the connection.
    const [more] = frames(1, 60_000, 9);
    a.cm.send(hwOf(p2, UD_B), path, more!);
    await until('the large frame at B', () => b.got.length === 4);
    expect(b.got[3]?.equals(more!)).to.equal(true);
    expect(a.counters.get('cm_tx_requests')).to.equal(1);
    expect(a.counters.get('cm_tx_connections')).to.equal(1);
  });

  it('uses 0x01… | QPN under the rfc profile, and a linux-profile REQ to it gets REJ 8 (finding D1) @cm @rc @fabric @ipoib-stack', async function () {
    const [p1, p2, p3] = [await lab.port('node1'), await lab.port('node2'), await lab.port('node3')];
    const a = manage(p1, UD_A, { profile: 'rfc' });
    const b = manage(p2, UD_B, { profile: 'rfc' });
    const c = manage(p3, UD_C);
    expect(b.cm.status().serviceId).to.equal('0x10000000000b2b2');
    const stop = await lab.tap();
    a.cm.send(hwOf(p2, UD_B), await pathTo(p1, p2), frames(1)[0]!);
    await until('delivery under rfc', () => b.got.length === 1);
    c.cm.send(hwOf(p2, UD_B), await pathTo(p3, p2), frames(1)[0]!);
    await until('the linux REQ refused', () => c.counters.get('cm_tx_failures') === 1);
    expect(c.cm.txView(hwOf(p2, UD_B)), 'forgotten: the next frame tries again').to.equal(undefined);
    expect(c.counters.get('cm_tx_queue_dropped')).to.equal(1);
    const reqs = cmMessages(await stop()).filter((m) => m.kind === 'REQ');
    expect(reqs.map((m) => (m.kind === 'REQ' ? m.body.serviceId : 0n))).to.have.members([0x0100_0000_0000_b2b2n, 0x1000_0000_0000_b2b2n]);
  });

  it('honours a smaller REP MTU (longer frames go to PMTU emulation) and refuses a REP MTU of 4 or 1024 (below the IPv6 minimum) with REJ 28 @cm @rc @fabric @ipoib-stack @mtu @ipv6', async function () {
    const [p1, p3] = [await lab.port('node1'), await lab.port('node3')];
    const a = manage(p1, UD_A);
    const small = rawPeer(p3, UD_C, 2048);
    const path = await pathTo(p1, p3);
    const fits = frame(ETH_P_IP, icmpEcho('10.0.0.1', '10.0.0.3', 1, 2048 - 4 - 28));
    const over = frame(ETH_P_IP, icmpEcho('10.0.0.1', '10.0.0.3', 2, 2049 - 4 - 28));
    expect([fits.length, over.length]).to.deep.equal([2048, 2049]);
    a.cm.send(hwOf(p3, UD_C), path, fits);
    a.cm.send(hwOf(p3, UD_C), path, over);
    await until('the frame that fits', () => small.got.length === 1);
    await until('the one over to PMTU', () => a.tooBig.length === 1);
    expect(a.cm.txView(hwOf(p3, UD_C))).to.include({ state: 'connected', mtu: 2048 });
    expect(a.tooBig[0]?.equals(over)).to.equal(true);

    rawPeer(p3, UD_C + 1, 4);
    const stop = await lab.tap();
    a.cm.send(hwOf(p3, UD_C + 1), path, fits);
    await until('the REP refused', () => a.counters.get('cm_tx_failures') === 1);
    expect(a.counters.get('cm_tx_reply_refused')).to.equal(1);
    const rej = cmMessages(await stop()).find((m) => m.kind === 'REJ');
    if (rej?.kind !== 'REJ') throw new Error('no REJ on the tap');
    expect(rej.body).to.include({ messageRejected: CM_REJ_MSG_REP, reason: CM_REJ_REASONS.consumerDefined });
    expect(ipoibCmPrivateData.decode(rej.body.privateData, 0).value.qpn, 'the REJ names our UD QPN').to.equal(UD_A);

    // 1024 cannot carry a minimum-size IPv6 packet (1280 + 4): refused too (RFC 4755 §5).
    rawPeer(p3, UD_C + 2, 1024);
    a.cm.send(hwOf(p3, UD_C + 2), path, fits);
    await until('the 1024 REP refused', () => a.counters.get('cm_tx_failures') === 2);
    expect(a.counters.get('cm_tx_reply_refused')).to.equal(2);
    expect(a.cm.txView(hwOf(p3, UD_C + 2)), 'forgotten').to.equal(undefined);
  });

  it('refuses the REQ beyond maxPassive with REJ 1 (no QP) naming its UD QPN, and takes one again when a slot frees @cm @rc @fabric @ipoib-stack', async function () {
    const [p1, p2] = [await lab.port('node1'), await lab.port('node2')];
    const a = manage(p1, UD_A, { maxPassive: 2 });
    const sid = ipoibCmServiceId(UD_A, 'linux');
    const first = await rawConnect(p2, p1, sid);
    await rawConnect(p2, p1, sid);
    const third = await settle(rawConnect(p2, p1, sid));
    expect(third).to.be.instanceOf(RcRejectedError);
    expect((third as RcRejectedError).reason).to.equal(CM_REJ_REASONS.noQp);
    expect(ipoibCmPrivateData.decode((third as RcRejectedError).privateData, 0).value.qpn).to.equal(UD_A);
    expect(a.counters.get('cm_rx_rejected_no_qp')).to.equal(1);
    await first.close();
    await until('the slot freed', () => a.cm.status().rx === 1);
    await rawConnect(p2, p1, sid);
    await until('two again', () => a.cm.status().rx === 2);
  });

  it('reaps a passive connection idle past the timeout with a DREQ and keeps one that receives @cm @rc @fabric @ipoib-stack', async function () {
    const [p1, p2] = [await lab.port('node1'), await lab.port('node2')];
    const a = manage(p1, UD_A, { rxIdleTimeoutMs: 300, rxReapIntervalMs: 100 });
    const sid = ipoibCmServiceId(UD_A, 'linux');
    const idle = await rawConnect(p2, p1, sid);
    const busy = await rawConnect(p2, p1, sid);
    let idleEnded = '';
    let busyEnded = false;
    idle.onDisconnect((e) => (idleEnded = e.initiator));
    busy.onDisconnect(() => (busyEnded = true));
    const f = frames(1)[0]!;
    const ticker = setInterval(() => void busy.send(f).catch(() => undefined), 50);
    try {
      await until('the idle one reaped', () => idleEnded !== '', 3000);
      await new Promise((r) => setTimeout(r, 400));
    } finally {
      clearInterval(ticker);
    }
    expect(idleEnded, 'the DREQ came from the reaper').to.equal('remote');
    expect(busyEnded, 'the busy one stays').to.equal(false);
    expect(a.counters.get('cm_rx_reaped')).to.equal(1);
    expect(a.cm.status().rx).to.equal(1);
  });

  it('ends a sending connection on the peer\'s DREQ, and the next frame connects again @cm @rc @fabric @ipoib-stack', async function () {
    const [p1, p2] = [await lab.port('node1'), await lab.port('node2')];
    const a = manage(p1, UD_A);
    const b = manage(p2, UD_B);
    const path = await pathTo(p1, p2);
    a.cm.send(hwOf(p2, UD_B), path, frames(1)[0]!);
    await until('connected', () => b.got.length === 1);
    b.cm.stop(); // interface down: a DREQ for each connection
    await until('the sending side forgets it', () => a.cm.txView(hwOf(p2, UD_B)) === undefined);
    expect(a.counters.get('cm_tx_disconnects')).to.equal(1);
    b.cm.start();
    a.cm.send(hwOf(p2, UD_B), path, frames(1, 100, 5)[0]!);
    await until('connected again', () => b.got.length === 2);
    expect(a.counters.get('cm_tx_connections')).to.equal(2);
  });

  it('makes one connection each way when two peers connect to each other at once, and carries frames both ways without duplicates @cm @rc @fabric @ipoib-stack', async function () {
    const [p1, p2] = [await lab.port('node1'), await lab.port('node2')];
    const a = manage(p1, UD_A);
    const b = manage(p2, UD_B);
    const [ab, ba] = [await pathTo(p1, p2), await pathTo(p2, p1)];
    for (let i = 0; i < 3; i++) {
      a.cm.send(hwOf(p2, UD_B), ab, frames(1, 64, i)[0]!);
      b.cm.send(hwOf(p1, UD_A), ba, frames(1, 64, 100 + i)[0]!);
    }
    await until('both sides got their frames', () => a.got.length === 3 && b.got.length === 3);
    for (let i = 3; i < 20; i++) {
      a.cm.send(hwOf(p2, UD_B), ab, frames(1, 64, i)[0]!);
      b.cm.send(hwOf(p1, UD_A), ba, frames(1, 64, 100 + i)[0]!);
    }
    await until('every frame', () => a.got.length === 20 && b.got.length === 20);
    await new Promise((r) => setTimeout(r, 100));
    expect([a.got.length, b.got.length], 'no duplicates').to.deep.equal([20, 20]);
    for (const m of [a, b]) {
      expect(m.cm.connections().map((c) => `${c.direction}/${c.state}`).sort()).to.deep.equal(['rx/connected', 'tx/connected']);
      // A crossing (RFC 4755 §3.3) makes the smaller side ask twice: the larger rejects its first REQ.
      expect(m.counters.get('cm_tx_requests') - m.counters.get('cm_tx_crossing_retries'), 'one connection asked for').to.equal(1);
    }
    const crossings = a.counters.get('cm_rx_rejected_crossing') + b.counters.get('cm_rx_rejected_crossing');
    const retries = a.counters.get('cm_tx_crossing_retries') + b.counters.get('cm_tx_crossing_retries');
    expect(retries, 'every crossing REJ was asked again, none lost a frame').to.equal(crossings);
  });

  it('ends a connection its data path saw fail, with a DREQ, and stops listening on stop() @cm @rc @fabric @ipoib-stack', async function () {
    const [p1, p2] = [await lab.port('node1'), await lab.port('node2')];
    const a = manage(p1, UD_A);
    const b = manage(p2, UD_B);
    a.cm.send(hwOf(p2, UD_B), await pathTo(p1, p2), frames(1)[0]!);
    await until('connected', () => b.got.length === 1 && b.cm.status().rx === 1);
    const qpn = a.cm.connections()[0]?.localQpn ?? 0;
    a.cm.rcFailed(qpn, 'retry-exceeded');
    expect(a.cm.txView(hwOf(p2, UD_B))).to.equal(undefined);
    expect(a.counters.get('cm_tx_errors')).to.equal(1);
    await until('the peer heard the DREQ', () => b.cm.status().rx === 0);
    a.cm.stop();
    const refused = await settle(rawConnect(p2, p1, ipoibCmServiceId(UD_A, 'linux')));
    expect((refused as RcRejectedError).reason, 'no listener after stop').to.equal(CM_REJ_REASONS.invalidServiceId);
  });

  it('commits its seeded defects: no Service-ID prefix, private data QPN + 1, REP MTU ignored, every REQ refused @cm @rc @fabric @power @mtu @ipoib-stack', async function () {
    const [p1, p2, p3] = [await lab.port('node1'), await lab.port('node2'), await lab.port('node3')];
    const noPrefix = manage(p1, UD_A, {}, ['cm-service-id-no-prefix', 'cm-private-data-qpn-off']);
    expect(noPrefix.cm.status().serviceId).to.equal('0xa1a1');
    const qp = await rawConnect(p2, p1, BigInt(UD_A));
    expect(ipoibCmPrivateData.decode(qp.attributes.remotePrivateData, 0).value.qpn).to.equal(UD_A + 1);
    const refusing = manage(p2, UD_B, {}, ['cm-refuse-connections']);
    const r = await settle(rawConnect(p3, p2, ipoibCmServiceId(UD_B, 'linux')));
    expect((r as RcRejectedError).reason).to.equal(CM_REJ_REASONS.consumerDefined);
    expect(refusing.cm.status().rx).to.equal(0);
    const ignoring = manage(p3, UD_C, {}, ['cm-rep-mtu-ignored']);
    rawPeer(p1, 0x5555, 2048);
    ignoring.cm.send(hwOf(p1, 0x5555), await pathTo(p3, p1), frames(1)[0]!);
    await until('connected', () => ignoring.cm.txView(hwOf(p1, 0x5555))?.state === 'connected');
    expect(ignoring.cm.txView(hwOf(p1, 0x5555))).to.include({ mtu: IPOIB_CM_MAX_MESSAGE_BYTES });
  });
});
