/**
 * The IP addresses configured on one interface (what `ip addr` would hold for the host side):
 * IPv4 and IPv6 with their prefix lengths, plus the IPv6 link-local address every IPoIB
 * interface has from its port GUID. The stack answers ARP and ND only for these, maps subnet
 * broadcasts to the broadcast group, and picks source addresses for its solicitations here.
 * Text without a prefix length means a host route (/32, /128), as `ip addr add` reads it.
 */
import { IpoibControlError } from '../errors.js';
import { WireError } from '../wire/codec.js';
import { formatIpv4, formatIpv6, parseIpv4, parseIpv6 } from '../wire/ip-text.js';
import { type IidProfile, linkLocalFromGuid } from '../wire/ipv6-iid.js';
import { Defects } from './defects.js';
import type { IpFamily } from './neighbours.js';

export interface InterfaceAddress {
  family: IpFamily;
  /** Canonical text (dotted quad, RFC 5952). */
  ip: string;
  prefixLen: number;
  bytes: Buffer;
}

/** Parses `a.b.c.d[/n]` or `v6[/n]`; EINVAL for anything else. */
export function parseCidr(text: string, op: string): InterfaceAddress {
  const [addr = '', len, extra] = text.trim().split('/');
  const bad = (why: string): never => {
    throw new IpoibControlError(op, 'EINVAL', `"${text}" ${why}`);
  };
  if (extra !== undefined) bad('has more than one "/"');
  const family: IpFamily = addr.includes(':') ? 6 : 4;
  const max = family === 4 ? 32 : 128;
  const prefixLen = len === undefined ? max : /^\d{1,3}$/.test(len) ? Number(len) : NaN;
  if (!Number.isInteger(prefixLen) || prefixLen > max) bad(`has no prefix length 0..${max}`);
  try {
    const bytes = family === 4 ? parseIpv4(addr) : parseIpv6(addr);
    return { family, ip: family === 4 ? formatIpv4(bytes) : formatIpv6(bytes), prefixLen, bytes };
  } catch (e) {
    if (e instanceof WireError) return bad('is not an IPv4 or IPv6 address');
    throw e;
  }
}

/** The U/L bit in octet 0 of the interface identifier (octet 8 of the address). */
const IID_UL_BIT = 0x02;
const IID_AT = 8;

/**
 * The fe80::/64 address from the port GUID (8 octets) under `profile`. The seeded defect
 * linklocal-no-ul-flip turns the U/L bit the other way: the GUID without the modified-EUI-64 step.
 */
export function linkLocalAddress(guid: Buffer, profile: IidProfile, defects: Defects = Defects.NONE): Buffer {
  const { address } = linkLocalFromGuid(guid, profile);
  if (defects.has('linklocal-no-ul-flip')) address[IID_AT] = (address[IID_AT] ?? 0) ^ IID_UL_BIT;
  return address;
}

/** The subnet broadcast of an IPv4 prefix, or undefined for /31 and /32 (no broadcast there). */
function ipv4Broadcast(a: InterfaceAddress): string | undefined {
  if (a.prefixLen > 30) return undefined;
  const host = a.prefixLen === 0 ? 0xffffffff : (2 ** (32 - a.prefixLen) - 1) >>> 0;
  const b = Buffer.alloc(4);
  b.writeUInt32BE((a.bytes.readUInt32BE(0) | host) >>> 0, 0);
  return formatIpv4(b);
}

export class InterfaceAddresses {
  private readonly table = new Map<string, InterfaceAddress>();
  readonly linkLocal: InterfaceAddress;

  constructor(linkLocal: Buffer) {
    this.linkLocal = { family: 6, ip: formatIpv6(linkLocal), prefixLen: 64, bytes: Buffer.from(linkLocal) };
    this.table.set(this.linkLocal.ip, this.linkLocal);
  }

  /** Adds an address; EEXIST when it is already there. */
  add(cidr: string, op: string): InterfaceAddress {
    const a = parseCidr(cidr, op);
    if (this.table.has(a.ip)) throw new IpoibControlError(op, 'EEXIST', `${a.ip} is already configured`);
    this.table.set(a.ip, a);
    return a;
  }

  /** Removes an address; EADDRNOTAVAIL when it is not there. The link-local address stays. */
  remove(cidr: string, op: string): InterfaceAddress {
    const a = parseCidr(cidr, op);
    const have = this.table.get(a.ip);
    if (!have || have === this.linkLocal) throw new IpoibControlError(op, 'EADDRNOTAVAIL', `${a.ip} is not a removable address here`);
    this.table.delete(a.ip);
    return have;
  }

  has(ip: string): boolean {
    return this.table.has(ip);
  }

  list(family?: IpFamily): InterfaceAddress[] {
    return [...this.table.values()].filter((a) => family === undefined || a.family === family);
  }

  ipv4Broadcasts(): Set<string> {
    const out = new Set<string>();
    for (const a of this.list(4)) {
      const b = ipv4Broadcast(a);
      if (b) out.add(b);
    }
    return out;
  }

  /** Source for a packet to `dst`: an IPv4 address whose prefix holds it (else the first); for IPv6 the link-local one for link-local targets, else a global one. */
  sourceFor(family: IpFamily, dst: Buffer): InterfaceAddress | undefined {
    const mine = this.list(family);
    if (family === 4) {
      const d = dst.readUInt32BE(0);
      const onLink = mine.find((a) => {
        const mask = a.prefixLen === 0 ? 0 : (~(2 ** (32 - a.prefixLen) - 1)) >>> 0;
        return ((a.bytes.readUInt32BE(0) & mask) >>> 0) === ((d & mask) >>> 0);
      });
      return onLink ?? mine[0];
    }
    const linkLocalDst = dst[0] === 0xfe && ((dst[1] ?? 0) & 0xc0) === 0x80;
    if (linkLocalDst) return this.linkLocal;
    return mine.find((a) => a !== this.linkLocal) ?? this.linkLocal;
  }
}
