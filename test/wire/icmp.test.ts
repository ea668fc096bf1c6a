import { expect } from 'chai';
import { type Codec, encodeToBuffer } from '../../src/wire/codec.js';
import {
  ICMP_HEADER_LEN,
  type Icmpv4DestUnreachable,
  type Icmpv4Echo,
  icmpv4Checksum,
  icmpv4Message,
  type Icmpv6Echo,
  type Icmpv6PacketTooBig,
  icmpv6Checksum,
  icmpv6Message,
  icmpProblems,
  withIcmpChecksum,
} from '../../src/wire/icmp.js';
import { parseIpv6 } from '../../src/wire/ip-text.js';
import { ipv4Header, ipv4Packet } from '../../src/wire/ipv4.js';
import { ipv6Header, ipv6Packet } from '../../src/wire/ipv6.js';
import { expectWireError, hex } from '../helpers/roundtrip.js';

// Every message below was also put in IPv4/IPv6 packets in a LINKTYPE_RAW capture and read
// back with tshark 4.0: types, codes, identifiers, sequence numbers and MTUs as derived here,
// and every ICMP and ICMPv6 checksum reported good.

const A = parseIpv6('fe80::202:c903:a:1b2c');
const B = parseIpv6('fe80::202:c903:a:1b2d');
const ROUTER = parseIpv6('fe80::1');
const IPOIB = Buffer.from('ipoib'); // 69 70 6f 69 62: odd length, so the last word is padded

/**
 * roundtrip() for ICMP. The shared helper cannot be used: ICMP has no length of its own (the
 * IP header says where it ends), so decode reads to the end of the buffer, and the helper's
 * trailing filler would be read as data. This does the same checks on a buffer that ends with
 * the message, and judges every truncation: shorter than the 8-octet header must throw
 * WireError; longer is a valid message with less data.
 */
function messageRoundtrip<M>(codec: Codec<M>, m: M, goldenHex: string): void {
  const golden = hex(goldenHex);
  expect(encodeToBuffer(codec, m).toString('hex'), 'golden bytes').to.equal(golden.toString('hex'));
  expect(codec.encodingLength(m), 'encodingLength').to.equal(golden.length);
  const { value, bytes } = codec.decode(golden, 0);
  expect(bytes, 'bytes consumed').to.equal(golden.length);
  expect(value, 'decoded value').to.deep.equal(m);
  expect(encodeToBuffer(codec, value).toString('hex'), 'decode -> re-encode').to.equal(golden.toString('hex'));

  const big = Buffer.alloc(golden.length + 20, 0xee);
  expect(codec.encode(m, big, 10), 'bytes written at offset 10').to.equal(golden.length);
  expect(big.subarray(10, 10 + golden.length).toString('hex'), 'bytes at offset 10').to.equal(golden.toString('hex'));
  expect([big[9], big[10 + golden.length]], 'neighbours untouched').to.deep.equal([0xee, 0xee]);
  expect(codec.decode(big.subarray(0, 10 + golden.length), 10).value, 'decode at offset 10').to.deep.equal(m);

  for (let n = 0; n < golden.length; n++) {
    const prefix = golden.subarray(0, n);
    if (n < ICMP_HEADER_LEN) {
      expectWireError(() => codec.decode(prefix, 0), undefined, `prefix of ${n}/${golden.length} bytes`);
    } else {
      const cut = codec.decode(prefix, 0);
      expect(cut.bytes, `prefix of ${n}`).to.equal(n);
      const again = encodeToBuffer(codec, cut.value).toString('hex');
      expect(again, `prefix of ${n} re-encoded`).to.equal(prefix.toString('hex'));
    }
  }
}

// ---- ICMPv4 goldens -------------------------------------------------------------------------

const echo4 = (over: Partial<Icmpv4Echo> = {}): Icmpv4Echo => ({
  type: 8,
  code: 0,
  checksum: 0xb209,
  identifier: 0x0b1b,
  sequence: 1,
  data: IPOIB,
  ...over,
});

// Echo request: 0800 + 0b1b + 0001 + 6970 + 6f69 + 6200 (the odd "b" padded) = 0x14df5;
// fold 0x4df5 + 0x1 = 0x4df6; complement 0xb209.
const ECHO4_HEX = '08 00 b209 0b1b 0001 69706f6962'; // type 8 | code 0 | checksum | identifier | sequence | data

// The first 28 octets of the IPv4 packet 10.0.0.1 -> 10.0.0.2 carrying ECHO4 (ipv4.test.ts
// derives its header): the IPv4 header and the first 8 octets of the echo request.
const QUOTED_V4_HEX = '4500002112344000400114a60a0000010a000002 0800b2090b1b0001';

const fragNeeded = (over: Partial<Icmpv4DestUnreachable> = {}): Icmpv4DestUnreachable => ({
  type: 3,
  code: 4,
  checksum: 0x2fda,
  unused: 0,
  length: 0,
  nextHopMtu: 2044,
  original: hex(QUOTED_V4_HEX),
  ...over,
});

// Fragmentation needed, next-hop MTU 2044. The quoted IPv4 header carries its own right
// checksum, so its words sum to 0xffff, which is zero in one's complement and drops out:
// 0304 + 0000 + 0000 + 07fc + 0800 + b209 + 0b1b + 0001 = 0xd025; complement 0x2fda.
const FRAG_NEEDED_HEX = [
  '03 04 2fda', // type 3 | code 4 | checksum
  '00 00 07fc', // unused | length 0 (no RFC 4884 extensions) | next-hop MTU 2044
  QUOTED_V4_HEX, // original datagram: IPv4 header + 8 octets
].join(' ');

describe('icmp: ICMPv4 echo and destination unreachable @icmp', function () {
  it('roundtrips an echo request with odd-length data @icmp', function () {
    messageRoundtrip(icmpv4Message, echo4(), ECHO4_HEX);
  });

  it('roundtrips an echo reply with no data @icmp', function () {
    // 0000 + 0b1b + 0001 = 0x0b1c; complement 0xf4e3
    const reply = echo4({ type: 0, checksum: 0xf4e3, data: Buffer.alloc(0) });
    messageRoundtrip(icmpv4Message, reply, '00 00 f4e3 0b1b 0001');
  });

  it('roundtrips fragmentation needed with the next-hop MTU and the quoted datagram @icmp @mtu', function () {
    messageRoundtrip(icmpv4Message, fragNeeded(), FRAG_NEEDED_HEX);
    const quoted = ipv4Header.decode(fragNeeded().original, 0).value;
    expect(quoted).to.deep.include({ totalLength: 33, identification: 0x1234, dontFragment: true, protocol: 1 });
  });

  it('roundtrips another unreachable code, keeping the RFC 4884 length octet @icmp', function () {
    // protocol unreachable (code 2) | length 7 words = 28 octets | MTU field 0.
    // 0302 + 0007 + (quoted header: 0) + 0800 + b209 + 0b1b + 0001 = 0xc82e; complement 0x37d1
    const m = fragNeeded({ code: 2, length: 7, nextHopMtu: 0, checksum: 0x37d1 });
    messageRoundtrip(icmpv4Message, m, `03 02 37d1 00 07 0000 ${QUOTED_V4_HEX}`);
    expect(icmpProblems(m)).to.deep.equal([]);
  });

  it('keeps a non-zero code, unused octet and a wrong checksum as received @icmp', function () {
    const m = icmpv4Message.decode(hex(`03 04 ffff 5a 00 07fc ${QUOTED_V4_HEX}`), 0).value;
    expect(m).to.deep.equal(fragNeeded({ checksum: 0xffff, unused: 0x5a }));
    expect(icmpv4Message.decode(hex('08 07 0000 0001 0002'), 0).value).to.deep.equal(
      echo4({ code: 7, checksum: 0, identifier: 1, sequence: 2, data: Buffer.alloc(0) }),
    );
  });

  it('refuses ICMPv4 types it does not model @icmp', function () {
    for (const t of [5, 11, 12, 13, 128, 255]) {
      const b = hex(ECHO4_HEX);
      b[0] = t;
      const e = expectWireError(() => icmpv4Message.decode(b, 0), 'icmp.type', `type ${t}`);
      expect([e.value, e.offset]).to.deep.equal([t, 0]);
    }
    const timeExceeded = { ...echo4(), type: 11 } as unknown as Icmpv4Echo;
    expectWireError(() => encodeToBuffer(icmpv4Message, timeExceeded), 'icmp.type');
  });

  it('refuses a message shorter than 8 octets @icmp', function () {
    expectWireError(() => icmpv4Message.decode(hex('08 00 b209 0b1b 00'), 0), 'icmp');
    expectWireError(() => icmpv4Message.decode(hex('03 04 2fda 0000 07'), 0), 'icmp');
    expectWireError(() => icmpv4Message.decode(hex(ECHO4_HEX), 10), 'icmp');
  });

  it('decodes data and the quoted datagram as copies @icmp', function () {
    const b = hex(ECHO4_HEX);
    const m = icmpv4Message.decode(b, 0).value as Icmpv4Echo;
    b.fill(0);
    expect(m.data.toString()).to.equal('ipoib');
    const f = hex(FRAG_NEEDED_HEX);
    const u = icmpv4Message.decode(f, 0).value as Icmpv4DestUnreachable;
    f.fill(0);
    expect(u.original.toString('hex')).to.equal(hex(QUOTED_V4_HEX).toString('hex'));
  });

  it('refuses on encode every field out of range @icmp', function () {
    const cases: Array<[Icmpv4Echo | Icmpv4DestUnreachable, string, number]> = [
      [echo4({ code: 256 }), 'icmp.code', 1],
      [echo4({ checksum: -1 }), 'icmp.checksum', 2],
      [echo4({ identifier: 0x10000 }), 'icmp.identifier', 4],
      [echo4({ sequence: 1.5 }), 'icmp.sequence', 6],
      [echo4({ data: 'ipoib' as unknown as Buffer }), 'icmp.data', 8],
      [fragNeeded({ unused: 256 }), 'icmp.unused', 4],
      [fragNeeded({ length: -1 }), 'icmp.length', 5],
      [fragNeeded({ nextHopMtu: 0x10000 }), 'icmp.next_hop_mtu', 6],
      [fragNeeded({ original: undefined as unknown as Buffer }), 'icmp.original', 8],
    ];
    for (const [m, field, offset] of cases) {
      const e = expectWireError(() => icmpv4Message.encode(m, Buffer.alloc(64), 0), field, field);
      expect(e.offset, field).to.equal(offset);
      expectWireError(() => encodeToBuffer(icmpv4Message, m), field, `${field} via encodeToBuffer`);
    }
  });

  it('refuses to encode into a buffer that is too small @icmp', function () {
    const small = Buffer.alloc(12, 0xee);
    expectWireError(() => icmpv4Message.encode(echo4(), small, 0), 'icmp');
    expect(small.every((x) => x === 0xee), 'nothing written').to.equal(true);
  });

  it('decodes a whole fragmentation-needed packet down to the quoted header @icmp @ip', function () {
    // 10.0.0.254 -> 10.0.0.1, total 56: 4500 + 0038 + 4001 + 0a00 + 00fe + 0a00 + 0001 = 0x9a38;
    // complement 0x65c7
    const frame = hex(`45 00 0038 0000 0000 40 01 65c7 0a0000fe 0a000001 ${FRAG_NEEDED_HEX}`);
    const ip = ipv4Packet.decode(frame, 0).value;
    expect(ip.header).to.deep.include({ src: '10.0.0.254', dst: '10.0.0.1', protocol: 1, checksum: 0x65c7 });
    const icmp = icmpv4Message.decode(ip.payload, 0).value;
    expect(icmp).to.deep.equal(fragNeeded());
    expect(icmp.type === 3 && ipv4Header.decode(icmp.original, 0).value.src).to.equal('10.0.0.1');
  });
});

// ---- ICMPv6 goldens -------------------------------------------------------------------------

const echo6 = (over: Partial<Icmpv6Echo> = {}): Icmpv6Echo => ({
  type: 128,
  code: 0,
  checksum: 0x7047,
  identifier: 0x0b1b,
  sequence: 1,
  data: IPOIB,
  ...over,
});

// Echo request A -> B. Pseudo-header: A = fe80 + 0202 + c903 + 000a + 1b2c = 0x1e4bb,
// B = 0x1e4bc, length 000d, next header 003a; message 8000 + 0b1b + 0001 + 6970 + 6f69 + 6200.
// Total 0x58fb3; fold 0x8fb3 + 0x5 = 0x8fb8; complement 0x7047.
const ECHO6_HEX = '80 00 7047 0b1b 0001 69706f6962'; // type 128 | code 0 | checksum | identifier | sequence | data

// The IPv6 packet A -> B carrying ECHO6 (ipv6.test.ts has its layout): 53 octets.
const ECHO6_PACKET_HEX = `60012345 000d 3a 40 ${A.toString('hex')} ${B.toString('hex')} ${ECHO6_HEX}`;

const tooBig = (over: Partial<Icmpv6PacketTooBig> = {}): Icmpv6PacketTooBig => ({
  type: 2,
  code: 0,
  checksum: 0x5501,
  mtu: 2044,
  original: hex(ECHO6_PACKET_HEX),
  ...over,
});

// Packet too big ROUTER -> A quoting all 53 octets of the echo packet.
// Quoted: header 6001 + 2345 + 000d + 3a40 + A + B = 0x4870a -> 0x870e; the echo message with its
// checksum 0x1c5f5 + 0x7047 = 0x2363c -> 0x363e; together 0xbd4c.
// Message: 0200 + 0000 + 0000 + 07fc + 0xbd4c = 0xc748. Pseudo-header: fe80::1 = 0xfe81, A = 0x1e4bb,
// length 0x3d (61), next header 0x3a. Total 0x3aafb; fold 0xaafb + 0x3 = 0xaafe; complement 0x5501.
const TOO_BIG_HEX = [
  '02 00 5501', // type 2 | code 0 | checksum
  '000007fc', // MTU 2044
  ECHO6_PACKET_HEX, // the invoking packet, whole (it is far below 1280 - 48 octets)
].join(' ');

describe('icmp: ICMPv6 echo and packet too big @icmp', function () {
  it('roundtrips an echo request with odd-length data @icmp', function () {
    messageRoundtrip(icmpv6Message, echo6(), ECHO6_HEX);
  });

  it('roundtrips an echo reply with the largest identifier and sequence @icmp', function () {
    // checksum left 0: the codec writes what it is given
    const reply = echo6({ type: 129, checksum: 0, identifier: 0xffff, sequence: 0xffff });
    messageRoundtrip(icmpv6Message, reply, '81 00 0000 ffff ffff 69706f6962');
  });

  it('roundtrips packet too big with a 32-bit MTU and the invoking packet @icmp @mtu', function () {
    messageRoundtrip(icmpv6Message, tooBig(), TOO_BIG_HEX);
    const bare = tooBig({ mtu: 0xffffffff, checksum: 0, original: Buffer.alloc(0) });
    messageRoundtrip(icmpv6Message, bare, '02 00 0000 ffffffff');
    expect(ipv6Header.decode(tooBig().original, 0).value.payloadLength).to.equal(13);
  });

  it('refuses ICMPv6 types it does not model, pointing ND to its own codec @icmp @nd', function () {
    for (const t of [1, 3, 4, 130, 133, 135, 136, 8]) {
      const b = hex(ECHO6_HEX);
      b[0] = t;
      const e = expectWireError(() => icmpv6Message.decode(b, 0), 'icmpv6.type', `type ${t}`);
      expect(e.value).to.equal(t);
      expect(e.message).to.contain('nd.ts');
    }
    const typeZero = { ...echo6(), type: 0 } as unknown as Icmpv6Echo;
    expectWireError(() => encodeToBuffer(icmpv6Message, typeZero), 'icmpv6.type');
  });

  it('refuses a message shorter than 8 octets @icmp', function () {
    expectWireError(() => icmpv6Message.decode(hex('02 00 5501 0000 07'), 0), 'icmpv6');
    expectWireError(() => icmpv6Message.decode(hex('80'), 0), 'icmpv6');
  });

  it('refuses on encode every field out of range @icmp', function () {
    const cases: Array<[Icmpv6Echo | Icmpv6PacketTooBig, string, number]> = [
      [echo6({ code: -1 }), 'icmpv6.code', 1],
      [echo6({ checksum: 0x10000 }), 'icmpv6.checksum', 2],
      [echo6({ identifier: -1 }), 'icmpv6.identifier', 4],
      [echo6({ sequence: 0x10000 }), 'icmpv6.sequence', 6],
      [echo6({ data: [1] as unknown as Buffer }), 'icmpv6.data', 8],
      [tooBig({ mtu: 2 ** 32 }), 'icmpv6.mtu', 4],
      [tooBig({ original: 'x' as unknown as Buffer }), 'icmpv6.original', 8],
    ];
    for (const [m, field, offset] of cases) {
      const e = expectWireError(() => icmpv6Message.encode(m, Buffer.alloc(80), 0), field, field);
      expect(e.offset, field).to.equal(offset);
      expectWireError(() => encodeToBuffer(icmpv6Message, m), field, `${field} via encodeToBuffer`);
    }
    expectWireError(() => icmpv6Message.encode(tooBig(), Buffer.alloc(60), 0), 'icmpv6');
  });

  it('decodes a whole packet-too-big packet down to the quoted header @icmp @ip @ipv6', function () {
    const frame = hex(`60000000 003d 3a ff ${ROUTER.toString('hex')} ${A.toString('hex')} ${TOO_BIG_HEX}`);
    const ip = ipv6Packet.decode(frame, 0).value;
    expect(ip.header).to.deep.include({ payloadLength: 61, nextHeader: 58, hopLimit: 255 });
    const icmp = icmpv6Message.decode(ip.payload, 0).value;
    expect(icmp).to.deep.equal(tooBig());
    expect(icmpProblems(icmp, { src: ip.header.src, dst: ip.header.dst })).to.deep.equal([]);
  });
});

describe('icmp: checksums @icmp', function () {
  it('computes the ICMPv4 checksum over the message, whatever the field holds @icmp', function () {
    expect(icmpv4Checksum(hex(ECHO4_HEX))).to.equal(0xb209);
    expect(icmpv4Checksum(hex('08 00 0000 0b1b 0001 69706f6962'))).to.equal(0xb209);
    expect(icmpv4Checksum(hex(FRAG_NEEDED_HEX))).to.equal(0x2fda);
    // no pseudo-header: only the message counts
    expect(icmpv4Checksum(hex('00 00 1234 0b1b 0001'))).to.equal(0xf4e3);
  });

  it('computes the ICMPv6 checksum over pseudo-header and message @icmp', function () {
    expect(icmpv6Checksum(A, B, hex(ECHO6_HEX))).to.equal(0x7047);
    expect(icmpv6Checksum(A, B, hex('80 00 ffff 0b1b 0001 69706f6962'))).to.equal(0x7047);
    expect(icmpv6Checksum(ROUTER, A, hex(TOO_BIG_HEX))).to.equal(0x5501);
    // the addresses count: swapping them keeps the sum, another source changes it
    expect(icmpv6Checksum(B, A, hex(ECHO6_HEX))).to.equal(0x7047);
    expect(icmpv6Checksum(ROUTER, B, hex(ECHO6_HEX))).to.not.equal(0x7047);
  });

  it('refuses messages without a checksum field and bad addresses @icmp', function () {
    expectWireError(() => icmpv4Checksum(hex('0800 b2')), 'icmp');
    expectWireError(() => icmpv4Checksum('0800b209' as unknown as Buffer), 'icmp');
    expectWireError(() => icmpv6Checksum(A, B, hex('80 00 70')), 'icmpv6');
    expectWireError(() => icmpv6Checksum(A, B, null as unknown as Buffer), 'icmpv6');
    expectWireError(() => icmpv6Checksum(Buffer.alloc(4), B, hex(ECHO6_HEX)), 'icmpv6.src');
    expectWireError(() => icmpv6Checksum(A, Buffer.alloc(15), hex(ECHO6_HEX)), 'icmpv6.dst');
  });

  it('fills in the right checksum and changes nothing else @icmp', function () {
    expect(withIcmpChecksum(echo4({ checksum: 0 }))).to.deep.equal(echo4());
    expect(withIcmpChecksum(fragNeeded({ checksum: 0x1111 }))).to.deep.equal(fragNeeded());
    expect(withIcmpChecksum(echo6({ checksum: 0 }), { src: A, dst: B })).to.deep.equal(echo6());
    expect(withIcmpChecksum(tooBig({ checksum: 0 }), { src: ROUTER, dst: A })).to.deep.equal(tooBig());
  });

  it('refuses to fill an ICMPv6 checksum without the addresses, or for a bad message @icmp', function () {
    const noAddrs = withIcmpChecksum as unknown as (m: Icmpv6Echo) => Icmpv6Echo;
    expectWireError(() => noAddrs(echo6()), 'icmpv6.src');
    expectWireError(() => withIcmpChecksum(echo4({ identifier: -1 })), 'icmp.identifier');
    expectWireError(() => withIcmpChecksum(echo6(), { src: A, dst: Buffer.alloc(4) }), 'icmpv6.dst');
  });
});

describe('icmp: judging what a sender got wrong @icmp', function () {
  it('finds nothing wrong with the goldens @icmp', function () {
    expect(icmpProblems(echo4())).to.deep.equal([]);
    expect(icmpProblems(fragNeeded())).to.deep.equal([]);
    expect(icmpProblems(echo6(), { src: A, dst: B })).to.deep.equal([]);
    expect(icmpProblems(tooBig(), { src: ROUTER, dst: A })).to.deep.equal([]);
  });

  it('reports a checksum that does not verify, with the right one @icmp', function () {
    expect(icmpProblems(echo4({ checksum: 0xb208 }))).to.deep.equal(['checksum 0xb208, want 0xb209']);
    expect(icmpProblems(echo6(), { src: A, dst: ROUTER })).to.deep.equal([
      `checksum 0x7047, want 0x${icmpv6Checksum(A, ROUTER, hex(ECHO6_HEX)).toString(16).padStart(4, '0')}`,
    ]);
    expect(icmpProblems(tooBig({ checksum: 0x5502 }), { src: ROUTER, dst: A })).to.deep.equal([
      'checksum 0x5502, want 0x5501',
    ]);
  });

  it('accepts either encoding of a zero checksum @icmp', function () {
    // echo reply, identifier 0xfffe, sequence 1: 0000 + fffe + 0001 = 0xffff, so the right
    // checksum is 0x0000, and 0xffff sums the same
    const m = withIcmpChecksum(echo4({ type: 0, identifier: 0xfffe, data: Buffer.alloc(0) }));
    expect(m.checksum).to.equal(0);
    expect(icmpProblems({ ...m, checksum: 0xffff })).to.deep.equal([]);
    expect(icmpProblems({ ...m, checksum: 0x0001 })).to.deep.equal(['checksum 0x0001, want 0x0000']);
  });

  it('reports a non-zero code on echo and packet too big @icmp', function () {
    expect(icmpProblems(withIcmpChecksum(echo4({ code: 1 })))).to.deep.equal(['code 1, want 0']);
    expect(icmpProblems(withIcmpChecksum(echo6({ code: 3 }), { src: A, dst: B }), { src: A, dst: B })).to.deep.equal([
      'code 3, want 0',
    ]);
    const ptb = withIcmpChecksum(tooBig({ code: 1 }), { src: ROUTER, dst: A });
    expect(icmpProblems(ptb, { src: ROUTER, dst: A })).to.deep.equal(['code 1, want 0']);
  });

  it('reports the unused octet, a pre-RFC 1191 zero MTU and an MTU below 68 @icmp @mtu', function () {
    expect(icmpProblems(withIcmpChecksum(fragNeeded({ unused: 1 })))).to.deep.equal(['unused octet 1, want 0']);
    expect(icmpProblems(withIcmpChecksum(fragNeeded({ nextHopMtu: 0 })))).to.deep.equal([
      'next-hop MTU 0: the sender predates RFC 1191',
    ]);
    expect(icmpProblems(withIcmpChecksum(fragNeeded({ nextHopMtu: 67 })))).to.deep.equal([
      'next-hop MTU 67 is below the IPv4 minimum 68',
    ]);
    expect(icmpProblems(withIcmpChecksum(fragNeeded({ nextHopMtu: 68 })))).to.deep.equal([]);
  });

  it('reports an MTU field in an unreachable code other than 4, and a length longer than the quote @icmp @mtu', function () {
    expect(icmpProblems(withIcmpChecksum(fragNeeded({ code: 3, nextHopMtu: 2044 })))).to.deep.equal([
      'next-hop MTU field 2044 in a code 3 message, want 0',
    ]);
    expect(icmpProblems(withIcmpChecksum(fragNeeded({ code: 1, nextHopMtu: 0, length: 8 })))).to.deep.equal([
      'length 8 (32 octets) is longer than the 28 quoted octets',
    ]);
  });

  it('reports a quote shorter than the IPv4 header and 8 data octets @icmp', function () {
    const short = hex(QUOTED_V4_HEX).subarray(0, 27);
    expect(icmpProblems(withIcmpChecksum(fragNeeded({ original: short })))).to.deep.equal([
      'original datagram quotes 27 octets, want at least 28 (header + 8 data octets)',
    ]);
    // a datagram with only 4 data octets needs only those quoted: total length 24
    const tiny = hex('45000018123440004001 0000 0a000001 0a000002 01020304');
    expect(icmpProblems(withIcmpChecksum(fragNeeded({ original: tiny })))).to.deep.equal([]);
    expect(icmpProblems(withIcmpChecksum(fragNeeded({ original: tiny.subarray(0, 23) })))).to.deep.equal([
      'original datagram quotes 23 octets, want at least 24 (header + 8 data octets)',
    ]);
  });

  it('reports a quote that is not an IPv4 header @icmp', function () {
    const problems = icmpProblems(withIcmpChecksum(fragNeeded({ original: hex(ECHO6_PACKET_HEX) })));
    expect(problems).to.have.length(1);
    expect(problems[0]).to.match(/^original datagram does not start with an IPv4 header \(ipv4\.version/);
    expect(icmpProblems(withIcmpChecksum(fragNeeded({ original: Buffer.alloc(0) })))[0]).to.match(
      /^original datagram does not start with an IPv4 header \(ipv4 @0/,
    );
  });

  it('reports a packet-too-big MTU below 1280 @icmp @mtu', function () {
    const ptb = withIcmpChecksum(tooBig({ mtu: 1279 }), { src: ROUTER, dst: A });
    expect(icmpProblems(ptb, { src: ROUTER, dst: A })).to.deep.equal(['MTU 1279 is below the IPv6 minimum 1280']);
    const ok = withIcmpChecksum(tooBig({ mtu: 1280 }), { src: ROUTER, dst: A });
    expect(icmpProblems(ok, { src: ROUTER, dst: A })).to.deep.equal([]);
  });

  it('reports a quote that is cut shorter than needed or makes the message exceed 1280 octets @icmp', function () {
    const ends = { src: ROUTER, dst: A };
    const cut = withIcmpChecksum(tooBig({ original: hex(ECHO6_PACKET_HEX).subarray(0, 48) }), ends);
    expect(icmpProblems(cut, ends)).to.deep.equal(['quotes 48 octets of the invoking packet, want 53']);
    // a 2044-octet invoking packet: 1232 octets fit (1280 - 40 - 8), so 1232 is right, 1233 too many
    const invokingHeader = hex(`60000000 07d4 3b 40 ${A.toString('hex')} ${B.toString('hex')}`);
    const bigInvoking = Buffer.concat([invokingHeader, Buffer.alloc(2004)]);
    const fits = withIcmpChecksum(tooBig({ original: bigInvoking.subarray(0, 1232) }), ends);
    expect(icmpProblems(fits, ends)).to.deep.equal([]);
    const over = withIcmpChecksum(tooBig({ original: bigInvoking.subarray(0, 1233) }), ends);
    expect(icmpProblems(over, ends)).to.deep.equal([
      'quotes 1233 octets, so the packet exceeds the minimum IPv6 MTU (room for 1232)',
    ]);
    const under = withIcmpChecksum(tooBig({ original: bigInvoking.subarray(0, 1000) }), ends);
    expect(icmpProblems(under, ends)).to.deep.equal(['quotes 1000 octets of the invoking packet, want 1232']);
  });

  it('reports a quote that is not an IPv6 packet @icmp @ipv6', function () {
    const ends = { src: ROUTER, dst: A };
    const problems = icmpProblems(withIcmpChecksum(tooBig({ original: hex(QUOTED_V4_HEX) }), ends), ends);
    expect(problems).to.have.length(1);
    expect(problems[0]).to.match(/^invoking packet does not start with an IPv6 header/);
  });

  it('refuses to judge an ICMPv6 message without the addresses @icmp', function () {
    const judge = icmpProblems as unknown as (m: Icmpv6Echo) => string[];
    expectWireError(() => judge(echo6()), 'icmpv6.src');
  });
});
