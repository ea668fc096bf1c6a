import { expect } from 'chai';
import { encodeToBuffer } from '../../src/wire/codec.js';
import { parseIpv6 } from '../../src/wire/ip-text.js';
import {
  IPV6_HEADER_LEN,
  type Ipv6Header,
  ipv6Header,
  type Ipv6Packet,
  ipv6Packet,
  makeIpv6Packet,
} from '../../src/wire/ipv6.js';
import { expectWireError, hex, roundtrip } from '../helpers/roundtrip.js';

// The echo packet below was also written into a LINKTYPE_RAW capture and read back with
// tshark 4.0: flow label 0x12345, payload length 13, next header 58, hop limit 64, and the
// ICMPv6 checksum 0x7047 reported good.

const A = parseIpv6('fe80::202:c903:a:1b2c');
const B = parseIpv6('fe80::202:c903:a:1b2d');
const A_HEX = 'fe800000000000000202c903000a1b2c';
const B_HEX = 'fe800000000000000202c903000a1b2d';

/** An ICMPv6 echo request carrying "ipoib" from A to B (icmp.test.ts derives checksum 0x7047). */
const ECHO_REQUEST = hex('80 00 7047 0b1b 0001 69706f6962');

const ECHO_PACKET_HEX = [
  '6 00 12345', // 0-3   version 6 | traffic class 0x00 | flow label 0x12345
  '000d', //       4-5   payload length 13
  '3a', //         6     next header 58 (ICMPv6)
  '40', //         7     hop limit 64
  A_HEX, //        8-23  source
  B_HEX, //        24-39 destination
  '8000 7047 0b1b 0001 69706f6962', // 40-52 the echo request
].join(' ');

const header = (over: Partial<Ipv6Header> = {}): Ipv6Header => ({
  trafficClass: 0,
  flowLabel: 0x12345,
  payloadLength: 13,
  nextHeader: 58,
  hopLimit: 64,
  src: A,
  dst: B,
  ...over,
});
const ECHO_PACKET: Ipv6Packet = { header: header(), payload: ECHO_REQUEST };

describe('ipv6: the fixed header @ip @ipv6', function () {
  it('roundtrips the 40-octet header @ip @ipv6', function () {
    expect(IPV6_HEADER_LEN).to.equal(40);
    roundtrip(ipv6Header, header(), `60012345 000d 3a 40 ${A_HEX} ${B_HEX}`);
  });

  it('roundtrips the largest values, keeping traffic class and flow label apart @ip @ipv6', function () {
    // 6 | ff | fffff, then ffff | ff | ff
    const h = header({
      trafficClass: 0xff,
      flowLabel: 0xfffff,
      payloadLength: 0xffff,
      nextHeader: 0xff,
      hopLimit: 0xff,
    });
    roundtrip(ipv6Header, h, `6fffffff ffff ff ff ${A_HEX} ${B_HEX}`);
    // traffic class 0xb8 (DSCP 46, ECN 0) and flow label 0: 6 | b8 | 00000 -> 6b 80 00 00
    roundtrip(ipv6Header, header({ trafficClass: 0xb8, flowLabel: 0 }), `6b800000 000d 3a 40 ${A_HEX} ${B_HEX}`);
    // flow label 1 alone lands in the last octet
    roundtrip(ipv6Header, header({ flowLabel: 1 }), `60000001 000d 3a 40 ${A_HEX} ${B_HEX}`);
  });

  it('reads the header alone without comparing the payload length with the buffer @ip @ipv6', function () {
    const { value, bytes } = ipv6Header.decode(hex(ECHO_PACKET_HEX).subarray(0, 40), 0);
    expect(bytes).to.equal(40);
    expect(value.payloadLength).to.equal(13);
  });

  it('refuses a version other than 6 @ip @ipv6', function () {
    for (const [first, version] of [
      [0x45, 4],
      [0x00, 0],
      [0x70, 7],
      [0xf0, 15],
    ] as const) {
      const b = hex(ECHO_PACKET_HEX);
      b[0] = first;
      const e = expectWireError(() => ipv6Header.decode(b, 0), 'ipv6.version', `first octet ${first}`);
      expect([e.value, e.offset]).to.deep.equal([version, 0]);
      expectWireError(() => ipv6Packet.decode(b, 0), 'ipv6.version');
    }
  });

  it('decodes the addresses as copies @ip @ipv6', function () {
    const b = hex(ECHO_PACKET_HEX);
    const h = ipv6Header.decode(b, 0).value;
    b.fill(0);
    expect([h.src.toString('hex'), h.dst.toString('hex')]).to.deep.equal([A_HEX, B_HEX]);
  });

  it('refuses on encode every field out of range @ip @ipv6', function () {
    const cases: Array<[Partial<Ipv6Header>, string, number]> = [
      [{ trafficClass: 0x100 }, 'ipv6.traffic_class', 0],
      [{ flowLabel: 0x100000 }, 'ipv6.flow_label', 1],
      [{ flowLabel: -1 }, 'ipv6.flow_label', 1],
      [{ payloadLength: 0x10000 }, 'ipv6.payload_length', 4],
      [{ nextHeader: 256 }, 'ipv6.next_header', 6],
      [{ hopLimit: 64.5 }, 'ipv6.hop_limit', 7],
      [{ src: Buffer.alloc(4) }, 'ipv6.src', 8],
      [{ dst: Buffer.alloc(17) }, 'ipv6.dst', 24],
    ];
    for (const [over, field, offset] of cases) {
      const e = expectWireError(() => encodeToBuffer(ipv6Header, header(over)), field, field);
      expect(e.offset, field).to.equal(offset);
    }
  });

  it('refuses to encode into a buffer that is too small @ip @ipv6', function () {
    expectWireError(() => ipv6Header.encode(header(), Buffer.alloc(39), 0), 'ipv6');
    expectWireError(() => ipv6Header.encode(header(), Buffer.alloc(45), 6), 'ipv6');
  });
});

describe('ipv6: whole packets @ip @ipv6', function () {
  it('roundtrips an echo request packet @ip @ipv6', function () {
    roundtrip(ipv6Packet, ECHO_PACKET, ECHO_PACKET_HEX);
  });

  it('reads exactly 40 + payload length octets and leaves the rest unread @ip @ipv6', function () {
    const { value, bytes } = ipv6Packet.decode(Buffer.concat([hex(ECHO_PACKET_HEX), Buffer.alloc(3)]), 0);
    expect(bytes).to.equal(53);
    expect(value).to.deep.equal(ECHO_PACKET);
  });

  it('decodes payload length 0 as an empty payload (no jumbograms) @ip @ipv6', function () {
    // next header 59: no next header
    const b = hex(`60000000 0000 3b 40 ${A_HEX} ${B_HEX}`);
    expect(ipv6Packet.decode(b, 0)).to.deep.equal({
      value: { header: header({ flowLabel: 0, payloadLength: 0, nextHeader: 59 }), payload: Buffer.alloc(0) },
      bytes: 40,
    });
  });

  it('refuses a payload length beyond the buffer @ip @ipv6', function () {
    const b = hex(ECHO_PACKET_HEX);
    b.writeUInt16BE(14, 4);
    const e = expectWireError(() => ipv6Packet.decode(b, 0), 'ipv6.payload_length');
    expect([e.value, e.offset]).to.deep.equal([14, 4]);
    const big = Buffer.concat([Buffer.alloc(3), b]);
    expect(expectWireError(() => ipv6Packet.decode(big, 3), 'ipv6.payload_length').offset).to.equal(7);
    b.writeUInt16BE(0xffff, 4);
    expectWireError(() => ipv6Packet.decode(b, 0), 'ipv6.payload_length');
  });

  it('decodes the payload as a copy @ip @ipv6', function () {
    const b = hex(ECHO_PACKET_HEX);
    const p = ipv6Packet.decode(b, 0).value;
    b.fill(0);
    expect(p.payload.toString('hex')).to.equal(ECHO_REQUEST.toString('hex'));
  });

  it('refuses on encode a payload length that does not match the payload @ip @ipv6', function () {
    for (const payloadLength of [12, 14, 0]) {
      const p = { header: header({ payloadLength }), payload: ECHO_REQUEST };
      const e = expectWireError(() => encodeToBuffer(ipv6Packet, p), 'ipv6.payload_length', `length ${payloadLength}`);
      expect([e.value, e.offset]).to.deep.equal([payloadLength, 4]);
    }
  });

  it('refuses on encode a payload that is not a Buffer, a bad header field and a small buffer @ip @ipv6', function () {
    const e = expectWireError(
      () => ipv6Packet.encode({ header: header(), payload: 'x' as unknown as Buffer }, Buffer.alloc(60), 0),
      'ipv6.payload',
    );
    expect(e.offset).to.equal(40);
    expectWireError(() => encodeToBuffer(ipv6Packet, { header: header(), payload: 5 as unknown as Buffer }), 'ipv6.payload');
    const badHop = { ...ECHO_PACKET, header: header({ hopLimit: 256 }) };
    expectWireError(() => encodeToBuffer(ipv6Packet, badHop), 'ipv6.hop_limit');
    const small = Buffer.alloc(52, 0xee);
    expectWireError(() => ipv6Packet.encode(ECHO_PACKET, small, 0), 'ipv6');
    expect(small.every((x) => x === 0xee), 'nothing written').to.equal(true);
  });
});

describe('ipv6: building packets @ip @ipv6', function () {
  it('fills in the payload length @ip @ipv6', function () {
    const p = makeIpv6Packet({ src: A, dst: B, nextHeader: 58, flowLabel: 0x12345, payload: ECHO_REQUEST });
    expect(p).to.deep.equal(ECHO_PACKET);
    expect(encodeToBuffer(ipv6Packet, p).toString('hex')).to.equal(hex(ECHO_PACKET_HEX).toString('hex'));
  });

  it('defaults to traffic class 0, flow label 0 and hop limit 64 @ip @ipv6', function () {
    const p = makeIpv6Packet({ src: B, dst: A, nextHeader: 59, payload: Buffer.alloc(0) });
    expect(p.header).to.deep.equal({
      trafficClass: 0,
      flowLabel: 0,
      payloadLength: 0,
      nextHeader: 59,
      hopLimit: 64,
      src: B,
      dst: A,
    });
  });

  it('refuses a payload that would need a jumbogram, and bad fields, when building @ip @ipv6', function () {
    const base = { src: A, dst: B, nextHeader: 17 };
    expect(makeIpv6Packet({ ...base, payload: Buffer.alloc(0xffff) }).header.payloadLength).to.equal(0xffff);
    const e = expectWireError(() => makeIpv6Packet({ ...base, payload: Buffer.alloc(0x10000) }), 'ipv6.payload_length');
    expect(e.value).to.equal(0x10000);
    const wideFlow = { ...base, flowLabel: 0x100000, payload: Buffer.alloc(0) };
    expectWireError(() => makeIpv6Packet(wideFlow), 'ipv6.flow_label');
    expectWireError(() => makeIpv6Packet({ ...base, src: Buffer.alloc(4), payload: Buffer.alloc(0) }), 'ipv6.src');
    expectWireError(() => makeIpv6Packet({ ...base, payload: 'x' as unknown as Buffer }), 'ipv6.payload');
  });
});
