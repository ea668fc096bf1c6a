import { expect } from 'chai';
import { encodeToBuffer } from '../../src/wire/codec.js';
import {
  type Bth,
  OPCODE_NAMES,
  bth,
  bthProblems,
  ethLayoutOf,
  opcodeName,
  transportOf,
} from '../../src/wire/bth.js';
import { expectWireError, hex, roundtrip } from '../helpers/roundtrip.js';

/** A UD SEND ONLY to the group QPN in partition 0x8001, PSN 0x123, with M set and 2 pad octets. */
const ud: Bth = {
  opcode: 0x64,
  se: false,
  migReq: true,
  padCnt: 2,
  tVer: 0,
  pKey: 0x8001,
  resv8a: 0,
  destQp: 0xffffff,
  ackReq: false,
  resv7: 0,
  psn: 0x000123,
};

describe('BTH codec @ib', () => {
  it('round-trips a UD SEND ONLY header against hand-derived octets @ib @pkey', () => {
    // octet 0: OpCode 0x64
    // octet 1: SE 0 | M 1 (0x40) | PadCnt 2 << 4 (0x20) | TVer 0 = 0x60
    // octets 2-3: P_Key 0x8001; octet 4: resv8a 0
    // octets 5-7: DestQP 0xffffff; octet 8: A 0 | resv7 0; octets 9-11: PSN 0x000123
    roundtrip(bth, ud, '64 60 8001 00 ffffff 00 000123');
  });

  it('keeps TVer, FECN/BECN and reserved bits as found, and judges only the reserved ones @ib', () => {
    const odd: Bth = {
      opcode: 0x04,
      se: true,
      migReq: false,
      padCnt: 3,
      tVer: 0xf,
      pKey: 0xffff,
      resv8a: 0xc1,
      destQp: 0x000049,
      ackReq: true,
      resv7: 0x7f,
      psn: 0xffffff,
    };
    // octet 1: SE 0x80 | PadCnt 3 << 4 (0x30) | TVer 0xf = 0xbf; octet 8: A 0x80 | 0x7f = 0xff
    roundtrip(bth, odd, '04 bf ffff c1 000049 ff ffffff');
    const problems = bthProblems(odd);
    expect(problems).to.deep.equal([
      'bth.tver is 15, only version 0 is defined',
      'bth.resv8a has reserved bits 0x1 set',
      'bth.resv7 is 0x7f, must be sent as 0',
    ]);
    expect(bthProblems({ ...ud, resv8a: 0xc0 }), 'FECN and BECN alone').to.deep.equal([]);
  });

  it('rejects every field wider than its bits on encode, naming the field @ib @pkey', () => {
    const cases: Array<[Partial<Bth>, string]> = [
      [{ opcode: 256 }, 'bth.opcode'],
      [{ padCnt: 4 }, 'bth.padcnt'],
      [{ tVer: 16 }, 'bth.tver'],
      [{ pKey: 0x10000 }, 'bth.pkey'],
      [{ resv8a: 256 }, 'bth.resv8a'],
      [{ destQp: 0x1000000 }, 'bth.destqp'],
      [{ resv7: 128 }, 'bth.resv7'],
      [{ psn: 0x1000000 }, 'bth.psn'],
      [{ psn: -1 }, 'bth.psn'],
    ];
    for (const [patch, field] of cases) {
      expectWireError(() => encodeToBuffer(bth, { ...ud, ...patch }), field, field);
    }
  });

  it('rejects flag bits given as numbers instead of booleans @ib', () => {
    expectWireError(() => encodeToBuffer(bth, { ...ud, se: 1 as unknown as boolean }), 'bth.se');
    expectWireError(() => encodeToBuffer(bth, { ...ud, migReq: 0 as unknown as boolean }), 'bth.m');
    expectWireError(() => encodeToBuffer(bth, { ...ud, ackReq: 'yes' as unknown as boolean }), 'bth.a');
  });

  it('decodes every PadCnt and both flag bits from octet 1 @ib', () => {
    for (let pad = 0; pad < 4; pad++) {
      const v = bth.decode(hex(`04 ${(0x80 | (pad << 4)).toString(16)} ffff 00 000001 80 000000`), 0).value;
      expect(v.padCnt).to.equal(pad);
      expect(v.se).to.equal(true);
      expect(v.migReq).to.equal(false);
      expect(v.ackReq).to.equal(true);
    }
  });
});

describe('BTH OpCodes @ib', () => {
  it('names the OpCodes of each transport @ib', () => {
    expect(OPCODE_NAMES[0x04]).to.equal('RC_SEND_ONLY');
    expect(OPCODE_NAMES[0x11]).to.equal('RC_ACKNOWLEDGE');
    expect(OPCODE_NAMES[0x17]).to.equal('RC_SEND_ONLY_WITH_INVALIDATE');
    expect(OPCODE_NAMES[0x24]).to.equal('UC_SEND_ONLY');
    expect(OPCODE_NAMES[0x55]).to.equal('RD_RESYNC');
    expect(OPCODE_NAMES[0x64]).to.equal('UD_SEND_ONLY');
    expect(OPCODE_NAMES[0x65]).to.equal('UD_SEND_ONLY_WITH_IMMEDIATE');
    expect(OPCODE_NAMES[0x81]).to.equal('CNP');
    expect(OPCODE_NAMES[0xa4]).to.equal('XRC_SEND_ONLY');
  });

  it('leaves undefined combinations unnamed @ib', () => {
    expect(OPCODE_NAMES[0x15], 'RESYNC is RD only').to.equal(undefined);
    expect(OPCODE_NAMES[0x2c], 'UC has no READ').to.equal(undefined);
    expect(OPCODE_NAMES[0x60], 'UD has no SEND FIRST').to.equal(undefined);
    expect(OPCODE_NAMES[0x18]).to.equal(undefined);
    expect(opcodeName(0xc5)).to.equal('0xc5');
    expect(opcodeName(0x64)).to.equal('UD_SEND_ONLY');
  });

  it('reads the transport from the top three bits @ib', () => {
    const got = [0x04, 0x24, 0x44, 0x64, 0x81, 0xa4, 0xc0, 0xff].map(transportOf);
    expect(got).to.deep.equal(['RC', 'UC', 'RD', 'UD', 'CNP', 'XRC', 'vendor', 'vendor']);
  });

  it('knows which extended headers follow each OpCode @ib', () => {
    expect(ethLayoutOf(0x64)).to.deep.equal({ deth: true, aeth: false, otherEthLen: 0 });
    expect(ethLayoutOf(0x65)).to.deep.equal({ deth: true, aeth: false, otherEthLen: 4 });
    expect(ethLayoutOf(0x04)).to.deep.equal({ deth: false, aeth: false, otherEthLen: 0 });
    expect(ethLayoutOf(0x11)).to.deep.equal({ deth: false, aeth: true, otherEthLen: 0 });
    expect(ethLayoutOf(0x12)).to.deep.equal({ deth: false, aeth: true, otherEthLen: 8 });
    expect(ethLayoutOf(0x0d)).to.deep.equal({ deth: false, aeth: true, otherEthLen: 0 });
    expect(ethLayoutOf(0x0e)).to.deep.equal({ deth: false, aeth: false, otherEthLen: 0 });
    expect(ethLayoutOf(0x0a)).to.deep.equal({ deth: false, aeth: false, otherEthLen: 16 });
    expect(ethLayoutOf(0x2b)).to.deep.equal({ deth: false, aeth: false, otherEthLen: 20 });
    expect(ethLayoutOf(0x13)).to.deep.equal({ deth: false, aeth: false, otherEthLen: 28 });
    expect(ethLayoutOf(0x16)).to.deep.equal({ deth: false, aeth: false, otherEthLen: 4 });
  });

  it('does not lay out RD, XRC, CNP, vendor or undefined OpCodes @ib', () => {
    for (const op of [0x44, 0xa4, 0x81, 0xc0, 0x2c, 0x60, 0x15]) {
      expect(ethLayoutOf(op), opcodeName(op)).to.equal(undefined);
    }
  });
});
