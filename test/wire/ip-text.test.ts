import { expect } from 'chai';
import { formatIpv4, formatIpv6, parseIpv4, parseIpv6 } from '../../src/wire/ip-text.js';
import { expectWireError, hex } from '../helpers/roundtrip.js';

describe('ip-text: dotted-quad IPv4 @ip', function () {
  it('parses dotted quads to 4 octets @ip', function () {
    expect(parseIpv4('10.0.0.1').toString('hex')).to.equal('0a000001');
    expect(parseIpv4('0.0.0.0').toString('hex')).to.equal('00000000');
    expect(parseIpv4('255.255.255.255').toString('hex')).to.equal('ffffffff');
    expect(parseIpv4('224.0.0.22').toString('hex')).to.equal('e0000016');
  });

  it('formats 4 octets as a dotted quad, and parses what it formats @ip', function () {
    expect(formatIpv4(hex('e0000001'))).to.equal('224.0.0.1');
    expect(formatIpv4(hex('0a0000fe'))).to.equal('10.0.0.254');
    for (const t of ['0.0.0.0', '10.1.2.3', '192.168.100.200', '255.255.255.255']) {
      expect(formatIpv4(parseIpv4(t))).to.equal(t);
    }
  });

  it('refuses malformed, out-of-range and ambiguous (leading zero) text @ip', function () {
    const bad = ['10.0.0', '10.0.0.1.1', '10.0.0.256', '010.0.0.1', '10.0.0.-1', '10.0.0.1 ', 'a.b.c.d', '', '1e1.0.0.1'];
    for (const t of bad) {
      const e = expectWireError(() => parseIpv4(t), 'ipv4.text', JSON.stringify(t));
      expect(e.value).to.equal(t);
    }
    expectWireError(() => parseIpv4(42 as unknown as string), 'ipv4.text');
    expectWireError(() => parseIpv4('1.2.3', 'arp.spa'), 'arp.spa');
  });

  it('refuses to format anything but 4 octets @ip', function () {
    expectWireError(() => formatIpv4(Buffer.alloc(3)), 'ipv4');
    expectWireError(() => formatIpv4(Buffer.alloc(16), 'ipv4.src'), 'ipv4.src');
  });
});

describe('ip-text: IPv6 text form @ip @ipv6', function () {
  it('parses the colon form, with :: anywhere and in either case @ip @ipv6', function () {
    expect(parseIpv6('::').toString('hex')).to.equal('00'.repeat(16));
    expect(parseIpv6('::1').toString('hex')).to.equal(`${'00'.repeat(15)}01`);
    expect(parseIpv6('1::').toString('hex')).to.equal(`0001${'00'.repeat(14)}`);
    expect(parseIpv6('fe80::202:c903:a:1b2c').toString('hex')).to.equal('fe800000000000000202c903000a1b2c');
    expect(parseIpv6('FF12:401B:FFFF:0:0:0:FFFF:FFFF').toString('hex')).to.equal('ff12401bffff000000000000ffffffff');
    expect(parseIpv6('1:2:3:4:5:6:7:8').toString('hex')).to.equal('00010002000300040005000600070008');
  });

  it('parses a dotted IPv4 tail into the last two words @ip @ipv6', function () {
    expect(parseIpv6('::ffff:10.1.2.3').toString('hex')).to.equal(`${'00'.repeat(10)}ffff0a010203`);
    expect(parseIpv6('64:ff9b::192.0.2.33').toString('hex')).to.equal('0064ff9b0000000000000000c0000221');
  });

  it('formats as RFC 5952: lower case, no leading zeros, longest zero run compressed @ip @ipv6', function () {
    expect(formatIpv6(hex('fe800000000000000202c903000a1b2c'))).to.equal('fe80::202:c903:a:1b2c');
    expect(formatIpv6(Buffer.alloc(16))).to.equal('::');
    expect(formatIpv6(hex(`${'00'.repeat(15)}01`))).to.equal('::1');
    expect(formatIpv6(hex(`0001${'00'.repeat(14)}`))).to.equal('1::');
    // a single zero word stays; the longer of two runs wins; on a tie the first wins
    expect(formatIpv6(hex('00010000000200030004000500060007'))).to.equal('1:0:2:3:4:5:6:7');
    expect(formatIpv6(hex('00010000000000020000000000000003'))).to.equal('1:0:0:2::3');
    expect(formatIpv6(hex('00010000000000020000000000030004'))).to.equal('1::2:0:0:3:4');
    expect(formatIpv6(hex('ffffffffffffffffffffffffffffffff'))).to.equal('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff');
  });

  it('writes an IPv4-mapped address in hex, without a dotted tail @ip @ipv6', function () {
    expect(formatIpv6(parseIpv6('::ffff:10.1.2.3'))).to.equal('::ffff:a01:203');
  });

  it('parses what it formats @ip @ipv6', function () {
    for (const t of ['::', '::1', 'fe80::202:c903:a:1b2c', '1:0:0:2::3', 'ff12:401b:ffff::ffff:ffff', '2001:db8::1']) {
      expect(formatIpv6(parseIpv6(t))).to.equal(t);
    }
  });

  it('refuses malformed text and zone suffixes @ip @ipv6', function () {
    for (const t of [
      '',
      ':',
      '1::2::3',
      'fe80::g',
      '1:2:3:4:5:6:7',
      '1:2:3:4:5:6:7:8:9',
      'fe80::1%ib0',
      '12345::1',
      '10.0.0.1',
      '::ffff:10.0.0.256',
    ]) {
      const e = expectWireError(() => parseIpv6(t), 'ipv6.text', JSON.stringify(t));
      expect(e.value).to.equal(t);
    }
    expectWireError(() => parseIpv6(undefined as unknown as string), 'ipv6.text');
    expectWireError(() => parseIpv6('fe80::1::', 'nd.target'), 'nd.target');
  });

  it('refuses to format anything but 16 octets @ip @ipv6', function () {
    expectWireError(() => formatIpv6(Buffer.alloc(15)), 'ipv6');
    expectWireError(() => formatIpv6(Buffer.alloc(20), 'ipv6.dst'), 'ipv6.dst');
    expectWireError(() => formatIpv6('::1' as unknown as Buffer), 'ipv6');
  });
});
