/**
 * The one codec contract every wire structure follows (encode / decode / encodingLength),
 * plus the bounds helpers every decoder uses so that no decoder reads past its buffer.
 */
import { WireError } from '../errors.js';

export { WireError };

/** What a decoder returns: the value and how many bytes it consumed. */
export interface Decoded<T> {
  value: T;
  bytes: number;
}

export interface Codec<T> {
  /** Bytes `encode(value)` will write. */
  encodingLength(value: T): number;
  /** Writes `value` at `offset` of `buf`; returns the number of bytes written. */
  encode(value: T, buf: Buffer, offset: number): number;
  /** Reads one value at `offset` of `buf`; never reads past `buf.length`. */
  decode(buf: Buffer, offset: number): Decoded<T>;
}

/** Throws a WireError unless `buf` holds `len` bytes from `offset` on. */
export function need(buf: Buffer, offset: number, len: number, field: string): void {
  if (!Number.isInteger(offset) || offset < 0) {
    throw new WireError(field, offset, `offset ${offset} is not a non-negative integer`, offset);
  }
  if (offset + len > buf.length) {
    throw new WireError(
      field,
      offset,
      `needs ${len} bytes, only ${Math.max(0, buf.length - offset)} remain`,
      buf.length - offset,
    );
  }
}

/** Throws a WireError unless `v` is an integer in [0, 2^bits). */
export function checkUint(field: string, offset: number, v: number, bits: number): void {
  const max = 2 ** bits;
  if (!Number.isInteger(v) || v < 0 || v >= max) {
    throw new WireError(field, offset, `${String(v)} does not fit ${bits} unsigned bits`, v);
  }
}

/** Throws a WireError unless `b` is a Buffer of exactly `len` bytes. */
export function checkBytes(field: string, offset: number, b: Buffer, len: number): void {
  if (!Buffer.isBuffer(b) || b.length !== len) {
    const got = Buffer.isBuffer(b) ? `${b.length} bytes` : typeof b;
    throw new WireError(field, offset, `want ${len} bytes, got ${got}`, b);
  }
}

/** Encodes into a fresh buffer of exactly `encodingLength(value)` bytes. */
export function encodeToBuffer<T>(codec: Codec<T>, value: T): Buffer {
  const buf = Buffer.alloc(codec.encodingLength(value));
  const n = codec.encode(value, buf, 0);
  if (n !== buf.length) {
    throw new WireError('codec', 0, `encoder wrote ${n} bytes, encodingLength said ${buf.length}`);
  }
  return buf;
}

/** Decodes a value that must fill `buf` exactly (trailing bytes are an error). */
export function decodeExact<T>(codec: Codec<T>, buf: Buffer, field: string): T {
  const { value, bytes } = codec.decode(buf, 0);
  if (bytes !== buf.length) {
    throw new WireError(field, bytes, `${buf.length - bytes} trailing bytes after the structure`, buf.length - bytes);
  }
  return value;
}

/** Copies a slice so that a decoded value never aliases the caller's frame. */
export function copyBytes(buf: Buffer, start: number, end: number): Buffer {
  return Buffer.from(buf.subarray(start, end));
}
