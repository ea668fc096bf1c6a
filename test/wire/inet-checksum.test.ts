import { expect } from 'chai';
import {
  internetChecksum,
  IPV4_PSEUDO_HEADER_LEN,
  ipv4PseudoHeader,
  IPV6_PSEUDO_HEADER_LEN,
  ipv6PseudoHeader,
  onesComplementSum,
  withZeroChecksumField,
} from '../../src/wire/inet-checksum.js';
import { parseIpv4, parseIpv6 } from '../../src/wire/ip-text.js';
import { expectWireError, hex } from '../helpers/roundtrip.js';

// The IPv4 header of an echo request 10.0.0.1 -> 10.0.0.2 (ipv4.test.ts derives its checksum 0x14a6).
const IPV4_HEADER = hex('4500 0021 1234 4000 4001 14a6 0a000001 0a000002');

describe('inet-checksum: RFC 1071 sum and checksum @ip', function () {
  it('sums the RFC 1071 numerical example to 0xddf2 @ip', function () {
    // 0001 + f203 + f4f5 + f6f7 = 0x2ddf0; fold: 0xddf0 + 0x2 = 0xddf2; complement 0x220d
    const data = hex('00 01 f2 03 f4 f5 f6 f7');
    expect(onesComplementSum(data)).to.equal(0xddf2);
    expect(internetChecksum(data)).to.equal(0x220d);
  });

  it('pads an odd last octet with a zero octet @ip', function () {
    // 0102 + 0300 = 0x0402; complement 0xfbfd
    expect(onesComplementSum(hex('01 02 03'))).to.equal(0x0402);
    expect(internetChecksum(hex('01 02 03'))).to.equal(0xfbfd);
  });

  it('sums parts as one octet stream, so an odd part shifts the next one @ip', function () {
    // [01] [02 03] is the stream 01 02 03 = 0102 + 0300; padding each part on its own would
    // give 0100 + 0203 = 0x0303 instead
    expect(onesComplementSum(hex('01'), hex('02 03'))).to.equal(0x0402);
    expect(internetChecksum(hex('01'), hex('02 03'))).to.equal(0xfbfd);
    const whole = hex('4500 0021 1234 4000 4001 0000 0a000001 0a000002 ab');
    for (const cuts of [[1], [3, 4], [5, 6, 7], [0, 21], [21]]) {
      const parts: Buffer[] = [];
      let from = 0;
      for (const c of [...cuts, whole.length]) {
        parts.push(whole.subarray(from, c));
        from = c;
      }
      expect(onesComplementSum(...parts), `cut at ${cuts.join(',')}`).to.equal(onesComplementSum(whole));
    }
  });

  it('folds carries until none are left @ip', function () {
    // ffff + ffff = 0x1fffe; fold 0xfffe + 1 = 0xffff; complement 0
    expect(onesComplementSum(hex('ffff ffff'))).to.equal(0xffff);
    expect(internetChecksum(hex('ffff ffff'))).to.equal(0);
    // 70 000 words of 0xffff in many parts still fold to 0xffff
    const parts = Array.from({ length: 70 }, () => Buffer.alloc(2000, 0xff));
    expect(onesComplementSum(...parts)).to.equal(0xffff);
    // 0x8000 * 2 = 0x10000 folds to 1
    expect(onesComplementSum(hex('8000 8000'))).to.equal(1);
    // 3 x ffff + 0002 = 0x2ffff; one fold gives 0xffff + 0x2 = 0x10001, which must fold again to 2
    expect(onesComplementSum(hex('ffff ffff ffff 0002'))).to.equal(2);
  });

  it('gives 0 for no data and 0xffff as the checksum of all-zero data @ip', function () {
    expect(onesComplementSum()).to.equal(0);
    expect(onesComplementSum(Buffer.alloc(0), Buffer.alloc(0))).to.equal(0);
    expect(internetChecksum(Buffer.alloc(6))).to.equal(0xffff);
  });

  it('sums a header that carries its right checksum to 0xffff, so its checksum over itself is 0 @ip', function () {
    expect(onesComplementSum(IPV4_HEADER)).to.equal(0xffff);
    expect(internetChecksum(IPV4_HEADER)).to.equal(0);
    expect(internetChecksum(withZeroChecksumField(IPV4_HEADER, 10))).to.equal(0x14a6);
  });

  it('refuses parts that are not Buffers @ip', function () {
    const e = expectWireError(() => onesComplementSum(hex('00'), 'ab' as unknown as Buffer), 'checksum.part');
    expect(e.value).to.equal('ab');
    expectWireError(() => internetChecksum(undefined as unknown as Buffer), 'checksum.part');
  });
});

describe('inet-checksum: pseudo-headers @ip', function () {
  it('lays out the IPv4 pseudo-header: src, dst, zero, protocol, length @ip', function () {
    // 0a000001 src | 0a000002 dst | 00 zero | 11 UDP | 001c = 28 octets
    const p = ipv4PseudoHeader(parseIpv4('10.0.0.1'), parseIpv4('10.0.0.2'), 17, 28);
    expect(p.toString('hex')).to.equal(hex('0a000001 0a000002 00 11 001c').toString('hex'));
    expect(p.length).to.equal(IPV4_PSEUDO_HEADER_LEN);
  });

  it('lays out the IPv6 pseudo-header: src, dst, 32-bit length, three zeros, next header @ip @ipv6', function () {
    const src = parseIpv6('fe80::202:c903:a:1b2c');
    const dst = parseIpv6('ff02::1');
    const p = ipv6PseudoHeader(src, dst, 58, 0x10000);
    // src(16) | dst(16) | 00010000 length 65536 (needs the 32 bits) | 000000 | 3a = 58
    expect(p.toString('hex')).to.equal(
      'fe800000000000000202c903000a1b2c' + 'ff020000000000000000000000000001' + '00010000' + '000000' + '3a',
    );
    expect(p.length).to.equal(IPV6_PSEUDO_HEADER_LEN);
  });

  it('refuses bad addresses, protocols and lengths, naming the caller field @ip @ipv6', function () {
    const v4 = parseIpv4('10.0.0.1');
    const v6 = parseIpv6('fe80::1');
    expectWireError(() => ipv4PseudoHeader(v6, v4, 17, 8), 'pseudo.src');
    expectWireError(() => ipv4PseudoHeader(v4, Buffer.alloc(3), 17, 8), 'pseudo.dst');
    expectWireError(() => ipv4PseudoHeader(v4, v4, 256, 8), 'pseudo.protocol');
    expectWireError(() => ipv4PseudoHeader(v4, v4, 17, 0x10000), 'pseudo.length');
    expectWireError(() => ipv6PseudoHeader(v4, v6, 58, 8, 'udp6'), 'udp6.src');
    expectWireError(() => ipv6PseudoHeader(v6, Buffer.alloc(20), 58, 8), 'pseudo.dst');
    expectWireError(() => ipv6PseudoHeader(v6, v6, -1, 8), 'pseudo.next_header');
    expectWireError(() => ipv6PseudoHeader(v6, v6, 58, 2 ** 32), 'pseudo.length');
  });
});

describe('inet-checksum: zeroing a checksum field @ip', function () {
  it('returns a copy with the two octets zeroed and leaves the original alone @ip', function () {
    const msg = hex('0800 b209 0b1b 0001');
    const z = withZeroChecksumField(msg, 2);
    expect(z.toString('hex')).to.equal('080000000b1b0001');
    expect(msg.toString('hex')).to.equal('0800b2090b1b0001');
    expect(withZeroChecksumField(msg, 6).toString('hex')).to.equal('0800b2090b1b0000');
  });

  it('refuses a field that does not fit the message @ip', function () {
    const e = expectWireError(() => withZeroChecksumField(hex('0800 b2'), 2, 'icmp'), 'icmp');
    expect(e.offset).to.equal(2);
    expectWireError(() => withZeroChecksumField(hex('0800 b209'), -1), 'checksum');
    expectWireError(() => withZeroChecksumField(hex('0800 b209'), 1.5), 'checksum');
  });
});
