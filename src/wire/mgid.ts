/**
 * IPoIB multicast GIDs (RFC 4391 §4) and the text form of GIDs (IPv4 text lives in ip-text.ts).
 *
 * MGID layout, 16 octets: 0xff | flags<<4 | scope | signature(2) | P_Key(2) | group ID(10).
 * IPv4 groups keep their low 28 bits in the group ID, IPv6 groups their octets 6..15; so the
 * mapping is many-to-one (the MGID carries the link's scope, not the group's).
 */
import { WireError } from '../errors.js';
import { checkUint } from './codec.js';
import {
  GID_LEN,
  IPOIB_SIGNATURE_IPV4,
  IPOIB_SIGNATURE_IPV6,
  MGID_FLAGS_TRANSIENT,
  MGID_SCOPE_LINK,
} from './constants.js';
import { formatIpv6, parseIpv4, parseIpv6 } from './ip-text.js';

export { GID_LEN } from './constants.js';

// ---- text form ----------------------------------------------------------------------------

/** GID text (the IPv6 form, e.g. `ff12:401b:ffff::1`) to 16 octets; errors name `field`. */
export function parseGid(text: string, field = 'gid.text'): Buffer {
  return parseIpv6(text, field);
}

/** 16 octets to GID text, written exactly as an IPv6 address would be (see `formatIpv6`). */
export function formatGid(b: Buffer, field = 'gid'): string {
  return formatIpv6(b, field);
}

// ---- MGID construction ----------------------------------------------------------------------

/**
 * Scope nibble check: 0 and 0xf are reserved in IB (RFC 4392 §1.2.1.2), so no IPoIB link can
 * use them; any other 4-bit value is accepted (2, 5, 8 and 0xe are the assigned ones).
 */
function checkScope(scope: number): void {
  checkUint('mgid.scope', -1, scope, 4);
  if (scope === 0 || scope === 0xf) throw new WireError('mgid.scope', -1, `scope ${scope} is reserved`, scope);
}

/**
 * The P_Key goes in exactly as given (no full-member bit added): a test must be able to build
 * the MGID a limited-member key would give. Linux always ORs 0x8000; use `linuxPkey()` from
 * pkey.ts to predict its MGIDs. Validity (base 0) is judged by `isValidPkey`, not here.
 */
function mgidHead(signature: number, pkey: number, scope: number): Buffer {
  checkScope(scope);
  checkUint('mgid.pkey', -1, pkey, 16);
  const m = Buffer.alloc(GID_LEN);
  m[0] = 0xff;
  m[1] = (MGID_FLAGS_TRANSIENT << 4) | scope;
  m.writeUInt16BE(signature, 2);
  m.writeUInt16BE(pkey, 4);
  return m;
}

/** The IPv4 broadcast-GID: ff1S:401b:PPPP:0000:0000:0000:ffff:ffff. */
export function broadcastMgid(pkey: number, scope: number = MGID_SCOPE_LINK): Buffer {
  const m = mgidHead(IPOIB_SIGNATURE_IPV4, pkey, scope);
  m.writeUInt32BE(0xffffffff, 12);
  return m;
}

/**
 * MGID for an IPv4 multicast group (224.0.0.0/4): its low 28 bits go into the last 28 bits.
 * 255.255.255.255 is the special case that maps to the broadcast-GID. Any other address is
 * not a group and is refused.
 */
export function mgidForIpv4Group(group: string, pkey: number, scope: number = MGID_SCOPE_LINK): Buffer {
  const g = parseIpv4(group, 'mgid.group');
  if (g.readUInt32BE(0) === 0xffffffff) return broadcastMgid(pkey, scope);
  if (((g[0] ?? 0) & 0xf0) !== 0xe0) {
    throw new WireError('mgid.group', -1, `${group} is not an IPv4 multicast group (224.0.0.0/4)`, group);
  }
  const m = mgidHead(IPOIB_SIGNATURE_IPV4, pkey, scope);
  m.writeUInt32BE(g.readUInt32BE(0) & 0x0fffffff, 12);
  return m;
}

/** MGID for an IPv6 multicast group (ff00::/8): its octets 6..15 become the group ID. */
export function mgidForIpv6Group(group: string, pkey: number, scope: number = MGID_SCOPE_LINK): Buffer {
  const g = parseGid(group, 'mgid.group');
  if (g[0] !== 0xff) {
    throw new WireError('mgid.group', -1, `${group} is not an IPv6 multicast group (ff00::/8)`, group);
  }
  const m = mgidHead(IPOIB_SIGNATURE_IPV6, pkey, scope);
  g.copy(m, 6, 6, 16);
  return m;
}

// ---- MGID recognition -------------------------------------------------------------------------

export interface IpoibMgidInfo {
  family: 4 | 6;
  /** The whole flags nibble (IPoIB wants exactly 0x1). */
  flags: number;
  scope: number;
  pkey: number;
  /** The 80-bit group ID (octets 6..15). */
  groupBits: bigint;
  /** IPv4 signature with the broadcast group ID (48 zero bits, 32 one bits). */
  isBroadcast: boolean;
  /** The T flag. Always true unless `requireTransient: false` was passed. */
  transient: boolean;
}

export interface ParseMgidOptions {
  /**
   * Default true: an MGID with T=0 is not an IPoIB MGID, so the result is null. Pass false to
   * recognise the T=0 "twin" (ff02:401b:...) anyway, e.g. to report that a DUT joined one.
   */
  requireTransient?: boolean;
}

/**
 * Recognises an IPoIB MGID: 0xff prefix, T flag set, signature 0x401b (IPv4) or 0x601b (IPv6).
 * Returns null for any other GID. Scope and P_Key are reported as found, not judged.
 */
export function parseIpoibMgid(gid: Buffer, opts: ParseMgidOptions = {}): IpoibMgidInfo | null {
  if (!Buffer.isBuffer(gid) || gid.length !== GID_LEN) {
    throw new WireError('mgid', -1, `want a ${GID_LEN}-octet Buffer`, gid);
  }
  const flagsScope = gid.readUInt8(1);
  const flags = flagsScope >> 4;
  const transient = (flags & MGID_FLAGS_TRANSIENT) !== 0;
  if (gid.readUInt8(0) !== 0xff) return null;
  if (!transient && opts.requireTransient !== false) return null;
  const signature = gid.readUInt16BE(2);
  const family = signature === IPOIB_SIGNATURE_IPV4 ? 4 : signature === IPOIB_SIGNATURE_IPV6 ? 6 : null;
  if (family === null) return null;
  const groupBits = BigInt(`0x${gid.subarray(6, 16).toString('hex')}`);
  return {
    family,
    flags,
    scope: flagsScope & 0xf,
    pkey: gid.readUInt16BE(4),
    groupBits,
    isBroadcast: family === 4 && groupBits === 0xffffffffn,
    transient,
  };
}
