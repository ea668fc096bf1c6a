/**
 * `ip -j` output (iproute2 JSON): `ip -d -j link show`, `ip -j addr show`, `ip -j neigh show`.
 * Only the keys this project uses are read; each one is type-checked and a wrong or missing one
 * is a ParseError naming its JSON path. Unknown extra keys are ignored (iproute2 adds keys
 * between versions).
 */
import { ParseError, WireError } from '../../errors.js';
import { type IpoibHwAddr, parseHwAddr } from '../../wire/ipoib-hwaddr.js';
import type { IpoibMode } from './dut.js';

type Json = unknown;
type Obj = Record<string, Json>;

function parseJsonArray(command: string, text: string): Json[] {
  let v: Json;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new ParseError(command, '$', `JSON (${e instanceof Error ? e.message : String(e)})`, text.slice(0, 80));
  }
  if (!Array.isArray(v)) throw new ParseError(command, '$', 'a JSON array', v);
  return v as Json[];
}

function asObject(command: string, path: string, v: Json): Obj {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new ParseError(command, path, 'a JSON object', v);
  return v as Obj;
}

function str(command: string, o: Obj, path: string, key: string): string {
  const v = o[key];
  if (typeof v !== 'string') throw new ParseError(command, `${path}.${key}`, 'a string', v);
  return v;
}

function optStr(command: string, o: Obj, path: string, key: string): string | undefined {
  return o[key] === undefined ? undefined : str(command, o, path, key);
}

function uint(command: string, o: Obj, path: string, key: string): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new ParseError(command, `${path}.${key}`, 'a non-negative integer', v);
  return v;
}

function strArray(command: string, o: Obj, path: string, key: string): string[] {
  const v = o[key];
  if (v === undefined) return [];
  if (!Array.isArray(v) || !v.every((x): x is string => typeof x === 'string')) {
    throw new ParseError(command, `${path}.${key}`, 'an array of strings', v);
  }
  return v;
}

function flag(command: string, o: Obj, path: string, key: string): boolean {
  const v = o[key];
  if (v === undefined) return false;
  if (typeof v !== 'boolean') throw new ParseError(command, `${path}.${key}`, 'true or absent', v);
  return v;
}

function hwaddr(command: string, path: string, text: string): IpoibHwAddr {
  try {
    return parseHwAddr(text);
  } catch (e) {
    if (e instanceof WireError) throw new ParseError(command, path, 'a 20-octet IPoIB address (20 colon-separated hex pairs)', text);
    throw e;
  }
}

/** What `ip -d link` reports under linkinfo kind "ipoib" (absent on parents before Linux 5.10). */
export interface IpoibLinkInfo {
  /** The P_Key as the kernel holds it (0x8000 always set). */
  pkey: number;
  /** iproute2 prints "unknown" for a mode value other than 0 and 1. */
  mode: IpoibMode | 'unknown';
  umcast: boolean;
}

export interface IpLink {
  ifindex: number;
  ifname: string;
  mtu: number;
  operstate: string;
  /** IFF_* names as ip prints them: UP, LOWER_UP, NO-CARRIER, BROADCAST, MULTICAST, … */
  flags: string[];
  /** `link_type`: "infiniband" for every ipoib device. */
  linkType: string;
  /** Parsed only for link type infiniband; null otherwise (other link types have other address forms). */
  address: IpoibHwAddr | null;
  broadcast: IpoibHwAddr | null;
  /** The `link` key: a child's parent (ip shows `ib0.8001@ib0`); null for a parent. */
  parent: string | null;
  /** linkinfo.info_kind, or null when there is no linkinfo (no -d, or no rtnl_link_ops). */
  kind: string | null;
  ipoib: IpoibLinkInfo | null;
}

const LINK = 'ip -d -j link show';

/** `ip -j` prints the pkey as the string "%#.4x" under the key "key"; a number is accepted too. */
function linkInfoPkey(path: string, v: Json): number {
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffff) return v;
  if (typeof v === 'string' && /^0x[0-9a-fA-F]{1,4}$/.test(v)) return parseInt(v.slice(2), 16);
  throw new ParseError(LINK, path, 'a P_Key such as "0x8001"', v);
}

/** umcast is printed "%.4x" ("0000"/"0001"); any non-zero value means the flag is set. */
function linkInfoUmcast(path: string, v: Json): boolean {
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffff) return v !== 0;
  if (typeof v === 'string' && /^[0-9a-fA-F]{1,4}$/.test(v)) return parseInt(v, 16) !== 0;
  throw new ParseError(LINK, path, 'a hex flag such as "0000" or "0001"', v);
}

function parseIpoibInfo(path: string, data: Json): IpoibLinkInfo {
  const d = asObject(LINK, path, data);
  const mode = d['mode'];
  if (mode !== 'datagram' && mode !== 'connected' && mode !== 'unknown') {
    throw new ParseError(LINK, `${path}.mode`, '"datagram", "connected" or "unknown"', mode);
  }
  return { pkey: linkInfoPkey(`${path}.key`, d['key']), mode, umcast: linkInfoUmcast(`${path}.umcast`, d['umcast']) };
}

/** `ip [-d] -j link show [dev X]`: one entry per interface. */
export function parseIpLinkJson(text: string): IpLink[] {
  return parseJsonArray(LINK, text).map((raw, i) => {
    const p = `$[${i}]`;
    const o = asObject(LINK, p, raw);
    const linkType = str(LINK, o, p, 'link_type');
    const ib = linkType === 'infiniband';
    const addr = optStr(LINK, o, p, 'address');
    const brd = optStr(LINK, o, p, 'broadcast');
    let kind: string | null = null;
    let ipoib: IpoibLinkInfo | null = null;
    if (o['linkinfo'] !== undefined) {
      const li = asObject(LINK, `${p}.linkinfo`, o['linkinfo']);
      kind = str(LINK, li, `${p}.linkinfo`, 'info_kind');
      if (kind === 'ipoib') {
        if (li['info_data'] === undefined) throw new ParseError(LINK, `${p}.linkinfo.info_data`, 'the ipoib attributes (pkey, mode, umcast)', undefined);
        ipoib = parseIpoibInfo(`${p}.linkinfo.info_data`, li['info_data']);
      }
    }
    return {
      ifindex: uint(LINK, o, p, 'ifindex'),
      ifname: str(LINK, o, p, 'ifname'),
      mtu: uint(LINK, o, p, 'mtu'),
      operstate: str(LINK, o, p, 'operstate'),
      flags: strArray(LINK, o, p, 'flags'),
      linkType,
      address: ib && addr !== undefined ? hwaddr(LINK, `${p}.address`, addr) : null,
      broadcast: ib && brd !== undefined ? hwaddr(LINK, `${p}.broadcast`, brd) : null,
      parent: optStr(LINK, o, p, 'link') ?? null,
      kind,
      ipoib,
    };
  });
}

export interface IpAddrEntry {
  family: 'inet' | 'inet6';
  /** The address in ip's text form. */
  local: string;
  prefixlen: number;
  scope: string;
  tentative: boolean;
  dadfailed: boolean;
}

export interface IpAddrLink {
  ifindex: number;
  ifname: string;
  addresses: IpAddrEntry[];
}

const ADDR = 'ip -j addr show';

/** `ip -j addr show [dev X]`: interfaces with their `addr_info` lists. */
export function parseIpAddrJson(text: string): IpAddrLink[] {
  return parseJsonArray(ADDR, text).map((raw, i) => {
    const p = `$[${i}]`;
    const o = asObject(ADDR, p, raw);
    const info = o['addr_info'] ?? [];
    if (!Array.isArray(info)) throw new ParseError(ADDR, `${p}.addr_info`, 'an array', info);
    const addresses = (info as Json[]).map((a, j): IpAddrEntry => {
      const q = `${p}.addr_info[${j}]`;
      const e = asObject(ADDR, q, a);
      const family = str(ADDR, e, q, 'family');
      if (family !== 'inet' && family !== 'inet6') throw new ParseError(ADDR, `${q}.family`, '"inet" or "inet6"', family);
      return {
        family,
        local: str(ADDR, e, q, 'local'),
        prefixlen: uint(ADDR, e, q, 'prefixlen'),
        scope: str(ADDR, e, q, 'scope'),
        tentative: flag(ADDR, e, q, 'tentative'),
        dadfailed: flag(ADDR, e, q, 'dadfailed'),
      };
    });
    return { ifindex: uint(ADDR, o, p, 'ifindex'), ifname: str(ADDR, o, p, 'ifname'), addresses };
  });
}

export interface IpNeighEntry {
  dst: string;
  /** Absent when the command named the device (`ip -j neigh show dev X`). */
  dev: string | null;
  /** Absent for INCOMPLETE and FAILED entries. */
  lladdr: IpoibHwAddr | null;
  /** NUD states as ip prints them: REACHABLE, STALE, FAILED, PERMANENT, … */
  state: string[];
  router: boolean;
}

const NEIGH = 'ip -j neigh show';

/** `ip -j neigh show [dev X]` of an ipoib device: every lladdr is a 20-octet IPoIB address. */
export function parseIpNeighJson(text: string): IpNeighEntry[] {
  return parseJsonArray(NEIGH, text).map((raw, i) => {
    const p = `$[${i}]`;
    const o = asObject(NEIGH, p, raw);
    const ll = optStr(NEIGH, o, p, 'lladdr');
    return {
      dst: str(NEIGH, o, p, 'dst'),
      dev: optStr(NEIGH, o, p, 'dev') ?? null,
      lladdr: ll === undefined ? null : hwaddr(NEIGH, `${p}.lladdr`, ll),
      state: strArray(NEIGH, o, p, 'state'),
      // ip prints the router flag as `"router": null` (a JSON null marks a present flag).
      router: Object.hasOwn(o, 'router') && o['router'] !== false,
    };
  });
}
