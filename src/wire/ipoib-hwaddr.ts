/**
 * The 20-octet IPoIB link-layer address (RFC 4391 §9.1.1, flags from RFC 4755 §3.1):
 * flags(1) | QPN(3) | GID(16). The same 20 octets are the ARP hardware address, the payload of
 * the ND link-layer option, and what `ip link` prints as 20 colon-separated hex pairs.
 */
import { WireError } from '../errors.js';
import { type Codec, checkBytes, checkUint, copyBytes, need } from './codec.js';
import {
  GID_LEN,
  IPOIB_FLAG_RC,
  IPOIB_FLAG_UC,
  IPOIB_FLAGS_RESERVED_MASK,
  IPOIB_HWADDR_LEN,
  MCAST_QPN,
} from './constants.js';
import { broadcastMgid } from './mgid.js';

export interface IpoibHwAddr {
  /** RC 0x80, UC 0x40; the other six bits are reserved and kept as found. */
  flags: number;
  /** 24-bit queue pair number. */
  qpn: number;
  /** 16-octet port GID, or an MGID for a multicast address. */
  gid: Buffer;
}

/**
 * A codec for the address that names errors under `field` (`arp.sha.qpn`, `nd.option.address.gid`),
 * so an error in an embedded address says where it sits.
 */
export function ipoibHwAddrCodec(field: string): Codec<IpoibHwAddr> {
  return {
    encodingLength: () => IPOIB_HWADDR_LEN,
    encode(a, buf, offset) {
      checkUint(`${field}.flags`, offset, a.flags, 8);
      checkUint(`${field}.qpn`, offset + 1, a.qpn, 24);
      checkBytes(`${field}.gid`, offset + 4, a.gid, GID_LEN);
      need(buf, offset, IPOIB_HWADDR_LEN, field);
      buf.writeUInt8(a.flags, offset);
      buf.writeUIntBE(a.qpn, offset + 1, 3);
      a.gid.copy(buf, offset + 4);
      return IPOIB_HWADDR_LEN;
    },
    decode(buf, offset) {
      need(buf, offset, IPOIB_HWADDR_LEN, field);
      return {
        value: {
          flags: buf.readUInt8(offset),
          qpn: buf.readUIntBE(offset + 1, 3),
          gid: copyBytes(buf, offset + 4, offset + IPOIB_HWADDR_LEN),
        },
        bytes: IPOIB_HWADDR_LEN,
      };
    },
  };
}

export const ipoibHwAddr: Codec<IpoibHwAddr> = ipoibHwAddrCodec('hwaddr');

/**
 * Reads the `ip link` form: exactly 20 groups of two hex digits separated by single colons
 * (either case; surrounding whitespace, such as a trailing newline from sysfs, is ignored).
 */
export function parseHwAddr(text: string): IpoibHwAddr {
  const groups = typeof text === 'string' ? text.trim().split(':') : [];
  if (groups.length !== IPOIB_HWADDR_LEN) {
    throw new WireError(
      'hwaddr.text',
      -1,
      `want ${IPOIB_HWADDR_LEN} colon-separated octets, got ${groups.length}`,
      text,
    );
  }
  const bad = groups.findIndex((g) => !/^[0-9a-fA-F]{2}$/.test(g));
  if (bad >= 0) {
    throw new WireError('hwaddr.text', -1, `octet ${bad} "${groups[bad]}" is not two hex digits`, text);
  }
  return ipoibHwAddr.decode(Buffer.from(groups.join(''), 'hex'), 0).value;
}

/** The `ip link` form: 20 lower-case two-digit hex groups joined by colons. */
export function formatHwAddr(addr: IpoibHwAddr): string {
  const b = Buffer.alloc(IPOIB_HWADDR_LEN);
  ipoibHwAddr.encode(addr, b, 0);
  return [...b].map((o) => o.toString(16).padStart(2, '0')).join(':');
}

/** The address advertises RFC 4755 connected mode over RC. */
export function hasRc(addr: IpoibHwAddr): boolean {
  return (addr.flags & IPOIB_FLAG_RC) !== 0;
}

/** The address advertises RFC 4755 connected mode over UC. */
export function hasUc(addr: IpoibHwAddr): boolean {
  return (addr.flags & IPOIB_FLAG_UC) !== 0;
}

/** The reserved flag bits that are set (0 when the sender followed RFC 4755 §3.1). */
export function reservedFlagBits(addr: IpoibHwAddr): number {
  return addr.flags & IPOIB_FLAGS_RESERVED_MASK;
}

/** A multicast address names an MGID, and every MGID starts with 0xff. */
export function isMulticastHwAddr(addr: IpoibHwAddr): boolean {
  return addr.gid[0] === 0xff;
}

/**
 * The interface's broadcast address: flags 0, QPN 0xffffff, the broadcast-GID. The P_Key is
 * written as given; pass `linuxPkey(p)` to get what Linux shows in `ip link`.
 */
export function broadcastHwAddr(pkey: number, scope?: number): IpoibHwAddr {
  return { flags: 0, qpn: MCAST_QPN, gid: broadcastMgid(pkey, scope) };
}
