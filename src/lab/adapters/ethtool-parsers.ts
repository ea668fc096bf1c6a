/**
 * ethtool's text output for an ipoib netdev (research kernel-ipoib.md §4): `-S` statistics,
 * `-i` driver info, `-k` features, `-c` coalescing. ethtool has no JSON for all of these on
 * the versions labs run, so the text is read line by line and any line that fits no known
 * form is a ParseError with its line number.
 */
import { ParseError } from '../../errors.js';
import { decimalUint, numberedLines } from './text-lines.js';

/** The counters ipoib's own ethtool_ops report, in the order it reports them. */
export const IPOIB_ETHTOOL_COUNTERS = [
  'rx_packets',
  'tx_packets',
  'rx_bytes',
  'tx_bytes',
  'tx_errors',
  'rx_dropped',
  'tx_dropped',
  'multicast',
] as const;

export type IpoibCounterName = (typeof IPOIB_ETHTOOL_COUNTERS)[number];
export type IpoibCounters = Record<IpoibCounterName, number>;

const STATS = 'ethtool -S';

/** `ethtool -S X`: a "NIC statistics:" heading, then indented `name: value` lines. */
export function parseEthtoolStats(text: string): Record<string, number> {
  const lines = numberedLines(text);
  const head = lines[0];
  if (head?.text !== 'NIC statistics:') throw new ParseError(STATS, 'line 1', '"NIC statistics:"', head?.text ?? '');
  const out: Record<string, number> = {};
  for (const { n, text: t } of lines.slice(1)) {
    const m = /^\s+([^\s:][^:]*): (\S+)$/.exec(t);
    if (!m || m[1] === undefined || m[2] === undefined) throw new ParseError(STATS, `line ${n}`, 'an indented "name: value" line', t);
    if (Object.hasOwn(out, m[1])) throw new ParseError(STATS, `line ${n}`, `a counter name not seen before`, m[1]);
    out[m[1]] = decimalUint(STATS, `line ${n} (${m[1]})`, m[2]);
  }
  return out;
}

/**
 * The eight counters of ipoib's default datapath. An mlx5 "enhanced IPoIB" netdev reports
 * mlx5's own counter names instead; that is a ParseError here (the caller knows which datapath).
 */
export function ipoibCountersOf(stats: Readonly<Record<string, number>>): IpoibCounters {
  const out = {} as IpoibCounters;
  for (const name of IPOIB_ETHTOOL_COUNTERS) {
    const v = stats[name];
    if (v === undefined) throw new ParseError(STATS, name, `the ipoib counter "${name}"`, Object.keys(stats).join(','));
    out[name] = v;
  }
  return out;
}

/** `key: value` lines (value may be empty), keyed in order; a repeated key is an error. */
function keyValues(command: string, text: string, skipHeading: RegExp | null): Map<string, { n: number; value: string }> {
  const lines = numberedLines(text);
  const out = new Map<string, { n: number; value: string }>();
  for (const [i, { n, text: t }] of lines.entries()) {
    if (i === 0 && skipHeading) {
      if (!skipHeading.test(t)) throw new ParseError(command, 'line 1', `a heading matching ${String(skipHeading)}`, t);
      continue;
    }
    const m = /^([A-Za-z0-9][A-Za-z0-9 _-]*):(?: (.*))?$/.exec(t);
    if (!m || m[1] === undefined) throw new ParseError(command, `line ${n}`, 'a "key: value" line', t);
    if (out.has(m[1])) throw new ParseError(command, `line ${n}`, 'a key not seen before', m[1]);
    out.set(m[1], { n, value: (m[2] ?? '').trim() });
  }
  return out;
}

export interface EthtoolDriverInfo {
  /** "ib_ipoib" on the default datapath. */
  driver: string;
  /** ipoib sets none; newer ethtool cores fill in the kernel release. May be "". */
  version: string;
  firmwareVersion: string;
  /** The HCA's parent device, normally a PCI BDF. */
  busInfo: string;
  /** The `supports-*` lines as booleans, keyed without the prefix (statistics, test, …). */
  supports: Record<string, boolean>;
}

const INFO = 'ethtool -i';

/** `ethtool -i X`. driver, firmware-version and bus-info must be present; version may be empty. */
export function parseEthtoolDriverInfo(text: string): EthtoolDriverInfo {
  const kv = keyValues(INFO, text, null);
  const need = (k: string): string => {
    const e = kv.get(k);
    if (e === undefined) throw new ParseError(INFO, k, `a "${k}:" line`, undefined);
    return e.value;
  };
  const driver = need('driver');
  if (driver === '') throw new ParseError(INFO, `line ${kv.get('driver')?.n ?? 0}`, 'a driver name', driver);
  const supports: Record<string, boolean> = {};
  for (const [k, { n, value }] of kv) {
    if (!k.startsWith('supports-')) continue;
    if (value !== 'yes' && value !== 'no') throw new ParseError(INFO, `line ${n}`, '"yes" or "no"', value);
    supports[k.slice('supports-'.length)] = value === 'yes';
  }
  return { driver, version: need('version'), firmwareVersion: need('firmware-version'), busInfo: need('bus-info'), supports };
}

export interface EthtoolFeature {
  on: boolean;
  /** "[fixed]": the driver does not let it change (e.g. vlan-challenged on ipoib). */
  fixed: boolean;
  /** "[requested on|off]": what was asked when it differs from what is in effect; null otherwise. */
  requested: boolean | null;
}

const FEATURES = 'ethtool -k';

/** `ethtool -k X`: "Features for X:", then `name: on|off [fixed]|[requested on|off]`, sub-features tab-indented. */
export function parseEthtoolFeatures(text: string): Record<string, EthtoolFeature> {
  const lines = numberedLines(text);
  const head = lines[0];
  if (head === undefined || !/^Features for \S+:$/.test(head.text)) {
    throw new ParseError(FEATURES, 'line 1', '"Features for <ifname>:"', head?.text ?? '');
  }
  const out: Record<string, EthtoolFeature> = {};
  for (const { n, text: t } of lines.slice(1)) {
    const m = /^\t?([a-z0-9][a-z0-9-]*): (on|off)(?: \[(fixed|requested on|requested off)\])?$/.exec(t);
    if (!m || m[1] === undefined || m[2] === undefined) {
      throw new ParseError(FEATURES, `line ${n}`, '"name: on|off" with an optional [fixed] or [requested on|off]', t);
    }
    if (Object.hasOwn(out, m[1])) throw new ParseError(FEATURES, `line ${n}`, 'a feature not seen before', m[1]);
    const note = m[3];
    out[m[1]] = {
      on: m[2] === 'on',
      fixed: note === 'fixed',
      requested: note === 'requested on' ? true : note === 'requested off' ? false : null,
    };
  }
  return out;
}

export interface EthtoolCoalesce {
  /** "Adaptive RX:"; null for n/a. */
  adaptiveRx: boolean | null;
  adaptiveTx: boolean | null;
  /** Every `name: value` parameter; null for "n/a" (what the driver does not support). */
  params: Record<string, number | null>;
  /** ipoib supports only these two. */
  rxUsecs: number | null;
  rxFrames: number | null;
}

const COALESCE = 'ethtool -c';

function onOffNa(where: string, v: string): boolean | null {
  if (v === 'on') return true;
  if (v === 'off') return false;
  if (v === 'n/a') return null;
  throw new ParseError(COALESCE, where, '"on", "off" or "n/a"', v);
}

/**
 * `ethtool -c X`: "Coalesce parameters for X:", an "Adaptive RX: a  TX: b" line, optional
 * "CQE mode RX: a  TX: b", then `name: value` lines in blank-line separated blocks. Old
 * ethtool versions print 0 where new ones print n/a; both are accepted as printed.
 */
export function parseEthtoolCoalesce(text: string): EthtoolCoalesce {
  const lines = numberedLines(text);
  const head = lines[0];
  if (head === undefined || !/^Coalesce parameters for \S+:$/.test(head.text)) {
    throw new ParseError(COALESCE, 'line 1', '"Coalesce parameters for <ifname>:"', head?.text ?? '');
  }
  let adaptiveRx: boolean | null | undefined;
  let adaptiveTx: boolean | null = null;
  const params: Record<string, number | null> = {};
  for (const { n, text: t } of lines.slice(1)) {
    if (t === '') continue;
    const pair = /^(Adaptive|CQE mode) RX: (\S+)\s+TX: (\S+)$/.exec(t);
    if (pair && pair[2] !== undefined && pair[3] !== undefined) {
      if (pair[1] === 'Adaptive') {
        adaptiveRx = onOffNa(`line ${n}`, pair[2]);
        adaptiveTx = onOffNa(`line ${n}`, pair[3]);
      }
      continue;
    }
    const m = /^([a-z][a-z-]*): (\S+)$/.exec(t);
    if (!m || m[1] === undefined || m[2] === undefined) throw new ParseError(COALESCE, `line ${n}`, 'a "name: value" line', t);
    if (Object.hasOwn(params, m[1])) throw new ParseError(COALESCE, `line ${n}`, 'a parameter not seen before', m[1]);
    params[m[1]] = m[2] === 'n/a' ? null : decimalUint(COALESCE, `line ${n} (${m[1]})`, m[2]);
  }
  if (adaptiveRx === undefined) throw new ParseError(COALESCE, 'Adaptive', 'an "Adaptive RX: …  TX: …" line', undefined);
  for (const k of ['rx-usecs', 'rx-frames']) {
    if (!Object.hasOwn(params, k)) throw new ParseError(COALESCE, k, `a "${k}:" line`, undefined);
  }
  return { adaptiveRx, adaptiveTx, params, rxUsecs: params['rx-usecs'] ?? null, rxFrames: params['rx-frames'] ?? null };
}
