import { expect } from 'chai';
import { encodeToBuffer } from '../../src/wire/codec.js';
import { type Deth, deth, dethProblems } from '../../src/wire/deth.js';
import { expectWireError, roundtrip } from '../helpers/roundtrip.js';

describe('DETH codec @ib', () => {
  it('round-trips the GSI header against hand-derived octets @ib @qkey', () => {
    // octets 0-3: Q_Key 0x80010000 (the GSI's well-known, controlled Q_Key)
    // octet 4: reserved 0; octets 5-7: SrcQP 1
    roundtrip(deth, { qKey: 0x80010000, resv8: 0, srcQp: 0x000001 }, '80010000 00 000001');
  });

  it('round-trips an IPoIB datagram header and keeps a non-zero reserved octet @ib @qkey', () => {
    // Q_Key 0x00000b1b (OpenSM's IPoIB default), reserved 0xff, SrcQP 0xabcdef
    const v: Deth = { qKey: 0x00000b1b, resv8: 0xff, srcQp: 0xabcdef };
    roundtrip(deth, v, '00000b1b ff abcdef');
    expect(dethProblems(v)).to.deep.equal(['deth.resv8 is 0xff, must be sent as 0']);
    expect(dethProblems({ ...v, resv8: 0 })).to.deep.equal([]);
  });

  it('rejects every field wider than its bits on encode, naming the field @ib @qkey', () => {
    const ok: Deth = { qKey: 0x00000b1b, resv8: 0, srcQp: 0x48 };
    const cases: Array<[Partial<Deth>, string]> = [
      [{ qKey: 0x100000000 }, 'deth.qkey'],
      [{ qKey: -1 }, 'deth.qkey'],
      [{ resv8: 256 }, 'deth.resv8'],
      [{ srcQp: 0x1000000 }, 'deth.srcqp'],
    ];
    for (const [patch, field] of cases) {
      expectWireError(() => encodeToBuffer(deth, { ...ok, ...patch }), field, field);
    }
    expectWireError(() => deth.encode(ok, Buffer.alloc(7), 0), 'deth');
  });
});
