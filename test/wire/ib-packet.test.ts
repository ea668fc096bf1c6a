import { expect } from 'chai';
import { crc32 } from 'node:zlib';
import { WireError } from '../../src/errors.js';
import { computeIcrc, stampIcrc } from '../../src/wire/icrc.js';
import {
  type GrhFields,
  type IbPacketFields,
  OPCODE_NAMES,
  decodeIbPacket,
  encodeIbPacket,
  transportOf,
} from '../../src/wire/ib-packet.js';
import { stampVcrc } from '../../src/wire/vcrc.js';
import { expectWireError, hex } from '../helpers/roundtrip.js';

const SGID = 'fe800000000000000002c90300000001';
const DGID = 'ff12401bffff000000000000ffffffff'; // the default IPv4 broadcast group

/**
 * RC SEND ONLY, no GRH, payload "hello" (5 octets, so 3 pad octets):
 *   LRH  00 02 0002 0008 0001    VL 0, SL 0, LNH 0b10, DLID 2, PktLen 8 (8+12+8+4 = 32 octets), SLID 1
 *   BTH  04 30 ffff 00 000049 80 000010   PadCnt 3 (0x30), P_Key 0xffff, DestQP 0x49, A set, PSN 0x10
 *   68656c6c6f 000000            payload + pad
 *   e7bfbe5b                     ICRC 0x5bbebfe7, least significant octet first
 *   6e68                         VCRC 0x686e, least significant octet first
 * The CRC values are re-derived below from the masked octets and the VCRC's definition.
 */
const RC_SEND_HEX = '0002 0002 0008 0001  04 30 ffff 00 000049 80 000010  68656c6c6f 000000  e7bfbe5b 6e68';
const RC_SEND_MASKED = 'f002 0002 0008 0001  04 30 ffff ff 000049 80 000010  68656c6c6f 000000';
const rcSend: IbPacketFields = {
  lrh: { vl: 0, sl: 0, dlid: 0x0002, slid: 0x0001 },
  bth: { opcode: 0x04, se: false, migReq: false, pKey: 0xffff, destQp: 0x000049, ackReq: true, psn: 0x000010 },
  payload: Buffer.from('hello'),
};

/**
 * UD SEND ONLY with a GRH to the broadcast group, 8-octet payload (no pad):
 *   LRH  00 03 c000 0014 0001    LNH 0b11, DLID 0xc000, PktLen 20 (8+40+12+8+8+4 = 80 octets)
 *   GRH  60000000 0020 1b ff SGID DGID   IPVer 6, PayLen 32 (12+8+8+4), NxtHdr 0x1b, HopLmt 255
 *   BTH  64 00 ffff 00 ffffff 00 000000
 *   DETH 00000b1b 00 000048      Q_Key 0xb1b, SrcQP 0x48
 *   0806000000200800             payload (an IPoIB header and 4 octets)
 *   00aa40a0 0b99                ICRC 0xa040aa00, VCRC 0x990b
 */
const UD_GRH_HEX = `0003 c000 0014 0001  60000000 0020 1b ff ${SGID} ${DGID}  64 00 ffff 00 ffffff 00 000000  00000b1b 00 000048  0806000000200800  00aa40a0 0b99`;
const UD_GRH_MASKED = `ffff ffff ffff ffff  6fffffff 0020 1b ff ${SGID} ${DGID}  64 00 ffff ff ffffff 00 000000  00000b1b 00 000048  0806000000200800`;
const udGrhHeader: GrhFields = { tClass: 0, flowLabel: 0, hopLmt: 0xff, sgid: hex(SGID), dgid: hex(DGID) };
const udGrh: IbPacketFields = {
  lrh: { vl: 0, sl: 0, dlid: 0xc000, slid: 0x0001 },
  grh: udGrhHeader,
  bth: { opcode: 0x64, se: false, migReq: false, pKey: 0xffff, destQp: 0xffffff, ackReq: false, psn: 0 },
  deth: { qKey: 0x00000b1b, resv8: 0, srcQp: 0x000048 },
  payload: hex('0806000000200800'),
};

/**
 * RC ACKNOWLEDGE, no payload:
 *   LRH  00 02 0001 0007 0002    DLID 1, PktLen 7 (8+12+4+4 = 28 octets), SLID 2
 *   BTH  11 00 ffff 00 000048 00 000010
 *   AETH 1f 000001               ACK without credit count, MSN 1
 *   1cf4b0a3 2b7d                ICRC 0xa3b0f41c, VCRC 0x7d2b
 */
const RC_ACK_HEX = '0002 0001 0007 0002  11 00 ffff 00 000048 00 000010  1f 000001  1cf4b0a3 2b7d';
const rcAck: IbPacketFields = {
  lrh: { vl: 0, sl: 0, dlid: 0x0001, slid: 0x0002 },
  bth: { opcode: 0x11, se: false, migReq: false, pKey: 0xffff, destQp: 0x000048, ackReq: false, psn: 0x000010 },
  aeth: { syndrome: 0x1f, msn: 1 },
  payload: Buffer.alloc(0),
};

/** The VCRC's definition, one bit at a time (test oracle only). */
function bitwiseVcrc(data: Buffer): number {
  let c = 0xffff;
  for (const octet of data) {
    c ^= octet;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xd008 : c >>> 1;
  }
  return (c ^ 0xffff) & 0xffff;
}

/** A copy of `h` with octet `at` XORed with `mask`. */
function flip(h: string | Buffer, at: number, mask = 0x01): Buffer {
  const b = typeof h === 'string' ? hex(h) : Buffer.from(h);
  b.writeUInt8(b.readUInt8(at) ^ mask, at);
  return b;
}

/** Whether the ICRC of a whole wire packet matches, reading it as global or local. */
function verifyIcrcOf(wire: Buffer, global: boolean): boolean {
  return wire.readUInt32LE(wire.length - 6) === computeIcrc(wire.subarray(0, wire.length - 6), { global });
}

/** Re-stamps both CRCs, so that only the field under test is wrong. */
function restamp(b: Buffer): Buffer {
  stampIcrc(b, { global: (b.readUInt8(1) & 3) === 3 });
  stampVcrc(b);
  return b;
}

describe('IB packet encoding @ib', () => {
  it('encodes an RC SEND ONLY against hand-derived octets, padding the payload @ib @crc @rc', () => {
    const wire = encodeIbPacket(rcSend);
    expect(wire.toString('hex')).to.equal(hex(RC_SEND_HEX).toString('hex'));
    // The CRC octets, derived independently of the modules under test:
    const icrc = crc32(hex(RC_SEND_MASKED));
    expect(wire.readUInt32LE(28)).to.equal(icrc);
    expect(wire.readUInt16LE(32)).to.equal(bitwiseVcrc(wire.subarray(0, 32)));
  });

  it('encodes a UD SEND ONLY with a GRH, computing LNH, PktLen and PayLen @ib @crc', () => {
    const wire = encodeIbPacket(udGrh);
    expect(wire.toString('hex')).to.equal(hex(UD_GRH_HEX).toString('hex'));
    expect(wire.readUInt32LE(76)).to.equal(crc32(hex(UD_GRH_MASKED)));
    expect(wire.readUInt16LE(80)).to.equal(bitwiseVcrc(wire.subarray(0, 80)));
  });

  it('encodes an RC ACKNOWLEDGE with its AETH and no payload @ib @rc', () => {
    expect(encodeIbPacket(rcAck).toString('hex')).to.equal(hex(RC_ACK_HEX).toString('hex'));
  });

  it('pads every payload length to a 4-octet multiple and says so in PadCnt @ib', () => {
    for (let n = 0; n < 9; n++) {
      const wire = encodeIbPacket({ ...rcSend, payload: Buffer.alloc(n, 0xab) });
      const pad = (4 - (n % 4)) % 4;
      expect(wire.length, `${n} octets`).to.equal(8 + 12 + n + pad + 6);
      expect((wire.readUInt8(9) >> 4) & 3, `PadCnt for ${n}`).to.equal(pad);
      expect(wire.readUInt16BE(4) & 0x7ff, `PktLen for ${n}`).to.equal((wire.length - 2) / 4);
      const back = decodeIbPacket(wire);
      expect(back.payload.length).to.equal(n);
      expect(back.pad.toString('hex')).to.equal('00'.repeat(pad));
    }
  });

  it('refuses extended headers that do not match the OpCode @ib', () => {
    expectWireError(() => encodeIbPacket({ ...udGrh, deth: undefined }), 'deth');
    expectWireError(() => encodeIbPacket({ ...rcSend, deth: { qKey: 1, resv8: 0, srcQp: 1 } }), 'deth');
    expectWireError(() => encodeIbPacket({ ...rcAck, aeth: undefined }), 'aeth');
    expectWireError(() => encodeIbPacket({ ...rcSend, aeth: { syndrome: 0, msn: 0 } }), 'aeth');
    expectWireError(() => encodeIbPacket({ ...udGrh, bth: { ...udGrh.bth, opcode: 0x65 } }), 'otherEth');
    expectWireError(() => encodeIbPacket({ ...rcSend, otherEth: Buffer.alloc(4) }), 'otherEth');
    expectWireError(() => encodeIbPacket({ ...rcSend, bth: { ...rcSend.bth, opcode: 0x44 } }), 'bth.opcode');
    expectWireError(() => encodeIbPacket({ ...rcSend, bth: { ...rcSend.bth, opcode: 0xc0 } }), 'bth.opcode');
  });

  it('refuses a payload too long for an 11-bit PktLen and out-of-range header fields @ib', () => {
    expectWireError(() => encodeIbPacket({ ...rcSend, payload: Buffer.alloc(8192) }), 'lrh.pktlen');
    expectWireError(() => encodeIbPacket({ ...rcSend, bth: { ...rcSend.bth, psn: 0x1000000 } }), 'bth.psn');
    expectWireError(() => encodeIbPacket({ ...rcSend, lrh: { ...rcSend.lrh, sl: 16 } }), 'lrh.sl');
    expectWireError(() => encodeIbPacket({ ...udGrh, grh: { ...udGrhHeader, hopLmt: 256 } }), 'grh.hoplmt');
    expectWireError(() => encodeIbPacket({ ...rcSend, payload: 'hello' as unknown as Buffer }), 'payload');
  });

  it('recomputes lengths, pad and CRCs when a decoded packet is re-encoded with a new payload @ib', () => {
    const decoded = decodeIbPacket(hex(UD_GRH_HEX));
    const again = decodeIbPacket(encodeIbPacket({ ...decoded, payload: Buffer.from('hello') }));
    expect(again.payload.toString()).to.equal('hello');
    expect(again.bth.padCnt).to.equal(3);
    expect(again.lrh.pktLen).to.equal((8 + 40 + 12 + 8 + 8 + 4) / 4);
    expect(again.grh?.payLen).to.equal(12 + 8 + 8 + 4);
    expect(again.deth).to.deep.equal(decoded.deth);
  });

  it('writes pinned LNH, PktLen, PayLen and PadCnt values with CRCs that still match @ib', () => {
    const pinned = encodeIbPacket({ ...rcSend, pin: { pktLen: 9, padCnt: 1 } });
    expect(pinned.readUInt16BE(4)).to.equal(9);
    expect((pinned.readUInt8(9) >> 4) & 3).to.equal(1);
    const p = decodeIbPacket(Buffer.concat([pinned, Buffer.alloc(4)]), { verifyCrcs: false });
    expect(p.payload.length, 'PadCnt 1 leaves the pad octets and 4 extra in the payload').to.equal(5 + 3 + 4 - 1);
    expectWireError(() => decodeIbPacket(pinned), 'lrh.pktlen');
    const lnh = encodeIbPacket({ ...udGrh, pin: { lnh: 2 } });
    expect(lnh.readUInt8(1) & 3).to.equal(2);
    expect(verifyIcrcOf(lnh, true)).to.equal(true);
  });

  it('carries the extended headers it keeps raw, such as ImmDt @ib', () => {
    const imm: IbPacketFields = { ...udGrh, bth: { ...udGrh.bth, opcode: 0x65 }, otherEth: hex('cafef00d') };
    const back = decodeIbPacket(encodeIbPacket(imm));
    expect(back.otherEth.toString('hex')).to.equal('cafef00d');
    expect(back.payload.toString('hex')).to.equal('0806000000200800');
    expect(back.grh?.payLen).to.equal(12 + 8 + 4 + 8 + 4);
  });
});

describe('IB packet decoding @ib', () => {
  it('takes an RC SEND ONLY apart, stripping the pad @ib @crc @rc', () => {
    const p = decodeIbPacket(hex(RC_SEND_HEX));
    expect(p.lrh).to.deep.equal({ vl: 0, lver: 0, sl: 0, resv2: 0, lnh: 2, dlid: 2, resv5: 0, pktLen: 8, slid: 1 });
    expect(p.grh).to.equal(undefined);
    expect(p.bth.opcode).to.equal(0x04);
    expect(p.bth.padCnt).to.equal(3);
    expect(p.deth).to.equal(undefined);
    expect(p.aeth).to.equal(undefined);
    expect(p.payload.toString()).to.equal('hello');
    expect(p.pad.toString('hex')).to.equal('000000');
    expect(p.icrc).to.deep.equal({ ok: true, carried: 0x5bbebfe7, computed: 0x5bbebfe7 });
    expect(p.vcrc).to.deep.equal({ ok: true, carried: 0x686e, computed: 0x686e });
  });

  it('takes a UD SEND ONLY with a GRH apart @ib', () => {
    const p = decodeIbPacket(hex(UD_GRH_HEX));
    expect(p.lrh.lnh).to.equal(3);
    expect(p.grh?.payLen).to.equal(32);
    expect(p.grh?.dgid.toString('hex')).to.equal(DGID);
    expect(p.deth).to.deep.equal({ qKey: 0x00000b1b, resv8: 0, srcQp: 0x48 });
    expect(p.payload.toString('hex')).to.equal('0806000000200800');
    expect(OPCODE_NAMES[p.bth.opcode]).to.equal('UD_SEND_ONLY');
    expect(transportOf(p.bth.opcode)).to.equal('UD');
  });

  it('takes an RC ACKNOWLEDGE apart @ib @rc', () => {
    const p = decodeIbPacket(hex(RC_ACK_HEX));
    expect(p.aeth).to.deep.equal({ syndrome: 0x1f, msn: 1 });
    expect(p.payload.length).to.equal(0);
    expect(p.pad.length).to.equal(0);
  });

  it('gives back what was encoded, for each kind of packet @ib', () => {
    for (const f of [rcSend, udGrh, rcAck]) {
      const p = decodeIbPacket(encodeIbPacket(f));
      expect(p.lrh).to.include(f.lrh);
      expect(p.bth).to.include(f.bth);
      expect(p.deth).to.deep.equal(f.deth);
      expect(p.aeth).to.deep.equal(f.aeth);
      expect(p.payload.equals(f.payload)).to.equal(true);
    }
  });

  it('decodes payloads as copies, not views of the frame @ib', () => {
    const wire = hex(RC_SEND_HEX);
    const p = decodeIbPacket(wire);
    wire.fill(0);
    expect(p.payload.toString()).to.equal('hello');
  });

  it('rejects every truncation of a packet with a WireError @ib', () => {
    for (const h of [RC_SEND_HEX, UD_GRH_HEX, RC_ACK_HEX]) {
      const full = hex(h);
      for (let n = 0; n < full.length; n++) {
        expectWireError(() => decodeIbPacket(full.subarray(0, n)), undefined, `${n}/${full.length} octets`);
      }
    }
  });

  it('rejects a PktLen that disagrees with the length, even with good CRCs @ib', () => {
    const longer = restamp(hex(RC_SEND_HEX).fill(0x09, 5, 6)); // PktLen 9
    const err = expectWireError(() => decodeIbPacket(longer), 'lrh.pktlen');
    expect(err.value).to.equal(9);
    expectWireError(() => decodeIbPacket(Buffer.concat([hex(RC_SEND_HEX), Buffer.alloc(4)])), 'lrh.pktlen');
  });

  it('rejects raw LNH values @ib', () => {
    expectWireError(() => decodeIbPacket(restamp(flip(RC_SEND_HEX, 1, 0x02))), 'lrh.lnh'); // LNH 0b00
    expectWireError(() => decodeIbPacket(restamp(flip(RC_SEND_HEX, 1, 0x03))), 'lrh.lnh'); // LNH 0b01
  });

  it('rejects a GRH PayLen or NxtHdr that is wrong, even with good CRCs @ib', () => {
    const payLen = encodeIbPacket({ ...udGrh, pin: { payLen: 36 } });
    expect(expectWireError(() => decodeIbPacket(payLen), 'grh.paylen').value).to.equal(36);
    const nxtHdr = encodeIbPacket({ ...udGrh, grh: { ...udGrhHeader, nxtHdr: 0x11 } });
    expectWireError(() => decodeIbPacket(nxtHdr), 'grh.nxthdr');
  });

  it('rejects a PadCnt larger than what follows the headers @ib', () => {
    const wire = encodeIbPacket({ ...rcAck, pin: { padCnt: 2 } });
    expect(expectWireError(() => decodeIbPacket(wire), 'bth.padcnt').value).to.equal(2);
  });

  it('rejects OpCodes it does not take apart @ib', () => {
    const rd = restamp(flip(RC_SEND_HEX, 8, 0x40)); // OpCode 0x44, RD SEND ONLY
    expect(expectWireError(() => decodeIbPacket(rd), 'bth.opcode').value).to.equal(0x44);
    const vendor = restamp(flip(RC_SEND_HEX, 8, 0xc0)); // OpCode 0xc4
    expectWireError(() => decodeIbPacket(vendor), 'bth.opcode');
  });

  it('throws nothing but WireError on thousands of mutated and cut packets @ib', () => {
    let seed = 0x1b1b;
    const rnd = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return Math.floor((seed / 2 ** 32) * n);
    };
    const bases = [hex(RC_SEND_HEX), hex(UD_GRH_HEX), hex(RC_ACK_HEX)];
    let decoded = 0;
    for (let i = 0; i < 3000; i++) {
      const base = bases[i % bases.length] ?? hex(RC_SEND_HEX);
      const b = Buffer.from(base);
      for (let k = 0; k <= rnd(3); k++) b.writeUInt8(rnd(256), rnd(b.length));
      const input = rnd(4) === 0 ? b.subarray(0, rnd(b.length)) : b;
      try {
        decodeIbPacket(input, { verifyCrcs: false });
        decoded++;
      } catch (e) {
        expect(e, `input ${input.toString('hex')}`).to.be.instanceOf(WireError);
      }
    }
    expect(decoded, 'some mutations still decode').to.be.greaterThan(0);
  });

  it('rejects a packet whose extended headers run past its end @ib', () => {
    // A UD packet with PktLen 6 has room for LRH, BTH and ICRC but not the DETH.
    const short = restamp(hex('0002 0002 0006 0001  64 00 ffff 00 000001 00 000000  00000000 0000'));
    expectWireError(() => decodeIbPacket(short), /^(deth|icrc)$/);
  });
});

describe('IB packet CRC checks @ib @crc', () => {
  it('detects a corrupted VCRC @ib @crc', () => {
    const err = expectWireError(() => decodeIbPacket(flip(RC_SEND_HEX, 33)), 'vcrc');
    expect(err.offset).to.equal(32);
    expect(err.message).to.match(/carried 0x696e, computed 0x686e/);
  });

  it('detects a corrupted ICRC once a switch has re-stamped the VCRC @ib @crc', () => {
    const wire = flip(RC_SEND_HEX, 28);
    expectWireError(() => decodeIbPacket(wire), 'vcrc'); // the link layer sees it first
    stampVcrc(wire);
    const err = expectWireError(() => decodeIbPacket(wire), 'icrc');
    expect(err.offset).to.equal(28);
  });

  it('detects a corrupted payload octet end to end @ib @crc', () => {
    const wire = flip(UD_GRH_HEX, 70, 0x80);
    stampVcrc(wire);
    expectWireError(() => decodeIbPacket(wire), 'icrc');
  });

  it('accepts a packet whose VL a switch changed and re-stamped @ib @crc', () => {
    const wire = flip(RC_SEND_HEX, 0, 0x30); // VL 3
    stampVcrc(wire);
    expect(decodeIbPacket(wire).lrh.vl).to.equal(3);
  });

  it('returns carried and computed values instead of throwing when told not to verify @ib @crc', () => {
    const wire = flip(RC_SEND_HEX, 20); // payload 'h' -> 'i'
    const p = decodeIbPacket(wire, { verifyCrcs: false });
    expect(p.vcrc.ok).to.equal(false);
    expect(p.vcrc.carried).to.equal(0x686e);
    expect(p.icrc).to.deep.include({ ok: false, carried: 0x5bbebfe7 });
    expect(p.icrc.computed).to.equal(crc32(flip(RC_SEND_MASKED, 20)));
    expect(p.payload.toString()).to.equal('iello');
  });

  it('builds a packet with a pinned wrong CRC for probes @ib @crc', () => {
    const badIcrc = encodeIbPacket({ ...rcSend, pin: { icrc: 0x12345678 } });
    expect(badIcrc.readUInt32LE(28)).to.equal(0x12345678);
    expectWireError(() => decodeIbPacket(badIcrc), 'icrc');
    const badVcrc = encodeIbPacket({ ...rcSend, pin: { vcrc: 0xbeef } });
    expect(badVcrc.readUInt16LE(32)).to.equal(0xbeef);
    expectWireError(() => decodeIbPacket(badVcrc), 'vcrc');
  });
});
