import { expect } from 'chai';
import { loadNative } from '../../src/native/addon.js';
import { computeIcrc } from '../../src/wire/icrc.js';
import { computeVcrc } from '../../src/wire/vcrc.js';

/** A deterministic generator (xorshift32), so a failure names a reproducible buffer. */
function xorshift(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

function randomBuffer(next: () => number, len: number): Buffer {
  const b = Buffer.alloc(len);
  for (let i = 0; i < len; i++) b[i] = next() & 0xff;
  return b;
}

/**
 * Lengths that reach every branch of the C++ CRCs: slicing-by-16 steps and their tails, the
 * carry-less-multiply path from 64 octets on (one, four and more 16-octet blocks, 64-octet
 * rounds and their remainders), and IB-sized packets up to LRH + GRH + 4096 + CRCs at random.
 */
function lengthsToCover(next: () => number, from = 0): number[] {
  return [...Array.from({ length: 601 - from }, (_, i) => from + i), ...Array.from({ length: 300 }, () => from + (next() % (4200 - from)))];
}

const PATHS = [
  { name: 'default', portable: false },
  { name: 'portable', portable: true },
] as const;

describe('ICRC and VCRC: the C++ endpoint against the TypeScript codecs @crc @native', () => {
  const native = loadNative();

  it('says which path the default takes (carry-less multiplication on x86-64 with PCLMULQDQ) @crc @native', function () {
    expect(native.simCrcUsesClmul).to.be.a('boolean');
    this.test!.title += ` [${native.simCrcUsesClmul ? 'clmul' : 'tables only'}]`;
  });

  for (const { name, portable } of PATHS) {
    it(`VCRC, ${name} path: agrees with src/wire/vcrc.ts on random buffers of every length 0..600 and random lengths up to 4200 @crc @native`, () => {
      const next = xorshift(0x5eed);
      const differing: number[] = [];
      for (const len of lengthsToCover(next)) {
        const data = randomBuffer(next, len);
        if (native.simVcrc(data, portable) !== computeVcrc(data)) differing.push(len);
      }
      expect(differing, 'lengths whose VCRCs differ').to.deep.equal([]);
    });

    it(`ICRC, ${name} path: agrees with src/wire/icrc.ts on random local and global packets up to 4200 octets @crc @native`, () => {
      const next = xorshift(0x1c2c);
      const differing: string[] = [];
      for (const global of [false, true]) {
        for (const len of lengthsToCover(next, global ? 60 : 20)) {
          const data = randomBuffer(next, len);
          if (native.simIcrc(data, global, portable) !== computeIcrc(data, { global })) differing.push(`${global ? 'global' : 'local'} ${len}`);
        }
      }
      expect(differing, 'packets whose ICRCs differ').to.deep.equal([]);
    });
  }

  it('agrees on all-zero, all-ones and single-bit buffers, and on the check value, on both paths @crc @native', () => {
    for (const portable of [false, true]) {
      expect(native.simVcrc(Buffer.from('123456789'), portable)).to.equal(0x0a3d);
      expect(native.simVcrc(Buffer.alloc(0), portable)).to.equal(computeVcrc(Buffer.alloc(0)));
      for (const len of [1, 15, 16, 17, 63, 64, 65, 127, 128, 2080, 4150]) {
        for (const fill of [0x00, 0xff]) {
          const data = Buffer.alloc(len, fill);
          expect(native.simVcrc(data, portable), `${len} octets of 0x${fill.toString(16)}`).to.equal(computeVcrc(data));
        }
      }
      // One bit set at every position of a 160-octet buffer: each folding constant and table
      // entry's contribution alone.
      for (let bit = 0; bit < 160 * 8; bit++) {
        const data = Buffer.alloc(160);
        data[bit >> 3] = 1 << (bit & 7);
        expect(native.simVcrc(data, portable), `VCRC bit ${bit}`).to.equal(computeVcrc(data));
        expect(native.simIcrc(data, false, portable), `ICRC bit ${bit}`).to.equal(computeIcrc(data, { global: false }));
      }
    }
  });

  it('takes a Uint8Array view at an odd offset, and refuses other types and short ICRC input @crc @native', () => {
    const backing = randomBuffer(xorshift(7), 300);
    const view = new Uint8Array(backing.buffer, backing.byteOffset + 3, 251);
    expect(native.simVcrc(view)).to.equal(computeVcrc(Buffer.from(view)));
    expect(native.simIcrc(view, true)).to.equal(computeIcrc(Buffer.from(view), { global: true }));
    expect(() => native.simVcrc(new Uint16Array(4) as unknown as Uint8Array)).to.throw(TypeError);
    expect(() => (native.simVcrc as (...a: unknown[]) => number)()).to.throw(TypeError);
    expect(() => native.simVcrc(Buffer.alloc(4), 1 as unknown as boolean)).to.throw(TypeError);
    expect(() => native.simIcrc(Buffer.alloc(59), true)).to.throw(RangeError);
    expect(() => native.simIcrc(Buffer.alloc(19), false)).to.throw(RangeError);
  });
});
