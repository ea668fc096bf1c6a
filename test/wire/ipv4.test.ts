import { expect } from 'chai';
import { encodeToBuffer } from '../../src/wire/codec.js';
import {
  IPV4_MAX_OPTIONS_LEN,
  type Ipv4Header,
  ipv4Header,
  ipv4HeaderChecksum,
  ipv4HeaderLength,
  type Ipv4Packet,
  ipv4Packet,
  ipv4Problems,
  makeIpv4Packet,
} from '../../src/wire/ipv4.js';
import { expectWireError, hex, roundtrip } from '../helpers/roundtrip.js';

// Every golden below was also written into a LINKTYPE_RAW capture and read back with tshark
// 4.0 (-o ip.check_checksum:TRUE): it showed each field as derived here and every header
// checksum as good.

/** An ICMP echo request carrying "ipoib" (icmp.test.ts derives it; checksum 0xb209). */
const ECHO_REQUEST = hex('08 00 b209 0b1b 0001 69706f6962');

// Echo request 10.0.0.1 -> 10.0.0.2, DF, identification 0x1234, TTL 64.
// Checksum: 4500 + 0021 + 1234 + 4000 + 4001 + 0a00 + 0001 + 0a00 + 0002 = 0xeb59 (no carry);
// complement 0x14a6.
const ECHO_PACKET_HEX = [
  '45', //           0     version 4, IHL 5 (20 octets)
  '00', //           1     DSCP 0, ECN 0
  '0021', //         2-3   total length 33 = 20 + 13
  '1234', //         4-5   identification
  '4000', //         6-7   flags 010 (DF) | fragment offset 0
  '40', //           8     TTL 64
  '01', //           9     protocol 1 (ICMP)
  '14a6', //         10-11 header checksum
  '0a000001', //     12-15 source 10.0.0.1
  '0a000002', //     16-19 destination 10.0.0.2
  '0800b2090b1b000169706f6962', // 20-32 the echo request
].join(' ');

const header = (over: Partial<Ipv4Header> = {}): Ipv4Header => ({
  dscp: 0,
  ecn: 0,
  totalLength: 33,
  identification: 0x1234,
  reservedFlag: false,
  dontFragment: true,
  moreFragments: false,
  fragmentOffset: 0,
  ttl: 64,
  protocol: 1,
  checksum: 0x14a6,
  src: '10.0.0.1',
  dst: '10.0.0.2',
  options: Buffer.alloc(0),
  ...over,
});
const ECHO_PACKET: Ipv4Packet = { header: header(), payload: ECHO_REQUEST };

describe('ipv4: the header @ip', function () {
  it('roundtrips a 20-octet header @ip', function () {
    roundtrip(ipv4Header, header(), ECHO_PACKET_HEX.split(' ').slice(0, 10).join(''));
    expect(ipv4HeaderLength(header())).to.equal(20);
  });

  it('roundtrips a header with a router alert option, DSCP CS6 and TTL 1 @ip', function () {
    // 46 = version 4, IHL 6 (24 octets) | c0 = DSCP 48 << 2 | ECN 0 | 0020 total 32 | 0000 id |
    // 4000 DF | 01 TTL | 02 IGMP | fa00 checksum | 0a000001 | e0000016 224.0.0.22 |
    // 94040000 router alert (type 148, length 4, value 0).
    // Checksum: 46c0 + 0020 + 4000 + 0102 + 0a00 + 0001 + e000 + 0016 + 9404 = 0x205fd;
    // fold 0x05fd + 0x2 = 0x05ff; complement 0xfa00.
    const h = header({
      dscp: 48,
      totalLength: 32,
      identification: 0,
      ttl: 1,
      protocol: 2,
      checksum: 0xfa00,
      dst: '224.0.0.22',
      options: hex('94040000'),
    });
    roundtrip(ipv4Header, h, '46 c0 0020 0000 4000 01 02 fa00 0a000001 e0000016 94040000');
    expect(ipv4HeaderLength(h)).to.equal(24);
    expect(ipv4HeaderChecksum(h)).to.equal(0xfa00);
  });

  it('roundtrips a fragment: MF, fragment offset 185, ECN 3 @ip', function () {
    // 45 | 03 = DSCP 0, ECN 3 | 001c total 28 | beef id | 20b9 = 001 (MF) << 13 | 185 | 40 TTL |
    // 11 UDP | 8723 | 0a000001 | 0a000002.
    // Checksum: 4503 + 001c + beef + 20b9 + 4011 + 0a00 + 0001 + 0a00 + 0002 = 0x178db;
    // fold 0x78db + 0x1 = 0x78dc; complement 0x8723.
    const h = header({
      ecn: 3,
      totalLength: 28,
      identification: 0xbeef,
      dontFragment: false,
      moreFragments: true,
      fragmentOffset: 185,
      protocol: 17,
      checksum: 0x8723,
    });
    roundtrip(ipv4Header, h, '45 03 001c beef 20b9 40 11 8723 0a000001 0a000002');
    expect(ipv4HeaderChecksum(h)).to.equal(0x8723);
  });

  it('roundtrips the largest fields: 40 octets of options, every flag, offset 0x1fff @ip', function () {
    // 4f = IHL 15 (60 octets) | ff | ffff | ffff | ffff = 111 flags | 0x1fff | ff | ff | ffff
    const h = header({
      dscp: 63,
      ecn: 3,
      totalLength: 0xffff,
      identification: 0xffff,
      reservedFlag: true,
      dontFragment: true,
      moreFragments: true,
      fragmentOffset: 0x1fff,
      ttl: 255,
      protocol: 255,
      checksum: 0xffff,
      src: '255.255.255.255',
      dst: '0.0.0.0',
      options: Buffer.alloc(IPV4_MAX_OPTIONS_LEN, 0x01),
    });
    roundtrip(ipv4Header, h, `4f ff ffff ffff ffff ff ff ffff ffffffff 00000000 ${'01'.repeat(40)}`);
  });

  it('reads the header alone without comparing the total length with the buffer @ip', function () {
    // A header quoted in an ICMP error says 33 octets but comes alone.
    const { value, bytes } = ipv4Header.decode(hex(ECHO_PACKET_HEX).subarray(0, 20), 0);
    expect(bytes).to.equal(20);
    expect(value.totalLength).to.equal(33);
  });

  it('keeps the reserved flag and a wrong checksum as received @ip', function () {
    // flags octet c0 = reserved | DF; the checksum 0x14a6 was right for 40 00, not for c0 00
    const b = hex(ECHO_PACKET_HEX);
    b[6] = 0xc0;
    const h = ipv4Header.decode(b, 0).value;
    expect(h).to.deep.equal(header({ reservedFlag: true }));
    expect(encodeToBuffer(ipv4Header, h).toString('hex')).to.equal(b.subarray(0, 20).toString('hex'));
  });

  it('refuses a version other than 4 @ip', function () {
    for (const [first, version] of [
      [0x65, 6],
      [0x05, 0],
      [0xf5, 15],
    ] as const) {
      const b = hex(ECHO_PACKET_HEX);
      b[0] = first;
      const e = expectWireError(() => ipv4Header.decode(b, 0), 'ipv4.version', `first octet ${first}`);
      expect([e.value, e.offset]).to.deep.equal([version, 0]);
      expectWireError(() => ipv4Packet.decode(b, 0), 'ipv4.version');
    }
  });

  it('refuses an IHL below 5 @ip', function () {
    for (const ihl of [0, 1, 4]) {
      const b = hex(ECHO_PACKET_HEX);
      b[0] = 0x40 | ihl;
      const e = expectWireError(() => ipv4Header.decode(b, 0), 'ipv4.ihl', `IHL ${ihl}`);
      expect(e.value).to.equal(ihl);
    }
  });

  it('refuses options that the IHL announces but the buffer lacks @ip', function () {
    // IHL 6 says 24 octets; only 20 are there
    const b = hex('46 00 0014 0000 0000 40 01 0000 0a000001 0a000002');
    expectWireError(() => ipv4Header.decode(b, 0), 'ipv4.options');
    // IHL 15 with 56 of 60 octets
    expectWireError(() => ipv4Header.decode(Buffer.concat([hex('4f'), Buffer.alloc(55)]), 0), 'ipv4.options');
  });

  it('decodes options as a copy @ip', function () {
    const b = hex('46 c0 0020 0000 4000 01 02 fa00 0a000001 e0000016 94040000');
    const h = ipv4Header.decode(b, 0).value;
    b.fill(0);
    expect(h.options.toString('hex')).to.equal('94040000');
  });

  it('refuses on encode every field out of range @ip', function () {
    const cases: Array<[Partial<Ipv4Header>, string, number]> = [
      [{ dscp: 64 }, 'ipv4.dscp', 1],
      [{ ecn: 4 }, 'ipv4.ecn', 1],
      [{ totalLength: 0x10000 }, 'ipv4.total_length', 2],
      [{ identification: -1 }, 'ipv4.identification', 4],
      [{ fragmentOffset: 0x2000 }, 'ipv4.fragment_offset', 6],
      [{ ttl: 256 }, 'ipv4.ttl', 8],
      [{ protocol: 1.5 }, 'ipv4.protocol', 9],
      [{ checksum: 0x10000 }, 'ipv4.checksum', 10],
      [{ options: Buffer.alloc(3) }, 'ipv4.options', 20],
      [{ options: Buffer.alloc(44) }, 'ipv4.options', 20],
      [{ options: 'x' as unknown as Buffer }, 'ipv4.options', 20],
    ];
    for (const [over, field, offset] of cases) {
      const e = expectWireError(() => encodeToBuffer(ipv4Header, header(over)), field, JSON.stringify(over));
      expect(e.offset, field).to.equal(offset);
    }
    expectWireError(() => encodeToBuffer(ipv4Header, header({ src: '10.0.0' })), 'ipv4.src');
    expectWireError(() => encodeToBuffer(ipv4Header, header({ dst: 'fe80::1' })), 'ipv4.dst');
  });

  it('refuses to encode into a buffer that is too small @ip', function () {
    expectWireError(() => ipv4Header.encode(header(), Buffer.alloc(19), 0), 'ipv4');
    expectWireError(() => ipv4Header.encode(header({ options: Buffer.alloc(4) }), Buffer.alloc(30), 8), 'ipv4');
  });
});

describe('ipv4: whole packets @ip', function () {
  it('roundtrips an echo request packet @ip', function () {
    roundtrip(ipv4Packet, ECHO_PACKET, ECHO_PACKET_HEX);
  });

  it('reads exactly the total length and leaves link padding unread @ip', function () {
    const padded = Buffer.concat([hex(ECHO_PACKET_HEX), Buffer.alloc(7)]);
    const { value, bytes } = ipv4Packet.decode(padded, 0);
    expect(bytes).to.equal(33);
    expect(value).to.deep.equal(ECHO_PACKET);
  });

  it('refuses a total length beyond the buffer @ip', function () {
    const b = hex(ECHO_PACKET_HEX);
    b.writeUInt16BE(34, 2);
    const e = expectWireError(() => ipv4Packet.decode(b, 0), 'ipv4.total_length');
    expect([e.value, e.offset]).to.deep.equal([34, 2]);
    // the same at an offset inside a larger buffer
    const big = Buffer.concat([Buffer.alloc(5), b]);
    expect(expectWireError(() => ipv4Packet.decode(big, 5), 'ipv4.total_length').offset).to.equal(7);
  });

  it('refuses a total length shorter than the header @ip', function () {
    for (const total of [0, 19]) {
      const b = hex(ECHO_PACKET_HEX);
      b.writeUInt16BE(total, 2);
      const e = expectWireError(() => ipv4Packet.decode(b, 0), 'ipv4.total_length', `total ${total}`);
      expect(e.value).to.equal(total);
    }
    const withOption = hex('46 c0 0016 0000 4000 01 02 0000 0a000001 e0000016 94040000 0000');
    expectWireError(() => ipv4Packet.decode(withOption, 0), 'ipv4.total_length');
  });

  it('decodes a header-only packet (total length 20) with an empty payload @ip', function () {
    const b = hex('45 00 0014 0000 0000 40 3b 0000 0a000001 0a000002');
    expect(ipv4Packet.decode(b, 0).value.payload.length).to.equal(0);
  });

  it('decodes the payload as a copy @ip', function () {
    const b = hex(ECHO_PACKET_HEX);
    const p = ipv4Packet.decode(b, 0).value;
    b.fill(0);
    expect(p.payload.toString('hex')).to.equal(ECHO_REQUEST.toString('hex'));
  });

  it('refuses on encode a total length that does not match header and payload @ip', function () {
    for (const totalLength of [32, 34, 0]) {
      const p = { header: header({ totalLength }), payload: ECHO_REQUEST };
      const e = expectWireError(() => encodeToBuffer(ipv4Packet, p), 'ipv4.total_length', `total ${totalLength}`);
      expect([e.value, e.offset]).to.deep.equal([totalLength, 2]);
    }
  });

  it('refuses on encode a payload that is not a Buffer, bad options and a small buffer @ip', function () {
    const notBuffer = { header: header(), payload: 'ipoib' as unknown as Buffer };
    const e = expectWireError(() => ipv4Packet.encode(notBuffer, Buffer.alloc(40), 0), 'ipv4.payload');
    expect(e.offset).to.equal(20);
    expectWireError(() => encodeToBuffer(ipv4Packet, notBuffer), 'ipv4.payload');
    const optionsNotBuffer = { header: header({ options: 7 as unknown as Buffer }), payload: ECHO_REQUEST };
    expectWireError(() => encodeToBuffer(ipv4Packet, optionsNotBuffer), 'ipv4.options');
    const badOptions = { header: header({ options: Buffer.alloc(2) }), payload: ECHO_REQUEST };
    expectWireError(() => ipv4Packet.encode(badOptions, Buffer.alloc(40), 0), 'ipv4.options');
    const small = Buffer.alloc(32, 0xee);
    expectWireError(() => ipv4Packet.encode(ECHO_PACKET, small, 0), 'ipv4');
    expect(small.every((x) => x === 0xee), 'nothing written').to.equal(true);
  });
});

describe('ipv4: building packets @ip', function () {
  it('fills in the total length and checksum of the echo request @ip', function () {
    const p = makeIpv4Packet({
      src: '10.0.0.1',
      dst: '10.0.0.2',
      protocol: 1,
      identification: 0x1234,
      dontFragment: true,
      payload: ECHO_REQUEST,
    });
    expect(p).to.deep.equal(ECHO_PACKET);
    expect(encodeToBuffer(ipv4Packet, p).toString('hex')).to.equal(hex(ECHO_PACKET_HEX).toString('hex'));
  });

  it('defaults to DSCP 0, no flags, offset 0, TTL 64, no options @ip', function () {
    // echo reply 10.0.0.2 -> 10.0.0.1, total 28: 4500 + 001c + 4001 + 0a00 + 0002 + 0a00 + 0001
    // = 0x9920; complement 0x66df
    const p = makeIpv4Packet({ src: '10.0.0.2', dst: '10.0.0.1', protocol: 1, payload: hex('0000 f4e3 0b1b 0001') });
    expect(encodeToBuffer(ipv4Packet, p).toString('hex')).to.equal(
      hex('45 00 001c 0000 0000 40 01 66df 0a000002 0a000001 0000f4e30b1b0001').toString('hex'),
    );
  });

  it('counts options in the total length and the checksum @ip', function () {
    const p = makeIpv4Packet({
      src: '10.0.0.1',
      dst: '224.0.0.22',
      protocol: 2,
      dscp: 48,
      ttl: 1,
      dontFragment: true,
      options: hex('94040000'),
      payload: hex('16000904e0000016'),
    });
    expect(p.header).to.deep.include({ totalLength: 32, checksum: 0xfa00 });
  });

  it('refuses a payload too large for the total length, and bad fields, when building @ip', function () {
    const base = { src: '10.0.0.1', dst: '10.0.0.2', protocol: 17 };
    const e = expectWireError(() => makeIpv4Packet({ ...base, payload: Buffer.alloc(65516) }), 'ipv4.total_length');
    expect(e.value).to.equal(65536);
    expect(makeIpv4Packet({ ...base, payload: Buffer.alloc(65515) }).header.totalLength).to.equal(65535);
    expectWireError(() => makeIpv4Packet({ ...base, ttl: 300, payload: Buffer.alloc(0) }), 'ipv4.ttl');
    const oddOptions = { ...base, options: Buffer.alloc(5), payload: Buffer.alloc(0) };
    expectWireError(() => makeIpv4Packet(oddOptions), 'ipv4.options');
    expectWireError(() => makeIpv4Packet({ ...base, payload: [1, 2] as unknown as Buffer }), 'ipv4.payload');
    expectWireError(() => makeIpv4Packet({ ...base, src: '10.0.0.01', payload: Buffer.alloc(0) }), 'ipv4.src');
  });
});

describe('ipv4: judging a received header @ip', function () {
  it('finds nothing wrong with the goldens @ip', function () {
    expect(ipv4Problems(header())).to.deep.equal([]);
    expect(ipv4Problems(ipv4Packet.decode(hex(ECHO_PACKET_HEX), 0).value.header)).to.deep.equal([]);
  });

  it('reports a bad checksum with the right one, and the reserved flag @ip', function () {
    // with c0 00 in octets 6-7 the sum is 0xeb59 + 0x8000 = 0x16b59 -> 0x6b5a; complement 0x94a5
    // (tshark: "Header Checksum: 0x14a6 incorrect, should be 0x94a5")
    expect(ipv4Problems(header({ reservedFlag: true }))).to.deep.equal([
      'header checksum 0x14a6, want 0x94a5',
      'reserved flag bit set, want 0',
    ]);
    expect(ipv4Problems(header({ ttl: 63 }))).to.deep.equal(['header checksum 0x14a6, want 0x15a6']);
  });

  it('accepts either encoding of a zero checksum @ip', function () {
    // identification 0x26da brings the other words to 0xd925 + 0x26da = 0xffff, so the right
    // checksum is 0x0000, and 0xffff sums the same
    const p = makeIpv4Packet({
      src: '10.0.0.1',
      dst: '10.0.0.2',
      protocol: 1,
      identification: 0x26da,
      dontFragment: true,
      payload: ECHO_REQUEST,
    });
    expect(p.header.checksum).to.equal(0);
    expect(ipv4Problems(p.header)).to.deep.equal([]);
    expect(ipv4Problems({ ...p.header, checksum: 0xffff })).to.deep.equal([]);
    expect(ipv4Problems({ ...p.header, checksum: 0x0001 })).to.deep.equal(['header checksum 0x0001, want 0x0000']);
  });

  it('reports a total length shorter than the header @ip', function () {
    const h = header({ totalLength: 19 });
    const problems = ipv4Problems({ ...h, checksum: ipv4HeaderChecksum(h) });
    expect(problems).to.deep.equal(['total length 19 is less than the 20-octet header']);
  });

  it('computes the checksum whatever the field holds @ip', function () {
    expect(ipv4HeaderChecksum(header({ checksum: 0 }))).to.equal(0x14a6);
    expect(ipv4HeaderChecksum(header({ checksum: 0xffff }))).to.equal(0x14a6);
  });
});
