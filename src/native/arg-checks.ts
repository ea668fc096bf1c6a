/**
 * Argument checks for the TypeScript wrappers of native objects (the sim endpoint, the TUN data
 * plane): the C++ side assumes it is handed well-formed values, so each wrapper checks first,
 * and every failure is an ArgumentError naming the operation, the argument and what it wanted.
 */
import { ArgumentError } from '../errors.js';
import { GID_LEN, LID_MULTICAST_BASE, LID_MULTICAST_MAX } from '../wire/constants.js';

export const hex = (v: number): string => `0x${v.toString(16)}`;

export function uint(op: string, arg: string, v: unknown, min: number, max: number, what?: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new ArgumentError(op, arg, v, what ?? `an integer from ${hex(min)} to ${hex(max)}`);
  }
  return v;
}

/** An optional integer in [0, max]; 0 when absent. */
export function optionalUint(op: string, arg: string, v: unknown, max: number, what: string): number {
  return v === undefined ? 0 : uint(op, arg, v, 0, max, what);
}

export function objectArg(op: string, arg: string, v: unknown): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ArgumentError(op, arg, v, 'an object');
  return v as Record<string, unknown>;
}

export function boolArg(op: string, arg: string, v: unknown, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (typeof v !== 'boolean') throw new ArgumentError(op, arg, v, 'a boolean');
  return v;
}

/** A 16-octet GID Buffer (returned as given, not copied); with `multicast`, one starting 0xff. */
export function gidArg(op: string, arg: string, v: unknown, multicast = false): Buffer {
  if (!Buffer.isBuffer(v) || v.length !== GID_LEN) throw new ArgumentError(op, arg, v, `a ${GID_LEN}-octet Buffer`);
  if (multicast && v[0] !== 0xff) throw new ArgumentError(op, arg, v, 'a multicast GID (first octet 0xff)');
  return v;
}

export function unicastLid(op: string, arg: string, v: unknown): number {
  return uint(op, arg, v, 1, LID_MULTICAST_BASE - 1, 'a unicast LID (1..0xbfff)');
}

export function multicastLid(op: string, arg: string, v: unknown): number {
  return uint(op, arg, v, LID_MULTICAST_BASE, LID_MULTICAST_MAX, 'a multicast LID (0xc000..0xfffe)');
}
