/**
 * Every error class of ipoib-lab lives here, so a caller can narrow with `instanceof`
 * and a reader finds the whole taxonomy in one place.
 */

/** A wire structure could not be encoded or decoded: names the field, the offset and the value. */
export class WireError extends Error {
  override readonly name = 'WireError';
  constructor(
    /** Dotted path of the field, e.g. `arp.hlen` or `lrh.pktlen`. */
    readonly field: string,
    /** Byte offset in the buffer where the problem was found (or -1 when not about a buffer). */
    readonly offset: number,
    message: string,
    /** The offending value, when there is one. */
    readonly value?: unknown,
  ) {
    super(`${field}${offset >= 0 ? ` @${offset}` : ''}: ${message}`);
  }
}

/** The native addon could not be loaded or a native call failed. */
export class NativeError extends Error {
  override readonly name = 'NativeError';
  constructor(
    message: string,
    readonly op?: string,
    readonly errno?: number,
    readonly code?: string,
  ) {
    super(message);
  }
}

/** A command-line usage error: printed without a stack, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** An expected stop of a CLI command with a given exit code and message. */
export class ExitError extends Error {
  override readonly name = 'ExitError';
  constructor(
    readonly exitCode: number,
    message: string,
  ) {
    super(message);
  }
}

/** A simulated-fabric run directory or manager problem (already running, stale, not ours). */
export class FabricRunError extends Error {
  override readonly name = 'FabricRunError';
}

/** The SA refused a request (status set) or never answered (status null). */
export class SaError extends Error {
  override readonly name = 'SaError';
  constructor(
    message: string,
    /** The MAD status of the response; null when the SA did not answer. */
    readonly status: number | null,
    /** The SA-specific error code (bits 8..14 of the status); null when there was no answer. */
    readonly saError: number | null,
  ) {
    super(message);
  }
}

/** Renders a rejected value for an error message: strings quoted, Buffers by length, the rest as JSON-ish text. */
function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (Buffer.isBuffer(value)) return `a ${value.length}-octet Buffer`;
  if (typeof value === 'bigint') return `${value}n`;
  if (value === null || typeof value !== 'object') return String(value);
  return Array.isArray(value) ? `an array of ${value.length}` : 'an object';
}

/** A call got an argument it cannot use: names the call, the argument, what it wants and what came. */
export class ArgumentError extends Error {
  override readonly name = 'ArgumentError';
  constructor(
    /** The call, e.g. `SimEndpoint.postSendUd`. */
    readonly op: string,
    /** The argument's path, e.g. `sends[3].dlid`. */
    readonly argument: string,
    readonly value: unknown,
    /** What a good value is, e.g. "an integer from 1 to 0xbfff". */
    readonly expected: string,
  ) {
    super(`${op}: ${argument} must be ${expected}, got ${describeValue(value)}`);
  }
}

/** A send larger than the path MTU was refused before anything went on the wire. */
export class MtuExceededError extends Error {
  override readonly name = 'MtuExceededError';
  constructor(
    readonly op: string,
    readonly payloadBytes: number,
    readonly mtuBytes: number,
  ) {
    super(`${op}: a ${payloadBytes}-octet payload exceeds the ${mtuBytes}-octet MTU`);
  }
}

/** An object was used in a state that does not allow the call (e.g. after close()). */
export class StateError extends Error {
  override readonly name = 'StateError';
  constructor(
    readonly op: string,
    readonly state: string,
  ) {
    super(`${op}() called in state "${state}"`);
  }
}
