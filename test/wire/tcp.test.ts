import { expect } from 'chai';
import { type Codec, encodeToBuffer } from '../../src/wire/codec.js';
import { TCP_FLAG_ACK, TCP_FLAG_PSH, TCP_FLAG_SYN, TCP_OPT_MSS, TCP_OPT_NOP, TCP_OPT_TIMESTAMPS } from '../../src/wire/constants.js';
import { parseIpv6 } from '../../src/wire/ip-text.js';
import {
  makeTcpSegment,
  parseTcpOptions,
  type TcpHeader,
  tcpChecksum,
  tcpChecksumOk,
  tcpHeader,
  tcpHeaderLength,
  tcpProblems,
  type TcpSegment,
  tcpSegment,
  tcpTimestamps,
  timestampOptions,
  withTcpChecksum,
} from '../../src/wire/tcp.js';
import { ACK_PSH_V4_HEX, SYN_V6_HEX } from '../fixtures/tcp-goldens.js';
import { expectWireError, hex, roundtrip } from '../helpers/roundtrip.js';

// The goldens and how their checksums were worked out: test/fixtures/tcp-goldens.ts.

const V4 = { src: '10.0.0.1', dst: '10.0.0.2' };
const V6 = { src: parseIpv6('2001:db8::1'), dst: parseIpv6('2001:db8::2') };

const ackPshHeader = (over: Partial<TcpHeader> = {}): TcpHeader => ({
  srcPort: 40000,
  dstPort: 5201,
  seq: 0x01020304,
  ack: 0x0a0b0c0d,
  reserved: 0,
  flags: TCP_FLAG_ACK | TCP_FLAG_PSH,
  window: 502,
  checksum: 0x5a02,
  urgentPointer: 0,
  options: hex('0101080a 00000064 000000c8'),
  ...over,
});
const ACK_PSH_V4: TcpSegment = { header: ackPshHeader(), payload: Buffer.from('ipoib') };

const SYN_V6: TcpSegment = {
  header: {
    srcPort: 50000,
    dstPort: 80,
    seq: 0xfffffff0,
    ack: 0,
    reserved: 0,
    flags: TCP_FLAG_SYN,
    window: 64800,
    checksum: 0x7bff,
    urgentPointer: 0,
    options: hex('020405b4'),
  },
  payload: Buffer.alloc(0),
};

/**
 * roundtrip() for whole segments. The shared helper cannot be used: TCP has no length of its own
 * (the IP header says where a segment ends), so decode reads to the end of the buffer and would
 * take the helper's trailing filler as payload. The same checks on a buffer that ends with the
 * segment; a prefix shorter than the header must throw WireError, a longer one is a valid
 * segment with less payload.
 */
function segmentRoundtrip(codec: Codec<TcpSegment>, s: TcpSegment, goldenHex: string): void {
  const golden = hex(goldenHex);
  expect(encodeToBuffer(codec, s).toString('hex'), 'golden bytes').to.equal(golden.toString('hex'));
  expect(codec.encodingLength(s), 'encodingLength').to.equal(golden.length);
  const { value, bytes } = codec.decode(golden, 0);
  expect(bytes, 'bytes consumed').to.equal(golden.length);
  expect(value, 'decoded value').to.deep.equal(s);
  const big = Buffer.alloc(golden.length + 20, 0xee);
  expect(codec.encode(s, big, 10), 'bytes written at offset 10').to.equal(golden.length);
  expect([big[9], big[10 + golden.length]], 'neighbours untouched').to.deep.equal([0xee, 0xee]);
  expect(codec.decode(big.subarray(0, 10 + golden.length), 10).value, 'decode at offset 10').to.deep.equal(s);
  const headerLen = tcpHeaderLength(s.header);
  for (let n = 0; n < golden.length; n++) {
    const prefix = golden.subarray(0, n);
    if (n < headerLen) {
      expectWireError(() => codec.decode(prefix, 0), undefined, `prefix of ${n}/${golden.length} bytes`);
    } else {
      expect(codec.decode(prefix, 0).value.payload.length, `prefix of ${n}`).to.equal(n - headerLen);
    }
  }
}

describe('tcp: the header and segments @ip', function () {
  it('roundtrips an ACK|PSH segment with timestamps and a payload (golden) @ip', function () {
    segmentRoundtrip(tcpSegment, ACK_PSH_V4, ACK_PSH_V4_HEX);
    expect(tcpHeaderLength(ACK_PSH_V4.header)).to.equal(32);
  });

  it('roundtrips a header alone, and a SYN with an MSS option (golden) @ip', function () {
    roundtrip(tcpHeader, ackPshHeader(), ACK_PSH_V4_HEX.split(' ').slice(0, 12).join(''));
    segmentRoundtrip(tcpSegment, SYN_V6, SYN_V6_HEX);
  });

  it('keeps the reserved bits as received and refuses a data offset below 5 @ip', function () {
    const bytes = hex(SYN_V6_HEX);
    bytes[12] = 0x6f; // data offset 6, reserved 0xf
    expect(tcpHeader.decode(bytes, 0).value.reserved).to.equal(0xf);
    bytes[12] = 0x40;
    expectWireError(() => tcpHeader.decode(bytes, 0), 'tcp.data_offset');
    bytes[12] = 0xf0; // 60 octets claimed, 24 there
    expectWireError(() => tcpHeader.decode(bytes, 0), 'tcp.options');
  });

  it('refuses to encode out-of-range fields and options that are not whole words @ip', function () {
    expectWireError(() => encodeToBuffer(tcpHeader, ackPshHeader({ seq: 2 ** 32 })), 'tcp.seq');
    expectWireError(() => encodeToBuffer(tcpHeader, ackPshHeader({ reserved: 16 })), 'tcp.reserved');
    expectWireError(() => encodeToBuffer(tcpHeader, ackPshHeader({ options: Buffer.alloc(3) })), 'tcp.options');
    expectWireError(() => encodeToBuffer(tcpHeader, ackPshHeader({ options: Buffer.alloc(44) })), 'tcp.options');
  });
});

describe('tcp: checksums over the IPv4 and IPv6 pseudo-headers @ip @ipv6', function () {
  it('computes the golden checksums, and verifies them @ip @ipv6', function () {
    expect(tcpChecksum(ACK_PSH_V4, V4)).to.equal(0x5a02);
    expect(tcpChecksum(SYN_V6, V6)).to.equal(0x7bff);
    expect(tcpChecksumOk(ACK_PSH_V4, V4)).to.equal(true);
    expect(tcpChecksumOk(SYN_V6, V6)).to.equal(true);
    expect(tcpProblems(ACK_PSH_V4, V4)).to.deep.equal([]);
  });

  it('notices a wrong checksum, a changed address and reserved bits @ip @ipv6', function () {
    const bad = { ...ACK_PSH_V4, header: ackPshHeader({ checksum: 0x5a03, reserved: 1 }) };
    expect(tcpChecksumOk(bad, V4)).to.equal(false);
    expect(tcpProblems(bad, V4)).to.have.length(2);
    expect(tcpChecksumOk(ACK_PSH_V4, { src: '10.0.0.3', dst: '10.0.0.2' })).to.equal(false);
    expect(tcpChecksumOk(SYN_V6, { src: V6.dst, dst: V6.src }), 'swapped addresses sum the same').to.equal(true);
    expect(tcpChecksumOk(SYN_V6, { src: parseIpv6('2001:db8::3'), dst: V6.dst })).to.equal(false);
  });

  it('makeTcpSegment and withTcpChecksum fill in a checksum that verifies @ip', function () {
    const s = makeTcpSegment({ srcPort: 1, dstPort: 2, seq: 3, ack: 4, flags: TCP_FLAG_ACK, payload: Buffer.from('odd') }, V4);
    expect(tcpChecksumOk(s, V4)).to.equal(true);
    expect(withTcpChecksum({ ...ACK_PSH_V4, header: ackPshHeader({ checksum: 0 }) }, V4).header.checksum).to.equal(0x5a02);
    expectWireError(() => tcpChecksum(SYN_V6, { src: Buffer.alloc(4), dst: Buffer.alloc(4) }), 'tcp.pseudo.src');
  });
});

describe('tcp: options @ip', function () {
  it('splits NOP, MSS, timestamps and stops at EOL @ip', function () {
    const opts = hex('01 0204 05b4 01 01 080a 00000001 00000002 00 ffff');
    const list = parseTcpOptions(opts);
    expect(list.map((o) => o.kind)).to.deep.equal([TCP_OPT_NOP, TCP_OPT_MSS, TCP_OPT_NOP, TCP_OPT_NOP, TCP_OPT_TIMESTAMPS]);
    expect(list[1]!.data.readUInt16BE(0)).to.equal(1460);
    expect(tcpTimestamps(opts)).to.deep.equal({ tsVal: 1, tsEcr: 2 });
    expect(tcpTimestamps(hex('020405b4'))).to.equal(undefined);
    expect(timestampOptions(100, 200).toString('hex')).to.equal('0101080a00000064000000c8');
  });

  it('refuses an option length below 2 or past the end @ip', function () {
    expectWireError(() => parseTcpOptions(hex('0201')), 'tcp.options');
    expectWireError(() => parseTcpOptions(hex('080a0000')), 'tcp.options');
    expectWireError(() => parseTcpOptions(hex('02')), 'tcp.options');
  });
});
