import { expect } from 'chai';
import { encodeToBuffer } from '../../src/wire/codec.js';
import { type Lrh, lrh, lrhProblems, requireIbaLnh, wireLengthOfPktLen } from '../../src/wire/lrh.js';
import { expectWireError, hex, roundtrip } from '../helpers/roundtrip.js';

/** A plain local-route header: RC SEND ONLY from LID 1 to LID 2, SL 3, 15 words long. */
const plain: Lrh = { vl: 0, lver: 0, sl: 3, resv2: 0, lnh: 2, dlid: 0x0002, resv5: 0, pktLen: 15, slid: 0x0001 };

describe('LRH codec @ib', () => {
  it('round-trips a local-route header against hand-derived octets @ib', () => {
    // octet 0: VL 0 << 4 | LVer 0                = 0x00
    // octet 1: SL 3 << 4 | resv 0 << 2 | LNH 0b10 = 0x32
    // octets 2-3: DLID 0x0002
    // octets 4-5: resv5 0 << 11 | PktLen 15      = 0x000f
    // octets 6-7: SLID 0x0001
    roundtrip(lrh, plain, '00 32 0002 000f 0001');
  });

  it('keeps reserved bits, LVer and the widest values as found @ib', () => {
    const odd: Lrh = { vl: 15, lver: 0xa, sl: 0xc, resv2: 3, lnh: 1, dlid: 0xffff, resv5: 0x1f, pktLen: 0x7ff, slid: 0xc000 };
    // octet 0: 15 << 4 | 0xa = 0xfa; octet 1: 0xc << 4 | 3 << 2 | 1 = 0xcd;
    // octets 4-5: 0x1f << 11 | 0x7ff = 0xffff
    roundtrip(lrh, odd, 'fa cd ffff ffff c000');
    const back = lrh.decode(hex('fa cd ffff ffff c000'), 0).value;
    expect(back.resv2).to.equal(3);
    expect(back.resv5).to.equal(0x1f);
    expect(back.lver).to.equal(0xa);
  });

  it('splits PktLen from the reserved bits above it @ib', () => {
    const v = lrh.decode(hex('00 02 0001 0806 0002'), 0).value;
    expect(v.resv5).to.equal(0x01);
    expect(v.pktLen).to.equal(0x006);
  });

  it('rejects every field wider than its bits on encode, naming the field @ib', () => {
    const cases: Array<[Partial<Lrh>, string]> = [
      [{ vl: 16 }, 'lrh.vl'],
      [{ lver: 16 }, 'lrh.lver'],
      [{ sl: 16 }, 'lrh.sl'],
      [{ resv2: 4 }, 'lrh.resv2'],
      [{ lnh: 4 }, 'lrh.lnh'],
      [{ dlid: 0x10000 }, 'lrh.dlid'],
      [{ resv5: 32 }, 'lrh.resv5'],
      [{ pktLen: 2048 }, 'lrh.pktlen'],
      [{ slid: -1 }, 'lrh.slid'],
      [{ dlid: 1.5 }, 'lrh.dlid'],
    ];
    for (const [patch, field] of cases) {
      const err = expectWireError(() => encodeToBuffer(lrh, { ...plain, ...patch }), field, JSON.stringify(patch));
      expect(err.value).to.equal(Object.values(patch)[0]);
    }
  });

  it('refuses to encode into a buffer too short for 8 octets @ib', () => {
    expectWireError(() => lrh.encode(plain, Buffer.alloc(10), 3), 'lrh');
  });

  it('rejects a decode offset past the end or negative @ib', () => {
    expectWireError(() => lrh.decode(hex('00 32 0002 000f 0001'), 1), 'lrh');
    expectWireError(() => lrh.decode(hex('00 32 0002 000f 0001'), -1), 'lrh');
  });

  it('counts PktLen words through the ICRC and adds the 2 VCRC octets for the wire length @ib', () => {
    expect(wireLengthOfPktLen(8)).to.equal(34);
    expect(wireLengthOfPktLen(20)).to.equal(82);
  });

  it('refuses raw LNH values where an IBA packet is needed @ib', () => {
    expectWireError(() => requireIbaLnh(0, 0), 'lrh.lnh');
    expectWireError(() => requireIbaLnh(1, 0), 'lrh.lnh');
    expect(() => requireIbaLnh(2, 0)).not.to.throw();
    expect(() => requireIbaLnh(3, 0)).not.to.throw();
  });
});

describe('LRH judge @ib', () => {
  it('finds nothing wrong with a plain header @ib', () => {
    expect(lrhProblems(plain)).to.deep.equal([]);
  });

  it('reports LVer, reserved bits, reserved LIDs, a group source LID and a too-short PktLen @ib', () => {
    const bad: Lrh = { ...plain, lver: 1, resv2: 2, resv5: 1, dlid: 0, slid: 0xc001, pktLen: 5 };
    const problems = lrhProblems(bad);
    expect(problems).to.have.length(6);
    for (const f of ['lrh.lver', 'lrh.resv2', 'lrh.resv5', 'lrh.dlid', 'lrh.slid', 'lrh.pktlen']) {
      expect(problems.some((p) => p.startsWith(f)), f).to.equal(true);
    }
  });

  it('accepts the permissive LID as a source and a reserved SLID 0 is reported @ib', () => {
    expect(lrhProblems({ ...plain, slid: 0xffff })).to.deep.equal([]);
    expect(lrhProblems({ ...plain, slid: 0 })).to.deep.equal(['lrh.slid is 0, a reserved LID']);
  });
});
