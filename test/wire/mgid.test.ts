import { expect } from 'chai';
import { formatIpv6, parseIpv6 } from '../../src/wire/ip-text.js';
import {
  broadcastMgid,
  formatGid,
  mgidForIpv4Group,
  mgidForIpv6Group,
  parseGid,
  parseIpoibMgid,
} from '../../src/wire/mgid.js';
import { linuxPkey } from '../../src/wire/pkey.js';
import { expectWireError } from '../helpers/roundtrip.js';

const text = (b: Buffer): string => formatGid(b);

describe('mgid: IPoIB multicast GID construction @mgid @multicast', function () {
  it('builds the RFC 4391 worked example for all-routers on P_Key 0x8000 (v4 and v6) @mgid @multicast @ipv6', function () {
    // octet 0 ff | octet 1 = flags 1 (T) << 4 | scope 2 | 40 1b IPv4 signature | 80 00 P_Key | group ID ...02
    expect(mgidForIpv4Group('224.0.0.2', 0x8000).toString('hex')).to.equal('ff12401b800000000000000000000002');
    // same with the IPv6 signature 60 1b; ff02::2 octets 6..15 are 00.. 02
    expect(mgidForIpv6Group('ff02::2', 0x8000).toString('hex')).to.equal('ff12601b800000000000000000000002');
    expect(text(mgidForIpv4Group('224.0.0.2', 0x8000))).to.equal('ff12:401b:8000::2');
    expect(text(mgidForIpv6Group('ff02::2', 0x8000))).to.equal('ff12:601b:8000::2');
  });

  it('maps 224.0.0.1 on the default P_Key @mgid @multicast', function () {
    expect(text(mgidForIpv4Group('224.0.0.1', 0xffff))).to.equal('ff12:401b:ffff::1');
  });

  it('keeps only the low 28 bits of an IPv4 group @mgid @multicast', function () {
    // 239.255.255.250 = 0xeffffffa; & 0x0fffffff = 0x0ffffffa -> octets 12..15 0f ff ff fa
    const m = mgidForIpv4Group('239.255.255.250', 0xffff);
    expect(m.toString('hex')).to.equal('ff12401bffff0000000000000ffffffa');
    expect(text(m)).to.equal('ff12:401b:ffff::fff:fffa');
    // only the 0xe nibble goes: the low nibble of octet 0 stays, so IPv4 groups never collide
    expect(text(mgidForIpv4Group('224.1.2.3', 0xffff))).to.equal('ff12:401b:ffff::1:203');
    expect(text(mgidForIpv4Group('239.1.2.3', 0xffff))).to.equal('ff12:401b:ffff::f01:203');
  });

  it('maps 239.1.2.3 as the research join check expects @mgid @multicast', function () {
    expect(text(mgidForIpv4Group('239.1.2.3', 0x8001))).to.equal('ff12:401b:8001::f01:203');
  });

  it('maps a solicited-node group, copying octets 6..15 of the group @mgid @multicast @ipv6', function () {
    expect(text(mgidForIpv6Group('ff02::1:ff0a:1b2c', 0xffff))).to.equal('ff12:601b:ffff::1:ff0a:1b2c');
    expect(mgidForIpv6Group('ff02::1:ff0a:1b2c', 0xffff).toString('hex')).to.equal('ff12601bffff000000000001ff0a1b2c');
  });

  it('gives ff02::1:3 and ff05::1:3 the same MGID (the link scope wins) @mgid @multicast @ipv6', function () {
    const a = mgidForIpv6Group('ff02::1:3', 0xffff);
    const b = mgidForIpv6Group('ff05::1:3', 0xffff);
    expect(text(a)).to.equal('ff12:601b:ffff::1:3');
    expect(text(b)).to.equal(text(a));
  });

  it('drops group octets 1..5 of an IPv6 group @mgid @multicast @ipv6', function () {
    // octets 2..5 = 12 34 56 78 are outside the 80 copied bits
    expect(text(mgidForIpv6Group('ff02:1234:5678::1', 0xffff))).to.equal('ff12:601b:ffff::1');
  });

  it('builds the broadcast-GID, and maps 255.255.255.255 to it @mgid @multicast', function () {
    // ff 12 | 40 1b | P_Key | 48 zero bits | 32 one bits
    expect(broadcastMgid(0xffff).toString('hex')).to.equal('ff12401bffff000000000000ffffffff');
    expect(text(broadcastMgid(0x8001, 5))).to.equal('ff15:401b:8001::ffff:ffff');
    expect(text(mgidForIpv4Group('255.255.255.255', 0xffff))).to.equal('ff12:401b:ffff::ffff:ffff');
    expect(text(mgidForIpv4Group('255.255.255.255', 0x8001, 8))).to.equal('ff18:401b:8001::ffff:ffff');
  });

  it('uses the requested scope for every group @mgid @multicast @ipv6', function () {
    expect(text(mgidForIpv4Group('224.0.0.1', 0xffff, 5))).to.equal('ff15:401b:ffff::1');
    expect(text(mgidForIpv6Group('ff02::1', 0xffff, 0xe))).to.equal('ff1e:601b:ffff::1');
  });

  it('writes the P_Key as given; linuxPkey() predicts the Linux MGID @mgid @multicast @pkey', function () {
    expect(text(mgidForIpv4Group('224.0.0.1', 0x7fff))).to.equal('ff12:401b:7fff::1');
    expect(text(mgidForIpv4Group('224.0.0.1', linuxPkey(0x7fff)))).to.equal('ff12:401b:ffff::1');
  });

  it('refuses groups that are not multicast @mgid @multicast @ipv6', function () {
    for (const g of ['10.0.0.1', '223.255.255.255', '240.0.0.1', '0.0.0.0']) {
      const e = expectWireError(() => mgidForIpv4Group(g, 0xffff), 'mgid.group', g);
      expect(e.value).to.equal(g);
    }
    for (const g of ['fe80::1', '::', '2001:db8::1'])
      expectWireError(() => mgidForIpv6Group(g, 0xffff), 'mgid.group', g);
  });

  it('refuses malformed group text @mgid @multicast @ipv6', function () {
    for (const g of ['224.0.0', '224.0.0.1.2', '224.0.0.256', '224.00.0.1', 'ff02::1', '']) {
      expectWireError(() => mgidForIpv4Group(g, 0xffff), 'mgid.group', g);
    }
    for (const g of ['224.0.0.1', 'ff02::1::2', 'ff02::g', 'ff02::1%ib0', '']) {
      expectWireError(() => mgidForIpv6Group(g, 0xffff), 'mgid.group', g);
    }
  });

  it('refuses reserved or out-of-range scopes and P_Keys outside 16 bits @mgid @multicast @pkey', function () {
    for (const s of [0, 0xf, 0x10, -1, 2.5]) {
      expectWireError(() => broadcastMgid(0xffff, s), 'mgid.scope', `scope ${s}`);
      expectWireError(() => mgidForIpv4Group('224.0.0.1', 0xffff, s), 'mgid.scope', `scope ${s}`);
    }
    for (const p of [0x10000, -1]) {
      expectWireError(() => mgidForIpv6Group('ff02::1', p), 'mgid.pkey', `pkey ${p}`);
    }
  });
});

describe('mgid: recognising IPoIB MGIDs @mgid @multicast', function () {
  it('recognises the broadcast-GID @mgid @multicast', function () {
    expect(parseIpoibMgid(broadcastMgid(0x8001, 5))).to.deep.equal({
      family: 4,
      flags: 1,
      scope: 5,
      pkey: 0x8001,
      groupBits: 0xffffffffn,
      isBroadcast: true,
      transient: true,
    });
  });

  it('recognises an IPv4 group MGID that is not the broadcast one @mgid @multicast', function () {
    const info = parseIpoibMgid(mgidForIpv4Group('239.1.2.3', 0xffff));
    expect(info).to.deep.include({ family: 4, scope: 2, pkey: 0xffff, groupBits: 0x0f010203n, isBroadcast: false });
    // ...::0fff:ffff is what the 28-bit rule would give 255.255.255.255; it is not the broadcast-GID
    expect(parseIpoibMgid(parseGid('ff12:401b:ffff::fff:ffff'))?.isBroadcast).to.equal(false);
  });

  it('recognises an IPv6 group MGID and returns all 80 group bits @mgid @multicast @ipv6', function () {
    const info = parseIpoibMgid(parseGid('ff12:601b:ffff::1:ff0a:1b2c'));
    expect(info).to.deep.equal({
      family: 6,
      flags: 1,
      scope: 2,
      pkey: 0xffff,
      groupBits: 0x1ff0a1b2cn,
      isBroadcast: false,
      transient: true,
    });
    // an IPv6 MGID with the broadcast group ID is still not the IPv4 broadcast-GID
    expect(parseIpoibMgid(parseGid('ff12:601b:ffff::ffff:ffff'))?.isBroadcast).to.equal(false);
    expect(parseIpoibMgid(parseGid('ff12:601b:ffff:ffff:ffff:ffff:ffff:ffff'))?.groupBits).to.equal((1n << 80n) - 1n);
  });

  it('returns null for unicast GIDs, other signatures and T=0 MGIDs @mgid @multicast', function () {
    expect(parseIpoibMgid(parseGid('fe80::202:c903:a:1b2c'))).to.equal(null);
    expect(parseIpoibMgid(parseGid('fe12:401b:ffff::1'))).to.equal(null);
    expect(parseIpoibMgid(parseGid('ff12:401c:ffff::1'))).to.equal(null);
    expect(parseIpoibMgid(parseGid('ff02:401b:ffff::1'))).to.equal(null);
  });

  it('recognises a T=0 twin when asked, marking it not transient @mgid @multicast', function () {
    const info = parseIpoibMgid(parseGid('ff02:401b:ffff::ffff:ffff'), { requireTransient: false });
    expect(info).to.deep.include({ family: 4, flags: 0, transient: false, isBroadcast: true });
    // the other flag bits are reported, not judged
    expect(parseIpoibMgid(parseGid('ff32:601b:ffff::1'))).to.deep.include({ flags: 3, transient: true });
  });

  it('reports scope and P_Key as found, even reserved or invalid ones @mgid @multicast @pkey', function () {
    expect(parseIpoibMgid(parseGid('ff10:401b:8000::1'))).to.deep.include({ scope: 0, pkey: 0x8000 });
  });

  it('refuses a GID that is not 16 octets @mgid @multicast', function () {
    expectWireError(() => parseIpoibMgid(Buffer.alloc(15, 0xff)), 'mgid');
    expectWireError(() => parseIpoibMgid(Buffer.alloc(17, 0xff)), 'mgid');
  });
});

describe('mgid: GID text form @mgid @ipv6', function () {
  // The parsing and formatting rules are tested in ip-text.test.ts; here only that GIDs use them.
  it('reads and writes GIDs exactly as IPv6 text @mgid @ipv6', function () {
    for (const t of ['::', 'fe80::202:c903:a:1b2c', 'ff12:401b:ffff::ffff:ffff', '1:0:0:2::3']) {
      expect(parseGid(t).toString('hex')).to.equal(parseIpv6(t).toString('hex'));
      expect(formatGid(parseGid(t))).to.equal(formatIpv6(parseIpv6(t)));
      expect(formatGid(parseGid(t))).to.equal(t);
    }
    expect(parseGid('FF12:401B:FFFF:0:0:0:FFFF:FFFF').toString('hex')).to.equal('ff12401bffff000000000000ffffffff');
  });

  it('names GID fields in its errors @mgid @ipv6', function () {
    const e = expectWireError(() => parseGid('fe80::1%ib0'), 'gid.text');
    expect(e.value).to.equal('fe80::1%ib0');
    expectWireError(() => parseGid('1::2::3', 'path.sgid'), 'path.sgid');
    expectWireError(() => formatGid(Buffer.alloc(15)), 'gid');
    expectWireError(() => formatGid(Buffer.alloc(20), 'path.dgid'), 'path.dgid');
  });
});
