import { expect } from 'chai';
import { type IidProfile, IID_PROFILES, interfaceIdFromGuid, linkLocalFromGuid } from '../../src/wire/ipv6-iid.js';
import { expectWireError, hex } from '../helpers/roundtrip.js';

// GUID 0002:c903:000a:1b2c: octet 0 = 0x00, u bit (0x02) clear.
const GUID = hex('0002c903000a1b2c');
// The same GUID with 0x02 already set in octet 0 (e.g. an administratively set VF GUID).
const GUID_U_SET = hex('0202c903000a1b2c');

describe('ipv6-iid: interface identifier and link-local address from a GUID @ipv6', function () {
  it('offers exactly the rfc and linux profiles, each described @ipv6', function () {
    expect(Object.keys(IID_PROFILES)).to.deep.equal(['rfc', 'linux']);
    for (const d of Object.values(IID_PROFILES)) expect(d).to.be.a('string').and.match(/0x02/);
  });

  it('derives fe80::202:c903:a:1b2c from 0002:c903:000a:1b2c under both profiles @ipv6', function () {
    // octet 0: 0x00 ^ 0x02 = 0x02 (rfc, unmodified EUI-64) and 0x00 | 0x02 = 0x02 (linux)
    for (const profile of ['rfc', 'linux'] as const) {
      expect(interfaceIdFromGuid(GUID, profile).toString('hex'), profile).to.equal('0202c903000a1b2c');
      const ll = linkLocalFromGuid(GUID, profile);
      expect(ll.text, profile).to.equal('fe80::202:c903:a:1b2c');
      expect(ll.address.toString('hex'), profile).to.equal('fe800000000000000202c903000a1b2c');
    }
  });

  it('keeps the u bit under the rfc profile when told the GUID is already a modified EUI-64 @ipv6', function () {
    expect(interfaceIdFromGuid(GUID, 'rfc', { guidIsModifiedEui64: true }).toString('hex')).to.equal(
      '0002c903000a1b2c',
    );
    expect(linkLocalFromGuid(GUID, 'rfc', { guidIsModifiedEui64: true }).text).to.equal('fe80::2:c903:a:1b2c');
  });

  it('diverges between profiles for a GUID with 0x02 already set @ipv6', function () {
    // rfc, "unmodified" (the default): 0x02 ^ 0x02 = 0x00, so the bit is toggled off
    expect(linkLocalFromGuid(GUID_U_SET, 'rfc').text).to.equal('fe80::2:c903:a:1b2c');
    // rfc, "already modified": left alone
    expect(linkLocalFromGuid(GUID_U_SET, 'rfc', { guidIsModifiedEui64: true }).text).to.equal('fe80::202:c903:a:1b2c');
    // linux: 0x02 | 0x02 = 0x02, kept set whatever the caller says
    expect(linkLocalFromGuid(GUID_U_SET, 'linux').text).to.equal('fe80::202:c903:a:1b2c');
    expect(linkLocalFromGuid(GUID_U_SET, 'linux', { guidIsModifiedEui64: false }).text).to.equal(
      'fe80::202:c903:a:1b2c',
    );
  });

  it('touches only the u bit of octet 0 @ipv6', function () {
    const g = hex('fdffffffffffffff');
    expect(interfaceIdFromGuid(g, 'rfc').toString('hex')).to.equal('ffffffffffffffff');
    expect(interfaceIdFromGuid(g, 'linux').toString('hex')).to.equal('ffffffffffffffff');
    expect(interfaceIdFromGuid(hex('ffffffffffffffff'), 'rfc').toString('hex')).to.equal('fdffffffffffffff');
  });

  it("never modifies the caller's GUID @ipv6", function () {
    const g = Buffer.from(GUID);
    interfaceIdFromGuid(g, 'rfc');
    linkLocalFromGuid(g, 'linux');
    expect(g.toString('hex')).to.equal('0002c903000a1b2c');
  });

  it('refuses a GUID that is not 8 octets @ipv6', function () {
    for (const n of [0, 7, 9, 16]) {
      expectWireError(() => interfaceIdFromGuid(Buffer.alloc(n), 'rfc'), 'iid.guid', `${n} octets`);
      expectWireError(() => linkLocalFromGuid(Buffer.alloc(n), 'linux'), 'iid.guid', `${n} octets`);
    }
  });

  it('refuses an unknown profile @ipv6', function () {
    const e = expectWireError(() => interfaceIdFromGuid(GUID, 'eui64' as IidProfile), 'iid.profile');
    expect(e.value).to.equal('eui64');
  });
});
