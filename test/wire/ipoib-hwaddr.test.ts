import { expect } from 'chai';
import {
  broadcastHwAddr,
  formatHwAddr,
  hasRc,
  hasUc,
  type IpoibHwAddr,
  ipoibHwAddr,
  ipoibHwAddrCodec,
  isMulticastHwAddr,
  parseHwAddr,
  reservedFlagBits,
} from '../../src/wire/ipoib-hwaddr.js';
import { formatGid, mgidForIpv4Group, parseGid } from '../../src/wire/mgid.js';
import { linuxPkey } from '../../src/wire/pkey.js';
import { expectWireError, hex, roundtrip } from '../helpers/roundtrip.js';

const PORT_GID = parseGid('fe80::2:c903:a:1b2c');
const LINK_TEXT = '80:00:04:04:fe:80:00:00:00:00:00:00:00:02:c9:03:00:0a:1b:2c';
const addr = (over: Partial<IpoibHwAddr> = {}): IpoibHwAddr => ({ flags: 0x80, qpn: 0x000404, gid: PORT_GID, ...over });

describe('ipoib-hwaddr: the 20-octet link-layer address @hwaddr', function () {
  it('roundtrips an address advertising reliable-connected capability @hwaddr', function () {
    // octet 0    80                                   flags: RC
    // octets 1-3 00 04 04                             QPN 0x000404
    // 4-19       fe80 0000 0000 0000 0002 c903 000a 1b2c   GID fe80::2:c903:a:1b2c
    roundtrip(ipoibHwAddr, addr(), '80 000404 fe800000000000000002c903000a1b2c');
  });

  it('roundtrips a datagram-only address with the largest QPN @hwaddr', function () {
    // 00 flags | ff ff fe QPN | GID
    roundtrip(ipoibHwAddr, addr({ flags: 0, qpn: 0xfffffe }), '00 fffffe fe800000000000000002c903000a1b2c');
  });

  it('keeps reserved flag bits on decode @hwaddr', function () {
    // flags ff: RC, UC and all six reserved bits
    const a = ipoibHwAddr.decode(hex('ff 000404 fe800000000000000002c903000a1b2c'), 0).value;
    expect(a.flags).to.equal(0xff);
    expect(reservedFlagBits(a)).to.equal(0x3f);
    expect(hasRc(a)).to.equal(true);
    expect(hasUc(a)).to.equal(true);
  });

  it('decodes the GID as a copy, not a view of the frame @hwaddr', function () {
    const frame = hex('80 000404 fe800000000000000002c903000a1b2c');
    const a = ipoibHwAddr.decode(frame, 0).value;
    frame.fill(0);
    expect(formatGid(a.gid)).to.equal('fe80::2:c903:a:1b2c');
  });

  it('refuses out-of-range flags, QPN and a GID that is not 16 octets on encode @hwaddr', function () {
    const buf = Buffer.alloc(20);
    let e = expectWireError(() => ipoibHwAddr.encode(addr({ flags: 0x100 }), buf, 0), 'hwaddr.flags');
    expect(e.value).to.equal(0x100);
    e = expectWireError(() => ipoibHwAddr.encode(addr({ qpn: 0x1000000 }), buf, 0), 'hwaddr.qpn');
    expect(e.offset).to.equal(1);
    expectWireError(() => ipoibHwAddr.encode(addr({ qpn: -1 }), buf, 0), 'hwaddr.qpn');
    e = expectWireError(() => ipoibHwAddr.encode(addr({ gid: Buffer.alloc(15) }), buf, 0), 'hwaddr.gid');
    expect(e.offset).to.equal(4);
    expectWireError(() => ipoibHwAddr.encode(addr({ gid: 'fe80::1' as unknown as Buffer }), buf, 0), 'hwaddr.gid');
    expectWireError(() => ipoibHwAddr.encode(addr(), Buffer.alloc(19), 0), 'hwaddr');
  });

  it('names errors after the field it is embedded in @hwaddr', function () {
    const sha = ipoibHwAddrCodec('arp.sha');
    expectWireError(() => sha.encode(addr({ qpn: 0x1000000 }), Buffer.alloc(20), 0), 'arp.sha.qpn');
    expectWireError(() => sha.decode(Buffer.alloc(19), 0), 'arp.sha');
  });

  it('parses the iproute2 colon form, in either case and with a trailing newline @hwaddr', function () {
    expect(parseHwAddr(LINK_TEXT)).to.deep.equal(addr());
    expect(parseHwAddr(`${LINK_TEXT.toUpperCase()}\n`)).to.deep.equal(addr());
  });

  it('formats the iproute2 colon form, and parses its own output @hwaddr', function () {
    expect(formatHwAddr(addr())).to.equal(LINK_TEXT);
    const odd = addr({ flags: 0x3f, qpn: 0xabcdef });
    expect(parseHwAddr(formatHwAddr(odd))).to.deep.equal(odd);
    expectWireError(() => formatHwAddr(addr({ qpn: 0x1000000 })), 'hwaddr.qpn');
  });

  it('refuses text with the wrong number of octets @hwaddr', function () {
    const groups = LINK_TEXT.split(':');
    for (const t of [groups.slice(0, 19).join(':'), [...groups, '00'].join(':'), '', '80']) {
      const e = expectWireError(() => parseHwAddr(t), 'hwaddr.text', JSON.stringify(t));
      expect(e.value).to.equal(t);
    }
  });

  it('refuses text with bad hex or octets that are not two digits @hwaddr', function () {
    const groups = LINK_TEXT.split(':');
    const withOctet = (i: number, v: string): string => groups.map((g, j) => (j === i ? v : g)).join(':');
    for (const t of [
      withOctet(0, 'zz'),
      withOctet(5, '8'),
      withOctet(19, '2c0'),
      withOctet(3, ''),
      withOctet(7, ' 0'),
      withOctet(2, '0x'),
    ]) {
      expectWireError(() => parseHwAddr(t), 'hwaddr.text', JSON.stringify(t));
    }
  });

  it('refuses text with the wrong separators @hwaddr', function () {
    for (const sep of ['-', '.', ' ', '::']) {
      const t = LINK_TEXT.split(':').join(sep);
      expectWireError(() => parseHwAddr(t), 'hwaddr.text', JSON.stringify(t));
    }
    expectWireError(() => parseHwAddr(LINK_TEXT.replace(/:/g, '')), 'hwaddr.text', 'no separators');
    expectWireError(() => parseHwAddr(LINK_TEXT.replace(':04:', ':04-')), 'hwaddr.text', 'one dash');
  });

  it('reads the reliable- and unreliable-connected capability flags separately @hwaddr', function () {
    expect([hasRc(addr({ flags: 0x80 })), hasUc(addr({ flags: 0x80 }))]).to.deep.equal([true, false]);
    expect([hasRc(addr({ flags: 0x40 })), hasUc(addr({ flags: 0x40 }))]).to.deep.equal([false, true]);
    expect([hasRc(addr({ flags: 0xc0 })), hasUc(addr({ flags: 0xc0 }))]).to.deep.equal([true, true]);
    expect([hasRc(addr({ flags: 0x3f })), hasUc(addr({ flags: 0x3f }))]).to.deep.equal([false, false]);
  });

  it('isolates the reserved flag bits @hwaddr', function () {
    expect(reservedFlagBits(addr({ flags: 0xc0 }))).to.equal(0);
    expect(reservedFlagBits(addr({ flags: 0xa0 }))).to.equal(0x20);
    expect(reservedFlagBits(addr({ flags: 0x01 }))).to.equal(0x01);
  });

  it('tells multicast addresses from unicast ones by the first GID octet @hwaddr @multicast', function () {
    expect(isMulticastHwAddr(addr())).to.equal(false);
    expect(isMulticastHwAddr(addr({ gid: mgidForIpv4Group('224.0.0.1', 0xffff) }))).to.equal(true);
    expect(isMulticastHwAddr(addr({ gid: parseGid('fe00::1') }))).to.equal(false);
  });

  it('builds the broadcast address around the broadcast MGID @hwaddr @multicast @mgid @pkey', function () {
    const b = broadcastHwAddr(0xffff);
    expect(formatHwAddr(b)).to.equal('00:ff:ff:ff:ff:12:40:1b:ff:ff:00:00:00:00:00:00:ff:ff:ff:ff');
    expect(isMulticastHwAddr(b)).to.equal(true);
    expect(formatHwAddr(broadcastHwAddr(0x8001, 5))).to.equal(
      '00:ff:ff:ff:ff:15:40:1b:80:01:00:00:00:00:00:00:ff:ff:ff:ff',
    );
    // the P_Key goes in as given; Linux shows the full-member form
    expect(formatHwAddr(broadcastHwAddr(0x0001))).to.equal(
      '00:ff:ff:ff:ff:12:40:1b:00:01:00:00:00:00:00:00:ff:ff:ff:ff',
    );
    expect(formatHwAddr(broadcastHwAddr(linuxPkey(0x0001)))).to.equal(
      '00:ff:ff:ff:ff:12:40:1b:80:01:00:00:00:00:00:00:ff:ff:ff:ff',
    );
    expectWireError(() => broadcastHwAddr(0x10000), 'mgid.pkey');
  });
});
