import { expect } from 'chai';
import { IpoibControlError } from '../../src/errors.js';
import { InterfaceAddresses, parseCidr } from '../../src/ipoib/addresses.js';
import { parseGid } from '../../src/wire/mgid.js';
import { parseIpv4 } from '../../src/wire/ip-text.js';

function errno(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof IpoibControlError) return e.code;
    throw e;
  }
  return 'none';
}

describe('interface addresses of the reference stack @ip @ipv6 @ipoib-stack', function () {
  it('reads CIDR text, defaulting to a host prefix, and writes canonical text @ip @ipv6 @ipoib-stack', function () {
    expect(parseCidr('10.0.0.1/24', 'x')).to.include({ family: 4, ip: '10.0.0.1', prefixLen: 24 });
    expect(parseCidr('10.0.0.1', 'x').prefixLen).to.equal(32);
    expect(parseCidr('FE80:0::0202:1/64', 'x')).to.include({ family: 6, ip: 'fe80::202:1', prefixLen: 64 });
    expect(parseCidr('2001:db8::1', 'x').prefixLen).to.equal(128);
  });

  it('refuses malformed addresses and prefixes with EINVAL @ip @ipv6 @ipoib-stack', function () {
    for (const bad of ['10.0.0', '10.0.0.1/33', '10.0.0.1/x', '10.0.0.1/24/1', 'fe80::1/129', '', 'host']) {
      expect(errno(() => parseCidr(bad, 'x')), bad).to.equal('EINVAL');
    }
  });

  it('always holds the link-local address and refuses duplicates and unknown removals @ipv6 @ipoib-stack', function () {
    const a = new InterfaceAddresses(parseGid('fe80::202:c903:0:101'));
    expect(a.has('fe80::202:c903:0:101')).to.equal(true);
    a.add('10.0.0.1/24', 'x');
    expect(errno(() => a.add('10.0.0.1/16', 'x'))).to.equal('EEXIST');
    expect(errno(() => a.remove('10.0.0.9', 'x'))).to.equal('EADDRNOTAVAIL');
    expect(errno(() => a.remove('fe80::202:c903:0:101', 'x')), 'link-local stays').to.equal('EADDRNOTAVAIL');
    a.remove('10.0.0.1', 'x');
    expect(a.list(4)).to.deep.equal([]);
  });

  it('knows the subnet broadcasts of its IPv4 prefixes, none for /31 and /32 @ip @ipoib-stack', function () {
    const a = new InterfaceAddresses(parseGid('fe80::1'));
    a.add('10.0.0.1/24', 'x');
    a.add('192.168.7.9/31', 'x');
    a.add('172.16.0.1/32', 'x');
    a.add('10.8.0.1/9', 'x');
    expect([...a.ipv4Broadcasts()].sort()).to.deep.equal(['10.0.0.255', '10.127.255.255']);
  });

  it('picks an on-link IPv4 source and the link-local IPv6 source for link-local targets @ip @ipv6 @ipoib-stack', function () {
    const a = new InterfaceAddresses(parseGid('fe80::1'));
    a.add('192.168.1.1/24', 'x');
    a.add('10.0.0.1/24', 'x');
    a.add('2001:db8::1/64', 'x');
    expect(a.sourceFor(4, parseIpv4('10.0.0.7'))?.ip).to.equal('10.0.0.1');
    expect(a.sourceFor(4, parseIpv4('172.16.0.7'))?.ip, 'off-link: the first').to.equal('192.168.1.1');
    expect(a.sourceFor(6, parseGid('fe80::9'))?.ip).to.equal('fe80::1');
    expect(a.sourceFor(6, parseGid('2001:db8::9'))?.ip).to.equal('2001:db8::1');
  });
});
