/**
 * What an interface's connected mode (RFC 4755, Linux ipoib_cm.c) is configured with, and the
 * kernel's values for each knob:
 * - `enabled`: whether connected mode is offered at all. Like a kernel built with
 *   CONFIG_INFINIBAND_IPOIB_CM on an HCA with RC: the RC flag 0x80 in the link-layer address,
 *   a listener on the interface's Service ID, and `mode connected` accepted. Default: the
 *   port's `capabilities.connectedMode`. Off, the interface is the RFC 4391 UD-only stack
 *   (flags 0x00, `mode connected` EINVAL), which is how a peer without 0x80 is made.
 * - `profile`: the Service-ID prefix, `linux` (0x10…, the default, for interoperability) or
 *   `rfc` (0x01…, RFC 4755 §3.5's figure); discrepancy D1 of the research catalogue.
 * - `maxPassive`: passive (receiving) connections accepted at once; the next REQ gets REJ
 *   reason 1 (no QP). The kernel's max_nonsrq_conn_qp: default 128, range 0..4096.
 * - `rxIdleTimeoutMs` / `rxReapIntervalMs`: a passive connection that received nothing for
 *   longer than the timeout is torn down by the next reaping pass (kernel: 512 s and a pass
 *   every 768 s); small values let tests watch it.
 */
import { ArgumentError } from '../../errors.js';
import type { IpoibCmProfile } from '../../wire/cm.js';

/** IPOIB_CM_RX_TIMEOUT: a passive connection idle this long is stale. TODO(constants) */
export const IPOIB_CM_RX_TIMEOUT_MS = 512_000;
/** IPOIB_CM_RX_DELAY: how often the kernel looks for stale passive connections. TODO(constants) */
export const IPOIB_CM_RX_DELAY_MS = 768_000;
/** max_nonsrq_conn_qp's default, and the largest value it takes (IPOIB_CM_MAX_CONN_QP). TODO(constants) */
export const IPOIB_CM_DEFAULT_MAX_PASSIVE = 128;
export const IPOIB_CM_MAX_CONN_QP = 4096;

export interface IpoibCmOptions {
  /** Offer connected mode; default the port's capabilities.connectedMode. */
  enabled?: boolean;
  /** Service-ID prefix; default `linux`. */
  profile?: IpoibCmProfile;
  /** Passive connections at once, 0..4096; default 128. */
  maxPassive?: number;
  /** Idle time after which a passive connection is reaped, ms; default 512 000. */
  rxIdleTimeoutMs?: number;
  /** Time between reaping passes, ms; default 768 000. */
  rxReapIntervalMs?: number;
}

export interface IpoibCmConfig {
  enabled: boolean;
  profile: IpoibCmProfile;
  maxPassive: number;
  rxIdleTimeoutMs: number;
  rxReapIntervalMs: number;
}

const DAY_MS = 86_400_000;

function positiveMs(op: string, arg: string, v: unknown, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > DAY_MS) throw new ArgumentError(op, arg, v, `a whole number of ms from 1 to ${DAY_MS}`);
  return v;
}

/** The options with every default filled in; ArgumentError naming the first bad one. */
export function cmConfig(o: IpoibCmOptions | undefined, portSupportsCm: boolean, op = 'IpoibInterface'): IpoibCmConfig {
  const c = o ?? {};
  if (c.enabled !== undefined && typeof c.enabled !== 'boolean') throw new ArgumentError(op, 'cm.enabled', c.enabled, 'a boolean');
  if (c.profile !== undefined && c.profile !== 'linux' && c.profile !== 'rfc') throw new ArgumentError(op, 'cm.profile', c.profile, '"linux" or "rfc"');
  const maxPassive = c.maxPassive ?? IPOIB_CM_DEFAULT_MAX_PASSIVE;
  if (!Number.isInteger(maxPassive) || maxPassive < 0 || maxPassive > IPOIB_CM_MAX_CONN_QP) {
    throw new ArgumentError(op, 'cm.maxPassive', c.maxPassive, `an integer from 0 to ${IPOIB_CM_MAX_CONN_QP}`);
  }
  return {
    // A port without RC cannot offer it, whatever was asked.
    enabled: portSupportsCm && (c.enabled ?? true),
    profile: c.profile ?? 'linux',
    maxPassive,
    rxIdleTimeoutMs: positiveMs(op, 'cm.rxIdleTimeoutMs', c.rxIdleTimeoutMs, IPOIB_CM_RX_TIMEOUT_MS),
    rxReapIntervalMs: positiveMs(op, 'cm.rxReapIntervalMs', c.rxReapIntervalMs, IPOIB_CM_RX_DELAY_MS),
  };
}
