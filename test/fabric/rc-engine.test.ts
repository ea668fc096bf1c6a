/**
 * The RC transport engine (native/src/sim/rc_qp.*) driven through the loop harness: two QPs, a
 * seeded lossy link and a simulated clock (src/fabric/sim/rc-harness.ts). Runs are deterministic,
 * so the exact counts below are derived by hand in the comments and hold for every run.
 */
import { expect } from 'chai';
import {
  RC_LOOP_DEFAULTS,
  RC_LOOP_PKEY,
  RC_LOOP_REQUESTER_QPN,
  RC_LOOP_RESPONDER_QPN,
  RC_QP_CONFIG_DEFAULTS,
  type RcLoopOptions,
  type RcLoopResult,
  type RcQpConfig,
  type RcScriptEvent,
  type RcScriptResult,
  type RcScriptStep,
  resolveRcLoopOptions,
  runRcLoop,
  runRcQpScript,
} from '../../src/fabric/sim/rc-harness.js';
import { loadNative } from '../../src/native/addon.js';
import { type Aeth, aeth, aethProblems, classifySyndrome } from '../../src/wire/aeth.js';
import { type Bth, bth, bthProblems, ethLayoutOf, opcodeName } from '../../src/wire/bth.js';
import { encodeToBuffer } from '../../src/wire/codec.js';
import {
  AETH_LEN,
  BTH_LEN,
  IPOIB_CM_MAX_MESSAGE_BYTES,
  OP_RC_ACK,
  OP_RC_SEND_FIRST,
  OP_RC_SEND_LAST,
  OP_RC_SEND_MIDDLE,
  OP_RC_SEND_ONLY,
  OP_RC_SEND_ONLY_IMM,
} from '../../src/wire/constants.js';

const MTU = 4096;
/** 4.096 us * 2^10, rounded up: the harness's default local ACK timeout. */
const ACK_TIMEOUT_US = 4195;

/** A message of `size` octets whose content depends on `seed` and on the position of every octet. */
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

function messages(count: number, size: number, seed = 0): Buffer[] {
  return Array.from({ length: count }, (_, i) => message(size, seed * 100_000 + i));
}

/** Every message delivered exactly once, intact (byte-compared) and in order; both QPs still in RTS. */
function expectAllDelivered(r: RcLoopResult, sent: readonly Buffer[], context: string): void {
  const where = `${context}: ${JSON.stringify({ errors: r.errors, stats: r.stats })}`;
  expect(r.errors, where).to.deep.equal([]);
  expect(r.sendStatus, where).to.deep.equal(sent.map(() => 'success'));
  expect(r.delivered.length, where).to.equal(sent.length);
  expect(r.deliveredCount, where).to.equal(sent.length);
  sent.forEach((m, i) => {
    const got = r.delivered[i];
    expect(got?.length, `${context}: length of message ${i}`).to.equal(m.length);
    expect(got?.equals(m), `${context}: bytes of message ${i}`).to.equal(true);
  });
  expect(r.deliveredInOrder, where).to.equal(true);
  expect(r.recvStatus, where).to.deep.equal(sent.map(() => 'success'));
  expect([r.requesterState, r.responderState], where).to.deep.equal(['RTS', 'RTS']);
  expect(r.stats.ghostAcks, `${context}: ACK/NAKs about PSNs never sent`).to.equal(0);
}

/** A recorded packet with its headers decoded by the TypeScript codecs. */
interface Seen {
  from: 'requester' | 'responder';
  fate: string;
  timeUs: number;
  bth: Bth;
  aeth: Aeth | undefined;
  name: string;
  payloadBytes: number;
}

function seen(r: RcLoopResult): Seen[] {
  return r.packets.map((p) => {
    const head = bth.decode(p.headers, 0);
    const layout = ethLayoutOf(head.value.opcode);
    expect(layout, `layout of OpCode ${head.value.opcode}`).to.not.equal(undefined);
    expect(p.headers.length, 'recorded header octets').to.equal(BTH_LEN + (layout?.aeth === true ? AETH_LEN : 0));
    return {
      from: p.from,
      fate: p.fate,
      timeUs: p.timeUs,
      bth: head.value,
      aeth: layout?.aeth === true ? aeth.decode(p.headers, head.bytes).value : undefined,
      name: opcodeName(head.value.opcode),
      payloadBytes: p.payloadBytes,
    };
  });
}

const requests = (r: RcLoopResult): Seen[] => seen(r).filter((p) => p.from === 'requester');
const responses = (r: RcLoopResult): Seen[] => seen(r).filter((p) => p.from === 'responder');

/** 'FIRST', 14 x 'MIDDLE', 'LAST': the names of a 16-packet message. */
function sixteenPacketNames(): string[] {
  return ['RC_SEND_FIRST', ...Array<string>(14).fill('RC_SEND_MIDDLE'), 'RC_SEND_LAST'];
}

function run(sent: readonly Buffer[], options: RcLoopOptions = {}): RcLoopResult {
  return runRcLoop(sent, options);
}

describe('RC engine over the loop harness @rc @fabric', function () {
  describe('delivery of 65,524-octet messages through a 4096-octet MTU @rc @fabric @mtu', function () {
    it('arrives intact and in order at 0 % loss with no retransmission, NAK or timeout @rc @fabric', function () {
      const sent = messages(32, IPOIB_CM_MAX_MESSAGE_BYTES);
      const r = run(sent, { mtuBytes: MTU });
      expectAllDelivered(r, sent, '0 % loss');
      // 16 packets per message, each sent once; the A bit on packets 8 and 16 of each message
      // (every 8 packets, and the last) gives exactly two ACKs per message.
      expect(r.stats.packetsSent).to.equal(32 * 16);
      expect(r.stats.retransmissions).to.equal(0);
      expect(r.stats.naks).to.equal(0);
      expect(r.stats.timeouts).to.equal(0);
      expect(r.stats.acks).to.equal(32 * 2);
      expect(r.stats.linkLost).to.equal(0);
    });

    for (const seed of [1, 2, 3, 4]) {
      it(`arrives intact and in order at 1 % loss, seed ${seed} @rc @fabric`, function () {
        const sent = messages(64, IPOIB_CM_MAX_MESSAGE_BYTES, seed);
        const r = run(sent, { mtuBytes: MTU, lossRate: 0.01, seed });
        expectAllDelivered(r, sent, `1 % loss, seed ${seed}`);
        expect(r.stats.linkLost, 'the link lost packets').to.be.greaterThan(0);
        expect(r.stats.retransmissions, 'lost packets were sent again').to.be.greaterThan(0);
        expect(r.stats.naks, 'gaps were NAKed').to.be.greaterThan(0);
      });
    }

    for (const seed of [5, 6]) {
      it(`arrives intact and in order at 10 % loss, seed ${seed} @rc @fabric`, function () {
        const sent = messages(48, IPOIB_CM_MAX_MESSAGE_BYTES, seed);
        const r = run(sent, { mtuBytes: MTU, lossRate: 0.1, seed });
        expectAllDelivered(r, sent, `10 % loss, seed ${seed}`);
        expect(r.stats.linkLost).to.be.greaterThan(0);
        expect(r.stats.retransmissions).to.be.greaterThan(0);
      });
    }

    it('arrives exactly once under 5 % duplication and 5 % reordering without loss @rc @fabric', function () {
      const sent = messages(48, IPOIB_CM_MAX_MESSAGE_BYTES, 7);
      const r = run(sent, { mtuBytes: MTU, duplicateRate: 0.05, reorderRate: 0.05, seed: 7 });
      expectAllDelivered(r, sent, 'duplication and reordering');
      expect(r.stats.linkDuplicated).to.be.greaterThan(0);
      expect(r.stats.linkReordered).to.be.greaterThan(0);
      expect(r.stats.duplicatesReceived, 'copies reached the responder').to.be.greaterThan(0);
      expect(r.stats.linkLost).to.equal(0);
    });

    for (const seed of [8, 9, 10]) {
      it(`arrives exactly once under 3 % loss, 3 % duplication and 5 % reordering, seed ${seed} @rc @fabric`, function () {
        const sent = messages(48, IPOIB_CM_MAX_MESSAGE_BYTES, seed);
        const r = run(sent, { mtuBytes: MTU, lossRate: 0.03, duplicateRate: 0.03, reorderRate: 0.05, seed });
        expectAllDelivered(r, sent, `mixed faults, seed ${seed}`);
        expect(r.stats.linkLost).to.be.greaterThan(0);
        expect(r.stats.linkDuplicated).to.be.greaterThan(0);
        expect(r.stats.linkReordered).to.be.greaterThan(0);
      });
    }

    it('is deterministic: equal seeds give equal runs, another seed another loss pattern @rc @fabric', function () {
      const sent = messages(16, IPOIB_CM_MAX_MESSAGE_BYTES, 11);
      const a = run(sent, { lossRate: 0.05, seed: 42 });
      const b = run(sent, { lossRate: 0.05, seed: 42 });
      const c = run(sent, { lossRate: 0.05, seed: 43 });
      expect(b.stats).to.deep.equal(a.stats);
      expect(c.stats).to.not.deep.equal(a.stats);
      expectAllDelivered(c, sent, 'seed 43');
    });
  });

  describe('other sizes and path MTUs @rc @fabric', function () {
    for (const mtuBytes of [256, 512, 1024, 2048, 4096]) {
      it(`delivers messages of 0 to 3 MTUs + 1 octets at a ${mtuBytes}-octet MTU and 2 % loss @rc @fabric @mtu`, function () {
        const sizes = [0, 1, 3, mtuBytes - 1, mtuBytes, mtuBytes + 1, 2 * mtuBytes, 3 * mtuBytes + 1, 777];
        const sent = sizes.flatMap((size, i) => [message(size, i), message(size, i + 50)]);
        const r = run(sent, { mtuBytes, lossRate: 0.02, seed: mtuBytes });
        expectAllDelivered(r, sent, `MTU ${mtuBytes}`);
      });
    }

    it('keeps going with a send window of 4 packets (the A bit on every window-filling packet) @rc @fabric', function () {
      const sent = messages(4, IPOIB_CM_MAX_MESSAGE_BYTES, 12);
      const r = run(sent, { sendWindowPackets: 4 });
      expectAllDelivered(r, sent, 'window 4');
      // Every 4th packet fills the window and asks for an ACK: 16 / 4 = 4 ACKs per message.
      expect(r.stats.acks).to.equal(4 * 4);
    });

    it('keeps at most sendQueueDepth messages posted: with 1, each waits for the ACK of the one before @rc @fabric', function () {
      const sent = messages(3, 100, 14);
      const r = run(sent, { sendQueueDepth: 1, recordPackets: 10 });
      expectAllDelivered(r, sent, 'sendQueueDepth 1');
      // Each SEND ONLY goes out when the previous ACK comes back: 2 us there, 2 us back.
      expect(requests(r).map((p) => p.timeUs)).to.deep.equal([0, 4, 8]);
      const all = run(sent, { recordPackets: 10 });
      expect(requests(all).map((p) => p.timeUs)).to.deep.equal([0, 0, 0]);
    });

    it('posts message i no earlier than i * postSpacingUs @rc @fabric', function () {
      const sent = messages(3, 100, 15);
      const r = run(sent, { postSpacingUs: 100, recordPackets: 10 });
      expectAllDelivered(r, sent, 'postSpacingUs 100');
      expect(requests(r).map((p) => p.timeUs)).to.deep.equal([0, 100, 200]);
    });

    it('asks for an ACK every ackReqEveryPackets packets and on each last packet @rc @fabric', function () {
      const sent = messages(2, 5 * MTU + 10, 13); // 6 packets each
      const r = run(sent, { ackReqEveryPackets: 4, recordPackets: 100 });
      expectAllDelivered(r, sent, 'ackReqEveryPackets 4');
      // Packets 0-11: the counter restarts after each A bit, so A is set on PSNs 3 (4th), 5 (last),
      // 9 (4th after 5), 11 (last).
      expect(
        requests(r)
          .filter((p) => p.bth.ackReq)
          .map((p) => p.bth.psn),
      ).to.deep.equal([3, 5, 9, 11]);
      expect(responses(r).map((p) => p.bth.psn)).to.deep.equal([3, 5, 9, 11]);
    });
  });

  describe('segmentation by the path MTU (BTH decoded with src/wire/bth.ts) @rc @fabric @ib @mtu', function () {
    it('sends a 65,524-octet message as FIRST, 14 MIDDLE and LAST with consecutive PSNs @rc @fabric @ib', function () {
      const sent = [message(IPOIB_CM_MAX_MESSAGE_BYTES, 1)];
      const r = run(sent, { startPsn: 100, recordPackets: 100 });
      expectAllDelivered(r, sent, 'one message');
      const req = requests(r);
      expect(req.map((p) => p.name)).to.deep.equal(sixteenPacketNames());
      expect(req.map((p) => p.bth.opcode)).to.deep.equal([
        OP_RC_SEND_FIRST,
        ...Array<number>(14).fill(OP_RC_SEND_MIDDLE),
        OP_RC_SEND_LAST,
      ]);
      expect(req.map((p) => p.bth.psn)).to.deep.equal(Array.from({ length: 16 }, (_, i) => 100 + i));
      // 15 full packets of 4096 and a last one of 65524 - 15 * 4096 = 4084 octets (a multiple of 4: no pad).
      expect(req.map((p) => p.payloadBytes)).to.deep.equal([...Array<number>(15).fill(4096), 4084]);
      expect(req.map((p) => p.bth.padCnt)).to.deep.equal(Array<number>(16).fill(0));
      expect(req.filter((p) => p.bth.ackReq).map((p) => p.bth.psn)).to.deep.equal([107, 115]);
      for (const p of req) {
        expect(p.bth.destQp).to.equal(RC_LOOP_RESPONDER_QPN);
        expect(p.bth.pKey).to.equal(RC_LOOP_PKEY);
        expect(bthProblems(p.bth)).to.deep.equal([]);
      }
    });

    it('sends a message of at most one MTU as a single SEND ONLY, padded to 4 octets @rc @fabric @ib @mtu', function () {
      const sizes = [1, 2, 3, 4, 4095, 4096];
      const sent = sizes.map((size, i) => message(size, i));
      const r = run(sent, { recordPackets: 100 });
      expectAllDelivered(r, sent, 'single-packet messages');
      const req = requests(r);
      expect(req.map((p) => p.bth.opcode)).to.deep.equal(Array<number>(sizes.length).fill(OP_RC_SEND_ONLY));
      expect(req.map((p) => p.name)).to.deep.equal(Array<string>(sizes.length).fill('RC_SEND_ONLY'));
      expect(req.map((p) => p.payloadBytes)).to.deep.equal(sizes);
      expect(req.map((p) => p.bth.padCnt)).to.deep.equal([3, 2, 1, 0, 1, 0]);
    });

    it('sends 4097 octets as FIRST of 4096 and LAST of 1 (padded by 3) @rc @fabric @ib', function () {
      const sent = [message(MTU + 1, 3)];
      const r = run(sent, { recordPackets: 10 });
      expectAllDelivered(r, sent, '4097 octets');
      const req = requests(r);
      expect(req.map((p) => [p.name, p.payloadBytes, p.bth.padCnt])).to.deep.equal([
        ['RC_SEND_FIRST', 4096, 0],
        ['RC_SEND_LAST', 1, 3],
      ]);
    });

    it('sends a 0-octet message as one SEND ONLY without payload and delivers it empty @rc @fabric @ib', function () {
      const sent = [Buffer.alloc(0), message(10, 1), Buffer.alloc(0)];
      const r = run(sent, { recordPackets: 10 });
      expectAllDelivered(r, sent, 'empty messages');
      expect(r.delivered.map((b) => b.length)).to.deep.equal([0, 10, 0]);
      const req = requests(r);
      expect(req.map((p) => [p.name, p.payloadBytes, p.bth.padCnt, p.bth.ackReq])).to.deep.equal([
        ['RC_SEND_ONLY', 0, 0, true],
        ['RC_SEND_ONLY', 10, 2, true],
        ['RC_SEND_ONLY', 0, 0, true],
      ]);
    });
  });

  describe('PSN wrap around 0xFFFFFF @rc @fabric', function () {
    it('numbers a message across the wrap and ACKs by the wrapped PSNs @rc @fabric', function () {
      const sent = [message(IPOIB_CM_MAX_MESSAGE_BYTES, 5)];
      const r = run(sent, { startPsn: 0xfffff8, recordPackets: 100, duplicatePsns: [0xfffffe] });
      expectAllDelivered(r, sent, 'wrap');
      const psns = [
        0xfffff8, 0xfffff9, 0xfffffa, 0xfffffb, 0xfffffc, 0xfffffd, 0xfffffe, 0xffffff, 0, 1, 2, 3, 4, 5, 6, 7,
      ];
      expect(requests(r).map((p) => p.bth.psn)).to.deep.equal(psns);
      // A on the 8th packet (0xFFFFFF) and the last (7). The copy of 0xFFFFFE arrives 1 us after
      // the burst, when the responder expects 8: it is behind across the wrap, so it is re-ACKed
      // with 8 - 1 = 7, not taken for a packet 2^24 - 10 ahead.
      expect(responses(r).map((p) => [p.name, p.bth.psn])).to.deep.equal([
        ['RC_ACKNOWLEDGE', 0xffffff],
        ['RC_ACKNOWLEDGE', 7],
        ['RC_ACKNOWLEDGE', 7],
      ]);
      expect(r.stats.duplicatesReceived).to.equal(1);
    });

    for (const seed of [1, 2, 3]) {
      it(`delivers 64 messages started 256 PSNs before the wrap at 2 % loss, seed ${seed} @rc @fabric`, function () {
        const sent = messages(64, IPOIB_CM_MAX_MESSAGE_BYTES, 20 + seed);
        const r = run(sent, { startPsn: 0xffff00, lossRate: 0.02, seed });
        expectAllDelivered(r, sent, `wrap at 2 % loss, seed ${seed}`);
        expect(r.stats.retransmissions).to.be.greaterThan(0);
      });
    }
  });

  describe('duplicates and gaps @rc @fabric', function () {
    it('re-ACKs a duplicated packet and does not deliver its message twice @rc @fabric', function () {
      const sent = messages(2, IPOIB_CM_MAX_MESSAGE_BYTES, 30);
      const r = run(sent, { duplicatePsns: [5], recordPackets: 100 });
      expectAllDelivered(r, sent, 'one duplicate');
      expect(r.stats.duplicatesReceived).to.equal(1);
      // PSNs 0-31 arrive together at t = 2 us and are ACKed at 7, 15 (end of message 1, MSN 1), 23
      // and 31 (MSN 2); the copy of PSN 5 arrives at t = 3 us and is re-ACKed cumulatively with 31.
      expect(responses(r).map((p) => [p.bth.psn, p.aeth?.msn, p.timeUs])).to.deep.equal([
        [7, 0, 2],
        [15, 1, 2],
        [23, 1, 2],
        [31, 2, 2],
        [31, 2, 3],
      ]);
      expect(r.stats.acks).to.equal(5);
      expect(r.recvStatus).to.deep.equal(['success', 'success']);
    });

    it('re-ACKs a duplicated last packet without a second receive completion @rc @fabric', function () {
      const sent = [message(3 * MTU, 31)];
      const r = run(sent, { duplicatePsns: [2] });
      expectAllDelivered(r, sent, 'duplicate LAST');
      expect(r.stats.duplicatesReceived).to.equal(1);
      expect(r.recvStatus).to.deep.equal(['success']);
    });

    it('answers a gap with exactly one PSN sequence error NAK, then the requester goes back to its PSN @rc @fabric', function () {
      const sent = [message(IPOIB_CM_MAX_MESSAGE_BYTES, 32)];
      const r = run(sent, { dropPsns: [3], recordPackets: 100 });
      expectAllDelivered(r, sent, 'one gap');
      // t = 0: PSNs 0-15 sent, 3 lost. t = 2: 0-2 taken, 4 opens the gap (one NAK naming 3), 5-15
      // dropped quietly (12 out of sequence). t = 4: go-back-N resends 3-15 (13 packets, A on 10
      // and on the last, 15). t = 6: both ACKed.
      const resp = responses(r);
      expect(resp.map((p) => [p.name, p.bth.psn, p.aeth?.msn, p.timeUs])).to.deep.equal([
        ['RC_ACKNOWLEDGE', 3, 0, 2],
        ['RC_ACKNOWLEDGE', 10, 0, 6],
        ['RC_ACKNOWLEDGE', 15, 1, 6],
      ]);
      const nak = classifySyndrome(resp[0]?.aeth?.syndrome ?? -1);
      expect(nak).to.deep.equal({ kind: 'nak', code: 0, name: 'psn-sequence-error', reservedBit: false });
      expect(r.stats.naks).to.equal(1);
      expect(r.stats.outOfSequenceDropped).to.equal(12);
      expect(r.stats.retransmissions).to.equal(13);
      expect(r.stats.packetsSent).to.equal(29);
      const resent = requests(r).filter((p) => p.timeUs === 4);
      expect(resent.map((p) => p.bth.psn)).to.deep.equal(Array.from({ length: 13 }, (_, i) => 3 + i));
      expect(resent[0]?.name).to.equal('RC_SEND_MIDDLE');
      expect(
        requests(r)
          .filter((p) => p.fate === 'lost')
          .map((p) => p.bth.psn),
      ).to.deep.equal([3]);
      expect(r.stats.timeouts).to.equal(0);
    });

    it('sends one NAK per gap: two gaps in two messages, two NAKs @rc @fabric', function () {
      const sent = messages(2, IPOIB_CM_MAX_MESSAGE_BYTES, 33);
      const r = run(sent, { dropPsns: [3, 20], postSpacingUs: 1000, recordPackets: 200 });
      expectAllDelivered(r, sent, 'two gaps');
      expect(r.stats.naks).to.equal(2);
      const naks = responses(r).filter((p) => classifySyndrome(p.aeth?.syndrome ?? 0).kind === 'nak');
      expect(naks.map((p) => p.bth.psn)).to.deep.equal([3, 20]);
    });

    it('recovers by the ACK timer when the resent NAKed packet is lost as well (one NAK per gap) @rc @fabric', function () {
      const sent = [message(IPOIB_CM_MAX_MESSAGE_BYTES, 34)];
      const r = run(sent, { dropPsns: [3, 3], recordPackets: 100 });
      expectAllDelivered(r, sent, 'gap lost twice');
      // t = 2: NAK for 3, 4-15 dropped. t = 4: 3-15 resent, 3 lost again; t = 6: 4-15 dropped
      // quietly (the gap was NAKed already). t = 4 + 4195: the ACK timer resends 3-15; ACKs at 10, 15.
      expect(r.stats.naks).to.equal(1);
      expect(r.stats.timeouts).to.equal(1);
      expect(r.stats.outOfSequenceDropped).to.equal(24);
      expect(r.stats.retransmissions).to.equal(26);
      expect(r.stats.packetsSent).to.equal(42);
      expect(r.stats.simulatedTimeUs).to.equal(4 + ACK_TIMEOUT_US + 4);
      expect(responses(r).map((p) => [p.bth.psn, p.timeUs])).to.deep.equal([
        [3, 2],
        [10, 4 + ACK_TIMEOUT_US + 2],
        [15, 4 + ACK_TIMEOUT_US + 2],
      ]);
    });
  });

  describe('retry exhaustion @rc @fabric', function () {
    it('ends in retry-exceeded after retryCount + 1 timeouts at 100 % loss; the QP is in ERROR and later sends are flushed @rc @fabric', function () {
      const sent = messages(3, IPOIB_CM_MAX_MESSAGE_BYTES, 40);
      const r = run(sent, { lossRate: 1, retryCount: 3, postSpacingUs: 100_000 });
      // Timeouts at 1, 2, 3 and 4 x 4195 us; the first three resend all 16 packets, the fourth
      // finds no retry left. Messages 2 and 3 are posted at 100 ms and 200 ms, after the error.
      expect(r.sendStatus).to.deep.equal(['retry-exceeded', 'flushed', 'flushed']);
      expect(r.stats.timeouts).to.equal(4);
      expect(r.stats.packetsSent).to.equal(4 * 16);
      expect(r.stats.retransmissions).to.equal(3 * 16);
      expect(r.requesterState).to.equal('ERROR');
      expect(r.responderState).to.equal('RTS');
      expect(r.deliveredCount).to.equal(0);
      expect(r.errors).to.have.length(1);
      expect(r.errors[0]).to.match(/^requester: RTS -> ERROR \(retry-exceeded: no ACK for PSN 0 after 3 retries\)$/);
      expect(r.stats.simulatedTimeUs).to.equal(200_000);
    });

    it('with retryCount 0 gives up at the first timeout and flushes the queued sends @rc @fabric', function () {
      const sent = messages(3, 100, 41);
      const r = run(sent, { lossRate: 1, retryCount: 0 });
      expect(r.sendStatus).to.deep.equal(['retry-exceeded', 'flushed', 'flushed']);
      expect(r.stats.timeouts).to.equal(1);
      expect(r.stats.retransmissions).to.equal(0);
      expect(r.stats.simulatedTimeUs).to.equal(ACK_TIMEOUT_US);
    });

    it('reports a stall instead of hanging when the ACK timer is disabled (timeoutExp 0) and all is lost @rc @fabric', function () {
      const r = run([message(10, 1)], { lossRate: 1, timeoutExp: 0 });
      expect(r.sendStatus).to.deep.equal([null]);
      expect(r.errors).to.have.length(1);
      expect(r.errors[0]).to.match(/^harness: stalled with 1 sends incomplete/);
    });
  });

  describe('receiver not ready (RNR) @rc @fabric', function () {
    it('answers a message without a receive buffer with RNR NAKs, then delivers once a buffer is posted @rc @fabric', function () {
      const sent = [message(IPOIB_CM_MAX_MESSAGE_BYTES, 50)];
      const r = run(sent, { recvPostDelayUs: 1000, minRnrTimer: 4, recordPackets: 1000 });
      expectAllDelivered(r, sent, 'late buffer');
      // Timer code 4 = 40 us. The FIRST reaches the responder at 2 + 44k us (2 us link, 40 us
      // wait, 2 us back) and is refused until the buffers appear at 1000 us: k = 0..22, 23 RNR NAKs.
      expect(r.stats.rnrNaks).to.equal(23);
      expect(r.stats.naks, 'the rest of each burst is dropped quietly, not NAKed').to.equal(0);
      const rnr = responses(r).filter((p) => classifySyndrome(p.aeth?.syndrome ?? 0).kind === 'rnr-nak');
      expect(rnr).to.have.length(23);
      for (const p of rnr) {
        expect(p.bth.psn).to.equal(0);
        expect(p.aeth?.msn).to.equal(0);
        expect(classifySyndrome(p.aeth?.syndrome ?? 0)).to.deep.equal({
          kind: 'rnr-nak',
          timerCode: 4,
          timerUsec: 40,
          reservedBit: false,
        });
      }
      expect(r.stats.simulatedTimeUs).to.be.at.least(1000);
    });

    it('waits 655.36 ms for RNR timer code 0 @rc @fabric', function () {
      const sent = [message(100, 51)];
      const r = run(sent, { recvPostDelayUs: 10, minRnrTimer: 0 });
      expectAllDelivered(r, sent, 'timer code 0');
      expect(r.stats.rnrNaks).to.equal(1);
      // RNR NAK back at 4 us, resent at 4 + 655360 us, ACK back 4 us later.
      expect(r.stats.simulatedTimeUs).to.equal(4 + 655_360 + 4);
    });

    it('ends in rnr-retry-exceeded when rnrRetry runs out; the other sends are flushed @rc @fabric', function () {
      const sent = messages(2, 100, 52);
      const r = run(sent, { recvPostDelayUs: 1_000_000, rnrRetry: 2 });
      // Two retries after the first RNR NAK; the third RNR NAK finds none left.
      expect(r.stats.rnrNaks).to.equal(3);
      expect(r.sendStatus).to.deep.equal(['rnr-retry-exceeded', 'flushed']);
      expect(r.requesterState).to.equal('ERROR');
      expect(r.errors).to.have.length(1);
      expect(r.errors[0]).to.match(/^requester: RTS -> ERROR \(rnr-retry-exceeded: /);
      expect(r.deliveredCount).to.equal(0);
    });

    it('treats the first RNR NAK as fatal with rnrRetry 0 @rc @fabric', function () {
      const r = run([message(100, 53)], { recvPostDelayUs: 1_000_000, rnrRetry: 0 });
      expect(r.stats.rnrNaks).to.equal(1);
      expect(r.sendStatus).to.deep.equal(['rnr-retry-exceeded']);
    });

    it('retries forever with rnrRetry 7 @rc @fabric', function () {
      const sent = [message(100, 54)];
      const r = run(sent, { recvPostDelayUs: 50_000, rnrRetry: 7, minRnrTimer: 1 });
      expectAllDelivered(r, sent, 'rnrRetry 7');
      expect(r.stats.rnrNaks).to.be.greaterThan(7);
    });
  });

  describe('messages longer than the receive buffer @rc @fabric', function () {
    it('get NAK invalid request: local-length-error at the responder, remote-invalid-request at the requester, both in ERROR @rc @fabric', function () {
      const sent = [message(10_000, 60), message(100, 61)];
      const r = run(sent, { recvBufferBytes: 8192, recvQueueDepth: 4, recordPackets: 100 });
      // PSNs 0 and 1 fill the 8192-octet buffer; the LAST (PSN 2, 1808 octets) does not fit.
      expect(r.sendStatus).to.deep.equal(['remote-invalid-request', 'flushed']);
      expect(r.recvStatus).to.deep.equal(['local-length-error', 'flushed', 'flushed', 'flushed']);
      expect([r.requesterState, r.responderState]).to.deep.equal(['ERROR', 'ERROR']);
      expect(r.stats.invalidRequestNaks).to.equal(1);
      expect(r.deliveredCount).to.equal(0);
      const nak = responses(r)[0];
      expect(nak?.bth.psn).to.equal(2);
      expect(classifySyndrome(nak?.aeth?.syndrome ?? 0)).to.deep.equal({
        kind: 'nak',
        code: 1,
        name: 'invalid-request',
        reservedBit: false,
      });
      expect(r.errors).to.deep.equal([
        'responder: RTS -> ERROR (local-length-error: message longer than the 8192-octet receive buffer (PSN 2))',
        'requester: RTS -> ERROR (remote-invalid-request: NAK invalid request for PSN 2)',
      ]);
    });

    it('fit exactly when the buffer is as long as the message @rc @fabric', function () {
      const sent = [message(10_000, 62)];
      const r = run(sent, { recvBufferBytes: 10_000 });
      expectAllDelivered(r, sent, 'exact fit');
    });
  });

  describe('InfiniBand headers of emitted packets decode with src/wire/bth.ts and aeth.ts @rc @fabric @ib', function () {
    it('gives the requests RC SEND OpCode names and the ACKs RC_ACKNOWLEDGE with credit code 31 and the MSN @rc @fabric @ib', function () {
      const sent = messages(3, 2 * MTU + 809, 70); // 3 packets each, LAST of 809 octets (pad 3)
      const r = run(sent, { recordPackets: 100 });
      expectAllDelivered(r, sent, 'decode');
      const req = requests(r);
      const names = ['RC_SEND_FIRST', 'RC_SEND_MIDDLE', 'RC_SEND_LAST'];
      expect(req.map((p) => p.name)).to.deep.equal([...names, ...names, ...names]);
      expect(req.map((p) => p.bth.psn)).to.deep.equal([0, 1, 2, 3, 4, 5, 6, 7, 8]);
      expect(req.map((p) => p.bth.padCnt)).to.deep.equal([0, 0, 3, 0, 0, 3, 0, 0, 3]);
      for (const p of req) {
        expect(p.aeth, 'requests carry no AETH').to.equal(undefined);
        expect(bthProblems(p.bth)).to.deep.equal([]);
        expect([p.bth.tVer, p.bth.migReq, p.bth.se, p.bth.resv8a, p.bth.resv7]).to.deep.equal([0, false, false, 0, 0]);
      }
      const resp = responses(r);
      // Only the LAST packets ask (3 packets per message, fewer than 8): one ACK per message.
      expect(resp.map((p) => [p.bth.opcode, p.name, p.bth.psn, p.aeth?.msn])).to.deep.equal([
        [OP_RC_ACK, 'RC_ACKNOWLEDGE', 2, 1],
        [OP_RC_ACK, 'RC_ACKNOWLEDGE', 5, 2],
        [OP_RC_ACK, 'RC_ACKNOWLEDGE', 8, 3],
      ]);
      for (const p of resp) {
        expect(p.bth.destQp).to.equal(RC_LOOP_REQUESTER_QPN);
        expect(p.bth.pKey).to.equal(RC_LOOP_PKEY);
        expect(p.payloadBytes).to.equal(0);
        expect(p.aeth?.syndrome).to.equal(0x1f);
        expect(aethProblems(p.aeth ?? { syndrome: 0xff, msn: 0 })).to.deep.equal([]);
        expect(classifySyndrome(p.aeth?.syndrome ?? 0)).to.deep.equal({
          kind: 'ack',
          creditCode: 31,
          credits: null,
          reservedBit: false,
        });
        expect(bthProblems(p.bth)).to.deep.equal([]);
      }
    });

    it('records lost packets with fate "lost" and their copies with fate "duplicated" @rc @fabric @ib', function () {
      const sent = [message(3 * MTU, 71)];
      const r = run(sent, { dropPsns: [1], duplicatePsns: [2], recordPackets: 100 });
      expectAllDelivered(r, sent, 'fates');
      const first = requests(r).slice(0, 3);
      expect(first.map((p) => [p.bth.psn, p.fate])).to.deep.equal([
        [0, 'delivered'],
        [1, 'lost'],
        [2, 'duplicated'],
      ]);
    });
  });

  describe('argument checks of runRcLoop @rc @fabric', function () {
    it('fills every option from RC_LOOP_DEFAULTS @rc @fabric', function () {
      expect(resolveRcLoopOptions()).to.deep.equal(RC_LOOP_DEFAULTS);
      expect(resolveRcLoopOptions({ lossRate: 0.5 })).to.deep.equal({ ...RC_LOOP_DEFAULTS, lossRate: 0.5 });
    });

    it('rejects an unknown option with a TypeError naming it @rc @fabric', function () {
      expect(() => runRcLoop([], { lossrate: 0.1 } as unknown as RcLoopOptions)).to.throw(
        TypeError,
        'runRcLoop: unknown option "lossrate"',
      );
      // Names inherited from Object.prototype are not options either.
      expect(() => runRcLoop([], { toString: 1 } as unknown as RcLoopOptions)).to.throw(
        TypeError,
        'unknown option "toString"',
      );
    });

    const bad: Array<[string, RcLoopOptions, ErrorConstructor, RegExp]> = [
      ['a loss rate above 1', { lossRate: 1.5 }, RangeError, /options\.lossRate must be from 0 to 1, got 1\.5/],
      ['a negative duplication rate', { duplicateRate: -0.1 }, RangeError, /options\.duplicateRate/],
      ['a NaN reordering rate', { reorderRate: Number.NaN }, RangeError, /options\.reorderRate/],
      [
        'an MTU that is not 256, 512, 1024, 2048 or 4096 @mtu',
        { mtuBytes: 3000 },
        RangeError,
        /mtuBytes must be one of 256, 512, 1024, 2048, 4096, got 3000/,
      ],
      ['a negative seed', { seed: -1 }, RangeError, /options\.seed must be an integer from 0 to 4294967295, got -1/],
      ['a fractional latency', { latencyUs: 1.5 }, RangeError, /options\.latencyUs/],
      [
        'a start PSN over 24 bits',
        { startPsn: 0x1000000 },
        RangeError,
        /options\.startPsn must be an integer from 0 to 16777215/,
      ],
      [
        'a retry count of 8',
        { retryCount: 8 },
        RangeError,
        /options\.retryCount must be an integer from 0 to 7, got 8/,
      ],
      ['an RNR retry of 8', { rnrRetry: 8 }, RangeError, /options\.rnrRetry/],
      ['a timeout exponent of 32', { timeoutExp: 32 }, RangeError, /options\.timeoutExp/],
      ['an RNR timer code of 32', { minRnrTimer: 32 }, RangeError, /options\.minRnrTimer/],
      ['a receive queue depth of 0', { recvQueueDepth: 0 }, RangeError, /options\.recvQueueDepth/],
      ['a send window of 0', { sendWindowPackets: 0 }, RangeError, /options\.sendWindowPackets/],
      ['an ACK request interval of 0', { ackReqEveryPackets: 0 }, RangeError, /options\.ackReqEveryPackets/],
      [
        'a string where a number belongs',
        { seed: '1' as unknown as number },
        TypeError,
        /options\.seed must be a number, got string/,
      ],
      [
        'a drop list that is not an array',
        { dropPsns: 3 as unknown as number[] },
        TypeError,
        /options\.dropPsns must be an array/,
      ],
      ['a drop PSN over 24 bits', { dropPsns: [0x1000000] }, RangeError, /options\.dropPsns\[0\]/],
      ['a duplicate PSN that is negative', { duplicatePsns: [1, -1] }, RangeError, /options\.duplicatePsns\[1\]/],
      [
        'a non-boolean collectDelivered',
        { collectDelivered: 1 as unknown as boolean },
        TypeError,
        /collectDelivered must be a boolean/,
      ],
      ['a zero time limit', { maxSimTimeUs: 0 }, RangeError, /options\.maxSimTimeUs/],
      ['a send queue depth of 0', { sendQueueDepth: 0 }, RangeError, /^runRcLoop: options\.sendQueueDepth must be an/],
    ];
    for (const [what, options, type, message] of bad) {
      it(`rejects ${what} @rc @fabric`, function () {
        expect(() => runRcLoop([Buffer.alloc(1)], options)).to.throw(type, message);
      });
    }

    it('rejects messages that are not Buffers or Uint8Arrays @rc @fabric', function () {
      expect(() => runRcLoop('abc' as unknown as Buffer[])).to.throw(TypeError, /messages must be an array/);
      expect(() => runRcLoop([Buffer.alloc(1), 'x' as unknown as Buffer])).to.throw(
        TypeError,
        /messages\[1\] must be a Buffer or Uint8Array, got string/,
      );
      expect(() => runRcLoop([new Uint16Array(2) as unknown as Uint8Array])).to.throw(TypeError, /messages\[0\]/);
    });

    it('rejects messages whose packets exceed the PSN budget, before allocating anything @rc @fabric', function () {
      // A Uint8Array that claims 2^31 octets: 2^23 packets at a 256-octet MTU.
      const huge = Object.create(Uint8Array.prototype, { length: { value: 2 ** 31 } }) as Uint8Array;
      expect(() => runRcLoop([huge], { mtuBytes: 256 })).to.throw(
        RangeError,
        /make 8388608 packets at a 256-octet MTU/,
      );
    });

    it('accepts Uint8Array messages as well as Buffers, and delivers Buffers @rc @fabric', function () {
      const sent = [new Uint8Array([1, 2, 3, 4, 5])];
      const r = runRcLoop(sent);
      expect(r.delivered).to.have.length(1);
      expect(Buffer.isBuffer(r.delivered[0])).to.equal(true);
      expect([...(r.delivered[0] ?? [])]).to.deep.equal([1, 2, 3, 4, 5]);
    });

    it('returns no message bytes with collectDelivered false but still compares them @rc @fabric', function () {
      const sent = messages(4, 5000, 80);
      const r = runRcLoop(sent, { collectDelivered: false, lossRate: 0.05, seed: 3 });
      expect(r.delivered).to.deep.equal([]);
      expect(r.deliveredCount).to.equal(4);
      expect(r.deliveredBytes).to.equal(4 * 5000);
      expect(r.deliveredInOrder).to.equal(true);
    });

    it('has a native side that requires every option and names the missing one @rc @fabric @native', function () {
      const native = loadNative();
      expect(() => native.rcLoopRun([], {} as unknown as ReturnType<typeof resolveRcLoopOptions>)).to.throw(
        TypeError,
        'rcLoopRun: options.mtuBytes is missing',
      );
      const { collectDelivered: _omit, ...withoutLast } = resolveRcLoopOptions();
      expect(() => native.rcLoopRun([], withoutLast as ReturnType<typeof resolveRcLoopOptions>)).to.throw(
        TypeError,
        'options.collectDelivered is missing',
      );
      expect(() => native.rcLoopRun([], { ...resolveRcLoopOptions(), mtuBytes: 1000 })).to.throw(
        RangeError,
        /pathMtuBytes/,
      );
    });
  });
});

// ---- One QP driven step by step, with packets built by the TypeScript codecs

/** An RC packet as the engine takes it: BTH [+ AETH] + payload + pad, built with src/wire codecs. */
function wire(
  fields: Partial<Bth> & Pick<Bth, 'opcode' | 'psn'>,
  payload: Buffer = Buffer.alloc(0),
  ack?: Aeth,
): Buffer {
  const pad = (4 - (payload.length % 4)) % 4;
  const head: Bth = {
    se: false,
    migReq: false,
    padCnt: pad,
    tVer: 0,
    pKey: RC_LOOP_PKEY,
    resv8a: 0,
    destQp: RC_QP_CONFIG_DEFAULTS.qpn,
    ackReq: false,
    resv7: 0,
    ...fields,
  };
  const parts = [encodeToBuffer(bth, head)];
  if (ack) parts.push(encodeToBuffer(aeth, ack));
  return Buffer.concat([...parts, payload, Buffer.alloc(pad)]);
}

const request = (opcode: number, psn: number, payload: Buffer, ackReq = false): RcScriptStep => ({
  op: 'packet',
  wire: wire({ opcode, psn, ackReq }, payload),
});
/** A response to the script's QP (as requester): ACKNOWLEDGE with this syndrome. */
const response = (psn: number, syndrome: number, msn = 0): RcScriptStep => ({
  op: 'packet',
  wire: wire({ opcode: OP_RC_ACK, psn }, Buffer.alloc(0), { syndrome, msn }),
});
const CONNECT: RcScriptStep[] = [
  { op: 'modify', to: 'INIT' },
  { op: 'modify', to: 'RTR' },
  { op: 'modify', to: 'RTS' },
];
const ACK = 0x1f; // ACK, credit code 31
const NAK_SEQ = 0x60;
const NAK_INVALID = 0x61;

/** Events after the connect steps, without the 'result' entries unless asked for. */
function after(r: RcScriptResult, firstStep: number, withResults = false): RcScriptEvent[] {
  return r.events.filter((e) => e.step >= firstStep && (withResults || e.type !== 'result'));
}

/** The emitted packets of `events`, decoded. */
function emitted(events: readonly RcScriptEvent[]): Array<{
  name: string;
  psn: number;
  ackReq: boolean;
  destQp: number;
  syndrome?: number;
  msn?: number;
  payload: number;
}> {
  return events.flatMap((e) => {
    if (e.type !== 'emit') return [];
    const head = bth.decode(e.wire, 0);
    const hasAeth = ethLayoutOf(head.value.opcode)?.aeth === true;
    const ae = hasAeth ? aeth.decode(e.wire, head.bytes).value : undefined;
    const payload = e.wire.length - head.bytes - (hasAeth ? AETH_LEN : 0) - head.value.padCnt;
    return [
      {
        name: opcodeName(head.value.opcode),
        psn: head.value.psn,
        ackReq: head.value.ackReq,
        destQp: head.value.destQp,
        ...(ae ? { syndrome: ae.syndrome, msn: ae.msn } : {}),
        payload,
      },
    ];
  });
}

const results = (r: RcScriptResult): Array<[boolean, string]> =>
  r.events.flatMap((e) => (e.type === 'result' ? [[e.ok, e.why] as [boolean, string]] : []));

describe('RC engine, one QP driven step by step @rc @fabric', function () {
  describe('QP states @rc @fabric', function () {
    it('walks RESET, INIT, RTR, RTS and reports each change @rc @fabric', function () {
      const r = runRcQpScript(CONNECT);
      expect(
        r.events.filter((e) => e.type === 'state').map((e) => (e.type === 'state' ? [e.from, e.to, e.reason] : [])),
      ).to.deep.equal([
        ['RESET', 'INIT', 'modify'],
        ['INIT', 'RTR', 'modify'],
        ['RTR', 'RTS', 'modify'],
      ]);
      expect(results(r)).to.deep.equal([
        [true, ''],
        [true, ''],
        [true, ''],
      ]);
      expect(r.state).to.equal('RTS');
      expect(r.nextDeadlineUs).to.equal(null);
    });

    const illegal: Array<[string, RcScriptStep[], string]> = [
      ['RESET to RTR', [{ op: 'modify', to: 'RTR' }], 'illegal transition RESET -> RTR'],
      ['RESET to RTS', [{ op: 'modify', to: 'RTS' }], 'illegal transition RESET -> RTS'],
      [
        'INIT to RTS',
        [
          { op: 'modify', to: 'INIT' },
          { op: 'modify', to: 'RTS' },
        ],
        'illegal transition INIT -> RTS',
      ],
      ['RTS to INIT', [...CONNECT, { op: 'modify', to: 'INIT' }], 'illegal transition RTS -> INIT'],
      ['RTS to RTR', [...CONNECT, { op: 'modify', to: 'RTR' }], 'illegal transition RTS -> RTR'],
    ];
    for (const [what, steps, why] of illegal) {
      it(`refuses ${what} and stays where it was @rc @fabric`, function () {
        const r = runRcQpScript(steps);
        expect(results(r).at(-1)).to.deep.equal([false, why]);
        const before = steps.length === 1 ? 'RESET' : steps.length === 2 ? 'INIT' : 'RTS';
        expect(r.state).to.equal(before);
      });
    }

    const badConfigs: Array<[Partial<RcQpConfig>, string]> = [
      [{ qpn: 0x1000000 }, 'qpn does not fit 24 bits'],
      [{ destQpn: 0x1000000 }, 'destQpn does not fit 24 bits'],
      [{ pathMtuBytes: 1000 }, 'pathMtuBytes must be 256, 512, 1024, 2048 or 4096'],
      [{ pathMtuBytes: 8192 }, 'pathMtuBytes must be 256, 512, 1024, 2048 or 4096'],
      [{ sqPsn: 0x1000000 }, 'sqPsn does not fit 24 bits'],
      [{ rqPsn: 0x1000000 }, 'rqPsn does not fit 24 bits'],
      [{ retryCount: 8 }, 'retryCount must be 0..7'],
      [{ rnrRetry: 8 }, 'rnrRetry must be 0..7'],
      [{ timeoutExp: 32 }, 'timeoutExp must be 0..31'],
      [{ minRnrTimer: 32 }, 'minRnrTimer must be 0..31'],
      [{ recvQueueDepth: 0 }, 'recvQueueDepth must be at least 1'],
      [{ sendQueueDepth: 0 }, 'sendQueueDepth must be at least 1'],
      [{ sendWindowPackets: 0 }, 'sendWindowPackets must be 1..2^22-1'],
      [{ sendWindowPackets: 2 ** 22 }, 'sendWindowPackets must be 1..2^22-1'],
      [{ ackReqEveryPackets: 0 }, 'ackReqEveryPackets must be at least 1'],
    ];
    for (const [config, why] of badConfigs) {
      it(`refuses a configuration with ${JSON.stringify(config)} @rc @fabric`, function () {
        const r = runRcQpScript([{ op: 'modify', to: 'INIT', config }]);
        expect(results(r)).to.deep.equal([[false, why]]);
        expect(r.state).to.equal('RESET');
      });
    }

    it('refuses PostSend before RTS and PostRecv in RESET, takes PostRecv from INIT on @rc @fabric', function () {
      const r = runRcQpScript([
        { op: 'postSend', wrId: 1, message: Buffer.alloc(4) },
        { op: 'postRecv', wrId: 2, capacityBytes: 100 },
        { op: 'modify', to: 'INIT' },
        { op: 'postSend', wrId: 3, message: Buffer.alloc(4) },
        { op: 'postRecv', wrId: 4, capacityBytes: 100 },
        { op: 'modify', to: 'RTR' },
        { op: 'postSend', wrId: 5, message: Buffer.alloc(4) },
      ]);
      expect(results(r).map(([ok]) => ok)).to.deep.equal([false, false, true, false, true, true, false]);
      expect(r.events.filter((e) => e.type === 'emit')).to.deep.equal([]);
    });

    it('refuses PostRecv beyond recvQueueDepth and PostSend beyond sendQueueDepth @rc @fabric', function () {
      const r = runRcQpScript(
        [
          ...CONNECT,
          { op: 'postRecv', wrId: 1, capacityBytes: 10 },
          { op: 'postRecv', wrId: 2, capacityBytes: 10 },
          { op: 'postRecv', wrId: 3, capacityBytes: 10 },
          { op: 'postSend', wrId: 4, message: Buffer.alloc(4) },
          { op: 'postSend', wrId: 5, message: Buffer.alloc(4) },
        ],
        { recvQueueDepth: 2, sendQueueDepth: 1 },
      );
      expect(
        results(r)
          .slice(3)
          .map(([ok]) => ok),
      ).to.deep.equal([true, true, false, true, false]);
    });

    it('flushes queued work on a move to ERROR, and flushes what is posted later @rc @fabric', function () {
      const r = runRcQpScript([
        ...CONNECT,
        { op: 'postRecv', wrId: 1, capacityBytes: 100 },
        { op: 'postRecv', wrId: 2, capacityBytes: 100 },
        { op: 'postSend', wrId: 3, message: Buffer.alloc(8) },
        { op: 'modify', to: 'ERROR' },
        { op: 'postSend', wrId: 4, message: Buffer.alloc(8) },
        { op: 'postRecv', wrId: 5, capacityBytes: 100 },
      ]);
      const tail = after(r, 6).map((e) => {
        if (e.type === 'state') return ['state', e.from, e.to, e.reason];
        if (e.type === 'send-done' || e.type === 'recv-done') return [e.type, e.wrId, e.status];
        return [e.type];
      });
      expect(tail).to.deep.equal([
        ['state', 'RTS', 'ERROR', 'modify'],
        ['send-done', 3, 'flushed'],
        ['recv-done', 1, 'flushed'],
        ['recv-done', 2, 'flushed'],
        ['send-done', 4, 'flushed'],
        ['recv-done', 5, 'flushed'],
      ]);
      expect(results(r).slice(-2)).to.deep.equal([
        [true, ''],
        [true, ''],
      ]);
      expect(r.state).to.equal('ERROR');
      expect(r.nextDeadlineUs, 'timers stop in ERROR').to.equal(null);
    });

    it('discards posted work without completions on a move to RESET @rc @fabric', function () {
      const r = runRcQpScript([
        ...CONNECT,
        { op: 'postRecv', wrId: 1, capacityBytes: 100 },
        { op: 'modify', to: 'RESET' },
      ]);
      expect(after(r, 4).map((e) => e.type)).to.deep.equal(['state']);
      expect(r.state).to.equal('RESET');
    });

    it('takes new timer attributes on RTS to RTS @rc @fabric', function () {
      const r = runRcQpScript([
        ...CONNECT,
        { op: 'postSend', wrId: 1, message: Buffer.alloc(8) },
        { op: 'modify', to: 'RTS', config: { timeoutExp: 12 } },
        { op: 'timer', nowUs: ACK_TIMEOUT_US },
      ]);
      // The first deadline was armed with exponent 10; the resend re-arms with 12: 4.096 us * 4096 = 16778 us.
      expect(emitted(after(r, 5)).map((p) => p.psn)).to.deep.equal([0]);
      expect(r.nextDeadlineUs).to.equal(ACK_TIMEOUT_US + 16_778);
      expect(r.stats.timeouts).to.equal(1);
    });
  });

  describe('responder: requests built with src/wire/bth.ts @rc @fabric @ib', function () {
    const mtu256: Partial<RcQpConfig> = { pathMtuBytes: 256 };

    it('reassembles FIRST, MIDDLE, LAST, delivers with the peer QPN and ACKs only what asks @rc @fabric @ib', function () {
      const parts = [message(256, 1), message(256, 2), message(100, 3)];
      const r = runRcQpScript(
        [
          ...CONNECT,
          { op: 'postRecv', wrId: 7, capacityBytes: 1000 },
          request(OP_RC_SEND_FIRST, 0, parts[0] ?? Buffer.alloc(0)),
          request(OP_RC_SEND_MIDDLE, 1, parts[1] ?? Buffer.alloc(0), true),
          request(OP_RC_SEND_LAST, 2, parts[2] ?? Buffer.alloc(0), true),
        ],
        mtu256,
      );
      const done = after(r, 4).filter((e) => e.type === 'recv-done');
      expect(done).to.have.length(1);
      const d = done[0];
      expect(
        d?.type === 'recv-done' && [d.wrId, d.status, d.srcQp, d.message.equals(Buffer.concat(parts))],
      ).to.deep.equal([7, 'success', RC_LOOP_REQUESTER_QPN, true]);
      expect(emitted(after(r, 4))).to.deep.equal([
        {
          name: 'RC_ACKNOWLEDGE',
          psn: 1,
          ackReq: false,
          destQp: RC_LOOP_REQUESTER_QPN,
          syndrome: ACK,
          msn: 0,
          payload: 0,
        },
        {
          name: 'RC_ACKNOWLEDGE',
          psn: 2,
          ackReq: false,
          destQp: RC_LOOP_REQUESTER_QPN,
          syndrome: ACK,
          msn: 1,
          payload: 0,
        },
      ]);
      expect(r.stats.requestsAccepted).to.equal(3);
    });

    it('drops a packet for another QPN or of another transport, and counts it @rc @fabric @ib', function () {
      const r = runRcQpScript([
        ...CONNECT,
        { op: 'postRecv', wrId: 1, capacityBytes: 100 },
        { op: 'packet', wire: wire({ opcode: OP_RC_SEND_ONLY, psn: 0, destQp: 0x123, ackReq: true }, Buffer.alloc(4)) },
        { op: 'packet', wire: wire({ opcode: 0x64, psn: 0, ackReq: true }, Buffer.alloc(12)) }, // UD SEND ONLY
      ]);
      expect(after(r, 4)).to.deep.equal([]);
      expect(r.stats.packetsIgnored).to.equal(2);
      expect(r.state).to.equal('RTS');
    });

    const malformed: Array<[string, RcScriptStep[], number, RegExp]> = [
      [
        'MIDDLE without a FIRST',
        [request(OP_RC_SEND_MIDDLE, 0, Buffer.alloc(256))],
        0,
        /MIDDLE or LAST without a FIRST \(PSN 0\)/,
      ],
      ['LAST without a FIRST', [request(OP_RC_SEND_LAST, 0, Buffer.alloc(4))], 0, /MIDDLE or LAST without a FIRST/],
      [
        'FIRST inside a message',
        [request(OP_RC_SEND_FIRST, 0, Buffer.alloc(256)), request(OP_RC_SEND_FIRST, 1, Buffer.alloc(256))],
        1,
        /FIRST or ONLY inside a message \(PSN 1\)/,
      ],
      [
        'ONLY inside a message',
        [request(OP_RC_SEND_FIRST, 0, Buffer.alloc(256)), request(OP_RC_SEND_ONLY, 1, Buffer.alloc(4))],
        1,
        /FIRST or ONLY inside a message/,
      ],
      [
        'a FIRST shorter than the MTU @mtu',
        [request(OP_RC_SEND_FIRST, 0, Buffer.alloc(255))],
        0,
        /payload of 255 octets is wrong for OpCode 0/,
      ],
      [
        'a MIDDLE longer than the MTU @mtu',
        [request(OP_RC_SEND_FIRST, 0, Buffer.alloc(256)), request(OP_RC_SEND_MIDDLE, 1, Buffer.alloc(260))],
        1,
        /payload of 260 octets is wrong for OpCode 1/,
      ],
      [
        'an empty LAST',
        [request(OP_RC_SEND_FIRST, 0, Buffer.alloc(256)), request(OP_RC_SEND_LAST, 1, Buffer.alloc(0))],
        1,
        /payload of 0 octets is wrong for OpCode 2/,
      ],
      [
        'an ONLY longer than the MTU @mtu',
        [request(OP_RC_SEND_ONLY, 0, Buffer.alloc(260))],
        0,
        /payload of 260 octets is wrong for OpCode 4/,
      ],
      [
        'SEND ONLY with immediate (not implemented)',
        [request(OP_RC_SEND_ONLY_IMM, 0, Buffer.alloc(8))],
        0,
        /unsupported OpCode 5/,
      ],
      ['RDMA WRITE ONLY (not implemented)', [request(0x0a, 0, Buffer.alloc(16))], 0, /unsupported OpCode 10/],
    ];
    for (const [what, packets, nakPsn, detail] of malformed) {
      it(`answers ${what} with NAK invalid request and goes to ERROR @rc @fabric @ib`, function () {
        const r = runRcQpScript([...CONNECT, { op: 'postRecv', wrId: 9, capacityBytes: 10_000 }, ...packets], mtu256);
        const out = emitted(after(r, 4));
        expect(out.at(-1)).to.deep.include({ name: 'RC_ACKNOWLEDGE', psn: nakPsn, syndrome: NAK_INVALID });
        expect(classifySyndrome(out.at(-1)?.syndrome ?? 0)).to.deep.include({ kind: 'nak', name: 'invalid-request' });
        const states = r.events.filter((e) => e.type === 'state').at(-1);
        expect(states?.type === 'state' && [states.from, states.to, states.reason]).to.deep.equal([
          'RTS',
          'ERROR',
          'invalid-request-received',
        ]);
        expect(r.errorDetail).to.match(detail);
        expect(r.stats.invalidRequestNaksSent).to.equal(1);
        // The receive that was waiting (or half filled) is flushed, never delivered.
        const recv = r.events.filter((e) => e.type === 'recv-done');
        expect(recv.map((e) => (e.type === 'recv-done' ? [e.wrId, e.status] : []))).to.deep.equal([[9, 'flushed']]);
      });
    }

    it('takes the boundary lengths: ONLY of 0 and of one MTU, LAST of 1 @rc @fabric @ib @mtu', function () {
      const r = runRcQpScript(
        [
          ...CONNECT,
          { op: 'postRecv', wrId: 1, capacityBytes: 1000 },
          { op: 'postRecv', wrId: 2, capacityBytes: 1000 },
          { op: 'postRecv', wrId: 3, capacityBytes: 1000 },
          request(OP_RC_SEND_ONLY, 0, Buffer.alloc(0)),
          request(OP_RC_SEND_ONLY, 1, Buffer.alloc(256, 7)),
          request(OP_RC_SEND_FIRST, 2, Buffer.alloc(256, 8)),
          request(OP_RC_SEND_LAST, 3, Buffer.alloc(1, 9)),
        ],
        mtu256,
      );
      const done = r.events.flatMap((e) => (e.type === 'recv-done' ? [[e.wrId, e.status, e.message.length]] : []));
      expect(done).to.deep.equal([
        [1, 'success', 0],
        [2, 'success', 256],
        [3, 'success', 257],
      ]);
      expect(r.state).to.equal('RTS');
    });

    it('answers a FIRST with no receive posted with an RNR NAK carrying minRnrTimer, quietly drops the rest, takes it once a buffer is there @rc @fabric @ib', function () {
      const r = runRcQpScript(
        [
          ...CONNECT,
          request(OP_RC_SEND_FIRST, 0, Buffer.alloc(256)),
          request(OP_RC_SEND_LAST, 1, Buffer.alloc(8), true),
          { op: 'postRecv', wrId: 5, capacityBytes: 1000 },
          request(OP_RC_SEND_FIRST, 0, Buffer.alloc(256)),
          request(OP_RC_SEND_LAST, 1, Buffer.alloc(8), true),
        ],
        { pathMtuBytes: 256, minRnrTimer: 14 },
      );
      expect(emitted(after(r, 3)).map((p) => [p.psn, p.syndrome, p.msn])).to.deep.equal([
        [0, 0x20 | 14, 0],
        [1, ACK, 1],
      ]);
      expect(classifySyndrome(0x20 | 14)).to.deep.include({ kind: 'rnr-nak', timerUsec: 1280 });
      expect(r.stats.rnrNaksSent).to.equal(1);
      expect(r.stats.outOfSequenceDropped).to.equal(1);
      expect(r.stats.messagesDelivered).to.equal(1);
    });

    it('re-ACKs PSNs up to 2^23 behind the expected one with the last accepted PSN, and NAKs PSNs less than 2^23 ahead @rc @fabric @ib', function () {
      const r = runRcQpScript(
        [
          ...CONNECT,
          { op: 'postRecv', wrId: 1, capacityBytes: 100 },
          request(OP_RC_SEND_ONLY, 100, Buffer.alloc(4), true), // accepted: expects 101 next
          request(OP_RC_SEND_ONLY, 100, Buffer.alloc(4)), // duplicate
          request(OP_RC_SEND_ONLY, 101 + 2 ** 23, Buffer.alloc(4)), // exactly half the space away: behind
          request(OP_RC_SEND_ONLY, (101 + 2 ** 23 - 1) & 0xffffff, Buffer.alloc(4)), // just under half: ahead
        ],
        { rqPsn: 100 },
      );
      expect(emitted(after(r, 4)).map((p) => [p.psn, p.syndrome, p.msn])).to.deep.equal([
        [100, ACK, 1],
        [100, ACK, 1],
        [100, ACK, 1],
        [101, NAK_SEQ, 1],
      ]);
      expect(r.stats.duplicatesReceived).to.equal(2);
      expect(r.stats.messagesDelivered).to.equal(1);
    });

    it('NAKs a gap once, stays quiet until the expected PSN comes, then NAKs the next gap @rc @fabric @ib', function () {
      const r = runRcQpScript([
        ...CONNECT,
        ...[1, 2, 3, 4].map((id): RcScriptStep => ({ op: 'postRecv', wrId: id, capacityBytes: 100 })),
        request(OP_RC_SEND_ONLY, 2, Buffer.alloc(4)),
        request(OP_RC_SEND_ONLY, 3, Buffer.alloc(4)),
        request(OP_RC_SEND_ONLY, 0, Buffer.alloc(4)),
        request(OP_RC_SEND_ONLY, 1, Buffer.alloc(4)),
        request(OP_RC_SEND_ONLY, 5, Buffer.alloc(4)),
        request(OP_RC_SEND_ONLY, 6, Buffer.alloc(4)),
      ]);
      expect(emitted(after(r, 7)).map((p) => [p.psn, p.syndrome, p.msn])).to.deep.equal([
        [0, NAK_SEQ, 0],
        [2, NAK_SEQ, 2],
      ]);
      expect(r.stats.naksSent).to.equal(2);
      expect(r.stats.outOfSequenceDropped).to.equal(4);
    });

    it('answers a message longer than its receive buffer with NAK invalid request and a local-length-error receive @rc @fabric @ib', function () {
      const r = runRcQpScript(
        [
          ...CONNECT,
          { op: 'postRecv', wrId: 1, capacityBytes: 300 },
          { op: 'postRecv', wrId: 2, capacityBytes: 300 },
          request(OP_RC_SEND_FIRST, 0, Buffer.alloc(256)),
          request(OP_RC_SEND_LAST, 1, Buffer.alloc(45)),
        ],
        mtu256,
      );
      expect(emitted(after(r, 5)).map((p) => [p.psn, p.syndrome])).to.deep.equal([[1, NAK_INVALID]]);
      const tail = after(r, 6).flatMap((e): Array<Array<string | number>> =>
        e.type === 'recv-done' ? [[e.wrId, e.status]] : e.type === 'state' ? [[e.to, e.reason]] : [],
      );
      expect(tail).to.deep.equal([
        [1, 'local-length-error'],
        ['ERROR', 'local-length-error'],
        [2, 'flushed'],
      ]);
      expect(r.errorDetail).to.equal('message longer than the 300-octet receive buffer (PSN 1)');
    });

    it('takes a message that fills its receive buffer exactly @rc @fabric @ib', function () {
      const r = runRcQpScript(
        [
          ...CONNECT,
          { op: 'postRecv', wrId: 1, capacityBytes: 300 },
          request(OP_RC_SEND_FIRST, 0, Buffer.alloc(256)),
          request(OP_RC_SEND_LAST, 1, Buffer.alloc(44)),
        ],
        mtu256,
      );
      expect(r.events.flatMap((e) => (e.type === 'recv-done' ? [[e.status, e.message.length]] : []))).to.deep.equal([
        ['success', 300],
      ]);
    });

    it('ignores an ACKNOWLEDGE before RTS @rc @fabric @ib', function () {
      const r = runRcQpScript([{ op: 'modify', to: 'INIT' }, { op: 'modify', to: 'RTR' }, response(0, ACK)]);
      expect(r.stats.packetsIgnored).to.equal(1);
      expect(after(r, 2)).to.deep.equal([]);
    });
  });

  describe('requester: responses built with src/wire/aeth.ts @rc @fabric @ib', function () {
    const mtu256: Partial<RcQpConfig> = { pathMtuBytes: 256 };
    const send = (wrId: number, size: number): RcScriptStep => ({ op: 'postSend', wrId, message: message(size, wrId) });
    const completions = (r: RcScriptResult): Array<[number, string]> =>
      r.events.flatMap((e) => (e.type === 'send-done' ? [[e.wrId, e.status] as [number, string]] : []));

    it('segments from sqPsn across the wrap and completes the send on the ACK of its last PSN @rc @fabric @ib', function () {
      const r = runRcQpScript([...CONNECT, send(1, 600), response(0, ACK, 1)], { ...mtu256, sqPsn: 0xfffffe });
      expect(emitted(after(r, 3))).to.deep.equal([
        { name: 'RC_SEND_FIRST', psn: 0xfffffe, ackReq: false, destQp: RC_LOOP_REQUESTER_QPN, payload: 256 },
        { name: 'RC_SEND_MIDDLE', psn: 0xffffff, ackReq: false, destQp: RC_LOOP_REQUESTER_QPN, payload: 256 },
        { name: 'RC_SEND_LAST', psn: 0, ackReq: true, destQp: RC_LOOP_REQUESTER_QPN, payload: 88 },
      ]);
      expect(completions(r)).to.deep.equal([[1, 'success']]);
      expect(r.nextDeadlineUs, 'nothing outstanding: no timer').to.equal(null);
      expect(r.stats.acksReceived).to.equal(1);
    });

    it('keeps the ACK timer running while packets are unacknowledged @rc @fabric @ib', function () {
      const r = runRcQpScript([...CONNECT, { op: 'clock', nowUs: 50 }, send(1, 600)], mtu256);
      expect(r.nextDeadlineUs).to.equal(50 + ACK_TIMEOUT_US);
      const off = runRcQpScript([...CONNECT, send(1, 600)], { ...mtu256, timeoutExp: 0 });
      expect(off.nextDeadlineUs, 'timeoutExp 0 disables the timer').to.equal(null);
    });

    it('ignores ACKs for PSNs never sent (ghost) and for PSNs already acknowledged (stale) @rc @fabric @ib', function () {
      const r = runRcQpScript(
        [
          ...CONNECT,
          send(1, 600),
          response(5, ACK),
          response(0xffffff, ACK),
          response(1, ACK),
          response(0, ACK),
          response(2, ACK),
        ],
        mtu256,
      );
      // PSNs 0-2 were sent. 5: ghost. 0xFFFFFF (one before the first): stale. 1: progress. 0: stale. 2: completes.
      expect(r.stats.ghostAcks).to.equal(1);
      expect(r.stats.staleAcks).to.equal(2);
      expect(r.stats.acksReceived).to.equal(2);
      expect(completions(r)).to.deep.equal([[1, 'success']]);
    });

    it('takes a PSN sequence error NAK as an ACK of what precedes it and resends from its PSN (go-back-N) @rc @fabric @ib', function () {
      const r = runRcQpScript(
        [...CONNECT, send(1, 1024), response(2, NAK_SEQ), response(2, NAK_SEQ), response(3, ACK)],
        mtu256,
      );
      // PSNs 0-3 sent; the NAK names 2: 2 and 3 go again (A on the last); its copy changes nothing.
      expect(emitted(after(r, 4)).map((p) => [p.name, p.psn, p.ackReq])).to.deep.equal([
        ['RC_SEND_MIDDLE', 2, false],
        ['RC_SEND_LAST', 3, true],
      ]);
      expect(r.stats.naksReceived).to.equal(1);
      expect(r.stats.staleAcks).to.equal(1);
      expect(r.stats.retransmissions).to.equal(2);
      expect(completions(r)).to.deep.equal([[1, 'success']]);
    });

    it('waits out an RNR NAK for the time its timer code names, then resends from its PSN @rc @fabric @ib', function () {
      const r = runRcQpScript([
        ...CONNECT,
        send(1, 10),
        { op: 'clock', nowUs: 10 },
        response(0, 0x20 | 3), // RNR NAK, 30 us
        { op: 'timer', nowUs: 39 },
        { op: 'timer', nowUs: 40 },
      ]);
      expect(emitted(after(r, 5)).map((p) => [p.psn, p.payload])).to.deep.equal([[0, 10]]);
      expect(after(r, 5).find((e) => e.type === 'emit')?.timeUs).to.equal(40);
      expect(r.stats.rnrNaksReceived).to.equal(1);
      expect(r.nextDeadlineUs, 'the resend re-arms the ACK timer').to.equal(40 + ACK_TIMEOUT_US);
    });

    const fatal: Array<[string, number, string]> = [
      ['invalid request', 0x61, 'remote-invalid-request'],
      ['remote access error', 0x62, 'remote-access-error'],
      ['remote operational error', 0x63, 'remote-operational-error'],
    ];
    for (const [what, syndrome, status] of fatal) {
      it(`completes the send with ${status} on a NAK ${what}, goes to ERROR and flushes the rest @rc @fabric @ib`, function () {
        const r = runRcQpScript([...CONNECT, send(1, 10), send(2, 10), send(3, 10), response(1, syndrome)]);
        // The NAK names PSN 1: message 1 (PSN 0) was received, message 2 failed, message 3 is flushed.
        expect(completions(r)).to.deep.equal([
          [1, 'success'],
          [2, status],
          [3, 'flushed'],
        ]);
        expect(r.state).to.equal('ERROR');
        const st = r.events.find((e) => e.type === 'state' && e.to === 'ERROR');
        expect(st?.type === 'state' && st.reason).to.equal(status);
      });
    }

    it('ignores reserved NAK codes and the reserved syndrome kind, and acts on an ACK with reserved bit 7 set @rc @fabric @ib', function () {
      const r = runRcQpScript([...CONNECT, send(1, 10), response(0, 0x65), response(0, 0x5f), response(0, 0x80 | ACK)]);
      expect(r.stats.packetsIgnored).to.equal(2);
      expect(completions(r)).to.deep.equal([[1, 'success']]);
    });

    it('resends from the oldest unacknowledged PSN on each timeout and ends in retry-exceeded after retryCount + 1 @rc @fabric @ib', function () {
      const r = runRcQpScript(
        [
          ...CONNECT,
          send(1, 600),
          send(2, 10),
          response(0, ACK),
          { op: 'timer', nowUs: ACK_TIMEOUT_US - 1 },
          { op: 'timer', nowUs: ACK_TIMEOUT_US },
          { op: 'timer', nowUs: 2 * ACK_TIMEOUT_US },
        ],
        { ...mtu256, retryCount: 1 },
      );
      // PSNs 0-3 sent; the ACK for 0 arrives at t = 0, which restarts the timer. At 4195 us PSNs 1-3
      // go again; at 8390 us no retry is left.
      expect(emitted(after(r, 6)).map((p) => [p.psn, p.name])).to.deep.equal([
        [1, 'RC_SEND_MIDDLE'],
        [2, 'RC_SEND_LAST'],
        [3, 'RC_SEND_ONLY'],
      ]);
      // Steps: 0-2 connect, 3-4 sends, 5 the ACK, 6-8 the timer calls; nothing is resent at 4194 us.
      expect(r.events.filter((e) => e.type === 'emit' && e.step === 6)).to.deep.equal([]);
      expect(r.events.filter((e) => e.type === 'emit' && e.step === 7).map((e) => e.timeUs)).to.deep.equal([
        ACK_TIMEOUT_US,
        ACK_TIMEOUT_US,
        ACK_TIMEOUT_US,
      ]);
      expect(completions(r)).to.deep.equal([
        [1, 'retry-exceeded'],
        [2, 'flushed'],
      ]);
      expect(r.stats.timeouts).to.equal(2);
      expect(r.errorDetail).to.equal('no ACK for PSN 1 after 1 retries');
    });
  });

  describe('malformed packets on the way in @rc @fabric @ib', function () {
    const bad: Array<[string, Buffer, string]> = [
      ['shorter than a BTH', Buffer.alloc(11), 'shorter than a BTH'],
      [
        'an ACKNOWLEDGE without its AETH',
        wire({ opcode: OP_RC_ACK, psn: 0 }).subarray(0, 14),
        'ACKNOWLEDGE shorter than BTH + AETH',
      ],
      [
        'a PadCnt larger than what follows',
        wire({ opcode: OP_RC_SEND_ONLY, psn: 0, padCnt: 3 }),
        'PadCnt larger than what follows the headers',
      ],
    ];
    for (const [what, packet, why] of bad) {
      it(`refuses a packet ${what} before the engine sees it @rc @fabric @ib`, function () {
        const r = runRcQpScript([
          ...CONNECT,
          { op: 'postRecv', wrId: 1, capacityBytes: 100 },
          { op: 'packet', wire: packet },
        ]);
        expect(results(r).at(-1)).to.deep.equal([false, why]);
        expect(after(r, 4)).to.deep.equal([]);
        expect(r.stats.requestsAccepted + r.stats.packetsIgnored).to.equal(0);
      });
    }
  });

  describe('argument checks of runRcQpScript @rc @fabric', function () {
    it('rejects unknown config fields and out-of-width values @rc @fabric', function () {
      expect(() => runRcQpScript([], { mtu: 4096 } as unknown as Partial<RcQpConfig>)).to.throw(
        TypeError,
        'unknown config field "mtu"',
      );
      expect(() => runRcQpScript([], { constructor: 1 } as unknown as Partial<RcQpConfig>)).to.throw(
        TypeError,
        'unknown config field "constructor"',
      );
      expect(() => runRcQpScript([], { pkey: 0x10000 })).to.throw(
        RangeError,
        /^runRcQpScript: config\.pkey must be an integer from 0 to 65535, got 65536$/,
      );
      expect(() => runRcQpScript([], { retryCount: 256 })).to.throw(RangeError, /config\.retryCount/);
      expect(() => runRcQpScript([{ op: 'modify', to: 'INIT', config: { qpn: -1 } }])).to.throw(
        RangeError,
        /steps\[0\]\.config\.qpn/,
      );
    });

    it('rejects malformed steps @rc @fabric', function () {
      expect(() => runRcQpScript([{ op: 'jump' } as unknown as RcScriptStep])).to.throw(
        RangeError,
        /steps\[0\]\.op "jump" is not a step/,
      );
      expect(() => runRcQpScript([{ op: 'modify', to: 'SQD' } as unknown as RcScriptStep])).to.throw(
        RangeError,
        /steps\[0\]\.to must be one of/,
      );
      expect(() => runRcQpScript([{ op: 'postSend', wrId: -1, message: Buffer.alloc(1) }])).to.throw(
        RangeError,
        /steps\[0\]\.wrId/,
      );
      expect(() => runRcQpScript([{ op: 'postSend', wrId: 1, message: 'x' as unknown as Buffer }])).to.throw(
        TypeError,
        /steps\[0\]\.message/,
      );
      expect(() => runRcQpScript([{ op: 'postRecv', wrId: 1, capacityBytes: 2 ** 32 }])).to.throw(
        RangeError,
        /capacityBytes/,
      );
      expect(() => runRcQpScript([{ op: 'timer', nowUs: 1.5 }])).to.throw(RangeError, /steps\[0\]\.nowUs/);
      expect(() => runRcQpScript([{ op: 'packet', wire: [1, 2] as unknown as Buffer }])).to.throw(
        TypeError,
        /steps\[0\]\.wire/,
      );
    });

    it('has a native side that names a missing field @rc @fabric @native', function () {
      const native = loadNative();
      expect(() =>
        native.rcQpScript([{ op: 'modify', to: 'INIT' } as unknown as Parameters<typeof native.rcQpScript>[0][number]]),
      ).to.throw(TypeError, 'rcQpScript: steps[0].config is missing');
      expect(() =>
        native.rcQpScript([
          { op: 'modify', to: 'INIT', config: { ...RC_QP_CONFIG_DEFAULTS, pkey: undefined } } as unknown as Parameters<
            typeof native.rcQpScript
          >[0][number],
        ]),
      ).to.throw(TypeError, 'rcQpScript: steps[0].config.pkey must be a number');
      expect(() =>
        native.rcQpScript([{ op: 'fly' } as unknown as Parameters<typeof native.rcQpScript>[0][number]]),
      ).to.throw(RangeError, /steps\[0\]\.op must be modify/);
    });
  });
});
