/**
 * The one round-trip check every codec's unit test uses: golden bytes, length agreement,
 * decode -> re-encode identity, encoding at an offset inside a larger buffer, and that every
 * truncated prefix fails with WireError (never RangeError or a read past the end).
 */
import { expect } from 'chai';
import { type Codec, encodeToBuffer } from '../../src/wire/codec.js';
import { WireError } from '../../src/errors.js';

export function hex(s: string): Buffer {
  return Buffer.from(s.replace(/[\s:_-]/g, ''), 'hex');
}

export function roundtrip<T>(codec: Codec<T>, value: T, goldenHex: string): void {
  const golden = hex(goldenHex);
  const encoded = encodeToBuffer(codec, value);
  expect(encoded.toString('hex'), 'golden bytes').to.equal(golden.toString('hex'));
  expect(codec.encodingLength(value), 'encodingLength').to.equal(golden.length);

  const { value: decoded, bytes } = codec.decode(golden, 0);
  expect(bytes, 'bytes consumed').to.equal(golden.length);
  expect(encodeToBuffer(codec, decoded).toString('hex'), 'decode -> re-encode').to.equal(golden.toString('hex'));
  expect(decoded, 'decoded value').to.deep.equal(value);

  const big = Buffer.alloc(golden.length + 20, 0xee);
  expect(codec.encode(value, big, 10), 'bytes written at offset 10').to.equal(golden.length);
  expect(big.subarray(10, 10 + golden.length).toString('hex'), 'bytes at offset 10').to.equal(golden.toString('hex'));
  expect(big[9], 'byte before offset untouched').to.equal(0xee);
  expect(big[10 + golden.length], 'byte after end untouched').to.equal(0xee);
  expect(codec.decode(big, 10).value, 'decode at offset 10').to.deep.equal(value);

  expectTruncationsFail(codec, golden);
}

/** Every strict prefix of `full` must be rejected with WireError. */
export function expectTruncationsFail<T>(codec: Codec<T>, full: Buffer): void {
  for (let n = 0; n < full.length; n++) {
    expectWireError(() => codec.decode(full.subarray(0, n), 0), undefined, `prefix of ${n}/${full.length} bytes`);
  }
}

/** Runs `fn`, which must throw WireError; optionally its field must match. Returns the error. */
export function expectWireError(fn: () => unknown, field?: string | RegExp, what = 'call'): WireError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, `${what} should throw WireError`).to.be.instanceOf(WireError);
  const err = caught as WireError;
  if (field instanceof RegExp) expect(err.field, `${what}: field of ${err.message}`).to.match(field);
  else if (field !== undefined) expect(err.field, `${what}: field of ${err.message}`).to.equal(field);
  return err;
}
