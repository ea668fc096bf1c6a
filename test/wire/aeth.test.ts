import { expect } from 'chai';
import { encodeToBuffer } from '../../src/wire/codec.js';
import {
  aeth,
  aethProblems,
  ackSyndrome,
  classifySyndrome,
  creditsOfCode,
  nakSyndrome,
  rnrNakSyndrome,
  rnrTimerUsec,
} from '../../src/wire/aeth.js';
import { expectWireError, roundtrip } from '../helpers/roundtrip.js';

describe('AETH codec @ib', () => {
  it('round-trips an ACK without a credit count against hand-derived octets @ib', () => {
    // octet 0: syndrome 0b0_00_11111 = 0x1f (ACK, credit code 31); octets 1-3: MSN 7
    roundtrip(aeth, { syndrome: 0x1f, msn: 7 }, '1f 000007');
  });

  it('round-trips a PSN sequence error NAK with the largest MSN @ib', () => {
    // octet 0: 0b0_11_00000 = 0x60 (NAK code 0); octets 1-3: MSN 0xffffff
    roundtrip(aeth, { syndrome: 0x60, msn: 0xffffff }, '60 ffffff');
  });

  it('rejects a syndrome or MSN wider than its bits, naming the field @ib', () => {
    expectWireError(() => encodeToBuffer(aeth, { syndrome: 256, msn: 0 }), 'aeth.syndrome');
    expectWireError(() => encodeToBuffer(aeth, { syndrome: 0, msn: 0x1000000 }), 'aeth.msn');
    expectWireError(() => aeth.encode({ syndrome: 0, msn: 0 }, Buffer.alloc(3), 0), 'aeth');
  });
});

describe('AETH syndrome @ib', () => {
  it('reads ACK credit codes on the logarithmic credit scale @ib', () => {
    // IBA credit table: codes 0-30 grant these many credits; 31 means no credit count.
    const table = [
      0, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536, 2048, 3072, 4096,
      6144, 8192, 12288, 16384, 24576, 32768,
    ];
    expect(table.map((_, code) => creditsOfCode(code))).to.deep.equal(table);
    expect(creditsOfCode(31)).to.equal(null);
    expect(classifySyndrome(0x05)).to.deep.equal({ kind: 'ack', creditCode: 5, credits: 6, reservedBit: false });
    expect(classifySyndrome(0x1f)).to.deep.equal({ kind: 'ack', creditCode: 31, credits: null, reservedBit: false });
  });

  it('reads RNR NAK timer codes in microseconds @ib', () => {
    expect(rnrTimerUsec(0)).to.equal(655_360);
    expect([1, 2, 3, 4, 5, 6, 7, 8].map(rnrTimerUsec)).to.deep.equal([10, 20, 30, 40, 60, 80, 120, 160]);
    expect(rnrTimerUsec(14)).to.equal(1_280);
    expect(rnrTimerUsec(31)).to.equal(491_520);
    expect(classifySyndrome(0x2e)).to.deep.equal({ kind: 'rnr-nak', timerCode: 14, timerUsec: 1_280, reservedBit: false });
  });

  it('names the five NAK codes and leaves the others unnamed @ib', () => {
    const names = [0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x7f].map((s) => {
      const c = classifySyndrome(s);
      return c.kind === 'nak' ? c.name : `not a NAK: ${c.kind}`;
    });
    expect(names).to.deep.equal([
      'psn-sequence-error',
      'invalid-request',
      'remote-access-error',
      'remote-operational-error',
      'invalid-rd-request',
      null,
      null,
    ]);
  });

  it('reports the reserved kind 0b10 and reserved bit 7 @ib', () => {
    expect(classifySyndrome(0x40)).to.deep.equal({ kind: 'reserved', value: 0, reservedBit: false });
    expect(classifySyndrome(0x9f)).to.deep.equal({ kind: 'ack', creditCode: 31, credits: null, reservedBit: true });
    expect(aethProblems({ syndrome: 0xc5, msn: 0 })).to.deep.equal([
      'aeth.syndrome has reserved bit 7 set',
      'aeth.syndrome kind 0b10 is reserved (syndrome 0xc5)',
    ]);
    expect(aethProblems({ syndrome: 0x6a, msn: 0 })).to.deep.equal(['aeth.syndrome NAK code 10 is reserved']);
    expect(aethProblems({ syndrome: 0x1f, msn: 0 })).to.deep.equal([]);
  });

  it('builds syndromes of each kind and rejects values wider than 5 bits @ib', () => {
    expect(ackSyndrome(31)).to.equal(0x1f);
    expect(rnrNakSyndrome(14)).to.equal(0x2e);
    expect(nakSyndrome(3)).to.equal(0x63);
    expectWireError(() => ackSyndrome(32), 'aeth.syndrome.credit');
    expectWireError(() => rnrNakSyndrome(-1), 'aeth.syndrome.timer');
    expectWireError(() => nakSyndrome(1.5), 'aeth.syndrome.nak');
  });
});
