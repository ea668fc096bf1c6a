import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ArgumentError, MtuExceededError, StateError } from '../../src/errors.js';
import {
  type PortCounterName,
  type PortCounters,
  PORT_COUNTER_NAMES,
  SimEndpoint,
  type SimEndpointOptions,
  type UdCompletion,
} from '../../src/fabric/sim/native-endpoint.js';
import { TapReceiver } from '../../src/fabric/sim/tap-receiver.js';
import { loadNative } from '../../src/native/addon.js';
import { LINKTYPE_ERF } from '../../src/wire/constants.js';
import { type IbPacketFields, decodeIbPacket, encodeIbPacket } from '../../src/wire/ib-packet.js';
import { stampIcrc } from '../../src/wire/icrc.js';
import { parseErfRecord, readPcap } from '../../src/wire/pcap.js';
import { stampVcrc } from '../../src/wire/vcrc.js';
import { requireToolOrSkip } from '../helpers/skip.js';
import { field, num, tsharkDecode, tsharkVersion } from '../helpers/tshark.js';

// ---------------------------------------------------------------------------------------------
// Helpers: ports on a small simulated subnet, packet collectors, deadlines.

const QKEY = 0x00000b1b;
const BROADCAST_MGID = Buffer.from('ff12401bffff000000000000ffffffff', 'hex');
const OTHER_MGID = Buffer.from('ff12401bffff000000000000fb000001', 'hex');
const MLID = 0xc001;

function gidOf(lid: number): Buffer {
  const g = Buffer.from('fe800000000000000002c90300000000', 'hex');
  g.writeUInt16BE(lid, 14);
  return g;
}

/** Opens one port per option set, each routed to every other by LID; closes them all after `body`. */
async function withPorts(opts: Array<Partial<SimEndpointOptions> & { lid: number }>, body: (eps: SimEndpoint[]) => Promise<void>): Promise<void> {
  const eps: SimEndpoint[] = [];
  try {
    for (const o of opts) eps.push(SimEndpoint.open({ gid: gidOf(o.lid), mtuCode: 4, pkeys: [0xffff], ...o }));
    const unicast = eps.map((e) => ({ lid: e.lid, udpPort: e.udpPort }));
    for (const e of eps) e.setRoutes(unicast, []);
    await body(eps);
  } finally {
    await Promise.all(eps.map((e) => e.close()));
  }
}

/** Polls `ok` every few ms until it holds, or fails with `what()` after `timeoutMs`. */
async function waitUntil(ok: () => boolean, what: () => string, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what()}`);
    await new Promise((r) => setTimeout(r, 3));
  }
}

/** Every completion `ep` receives, in arrival order. */
function collect(ep: SimEndpoint, raw = false): UdCompletion[] {
  const got: UdCompletion[] = [];
  ep.onReceive((batch) => got.push(...batch), { raw });
  return got;
}

async function waitForCount(got: unknown[], n: number, what: string, timeoutMs = 3000): Promise<void> {
  await waitUntil(() => got.length >= n, () => `${what}: ${got.length} of ${n} arrived`, timeoutMs);
}

/** Waits until `ep`'s counter `name` has grown by `by` since `before`. */
async function waitForCounter(ep: SimEndpoint, before: PortCounters, name: PortCounterName, by: number): Promise<void> {
  await waitUntil(
    () => ep.counters()[name] - before[name] >= by,
    () => `${name} moved by ${ep.counters()[name] - before[name]} of ${by}; counters ${JSON.stringify(delta(ep.counters(), before))}`,
  );
}

/** The counters that changed, and by how much. */
function delta(after: PortCounters, before: PortCounters): Partial<PortCounters> {
  const d: Partial<PortCounters> = {};
  for (const n of PORT_COUNTER_NAMES) if (after[n] !== before[n]) d[n] = after[n] - before[n];
  return d;
}

/** A plain UDP socket on 127.0.0.1: a wire tap to route LIDs at, and an injector of raw packets. */
interface RawPort {
  readonly port: number;
  readonly packets: Buffer[];
  inject(packet: Buffer, toPort: number): Promise<void>;
  close(): Promise<void>;
}
async function rawPort(): Promise<RawPort> {
  const s: Socket = createSocket('udp4');
  const packets: Buffer[] = [];
  s.on('message', (m) => packets.push(m));
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
  return {
    port: s.address().port,
    packets,
    inject: (packet, toPort) => new Promise((resolve, reject) => s.send(packet, toPort, '127.0.0.1', (e) => (e ? reject(e) : resolve()))),
    close: () => new Promise((resolve) => s.close(() => resolve())),
  };
}

/** A UD SEND ONLY packet as src/wire/ib-packet.ts encodes it. */
function udPacket(o: {
  dlid: number;
  slid: number;
  destQp: number;
  srcQp: number;
  qKey: number;
  pKey?: number;
  psn?: number;
  sl?: number;
  payload: Buffer;
  grh?: { sgid: Buffer; dgid: Buffer; hopLmt?: number; tClass?: number; flowLabel?: number };
  imm?: number;
  pin?: IbPacketFields['pin'];
}): Buffer {
  const f: IbPacketFields = {
    lrh: { vl: 0, sl: o.sl ?? 0, dlid: o.dlid, slid: o.slid },
    bth: {
      opcode: o.imm === undefined ? 0x64 : 0x65,
      se: false,
      migReq: false,
      pKey: o.pKey ?? 0xffff,
      destQp: o.destQp,
      ackReq: false,
      psn: o.psn ?? 0,
    },
    deth: { qKey: o.qKey, resv8: 0, srcQp: o.srcQp },
    payload: o.payload,
  };
  if (o.grh) {
    f.grh = { tClass: o.grh.tClass ?? 0, flowLabel: o.grh.flowLabel ?? 0, hopLmt: o.grh.hopLmt ?? 0, sgid: o.grh.sgid, dgid: o.grh.dgid };
  }
  if (o.imm !== undefined) {
    f.otherEth = Buffer.alloc(4);
    f.otherEth.writeUInt32BE(o.imm);
  }
  if (o.pin) f.pin = o.pin;
  return encodeIbPacket(f);
}

/** Recomputes both CRCs of an edited packet, as a sender that means it would. */
function restamp(p: Buffer): Buffer {
  stampIcrc(p);
  stampVcrc(p);
  return p;
}

function patterned(n: number, seed = 0): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + seed) & 0xff;
  return b;
}

// ---------------------------------------------------------------------------------------------

describe('SimEndpoint, the native fabric port: UD data plane @native @fabric @ib', function () {
  it('carries a UD message between two ports with every completion field set @native @fabric @ib', async function () {
    await withPorts([{ lid: 1 }, { lid: 2 }], async ([a, b]) => {
      const qa = a!.createUdQp({ qkey: QKEY, pkeyIndex: 0 });
      const qb = b!.createUdQp({ qkey: QKEY, pkeyIndex: 0 });
      const got = collect(b!);
      const payloads = [patterned(5), patterned(0), patterned(2044, 3), patterned(2048, 9)];
      a!.postSendUd(
        qa,
        payloads.map((payload) => ({ dlid: 2, dqpn: qb, qkey: QKEY, payload, sl: 3 })),
      );
      await waitForCount(got, payloads.length, 'completions at B');
      expect(got.map((c) => c.payload.toString('hex')), 'payload bytes in order').to.deep.equal(payloads.map((p) => p.toString('hex')));
      const first = got[0]!;
      expect(first).to.include({ qpn: qb, srcQp: qa, slid: 1, dlid: 2, sl: 3, pkey: 0xffff, pkeyIndex: 0, qkey: QKEY, psn: 0 });
      expect(first.grh, 'no GRH on a local send').to.equal(undefined);
      expect(first.raw, 'raw only on request').to.equal(undefined);
      expect(got.map((c) => c.psn), 'PSNs count up per QP').to.deep.equal([0, 1, 2, 3]);
      // PktLen words (LRH 2 + BTH 3 + DETH 2 + ICRC 1 = 8, plus padded payload words).
      const words = payloads.reduce((sum, p) => sum + 8 + Math.ceil(p.length / 4), 0);
      expect(a!.counters()).to.include({ portXmitPkts: 4, portXmitData: words, portXmitDiscards: 0 });
      expect(b!.counters()).to.include({ portRcvPkts: 4, portRcvData: words, portRcvErrors: 0 });
    });
  });

  it('puts on the wire exactly what encodeIbPacket builds, with CRCs decodeIbPacket verifies @native @fabric @ib @crc', async function () {
    const wire = await rawPort();
    try {
      await withPorts([{ lid: 1, mtuCode: 5 }], async ([a]) => {
        a!.setRoutes([{ lid: 9, udpPort: wire.port }], []);
        const qa = a!.createUdQp({ qkey: QKEY, pkeyIndex: 0 });
        const dgid = gidOf(9);
        a!.postSendUd(qa, [
          { dlid: 9, dqpn: 0x123, qkey: QKEY, payload: patterned(1) },
          { dlid: 9, dqpn: 0x123, qkey: 0x1234, payload: patterned(6), sl: 5 },
          { dlid: 9, dqpn: 0x456, qkey: QKEY, payload: patterned(4096), grh: { dgid, hopLimit: 64, tclass: 0x2a, flowLabel: 0x12345 } },
          { dlid: 9, dqpn: 0x456, qkey: QKEY, payload: Buffer.alloc(0), immData: 0xdeadbeef },
        ]);
        await waitForCount(wire.packets, 4, 'packets at the raw socket');
        const expected = [
          udPacket({ dlid: 9, slid: 1, destQp: 0x123, srcQp: qa, qKey: QKEY, psn: 0, payload: patterned(1) }),
          udPacket({ dlid: 9, slid: 1, destQp: 0x123, srcQp: qa, qKey: 0x1234, psn: 1, sl: 5, payload: patterned(6) }),
          udPacket({
            dlid: 9,
            slid: 1,
            destQp: 0x456,
            srcQp: qa,
            qKey: QKEY,
            psn: 2,
            payload: patterned(4096),
            grh: { sgid: a!.gid, dgid, hopLmt: 64, tClass: 0x2a, flowLabel: 0x12345 },
          }),
          udPacket({ dlid: 9, slid: 1, destQp: 0x456, srcQp: qa, qKey: QKEY, psn: 3, payload: Buffer.alloc(0), imm: 0xdeadbeef }),
        ];
        expect(wire.packets.map((p) => p.toString('hex'))).to.deep.equal(expected.map((p) => p.toString('hex')));
        for (const p of wire.packets) {
          const d = decodeIbPacket(p); // throws on a wrong ICRC or VCRC
          expect(d.icrc.ok && d.vcrc.ok, 'both CRCs verify').to.equal(true);
        }
      });
    } finally {
      await wire.close();
    }
  });

  it('matches encodeIbPacket byte for byte at every payload length around the CRC chunking @native @fabric @ib @crc', async function () {
    // The C++ VCRC takes 16 octets per step (native/src/sim/crc_ib.cc): cover every
    // head length within a group, group boundaries, and the largest packets, with and without a GRH.
    const lengths = [...Array.from({ length: 560 }, (_, i) => i), ...Array.from({ length: 60 }, (_, i) => 560 + i * 59), 4093, 4094, 4095, 4096];
    const wire = await rawPort();
    try {
      await withPorts([{ lid: 1, mtuCode: 5 }], async ([a]) => {
        a!.setRoutes([{ lid: 9, udpPort: wire.port }], []);
        const qa = a!.createUdQp({ qkey: QKEY, pkeyIndex: 0 });
        const dgid = gidOf(9);
        const expected: string[] = [];
        for (let i = 0; i < lengths.length; i += 50) {
          const chunk = lengths.slice(i, i + 50);
          a!.postSendUd(
            qa,
            chunk.map((n, j) => ({ dlid: 9, dqpn: 0x42, qkey: QKEY, payload: patterned(n, n), ...((i + j) % 2 ? { grh: { dgid } } : {}) })),
          );
          chunk.forEach((n, j) => {
            const psn = i + j;
            const grh = psn % 2 ? { grh: { sgid: a!.gid, dgid } } : {};
            expected.push(udPacket({ dlid: 9, slid: 1, destQp: 0x42, srcQp: qa, qKey: QKEY, psn, payload: patterned(n, n), ...grh }).toString('hex'));
          });
          await waitForCount(wire.packets, expected.length, 'packets at the raw socket');
        }
        const mismatched = wire.packets.map((p, i) => (p.toString('hex') === expected[i] ? -1 : i)).filter((i) => i >= 0);
        expect(mismatched.map((i) => lengths[i]), 'payload lengths whose packets differ').to.deep.equal([]);
      });
      // And a port with LID 9 accepts every one of them (its VCRC and ICRC checks agree too).
      await withPorts([{ lid: 9, mtuCode: 5 }], async ([b]) => {
        b!.createUdQp({ qkey: QKEY, pkeyIndex: 0, qpn: 0x42 });
        const got = collect(b!);
        for (let i = 0; i < wire.packets.length; i++) {
          await wire.inject(wire.packets[i]!, b!.udpPort);
          if (i % 50 === 49) await waitForCount(got, i + 1, 'accepted at LID 9');
        }
        await waitForCount(got, wire.packets.length, 'accepted at LID 9');
        expect(got.map((c) => c.payload.length)).to.deep.equal(lengths);
        expect(b!.counters().portRcvErrors).to.equal(0);
      });
    } finally {
      await wire.close();
    }
  });

  it('accepts packets encodeIbPacket builds and hands back the raw packet on request @native @fabric @ib', async function () {
    const inj = await rawPort();
    try {
      await withPorts([{ lid: 2 }], async ([b]) => {
        const qb = b!.createUdQp({ qkey: QKEY, pkeyIndex: 0 });
        const got = collect(b!, true);
        const packets = [
          udPacket({ dlid: 2, slid: 7, destQp: qb, srcQp: 0x99, qKey: QKEY, psn: 0x123456, sl: 2, payload: patterned(3) }),
          udPacket({
            dlid: 2,
            slid: 7,
            destQp: qb,
            srcQp: 0x99,
            qKey: QKEY,
            payload: patterned(100),
            grh: { sgid: gidOf(7), dgid: gidOf(2), hopLmt: 3, tClass: 0x11, flowLabel: 0xabcde },
          }),
          udPacket({ dlid: 2, slid: 7, destQp: qb, srcQp: 0x99, qKey: QKEY, payload: patterned(8), imm: 0x01020304 }),
        ];
        for (const p of packets) await inj.inject(p, b!.udpPort);
        await waitForCount(got, 3, 'injected packets accepted');
        expect(got.map((c) => c.raw?.toString('hex')), 'raw packets').to.deep.equal(packets.map((p) => p.toString('hex')));
        expect(got[0]).to.include({ slid: 7, srcQp: 0x99, sl: 2, psn: 0x123456 });
        expect(got[0]!.payload.toString('hex')).to.equal(patterned(3).toString('hex'));
        const g = got[1]!.grh;
        expect(g, 'GRH reported').to.not.equal(undefined);
        expect({ ...g!, sgid: g!.sgid.toString('hex'), dgid: g!.dgid.toString('hex') }).to.deep.equal({
          sgid: gidOf(7).toString('hex'),
          dgid: gidOf(2).toString('hex'),
          hopLimit: 3,
          tclass: 0x11,
          flowLabel: 0xabcde,
        });
        expect(got[2]!.immData, 'immediate data').to.equal(0x01020304);
        expect(got[2]!.payload.toString('hex')).to.equal(patterned(8).toString('hex'));
      });
    } finally {
      await inj.close();
    }
  });
});

describe('SimEndpoint receive checks and counters @native @fabric', function () {
  describe('P_Key check @pkey', function () {
    /** Sends `n` packets from a port with `from` P_Keys (QP on index `fromIndex`) to one with `to`; returns B's counter delta and what arrived. */
    async function pkeyCase(
      from: number[],
      fromIndex: number,
      to: number[],
      toIndex: number,
      n: number,
    ): Promise<{ d: Partial<PortCounters>; got: UdCompletion[] }> {
      let out: { d: Partial<PortCounters>; got: UdCompletion[] } = { d: {}, got: [] };
      await withPorts([{ lid: 1, pkeys: from }, { lid: 2, pkeys: to }], async ([a, b]) => {
        const qa = a!.createUdQp({ qkey: QKEY, pkeyIndex: fromIndex });
        const qb = b!.createUdQp({ qkey: QKEY, pkeyIndex: toIndex });
        const got = collect(b!);
        const before = b!.counters();
        a!.postSendUd(qa, Array.from({ length: n }, (_, i) => ({ dlid: 2, dqpn: qb, qkey: QKEY, payload: patterned(16, i) })));
        await waitUntil(
          () => got.length + b!.counters().pKeyViolations - before.pKeyViolations >= n,
          () => `B saw ${got.length} completions and ${b!.counters().pKeyViolations - before.pKeyViolations} violations of ${n}`,
        );
        out = { d: delta(b!.counters(), before), got };
      });
      return out;
    }

    it('drops packets of a different partition, counting pKeyViolations once each @pkey', async function () {
      const { d, got } = await pkeyCase([0xffff, 0x8001], 1, [0xffff, 0x8002], 1, 7);
      expect(got, 'nothing delivered').to.have.length(0);
      expect(d, JSON.stringify(d)).to.deep.equal({ pKeyViolations: 7 });
    });

    it('drops packets between two limited members of one partition @pkey', async function () {
      const { d, got } = await pkeyCase([0xffff, 0x0001], 1, [0xffff, 0x0001], 1, 5);
      expect(got).to.have.length(0);
      expect(d, JSON.stringify(d)).to.deep.equal({ pKeyViolations: 5 });
    });

    it('drops packets whose P_Key the receiving table lacks @pkey', async function () {
      const { d, got } = await pkeyCase([0xffff, 0x8003], 1, [0xffff], 0, 4);
      expect(got).to.have.length(0);
      expect(d, JSON.stringify(d)).to.deep.equal({ pKeyViolations: 4 });
    });

    it('delivers between a full and a limited member @pkey', async function () {
      const { d, got } = await pkeyCase([0xffff, 0x8001], 1, [0xffff, 0x0001], 1, 3);
      expect(got.map((c) => [c.pkey, c.pkeyIndex])).to.deep.equal([
        [0x8001, 1],
        [0x8001, 1],
        [0x8001, 1],
      ]);
      expect(d.pKeyViolations ?? 0).to.equal(0);
    });

    it("drops at a UD QP whose own P_Key differs, even when another table entry matches @pkey", async function () {
      const { d, got } = await pkeyCase([0xffff, 0x8001], 1, [0xffff, 0x8001], 0, 6);
      expect(got).to.have.length(0);
      expect(d, JSON.stringify(d)).to.deep.equal({ pKeyViolations: 6 });
    });

    it('lets QP1 take any P_Key in the table and report its index @pkey @qkey', async function () {
      await withPorts([{ lid: 1, pkeys: [0xffff, 0x8001] }, { lid: 2, pkeys: [0xffff, 0x0005, 0x8001] }], async ([a, b]) => {
        const ga = a!.createUdQp({ qkey: 0x80010000, pkeyIndex: 0, qpn: 1 });
        const gb = b!.createUdQp({ qkey: 0x80010000, pkeyIndex: 0, qpn: 1 });
        expect([ga, gb]).to.deep.equal([1, 1]);
        const got = collect(b!);
        const before = b!.counters();
        a!.postSendUd(1, [
          { dlid: 2, dqpn: 1, qkey: 0x80010000, payload: patterned(256), pkeyIndex: 1 },
          { dlid: 2, dqpn: 1, qkey: 0x80010000, payload: patterned(256), pkeyIndex: 0 },
        ]);
        await waitForCount(got, 2, 'GSI completions');
        expect(got.map((c) => [c.qpn, c.pkey, c.pkeyIndex])).to.deep.equal([
          [1, 0x8001, 2],
          [1, 0xffff, 0],
        ]);
        expect(b!.counters().pKeyViolations - before.pKeyViolations).to.equal(0);
      });
    });
  });

  describe('Q_Key check @qkey', function () {
    it('drops a UD packet whose Q_Key differs from the QP Q_Key, counting qKeyViolations @qkey', async function () {
      await withPorts([{ lid: 1 }, { lid: 2 }], async ([a, b]) => {
        const qa = a!.createUdQp({ qkey: QKEY, pkeyIndex: 0 });
        const qb = b!.createUdQp({ qkey: 0x12345678, pkeyIndex: 0 });
        const got = collect(b!);
        const before = b!.counters();
        a!.postSendUd(qa, Array.from({ length: 9 }, () => ({ dlid: 2, dqpn: qb, qkey: 0x12345677, payload: patterned(10) })));
        await waitForCounter(b!, before, 'qKeyViolations', 9);
        a!.postSendUd(qa, { dlid: 2, dqpn: qb, qkey: 0x12345678, payload: patterned(11) });
        await waitForCount(got, 1, 'the packet with the right Q_Key');
        const d = delta(b!.counters(), before);
        expect(got.map((c) => c.qkey)).to.deep.equal([0x12345678]);
        expect(d).to.include({ qKeyViolations: 9, portRcvPkts: 1 });
        expect(d.portRcvErrors ?? 0).to.equal(0);
      });
    });

    it('sends the QP Q_Key when the send asks for a controlled Q_Key (high bit set) @qkey', async function () {
      const wire = await rawPort();
      try {
        await withPorts([{ lid: 1 }, { lid: 2 }], async ([a, b]) => {
          a!.setRoutes([{ lid: 2, udpPort: b!.udpPort }, { lid: 9, udpPort: wire.port }], []);
          const qa = a!.createUdQp({ qkey: 0x0000abcd, pkeyIndex: 0 });
          const qb = b!.createUdQp({ qkey: 0x0000abcd, pkeyIndex: 0 });
          const got = collect(b!);
          a!.postSendUd(qa, [
            { dlid: 2, dqpn: qb, qkey: 0x80000000, payload: patterned(4) },
            { dlid: 9, dqpn: 0x77, qkey: 0xffffffff, payload: patterned(4) },
          ]);
          await waitForCount(got, 1, 'controlled-Q_Key send');
          await waitForCount(wire.packets, 1, 'the wire copy');
          expect(got[0]!.qkey, 'Q_Key the receiver saw').to.equal(0x0000abcd);
          expect(decodeIbPacket(wire.packets[0]!).deth?.qKey, 'DETH Q_Key on the wire').to.equal(0x0000abcd);
        });
      } finally {
        await wire.close();
      }
    });
  });

  describe('length vs MTU @mtu', function () {
    it('refuses to send a payload over the MTU, sending nothing of the batch @fabric @mtu', async function () {
      await withPorts([{ lid: 1, mtuCode: 1 }, { lid: 2 }], async ([a, b]) => {
        const qa = a!.createUdQp({ qkey: QKEY, pkeyIndex: 0 });
        const qb = b!.createUdQp({ qkey: QKEY, pkeyIndex: 0 });
        const before = a!.counters();
        let err: unknown;
        try {
          a!.postSendUd(qa, [
            { dlid: 2, dqpn: qb, qkey: QKEY, payload: patterned(256) },
            { dlid: 2, dqpn: qb, qkey: QKEY, payload: patterned(257) },
          ]);
        } catch (e) {
          err = e;
        }
        expect(err).to.be.instanceOf(MtuExceededError);
        expect(err).to.include({ payloadBytes: 257, mtuBytes: 256 });
        expect(delta(a!.counters(), before), 'nothing sent').to.deep.equal({});
      });
    });

    it('drops a received payload over the port MTU, counting portRcvErrors and mtuDrops @fabric @mtu', async function () {
      await withPorts([{ lid: 1, mtuCode: 5 }, { lid: 2, mtuCode: 1 }], async ([a, b]) => {
        const qa = a!.createUdQp({ qkey: QKEY, pkeyIndex: 0 });
        const qb = b!.createUdQp({ qkey: QKEY, pkeyIndex: 0 });
        const got = collect(b!);
        const before = b!.counters();
        a!.postSendUd(qa, [
          { dlid: 2, dqpn: qb, qkey: QKEY, payload: patterned(257) },
          { dlid: 2, dqpn: qb, qkey: QKEY, payload: patterned(4096) },
          { dlid: 2, dqpn: qb, qkey: QKEY, payload: patterned(256) },
        ]);
        await waitForCount(got, 1, 'the 256-octet packet');
        await waitForCounter(b!, before, 'mtuDrops', 2);
        expect(got.map((c) => c.payload.length)).to.deep.equal([256]);
        expect(delta(b!.counters(), before)).to.include({ mtuDrops: 2, portRcvErrors: 2, portRcvPkts: 1 });
      });
    });
  });

  describe('CRCs and malformed packets @crc', function () {
    /** Injects each packet into a fresh port (LID 2, QP 0x48 with QKEY) and returns the counter delta. */
    async function injectAll(packets: Buffer[], settle: PortCounterName, n: number): Promise<{ d: Partial<PortCounters>; got: UdCompletion[] }> {
      const inj = await rawPort();
      let out: { d: Partial<PortCounters>; got: UdCompletion[] } = { d: {}, got: [] };
      try {
        await withPorts([{ lid: 2 }], async ([b]) => {
          b!.createUdQp({ qkey: QKEY, pkeyIndex: 0, qpn: 0x48 });
          const got = collect(b!);
          const before = b!.counters();
          for (const p of packets) await inj.inject(p, b!.udpPort);
          await waitForCounter(b!, before, settle, n);
          out = { d: delta(b!.counters(), before), got };
        });
      } finally {
        await inj.close();
      }
      return out;
    }
    const good = { dlid: 2, slid: 7, destQp: 0x48, srcQp: 0x99, qKey: QKEY, payload: patterned(12) };

    it('drops a packet with a corrupted ICRC, counting icrcErrors and portRcvErrors @crc', async function () {
      const right = decodeIbPacket(udPacket(good)).icrc.computed;
      const { d, got } = await injectAll([udPacket({ ...good, pin: { icrc: (right ^ 0x00010000) >>> 0 } }), udPacket({ ...good, pin: { icrc: 0 } })], 'icrcErrors', 2);
      expect(got).to.have.length(0);
      expect(d).to.deep.equal({ icrcErrors: 2, portRcvErrors: 2 });
    });

    it('drops a packet with a corrupted VCRC, counting vcrcErrors and portRcvErrors @crc', async function () {
      const p = udPacket(good);
      p.writeUInt8(p.readUInt8(p.length - 1) ^ 0x80, p.length - 1); // flip one bit of the stored VCRC
      const q = udPacket(good);
      q.writeUInt8(q.readUInt8(20) ^ 0x01, 20); // a DETH bit flipped on the link: the VCRC catches it before the ICRC
      const { d, got } = await injectAll([p, q], 'vcrcErrors', 2);
      expect(got).to.have.length(0);
      expect(d).to.deep.equal({ vcrcErrors: 2, portRcvErrors: 2 });
    });

    it('drops malformed packets: PktLen, GRH PayLen, raw LNH, cut datagram, bad OpCode, PadCnt @crc @ib', async function () {
      const withGrh = { ...good, grh: { sgid: gidOf(7), dgid: gidOf(2) } };
      const badOpcode = udPacket(good);
      badOpcode[8] = 0xe4; // a vendor OpCode; the CRCs are restamped below
      const packets = [
        udPacket({ ...good, pin: { pktLen: 9 } }),
        udPacket({ ...withGrh, pin: { payLen: 3 } }),
        udPacket({ ...good, pin: { lnh: 0 } }),
        udPacket(good).subarray(0, 20),
        restamp(badOpcode),
        udPacket({ ...good, payload: Buffer.alloc(0), pin: { padCnt: 3 } }), // 3 pad octets, none there
      ];
      const { d, got } = await injectAll(packets, 'malformed', packets.length);
      expect(got).to.have.length(0);
      expect(d).to.deep.equal({ malformed: packets.length, portRcvErrors: packets.length });
    });
  });

  it('counts a DLID that is not the port LID as portRcvSwitchRelayErrors @fabric', async function () {
    const inj = await rawPort();
    try {
      await withPorts([{ lid: 2 }], async ([b]) => {
        b!.createUdQp({ qkey: QKEY, pkeyIndex: 0, qpn: 0x48 });
        const got = collect(b!);
        const before = b!.counters();
        await inj.inject(udPacket({ dlid: 3, slid: 7, destQp: 0x48, srcQp: 1, qKey: QKEY, payload: patterned(4) }), b!.udpPort);
        await inj.inject(udPacket({ dlid: 0xc005, slid: 7, destQp: 0xffffff, srcQp: 1, qKey: QKEY, payload: patterned(4), grh: { sgid: gidOf(7), dgid: OTHER_MGID } }), b!.udpPort);
        await waitForCounter(b!, before, 'portRcvSwitchRelayErrors', 2);
        expect(got).to.have.length(0);
        expect(delta(b!.counters(), before)).to.deep.equal({ portRcvSwitchRelayErrors: 2 });
      });
    } finally {
      await inj.close();
    }
  });

  it('counts a DestQP with no QP as unknownQpnDrops @fabric', async function () {
    await withPorts([{ lid: 1 }, { lid: 2 }], async ([a, b]) => {
      const qa = a!.createUdQp({ qkey: QKEY, pkeyIndex: 0 });
      const qb = b!.createUdQp({ qkey: QKEY, pkeyIndex: 0 });
      const got = collect(b!);
      const before = b!.counters();
      a!.postSendUd(qa, [
        { dlid: 2, dqpn: qb + 1, qkey: QKEY, payload: patterned(4) },
        { dlid: 2, dqpn: 0xffffff, qkey: QKEY, payload: patterned(4) },
        { dlid: 2, dqpn: 0, qkey: QKEY, payload: patterned(4) },
      ]);
      await waitForCounter(b!, before, 'unknownQpnDrops', 3);
      b!.destroyQp(qb);
      a!.postSendUd(qa, { dlid: 2, dqpn: qb, qkey: QKEY, payload: patterned(4) });
      await waitForCounter(b!, before, 'unknownQpnDrops', 4);
      expect(got).to.have.length(0);
      expect(delta(b!.counters(), before)).to.deep.equal({ unknownQpnDrops: 4 });
    });
  });

  it('counts sends to a LID without a route as portXmitDiscards @fabric', async function () {
    await withPorts([{ lid: 1 }], async ([a]) => {
      const qa = a!.createUdQp({ qkey: QKEY, pkeyIndex: 0 });
      a!.postSendUd(qa, [
        { dlid: 77, dqpn: 5, qkey: QKEY, payload: patterned(4) },
        { dlid: 0xc077, dqpn: 0xffffff, qkey: QKEY, payload: patterned(4), grh: { dgid: OTHER_MGID } },
      ]);
      expect(a!.counters()).to.include({ portXmitDiscards: 2, noRouteXmitDiscards: 2, portXmitPkts: 0 });
    });
  });
});

describe('SimEndpoint multicast replication @native @fabric @multicast @mgid', function () {
  it('reaches the QPs attached to the MLID and MGID on member ports, the sender own port included @multicast @mgid', async function () {
    await withPorts([{ lid: 1 }, { lid: 2 }, { lid: 3 }], async ([a, b, c]) => {
      const eps = [a!, b!, c!];
      const qps = eps.map((e) => e.createUdQp({ qkey: QKEY, pkeyIndex: 0 }));
      const bOther = b!.createUdQp({ qkey: QKEY, pkeyIndex: 0 }); // on B, attached to another MGID of the same MLID
      const got = eps.map((e) => collect(e));
      a!.attachMulticast(qps[0]!, BROADCAST_MGID, MLID);
      b!.attachMulticast(qps[1]!, BROADCAST_MGID, MLID);
      b!.attachMulticast(bOther, OTHER_MGID, MLID);
      // The fabric manager routes the MLID to its member ports (A and B), as a switch would.
      const members = [{ mlid: MLID, udpPorts: [a!.udpPort, b!.udpPort] }];
      const unicast = eps.map((e) => ({ lid: e.lid, udpPort: e.udpPort }));
      for (const e of eps) e.setRoutes(unicast, members);

      const send = (payload: Buffer): void =>
        a!.postSendUd(qps[0]!, { dlid: MLID, dqpn: 0xffffff, qkey: QKEY, payload, grh: { dgid: BROADCAST_MGID } });
      send(patterned(40, 1));
      await waitForCount(got[0]!, 1, 'the echo at the sending port');
      await waitForCount(got[1]!, 1, 'the copy at B');
      const atB = got[1]![0]!;
      expect(atB).to.include({ qpn: qps[1], srcQp: qps[0], slid: 1, dlid: MLID });
      expect(atB.grh?.dgid.toString('hex'), 'DGID').to.equal(BROADCAST_MGID.toString('hex'));
      expect(atB.grh?.sgid.toString('hex'), 'SGID').to.equal(a!.gid.toString('hex'));
      expect(got[0]![0]!.qpn, 'the sender QP gets its own echo').to.equal(qps[0]);
      expect(got[1]!.map((x) => x.qpn), 'B QP on the other MGID gets nothing').to.deep.equal([qps[1]]);
      expect(a!.counters().portXmitPkts, 'one packet sent, however many copies').to.equal(1);

      // B leaves the group: the next packets reach A only, and B (still routed) drops them.
      const bBefore = b!.counters();
      b!.detachMulticast(qps[1]!, BROADCAST_MGID, MLID);
      send(patterned(40, 2));
      await waitForCount(got[0]!, 2, 'the second echo at A');
      await waitForCounter(b!, bBefore, 'unknownQpnDrops', 1);
      b!.detachMulticast(bOther, OTHER_MGID, MLID);
      send(patterned(40, 3));
      await waitForCount(got[0]!, 3, 'the third echo at A');
      await waitForCounter(b!, bBefore, 'portRcvSwitchRelayErrors', 1);
      expect(got[1]!, 'B got only the first packet').to.have.length(1);
      expect(got[2]!, 'C, not a member, got nothing').to.have.length(0);
      expect(c!.counters().portRcvPkts + c!.counters().portRcvSwitchRelayErrors, 'C saw no packet at all').to.equal(0);
    });
  });

  it('drops a multicast packet without a GRH as malformed @multicast', async function () {
    await withPorts([{ lid: 1 }, { lid: 2 }], async ([a, b]) => {
      const qa = a!.createUdQp({ qkey: QKEY, pkeyIndex: 0 });
      const qb = b!.createUdQp({ qkey: QKEY, pkeyIndex: 0 });
      b!.attachMulticast(qb, BROADCAST_MGID, MLID);
      a!.setRoutes([], [{ mlid: MLID, udpPorts: [b!.udpPort] }]);
      const got = collect(b!);
      const before = b!.counters();
      a!.postSendUd(qa, { dlid: MLID, dqpn: 0xffffff, qkey: QKEY, payload: patterned(8) });
      a!.postSendUd(qa, { dlid: MLID, dqpn: 0xffffff, qkey: QKEY, payload: patterned(8), grh: { dgid: gidOf(2) } }); // unicast DGID
      await waitForCounter(b!, before, 'malformed', 2);
      expect(got).to.have.length(0);
      expect(delta(b!.counters(), before)).to.deep.equal({ malformed: 2, portRcvErrors: 2 });
    });
  });
});

describe('SimEndpoint faults @native @fabric', function () {
  /** Sends `n` packets A -> B in chunks small enough for the socket buffers; returns how many arrived. */
  async function lossRun(lossRate: number, n: number, seed?: number): Promise<{ delivered: number; lost: number }> {
    let out = { delivered: 0, lost: 0 };
    await withPorts([{ lid: 1 }, { lid: 2 }], async ([a, b]) => {
      const qa = a!.createUdQp({ qkey: QKEY, pkeyIndex: 0 });
      const qb = b!.createUdQp({ qkey: QKEY, pkeyIndex: 0 });
      a!.setFaults(seed === undefined ? { lossRate } : { lossRate, seed });
      const got = collect(b!);
      for (let sent = 0; sent < n; sent += 100) {
        a!.postSendUd(qa, Array.from({ length: 100 }, (_, i) => ({ dlid: 2, dqpn: qb, qkey: QKEY, payload: patterned(32, sent + i) })));
        const target = sent + 100;
        await waitUntil(
          () => got.length + a!.counters().lossFaultDrops >= target,
          () => `${got.length} delivered + ${a!.counters().lossFaultDrops} lost of ${target}`,
        );
      }
      const ca = a!.counters();
      expect(b!.counters().socketOverflowDrops, 'no kernel drops muddied the count').to.equal(0);
      expect(ca.portXmitPkts, 'every packet counts as sent').to.equal(n);
      out = { delivered: got.length, lost: ca.lossFaultDrops };
    });
    return out;
  }

  it('delivers nothing at 100% loss and everything at 0% @fabric', async function () {
    expect(await lossRun(1, 300)).to.deep.equal({ delivered: 0, lost: 300 });
    expect(await lossRun(0, 300)).to.deep.equal({ delivered: 300, lost: 0 });
  });

  it('drops a bounded, repeatable share at 10% loss with a seed @fabric', async function () {
    const first = await lossRun(0.1, 2000, 42);
    const second = await lossRun(0.1, 2000, 42);
    expect(first.delivered + first.lost).to.equal(2000);
    // Binomial(2000, 0.1): mean 200, sd 13.4; 140..260 is beyond 4 sd either side.
    expect(first.lost).to.be.within(140, 260);
    expect(second, 'same seed, same fate').to.deep.equal(first);
    const other = await lossRun(0.1, 2000, 7);
    expect(other.lost).to.be.within(140, 260);
  });

  it('delays every packet by the fixed delay and keeps their order @fabric', async function () {
    await withPorts([{ lid: 1 }, { lid: 2 }], async ([a, b]) => {
      const qa = a!.createUdQp({ qkey: QKEY, pkeyIndex: 0 });
      const qb = b!.createUdQp({ qkey: QKEY, pkeyIndex: 0 });
      const arrivals: Array<{ seq: number; at: number }> = [];
      b!.onReceive((batch) => {
        const at = performance.now();
        for (const c of batch) arrivals.push({ seq: c.payload.readUInt32BE(0), at });
      });
      a!.setFaults({ delayMs: 60 });
      const seqPayload = (seq: number): Buffer => {
        const p = Buffer.alloc(8);
        p.writeUInt32BE(seq);
        return p;
      };
      const started = performance.now();
      for (let seq = 0; seq < 50; seq++) a!.postSendUd(qa, { dlid: 2, dqpn: qb, qkey: QKEY, payload: seqPayload(seq) });
      a!.setFaults({ delayMs: 0 }); // later packets queue behind the delayed ones instead of passing them
      for (let seq = 50; seq < 60; seq++) a!.postSendUd(qa, { dlid: 2, dqpn: qb, qkey: QKEY, payload: seqPayload(seq) });
      await waitForCount(arrivals, 60, 'delayed packets');
      expect(arrivals.map((x) => x.seq), 'order kept').to.deep.equal(Array.from({ length: 60 }, (_, i) => i));
      expect(arrivals[0]!.at - started, 'first arrival waited the delay').to.be.at.least(55);
    });
  });

  it('drops both ways while the link is down, counted, and recovers when it comes up @fabric', async function () {
    await withPorts([{ lid: 1 }, { lid: 2 }], async ([a, b]) => {
      const qa = a!.createUdQp({ qkey: QKEY, pkeyIndex: 0 });
      const qb = b!.createUdQp({ qkey: QKEY, pkeyIndex: 0 });
      const gotA = collect(a!);
      const gotB = collect(b!);
      const beforeA = a!.counters();
      const beforeB = b!.counters();
      b!.setState('down');
      expect(b!.state).to.equal('down');
      a!.postSendUd(qa, Array.from({ length: 5 }, () => ({ dlid: 2, dqpn: qb, qkey: QKEY, payload: patterned(8) })));
      await waitForCounter(b!, beforeB, 'linkDownDrops', 5);
      b!.postSendUd(qb, Array.from({ length: 3 }, () => ({ dlid: 1, dqpn: qa, qkey: QKEY, payload: patterned(8) })));
      expect(delta(b!.counters(), beforeB)).to.deep.equal({ linkDownDrops: 5, portXmitDiscards: 3, linkDownXmitDiscards: 3 });
      b!.setState('active');
      a!.postSendUd(qa, { dlid: 2, dqpn: qb, qkey: QKEY, payload: patterned(8, 1) });
      b!.postSendUd(qb, { dlid: 1, dqpn: qa, qkey: QKEY, payload: patterned(8, 2) });
      await waitForCount(gotB, 1, 'after link up, at B');
      await waitForCount(gotA, 1, 'after link up, at A');
      expect(gotA.length + gotB.length, 'nothing from the down period').to.equal(2);
      expect(delta(a!.counters(), beforeA)).to.include({ portXmitPkts: 6, portRcvPkts: 1 });
    });
  });
});

describe('SimEndpoint tap @native @fabric @pcap @tshark', function () {
  it('mirrors sent and accepted packets to a TapReceiver whose ERF pcap tshark decodes @pcap @tshark @ib', async function () {
    const dir = mkdtempSync(join(tmpdir(), 'ipoib-tap-'));
    const file = join(dir, 'tap.pcap');
    const tap = await TapReceiver.open({ path: file });
    let sent: Buffer[] = [];
    try {
      await withPorts([{ lid: 1 }, { lid: 2 }], async ([a, b]) => {
        const qa = a!.createUdQp({ qkey: QKEY, pkeyIndex: 0 });
        const qb = b!.createUdQp({ qkey: QKEY, pkeyIndex: 0 });
        const got = collect(b!, true);
        a!.setTap(tap.udpPort, { direction: 'send' });
        b!.setTap(tap.udpPort, { direction: 'receive' });
        a!.postSendUd(qa, [
          { dlid: 2, dqpn: qb, qkey: QKEY, payload: patterned(20) },
          { dlid: 2, dqpn: qb, qkey: 0x1111, payload: patterned(20) }, // dropped by B: mirrored on send only
          { dlid: 2, dqpn: qb, qkey: QKEY, payload: patterned(30), grh: { dgid: b!.gid, hopLimit: 1 } },
        ]);
        await waitForCount(got, 2, 'accepted at B');
        await tap.waitFor(5, 3000); // 3 sent by A + 2 accepted by B
        sent = got.map((c) => c.raw ?? Buffer.alloc(0));
        a!.setTap(null);
        b!.setTap(null);
      });
    } finally {
      await tap.close();
    }
    try {
      const pcap = readPcap(readFileSync(file));
      expect(pcap.linktype).to.equal(LINKTYPE_ERF);
      const packets = pcap.records.map((r) => parseErfRecord(r.data).packet);
      expect(packets).to.have.length(5);
      const accepted = sent.map((p) => p.toString('hex'));
      expect(packets.filter((p) => accepted.includes(p.toString('hex'))), 'both accepted packets are in the capture').to.have.length(4);
      for (const p of packets) expect(decodeIbPacket(p).vcrc.ok).to.equal(true);

      await requireToolOrSkip(this, 'tshark', (await tsharkVersion()) !== null, 'install it with apt-get install tshark');
      const frames = await tsharkDecode(file);
      expect(frames).to.have.length(5);
      const qkeys = frames.map((f) => num(field(f, 'infiniband.deth.q_key')));
      expect(qkeys.filter((k) => k === 0x1111), 'the Q_Key-violating send is captured once').to.have.length(1);
      const f0 = frames[0]!;
      expect(num(field(f0, 'infiniband.lrh.dlid'))).to.equal(2);
      expect(num(field(f0, 'infiniband.lrh.slid'))).to.equal(1);
      expect(num(field(f0, 'infiniband.bth.opcode'))).to.equal(0x64);
      expect(num(field(f0, 'infiniband.bth.p_key'))).to.equal(0xffff);
      const withGrh = frames.filter((f) => JSON.stringify(f).includes('infiniband.grh.dgid'));
      expect(withGrh, 'the GRH packet, sent and accepted').to.have.length(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('SimEndpoint lifecycle @native @fabric', function () {
  it('close() releases the UDP port, keeps the counters readable and refuses later calls @native @fabric', async function () {
    const ep = SimEndpoint.open({ lid: 5, gid: gidOf(5), mtuCode: 4, pkeys: [0xffff] });
    const qpn = ep.createUdQp({ qkey: QKEY, pkeyIndex: 0 });
    ep.onReceive(() => undefined);
    ep.postSendUd(qpn, { dlid: 5, dqpn: qpn, qkey: QKEY, payload: patterned(4) }); // loops back to itself
    await waitUntil(() => ep.counters().portRcvPkts === 1, () => JSON.stringify(ep.counters()));
    const port = ep.udpPort;
    const closing = ep.close();
    expect(ep.close(), 'close() is idempotent').to.equal(closing);
    await closing;
    // The port is free again: a fresh socket can bind it.
    const s = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.bind(port, '127.0.0.1', () => resolve());
    });
    await new Promise<void>((resolve) => s.close(() => resolve()));
    expect(ep.counters()).to.include({ portXmitPkts: 1, portRcvPkts: 1 });
    expect(() => ep.postSendUd(qpn, { dlid: 5, dqpn: qpn, qkey: QKEY, payload: patterned(4) })).to.throw(StateError, 'closed');
    expect(() => ep.setLid(6)).to.throw(StateError);
    expect(() => ep.onReceive(null)).to.throw(StateError);
  });

  it('lets a process that listened for packets exit once it closed its ports @native @fabric', function () {
    const root = fileURLToPath(new URL('../../', import.meta.url));
    const script = `
      import { SimEndpoint } from './src/fabric/sim/native-endpoint.ts';
      const gid = Buffer.alloc(16, 1);
      const a = SimEndpoint.open({ lid: 1, gid, mtuCode: 4, pkeys: [0xffff] });
      const b = SimEndpoint.open({ lid: 2, gid, mtuCode: 4, pkeys: [0xffff] });
      a.setRoutes([{ lid: 2, udpPort: b.udpPort }], []);
      const qa = a.createUdQp({ qkey: 1, pkeyIndex: 0 });
      const qb = b.createUdQp({ qkey: 1, pkeyIndex: 0 });
      b.onReceive(async (batch) => {
        console.log('got ' + batch[0].payload.toString());
        await a.close();
        await b.close();
      });
      a.postSendUd(qa, { dlid: 2, dqpn: qb, qkey: 1, payload: Buffer.from('ping') });
    `;
    const r = spawnSync(process.execPath, ['--import', 'tsx/esm', '--input-type=module', '-e', script], {
      cwd: root,
      encoding: 'utf8',
      timeout: 15_000,
    });
    expect(r.error, 'no timeout: the process exited by itself').to.equal(undefined);
    expect(r.stdout.trim(), r.stderr).to.equal('got ping');
    expect(r.status, r.stderr).to.equal(0);
  });

  it('does not keep the process alive without a receive callback or after unref() @native @fabric', function () {
    const root = fileURLToPath(new URL('../../', import.meta.url));
    const script = `
      import { SimEndpoint } from './src/fabric/sim/native-endpoint.ts';
      const a = SimEndpoint.open({ lid: 1, gid: Buffer.alloc(16), mtuCode: 4, pkeys: [0xffff] });
      const b = SimEndpoint.open({ lid: 2, gid: Buffer.alloc(16), mtuCode: 4, pkeys: [0xffff] });
      b.onReceive(() => undefined);
      b.unref();
      console.log('open ' + (a.udpPort > 0 && b.udpPort > 0));
    `;
    const r = spawnSync(process.execPath, ['--import', 'tsx/esm', '--input-type=module', '-e', script], {
      cwd: root,
      encoding: 'utf8',
      timeout: 15_000,
    });
    expect(r.error, 'no timeout: the open endpoints did not hold the process').to.equal(undefined);
    expect(r.stdout.trim(), r.stderr).to.equal('open true');
    expect(r.status, r.stderr).to.equal(0);
  });
});

describe('SimEndpoint argument validation @native @fabric', function () {
  /** The ArgumentError `fn` throws, checked to name `argument`. */
  function argError(fn: () => unknown, argument: string): ArgumentError {
    try {
      fn();
    } catch (e) {
      expect(e, String(e)).to.be.instanceOf(ArgumentError);
      expect((e as ArgumentError).argument).to.equal(argument);
      return e as ArgumentError;
    }
    return expect.fail(`expected an ArgumentError about ${argument}`);
  }
  const base = { lid: 1, gid: gidOf(1), mtuCode: 4 as const, pkeys: [0xffff] };

  it('rejects bad open() options, naming the option and the value @native @fabric @pkey', function () {
    expect(argError(() => SimEndpoint.open({ ...base, lid: 0 }), 'o.lid').value).to.equal(0);
    argError(() => SimEndpoint.open({ ...base, lid: 0xc000 }), 'o.lid');
    argError(() => SimEndpoint.open({ ...base, lid: 1.5 }), 'o.lid');
    argError(() => SimEndpoint.open({ ...base, gid: Buffer.alloc(15) }), 'o.gid');
    argError(() => SimEndpoint.open({ ...base, mtuCode: 6 as 5 }), 'o.mtuCode');
    argError(() => SimEndpoint.open({ ...base, pkeys: [] }), 'o.pkeys');
    expect(argError(() => SimEndpoint.open({ ...base, pkeys: [0xffff, 0x10000] }), 'o.pkeys[1]').message).to.match(/o\.pkeys\[1\] must be a 16-bit P_Key, got 65536/);
    argError(() => SimEndpoint.open({ ...base, state: 'up' as 'active' }), 'o.state');
  });

  it('rejects bad QP, route, multicast, send, fault and tap arguments @native @fabric @multicast @mgid @qkey', async function () {
    await withPorts([{ lid: 1 }], async ([a]) => {
      const ep = a!;
      const qpn = ep.createUdQp({ qkey: QKEY, pkeyIndex: 0 });
      argError(() => ep.createUdQp({ qkey: -1, pkeyIndex: 0 }), 'o.qkey');
      argError(() => ep.createUdQp({ qkey: 2 ** 32, pkeyIndex: 0 }), 'o.qkey');
      argError(() => ep.createUdQp({ qkey: 1, pkeyIndex: 1 }), 'o.pkeyIndex');
      argError(() => ep.createUdQp({ qkey: 1, pkeyIndex: 0, qpn: 0xffffff }), 'o.qpn');
      argError(() => ep.createUdQp({ qkey: 1, pkeyIndex: 0, qpn: 0 }), 'o.qpn');
      expect(argError(() => ep.createUdQp({ qkey: 1, pkeyIndex: 0, qpn }), 'o.qpn').message, 'QPN in use').to.include('no QP of this port has');
      argError(() => ep.modifyUdQp(qpn + 1, { qkey: 1 }), 'qpn');
      argError(() => ep.destroyQp(0x777), 'qpn');
      argError(() => ep.setRoutes([{ lid: 0xc001, udpPort: 1 }], []), 'unicast[0].lid');
      argError(() => ep.setRoutes([{ lid: 2, udpPort: 0 }], []), 'unicast[0].udpPort');
      argError(() => ep.setRoutes([], [{ mlid: 5, udpPorts: [] }]), 'multicast[0].mlid');
      argError(() => ep.setRoutes([], [{ mlid: 0xc000, udpPorts: [70000] }]), 'multicast[0].udpPorts[0]');
      argError(() => ep.attachMulticast(qpn, gidOf(1), MLID), 'mgid');
      argError(() => ep.attachMulticast(qpn, BROADCAST_MGID, 0xffff), 'mlid');
      argError(() => ep.attachMulticast(0x999, BROADCAST_MGID, MLID), 'qpn');
      argError(() => ep.detachMulticast(qpn, BROADCAST_MGID, MLID), 'mgid');
      const ok = { dlid: 2, dqpn: 3, qkey: QKEY, payload: patterned(4) };
      argError(() => ep.postSendUd(qpn, { ...ok, dlid: 0 }), 'sends.dlid');
      argError(() => ep.postSendUd(qpn, [ok, { ...ok, dqpn: 0x1000000 }]), 'sends[1].dqpn');
      argError(() => ep.postSendUd(qpn, { ...ok, payload: 'x' as unknown as Buffer }), 'sends.payload');
      argError(() => ep.postSendUd(qpn, { ...ok, sl: 16 }), 'sends.sl');
      argError(() => ep.postSendUd(qpn, { ...ok, pkeyIndex: 1 }), 'sends.pkeyIndex');
      argError(() => ep.postSendUd(qpn, { ...ok, grh: { dgid: Buffer.alloc(4) } }), 'sends.grh.dgid');
      argError(() => ep.postSendUd(qpn, { ...ok, grh: { dgid: BROADCAST_MGID, flowLabel: 0x100000 } }), 'sends.grh.flowLabel');
      argError(() => ep.postSendUd(0x999, ok), 'qpn');
      argError(() => ep.setFaults({ lossRate: 1.5 }), 'o.lossRate');
      argError(() => ep.setFaults({ lossRate: Number.NaN }), 'o.lossRate');
      argError(() => ep.setFaults({ delayMs: -1 }), 'o.delayMs');
      argError(() => ep.setFaults({ seed: 2 ** 32 }), 'o.seed');
      argError(() => ep.setTap(0), 'udpPort');
      argError(() => ep.setTap(5000, { direction: 'sideways' as 'send' }), 'filter.direction');
      argError(() => ep.onReceive('cb' as unknown as null), 'cb');
      expect(ep.counters().portXmitPkts, 'nothing was sent by any rejected call').to.equal(0);
    });
  });

  it('agrees with the addon on the counter names it reports @native @fabric', function () {
    expect(loadNative().simEndpointCounterNames).to.deep.equal([...PORT_COUNTER_NAMES]);
  });
});
