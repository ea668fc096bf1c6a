import { expect } from 'chai';
import { encodeToBuffer } from '../../src/wire/codec.js';
import { ICMPV6_NA, ICMPV6_NS, ICMPV6_RA, ICMPV6_RS } from '../../src/wire/constants.js';
import type { IpoibHwAddr } from '../../src/wire/ipoib-hwaddr.js';
import { parseGid } from '../../src/wire/mgid.js';
import {
  icmpv6Checksum,
  ND_MESSAGE_NAMES,
  type NdLladdrOption,
  type NdMessage,
  type NdNeighborAdvertisement,
  type NdNeighborSolicitation,
  ndMessage,
  ndOption,
  ndProblems,
  type NdRawOption,
  type NdRouterAdvertisement,
  type NdRouterSolicitation,
  withIcmpv6Checksum,
} from '../../src/wire/nd.js';
import { expectWireError, hex, roundtrip } from '../helpers/roundtrip.js';

const SRC = parseGid('fe80::202:c903:a:1b2c');
const ALL_ROUTERS = parseGid('ff02::2');
const SOLICITED = parseGid('ff02::1:ff0a:1b2d');
const TARGET = parseGid('fe80::202:c903:a:1b2d');
const ADDR: IpoibHwAddr = { flags: 0x80, qpn: 0x48, gid: parseGid('fe80::2:c903:a:1b2c') };
const ADDR_HEX = '80 000048 fe800000000000000002c903000a1b2c'; // flags RC | QPN 0x48 | GID
const SLLA: NdLladdrOption = { kind: 'lladdr', type: 1, pad: 0, address: ADDR };

const rs = (over: Partial<NdRouterSolicitation> = {}): NdRouterSolicitation => ({
  type: ICMPV6_RS,
  code: 0,
  checksum: 0,
  reserved: 0,
  options: [],
  ...over,
});
const ns = (over: Partial<NdNeighborSolicitation> = {}): NdNeighborSolicitation => ({
  type: ICMPV6_NS,
  code: 0,
  checksum: 0,
  reserved: 0,
  target: TARGET,
  options: [],
  ...over,
});
const na = (over: Partial<NdNeighborAdvertisement> = {}): NdNeighborAdvertisement => ({
  type: ICMPV6_NA,
  code: 0,
  checksum: 0,
  router: false,
  solicited: true,
  override: true,
  reserved: 0,
  target: TARGET,
  options: [],
  ...over,
});
const ra = (over: Partial<NdRouterAdvertisement> = {}): NdRouterAdvertisement => ({
  type: ICMPV6_RA,
  code: 0,
  checksum: 0,
  curHopLimit: 64,
  managed: true,
  other: true,
  flagsReserved: 0,
  routerLifetime: 1800,
  reachableTime: 0,
  retransTimer: 0,
  options: [],
  ...over,
});

/**
 * roundtrip() for ND messages. The shared helper cannot be used: ICMPv6 has no length of its
 * own (it ends where the IPv6 payload ends), so ndMessage reads options up to the end of the
 * buffer, and the helper's trailing filler would be read as options. This does the same checks
 * on a buffer that ends with the message, and judges every truncation: a cut at an option
 * boundary is a valid shorter message, any other cut must throw WireError.
 */
function messageRoundtrip(m: NdMessage, goldenHex: string): void {
  const golden = hex(goldenHex);
  expect(encodeToBuffer(ndMessage, m).toString('hex'), 'golden bytes').to.equal(golden.toString('hex'));
  expect(ndMessage.encodingLength(m), 'encodingLength').to.equal(golden.length);
  const { value, bytes } = ndMessage.decode(golden, 0);
  expect(bytes, 'bytes consumed').to.equal(golden.length);
  expect(value, 'decoded value').to.deep.equal(m);
  expect(encodeToBuffer(ndMessage, value).toString('hex'), 'decode -> re-encode').to.equal(golden.toString('hex'));

  const big = Buffer.alloc(golden.length + 20, 0xee);
  expect(ndMessage.encode(m, big, 10), 'bytes written at offset 10').to.equal(golden.length);
  expect(big.subarray(10, 10 + golden.length).toString('hex'), 'bytes at offset 10').to.equal(golden.toString('hex'));
  expect([big[9], big[10 + golden.length]], 'neighbours untouched').to.deep.equal([0xee, 0xee]);
  expect(ndMessage.decode(big.subarray(0, 10 + golden.length), 10).value, 'decode at offset 10').to.deep.equal(m);

  const boundaries = new Set<number>();
  let at = golden.length - m.options.reduce((n, opt) => n + ndOption.encodingLength(opt), 0);
  boundaries.add(at);
  for (const opt of m.options) boundaries.add((at += ndOption.encodingLength(opt)));
  for (let n = 0; n < golden.length; n++) {
    const prefix = golden.subarray(0, n);
    if (boundaries.has(n))
      expect(ndMessage.decode(prefix, 0).bytes, `prefix of ${n} at an option boundary`).to.equal(n);
    else expectWireError(() => ndMessage.decode(prefix, 0), undefined, `prefix of ${n}/${golden.length} bytes`);
  }
}

// NS for fe80::202:c903:a:1b2d with a source lladdr option, from fe80::202:c903:a:1b2c to
// ff02::1:ff0a:1b2d. tshark 4.0 shows it as "Checksum: 0x31d6 [correct]", option type 1, length 3.
const NS_WITH_SLLA_HEX = [
  '87 00 31d6', //                          0-3   type 135, code 0, checksum
  '00000000', //                            4-7   reserved
  'fe800000000000000202c903000a1b2d', //    8-23  target
  '01 03 0000', //                          24-27 option: type 1 (source), length 3 (24 octets), 2 pad octets
  ADDR_HEX, //                              28-47 the 20-octet address
].join(' ');

describe('nd: the IPoIB link-layer address option @nd', function () {
  it('roundtrips a source lladdr option: type, length 3, two zero octets, 20-octet address @nd', function () {
    // 01 source | 03 = 3 x 8 octets | 00 00 pad | address
    roundtrip(ndOption, SLLA, `01 03 0000 ${ADDR_HEX}`);
  });

  it('roundtrips a target lladdr option @nd', function () {
    roundtrip(ndOption, { ...SLLA, type: 2 }, `02 03 0000 ${ADDR_HEX}`);
  });

  it('keeps non-zero padding on decode @nd', function () {
    roundtrip(ndOption, { ...SLLA, pad: 0x0102 }, `01 03 0102 ${ADDR_HEX}`);
  });

  it('roundtrips an option it does not know as raw type, length and data @nd', function () {
    // MTU option: 05 type | 01 = 8 octets | 00 00 reserved | 00 00 0f fc = 4092
    const mtu: NdRawOption = { kind: 'raw', type: 5, length: 1, data: hex('0000 00000ffc') };
    roundtrip(ndOption, mtu, '05 01 0000 00000ffc');
  });

  it('decodes a type 1 option of length 1 (Ethernet-sized lladdr) as raw, not as an error @nd', function () {
    // 01 source | 01 = 8 octets | 6-octet Ethernet address
    const opt = ndOption.decode(hex('01 01 020000000001'), 0);
    expect(opt).to.deep.equal({ value: { kind: 'raw', type: 1, length: 1, data: hex('020000000001') }, bytes: 8 });
    roundtrip(ndOption, opt.value, '01 01 020000000001');
  });

  it('decodes type 2 options of length 2 and 4 as raw @nd', function () {
    expect(ndOption.decode(hex(`02 02 ${'00'.repeat(14)}`), 0).value).to.deep.include({
      kind: 'raw',
      type: 2,
      length: 2,
    });
    expect(ndOption.decode(hex(`02 04 0000 ${ADDR_HEX} ${'00'.repeat(8)}`), 0).value).to.deep.include({
      kind: 'raw',
      length: 4,
    });
  });

  it('decodes the address as a copy @nd', function () {
    const b = hex(`01 03 0000 ${ADDR_HEX}`);
    const opt = ndOption.decode(b, 0).value;
    b.fill(0);
    expect(opt.kind === 'lladdr' && opt.address.gid.toString('hex')).to.equal('fe800000000000000002c903000a1b2c');
  });

  it('refuses an option of length 0 @nd', function () {
    const e = expectWireError(() => ndOption.decode(hex(`01 00 0000 ${ADDR_HEX}`), 0), 'nd.option.length');
    expect(e.value).to.equal(0);
    expect(e.offset).to.equal(1);
  });

  it('refuses an option that runs past the end of the buffer @nd', function () {
    expectWireError(() => ndOption.decode(hex(`01 04 0000 ${ADDR_HEX}`), 0), 'nd.option.length');
    expectWireError(() => ndOption.decode(hex('05 ff 0000 00000ffc'), 0), 'nd.option.length');
  });

  it('refuses on encode an lladdr option whose type is not 1 or 2 @nd', function () {
    const e = expectWireError(() => encodeToBuffer(ndOption, { ...SLLA, type: 3 }), 'nd.option.type');
    expect(e.value).to.equal(3);
  });

  it('refuses on encode out-of-range padding and a bad embedded address @nd', function () {
    expectWireError(() => encodeToBuffer(ndOption, { ...SLLA, pad: 0x10000 }), 'nd.option.pad');
    expectWireError(
      () => encodeToBuffer(ndOption, { ...SLLA, address: { ...ADDR, qpn: 0x1000000 } }),
      'nd.option.address.qpn',
    );
    expectWireError(
      () => encodeToBuffer(ndOption, { ...SLLA, address: { ...ADDR, gid: Buffer.alloc(6) } }),
      'nd.option.address.gid',
    );
  });

  it('refuses on encode a raw option of length 0, over 255, or with data of the wrong size @nd', function () {
    const raw = (o: Partial<NdRawOption>): NdRawOption => ({
      kind: 'raw',
      type: 5,
      length: 1,
      data: Buffer.alloc(6),
      ...o,
    });
    expectWireError(() => encodeToBuffer(ndOption, raw({ length: 0, data: Buffer.alloc(0) })), 'nd.option.length');
    expectWireError(() => encodeToBuffer(ndOption, raw({ length: 256 })), 'nd.option.length');
    const e = expectWireError(() => encodeToBuffer(ndOption, raw({ data: Buffer.alloc(7) })), 'nd.option.data');
    expect(e.offset).to.equal(2);
    expectWireError(() => encodeToBuffer(ndOption, raw({ type: 256 })), 'nd.option.type');
  });

  it('refuses to encode into a buffer that is too small @nd', function () {
    expectWireError(() => ndOption.encode(SLLA, Buffer.alloc(23), 0), 'nd.option');
    expectWireError(
      () => ndOption.encode({ kind: 'raw', type: 5, length: 1, data: Buffer.alloc(6) }, Buffer.alloc(7), 0),
      'nd.option',
    );
  });
});

describe('nd: router and neighbor messages @nd', function () {
  it('roundtrips a router solicitation without options @nd', function () {
    // 85 = 133 RS | 00 code | 96 fb checksum (see the checksum tests) | 00000000 reserved
    messageRoundtrip(rs({ checksum: 0x96fb }), '85 00 96fb 00000000');
  });

  it('roundtrips a router advertisement without options @nd', function () {
    // 86 = 134 RA | 00 | 0000 checksum | 40 hop limit 64 | c0 = M|O | 0708 lifetime 1800 s |
    // 00000000 reachable time | 00000000 retrans timer
    messageRoundtrip(ra(), '86 00 0000 40 c0 0708 00000000 00000000');
  });

  it('roundtrips a neighbor solicitation without options (a DAD probe) @nd', function () {
    // 87 = 135 NS | 00 | 0000 | 00000000 reserved | target
    messageRoundtrip(ns(), '87 00 0000 00000000 fe800000000000000202c903000a1b2d');
  });

  it('roundtrips a neighbor advertisement with its R, S and O flags @nd', function () {
    // 88 = 136 NA | 00 | 0000 | e0 = R|S|O then 29 reserved bits | target
    messageRoundtrip(na({ router: true }), '88 00 0000 e0000000 fe800000000000000202c903000a1b2d');
    // 60 = S|O only
    messageRoundtrip(na(), '88 00 0000 60000000 fe800000000000000202c903000a1b2d');
    // 80 = R only, and the reserved bits kept: 1f ff ff ff
    messageRoundtrip(
      na({ router: true, solicited: false, override: false, reserved: 0x1fffffff }),
      '88 00 0000 9fffffff fe800000000000000202c903000a1b2d',
    );
  });

  it('keeps the RA reserved flag bits and timers as found @nd', function () {
    // flags octet 3f: M and O clear, all six low bits set
    messageRoundtrip(
      ra({
        managed: false,
        other: false,
        flagsReserved: 0x3f,
        curHopLimit: 255,
        routerLifetime: 0xffff,
        reachableTime: 30000,
        retransTimer: 0xffffffff,
      }),
      '86 00 0000 ff 3f ffff 00007530 ffffffff',
    );
  });

  it('encodes and decodes a neighbor solicitation with a source lladdr option @nd', function () {
    messageRoundtrip(ns({ checksum: 0x31d6, options: [SLLA] }), NS_WITH_SLLA_HEX);
  });

  it('encodes and decodes an advertisement with a target lladdr option and an unknown option @nd', function () {
    const m = na({
      options: [
        { ...SLLA, type: 2 },
        { kind: 'raw', type: 0xfe, length: 1, data: hex('010203040506') },
      ],
    });
    messageRoundtrip(
      m,
      `88 00 0000 60000000 fe800000000000000202c903000a1b2d 02 03 0000 ${ADDR_HEX} fe 01 010203040506`,
    );
  });

  it('encodes and decodes a router advertisement with lladdr and MTU options @nd @mtu', function () {
    const mtu: NdRawOption = { kind: 'raw', type: 5, length: 1, data: hex('0000 000007fc') };
    messageRoundtrip(
      ra({ options: [SLLA, mtu] }),
      `86 00 0000 40 c0 0708 00000000 00000000 01 03 0000 ${ADDR_HEX} 05 01 0000 000007fc`,
    );
  });

  it('encodes into a larger buffer at an offset @nd', function () {
    const big = Buffer.alloc(60, 0xee);
    expect(ndMessage.encode(ns({ checksum: 0x31d6, options: [SLLA] }), big, 5)).to.equal(48);
    expect(big.subarray(5, 53).toString('hex')).to.equal(hex(NS_WITH_SLLA_HEX).toString('hex'));
    expect([big[4], big[53]]).to.deep.equal([0xee, 0xee]);
  });

  it('decodes options up to the end of the buffer, so a cut at an option boundary is a shorter message @nd', function () {
    const cut = ndMessage.decode(hex(NS_WITH_SLLA_HEX).subarray(0, 24), 0);
    expect(cut.bytes).to.equal(24);
    expect(cut.value.options).to.deep.equal([]);
  });

  it('refuses a message whose option is cut short @nd', function () {
    const golden = hex(NS_WITH_SLLA_HEX);
    for (let n = 26; n < golden.length; n++) {
      expectWireError(() => ndMessage.decode(golden.subarray(0, n), 0), 'nd.option.length', `cut at ${n}`);
    }
    expectWireError(() => ndMessage.decode(golden.subarray(0, 25), 0), 'nd.option', 'cut at 25');
  });

  it('refuses a message with an option of length 0 @nd', function () {
    const b = hex(NS_WITH_SLLA_HEX);
    b[25] = 0;
    expect(expectWireError(() => ndMessage.decode(b, 0), 'nd.option.length').offset).to.equal(25);
  });

  it('refuses a message whose fixed part is cut short @nd', function () {
    expectWireError(() => ndMessage.decode(hex('87 00 0000'), 0), 'nd');
    expectWireError(() => ndMessage.decode(hex('87 00 0000 00000000 fe80'), 0), 'nd');
    expectWireError(() => ndMessage.decode(hex('86 00 0000 40 c0 0708 00000000 000000'), 0), 'nd');
    expectWireError(() => ndMessage.decode(hex('85 00'), 0), 'nd');
  });

  it('refuses ICMPv6 types other than RS, RA, NS and NA @nd @icmp', function () {
    for (const t of [128, 129, 132, 137, 0, 255]) {
      const b = hex('00 00 0000 00000000 fe800000000000000202c903000a1b2d');
      b[0] = t;
      const e = expectWireError(() => ndMessage.decode(b, 0), 'nd.type', `type ${t}`);
      expect(e.value).to.equal(t);
    }
    const redirect = { ...rs(), type: 137 } as unknown as NdMessage;
    expectWireError(() => encodeToBuffer(ndMessage, redirect), 'nd.type');
  });

  it('keeps a non-zero code and reserved field on decode @nd', function () {
    const m = ndMessage.decode(hex('85 07 1234 deadbeef'), 0).value;
    expect(m).to.deep.equal(rs({ code: 7, checksum: 0x1234, reserved: 0xdeadbeef }));
  });

  it('decodes target addresses as copies @nd', function () {
    const b = hex(NS_WITH_SLLA_HEX);
    const m = ndMessage.decode(b, 0).value as NdNeighborSolicitation;
    b.fill(0);
    expect(m.target.toString('hex')).to.equal('fe800000000000000202c903000a1b2d');
  });

  it('refuses on encode out-of-range common fields @nd', function () {
    expectWireError(() => encodeToBuffer(ndMessage, rs({ code: 256 })), 'nd.code');
    expectWireError(() => encodeToBuffer(ndMessage, rs({ checksum: 0x10000 })), 'nd.checksum');
    expectWireError(() => encodeToBuffer(ndMessage, rs({ reserved: 2 ** 32 })), 'nd.reserved');
    expectWireError(() => encodeToBuffer(ndMessage, ns({ reserved: -1 })), 'nd.reserved');
  });

  it('refuses on encode an NA reserved value that would overlap the flags @nd', function () {
    expectWireError(() => encodeToBuffer(ndMessage, na({ reserved: 0x20000000 })), 'nd.reserved');
  });

  it('refuses on encode a target that is not 16 octets @nd', function () {
    expectWireError(() => encodeToBuffer(ndMessage, ns({ target: Buffer.alloc(4) })), 'nd.target');
    const e = expectWireError(() => encodeToBuffer(ndMessage, na({ target: Buffer.alloc(20) })), 'nd.target');
    expect(e.offset).to.equal(8);
  });

  it('refuses on encode out-of-range router advertisement fields @nd', function () {
    expectWireError(() => encodeToBuffer(ndMessage, ra({ curHopLimit: 256 })), 'nd.curHopLimit');
    expectWireError(() => encodeToBuffer(ndMessage, ra({ flagsReserved: 0x40 })), 'nd.flagsReserved');
    expectWireError(() => encodeToBuffer(ndMessage, ra({ routerLifetime: 0x10000 })), 'nd.routerLifetime');
    expectWireError(() => encodeToBuffer(ndMessage, ra({ reachableTime: 2 ** 32 })), 'nd.reachableTime');
    expectWireError(() => encodeToBuffer(ndMessage, ra({ retransTimer: -1 })), 'nd.retransTimer');
  });

  it('refuses on encode a bad option inside a message @nd', function () {
    expectWireError(() => encodeToBuffer(ndMessage, ns({ options: [{ ...SLLA, pad: -1 }] })), 'nd.option.pad');
  });

  it('refuses to encode into a buffer that is too small @nd', function () {
    expectWireError(() => ndMessage.encode(ns(), Buffer.alloc(23), 0), 'nd');
    expectWireError(() => ndMessage.encode(ns({ options: [SLLA] }), Buffer.alloc(40), 0), 'nd.option');
  });

  it('names the four messages @nd', function () {
    expect([133, 134, 135, 136].map((t) => ND_MESSAGE_NAMES[t])).to.deep.equal([
      'router solicitation',
      'router advertisement',
      'neighbor solicitation',
      'neighbor advertisement',
    ]);
  });
});

describe('nd: ICMPv6 checksum over the pseudo-header @nd @icmp', function () {
  it('computes the router solicitation checksum derived by hand @nd', function () {
    // Pseudo-header words: src fe80 0000 0000 0000 0202 c903 000a 1b2c, dst ff02 0 0 0 0 0 0 0002,
    // length 0000 0008, next header 0000 003a; message 8500 [checksum as 0] 0000 0000.
    // Sum: fe80+0202+c903+000a+1b2c+ff02+0002+0008+003a+8500 = 0x36901; fold 0x6901+0x3 = 0x6904;
    // complement = 0x96fb (tshark agrees: "0x96fb [correct]").
    expect(icmpv6Checksum(SRC, ALL_ROUTERS, hex('85 00 0000 00000000'))).to.equal(0x96fb);
  });

  it('ignores the value already in the checksum field @nd', function () {
    expect(icmpv6Checksum(SRC, ALL_ROUTERS, hex('85 00 96fb 00000000'))).to.equal(0x96fb);
    expect(icmpv6Checksum(SRC, ALL_ROUTERS, hex('85 00 ffff 00000000'))).to.equal(0x96fb);
  });

  it('verifies the neighbor solicitation golden, whose checksum was cross-checked @nd', function () {
    expect(icmpv6Checksum(SRC, SOLICITED, hex(NS_WITH_SLLA_HEX))).to.equal(0x31d6);
  });

  it('depends on the addresses and the length @nd', function () {
    expect(icmpv6Checksum(TARGET, ALL_ROUTERS, hex('85 00 0000 00000000'))).to.not.equal(0x96fb);
    expect(icmpv6Checksum(SRC, SOLICITED, hex('85 00 0000 00000000'))).to.not.equal(0x96fb);
    // an odd trailing octet counts as the high half of a word padded with zero
    const odd = icmpv6Checksum(SRC, ALL_ROUTERS, hex('85 00 0000 00000000 01'));
    const even = icmpv6Checksum(SRC, ALL_ROUTERS, hex('85 00 0000 00000000 0100'));
    expect(odd, 'odd length differs only in the length word').to.equal((even + 1) & 0xffff);
  });

  it('fills the checksum of a message without touching anything else @nd', function () {
    const filled = withIcmpv6Checksum(ns({ checksum: 0xabcd, options: [SLLA] }), SRC, SOLICITED);
    expect(filled).to.deep.equal(ns({ checksum: 0x31d6, options: [SLLA] }));
    expect(withIcmpv6Checksum(rs(), SRC, ALL_ROUTERS).checksum).to.equal(0x96fb);
    const adv = withIcmpv6Checksum(na({ options: [{ ...SLLA, type: 2 }] }), TARGET, SRC);
    expect(icmpv6Checksum(TARGET, SRC, encodeToBuffer(ndMessage, adv))).to.equal(adv.checksum);
  });

  it('refuses addresses that are not 16 octets and messages shorter than 4 octets @nd', function () {
    expectWireError(() => icmpv6Checksum(Buffer.alloc(4), ALL_ROUTERS, hex('85000000')), 'icmpv6.src');
    expectWireError(() => icmpv6Checksum(SRC, Buffer.alloc(20), hex('85000000')), 'icmpv6.dst');
    expectWireError(() => icmpv6Checksum(SRC, ALL_ROUTERS, hex('850000')), 'icmpv6');
  });
});

describe('nd: judging what a sender got wrong @nd', function () {
  it('finds nothing wrong in well-formed messages @nd', function () {
    expect(ndProblems(ns({ options: [SLLA] }))).to.deep.equal([]);
    expect(ndProblems(na({ options: [{ ...SLLA, type: 2 }] }))).to.deep.equal([]);
    expect(ndProblems(rs({ options: [SLLA] }))).to.deep.equal([]);
    expect(
      ndProblems(
        ra({ flagsReserved: 0x18, options: [SLLA, { kind: 'raw', type: 5, length: 1, data: Buffer.alloc(6) }] }),
      ),
    ).to.deep.equal([]);
  });

  it('reports an IPoIB lladdr option of the wrong length @nd', function () {
    const m = ndMessage.decode(hex('87 00 0000 00000000 fe800000000000000202c903000a1b2d 01 01 020000000001'), 0).value;
    expect(ndProblems(m)).to.deep.equal(['option 0 (type 1): IPoIB lladdr option length 1, want 3']);
    const four: NdRawOption = { kind: 'raw', type: 2, length: 4, data: Buffer.alloc(30) };
    expect(ndProblems(na({ options: [four] }))).to.deep.equal([
      'option 0 (type 2): IPoIB lladdr option length 4, want 3',
    ]);
  });

  it('reports non-zero padding and reserved address flag bits @nd', function () {
    expect(ndProblems(ns({ options: [{ ...SLLA, pad: 0x0102 }] }))).to.deep.equal([
      'option 0 (type 1): IPoIB lladdr option padding 0x0102, want 0',
    ]);
    expect(ndProblems(ns({ options: [{ ...SLLA, address: { ...ADDR, flags: 0xbf } }] }))).to.deep.equal([
      'option 0 (type 1): address reserved flag bits 0x3f set, want 0',
    ]);
  });

  it('reports a non-zero code and reserved field @nd', function () {
    expect(ndProblems(rs({ code: 1, reserved: 1 }))).to.deep.equal(['code 1, want 0', 'reserved 0x00000001, want 0']);
    expect(ndProblems(na({ reserved: 0x10 }))).to.deep.equal(['reserved 0x00000010, want 0']);
  });

  it('reports an lladdr option of the wrong direction for the message @nd', function () {
    expect(ndProblems(na({ options: [SLLA] }))).to.deep.equal([
      'option 0 (type 1): source lladdr option in a neighbor advertisement',
    ]);
    expect(ndProblems(ns({ options: [{ ...SLLA, type: 2 }] }))).to.deep.equal([
      'option 0 (type 2): target lladdr option in a neighbor solicitation',
    ]);
  });
});
