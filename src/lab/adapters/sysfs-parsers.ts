/**
 * The ib_ipoib sysfs files (research kernel-ipoib.md §1) and `uname -r`, read from their exact
 * printed forms. Each parser takes a file's whole content, trailing newline included.
 */
import { ParseError, WireError } from '../../errors.js';
import { type IpoibHwAddr, parseHwAddr } from '../../wire/ipoib-hwaddr.js';
import type { IpoibMode } from './dut.js';
import { decimalUint } from './text-lines.js';

/** One value per file: the content minus exactly one trailing newline (sysfs prints one). */
function single(file: string, text: string): string {
  const v = text.endsWith('\n') ? text.slice(0, -1) : text;
  if (v.includes('\n')) throw new ParseError(`sysfs ${file}`, 'line 2', 'a single line', text);
  return v;
}

/** `mode`: "datagram" or "connected" (lower case, as `mode_show` prints). */
export function parseSysfsMode(text: string): IpoibMode {
  const v = single('mode', text);
  if (v === 'datagram' || v === 'connected') return v;
  throw new ParseError('sysfs mode', 'line 1', '"datagram" or "connected"', v);
}

/** `umcast`: "%d" of a flag, so 0 or 1. */
export function parseSysfsUmcast(text: string): boolean {
  const v = single('umcast', text);
  if (v === '0' || v === '1') return v === '1';
  throw new ParseError('sysfs umcast', 'line 1', '0 or 1', v);
}

/** `pkey`: "0x%04x", always four lower-case hex digits. */
export function parseSysfsPkey(text: string): number {
  const v = single('pkey', text);
  if (!/^0x[0-9a-f]{4}$/.test(v)) throw new ParseError('sysfs pkey', 'line 1', 'a P_Key printed as 0x%04x (e.g. 0x8001)', v);
  return parseInt(v.slice(2), 16);
}

/** `parent` (legacy children only): the parent's interface name. */
export function parseSysfsParent(text: string): string {
  const v = single('parent', text);
  if (!/^[^\s/:]{1,15}$/.test(v)) throw new ParseError('sysfs parent', 'line 1', 'an interface name (1-15 characters, no blanks, "/" or ":")', v);
  return v;
}

/** `dev_id`: ipoib prints "%#x", which is "0x0" for zero and "0x1" for port 2. */
export function parseSysfsDevId(text: string): number {
  const v = single('dev_id', text);
  if (!/^0x[0-9a-f]+$/.test(v)) throw new ParseError('sysfs dev_id', 'line 1', 'a hex number printed as %#x (e.g. 0x0)', v);
  return parseInt(v.slice(2), 16);
}

/** `dev_port`: decimal, port number minus one on a parent, 0 on a child. */
export function parseSysfsDevPort(text: string): number {
  return decimalUint('sysfs dev_port', 'line 1', single('dev_port', text));
}

/** `uname -r`, e.g. "6.1.0-13-amd64" or "5.14.0-362.8.1.el9_3.x86_64". */
export interface KernelRelease {
  release: string;
  major: number;
  minor: number;
  /** 0 when the release has only two numbers ("6.8-rc1"). */
  patch: number;
}

export function parseKernelRelease(text: string): KernelRelease {
  const release = text.trim();
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?(?:[-+_.~].*)?$/.exec(release);
  if (!m || m[1] === undefined || m[2] === undefined) {
    throw new ParseError('uname -r', 'line 1', 'a kernel release starting with MAJOR.MINOR (e.g. 6.1.0-13-amd64)', release);
  }
  return { release, major: Number(m[1]), minor: Number(m[2]), patch: m[3] === undefined ? 0 : Number(m[3]) };
}

/** True when the release is at least major.minor. */
export function kernelAtLeast(k: KernelRelease, major: number, minor: number): boolean {
  return k.major > major || (k.major === major && k.minor >= minor);
}

/** A decimal sysfs value such as `mtu`, `carrier`, `type`, `addr_len`. */
export function parseSysfsDecimal(file: string, text: string): number {
  return decimalUint(`sysfs ${file}`, 'line 1', single(file, text));
}

/** `address` or `broadcast`: the 20-octet IPoIB address in `ip link` form. */
export function parseSysfsHwAddr(file: string, text: string): IpoibHwAddr {
  const v = single(file, text);
  try {
    return parseHwAddr(v);
  } catch (e) {
    if (e instanceof WireError) throw new ParseError(`sysfs ${file}`, 'line 1', 'a 20-octet IPoIB address (20 colon-separated hex pairs)', v);
    throw e;
  }
}
