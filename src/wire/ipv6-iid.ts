/**
 * IPv6 interface identifier and link-local address from a port GUID, under two named profiles,
 * because RFC 4391 §8 and Linux disagree (catalogue finding D2):
 * - `rfc`: flip the u bit (0x02 of octet 0) if the GUID is an unmodified EUI-64, leave it
 *   alone if the GUID is already in modified EUI-64 form. Only the caller knows which, so it
 *   says so (`guidIsModifiedEui64`, default false: a manufacturer GUID is an unmodified EUI-64).
 * - `linux`: addrconf ORs 0x02 into octet 0, whatever the GUID; `guidIsModifiedEui64` is ignored.
 * The two agree unless the GUID already has 0x02 set in octet 0.
 */
import { WireError } from '../errors.js';
import { checkBytes } from './codec.js';
import { GID_LEN } from './constants.js';
import { formatGid } from './mgid.js';

export const IID_PROFILES = {
  rfc: 'RFC 4391 §8: toggle the u bit (0x02) of octet 0 only when the GUID is an unmodified EUI-64',
  linux: 'Linux addrconf: OR 0x02 into octet 0 of the GUID, always',
} as const;

export type IidProfile = keyof typeof IID_PROFILES;

export interface IidOptions {
  /** `rfc` profile only: the GUID is already a modified EUI-64, so keep its u bit. Default false. */
  guidIsModifiedEui64?: boolean;
}

const GUID_LEN = 8;
const U_BIT = 0x02;
const LINK_LOCAL_PREFIX = Buffer.from('fe80000000000000', 'hex');

/** The 8-octet interface identifier for `guid` (8 octets) under `profile`. */
export function interfaceIdFromGuid(guid: Buffer, profile: IidProfile, opts: IidOptions = {}): Buffer {
  checkBytes('iid.guid', -1, guid, GUID_LEN);
  const iid = Buffer.from(guid);
  const first = iid.readUInt8(0);
  switch (profile) {
    case 'rfc':
      if (!opts.guidIsModifiedEui64) iid.writeUInt8(first ^ U_BIT, 0);
      return iid;
    case 'linux':
      iid.writeUInt8(first | U_BIT, 0);
      return iid;
    default:
      throw new WireError('iid.profile', -1, `unknown profile "${String(profile)}", want rfc or linux`, profile);
  }
}

export interface LinkLocal {
  /** 16 octets: fe80::/64 then the interface identifier. */
  address: Buffer;
  /** Canonical text, e.g. `fe80::202:c903:a:1b2c`. */
  text: string;
}

/** The fe80::/64 link-local address built from `guid` under `profile`. */
export function linkLocalFromGuid(guid: Buffer, profile: IidProfile, opts: IidOptions = {}): LinkLocal {
  const address = Buffer.concat([LINK_LOCAL_PREFIX, interfaceIdFromGuid(guid, profile, opts)], GID_LEN);
  return { address, text: formatGid(address) };
}
