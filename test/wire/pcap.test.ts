import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { endianness, tmpdir } from 'node:os';
import { join } from 'node:path';
import { WireError } from '../../src/errors.js';
import { LINKTYPE_ERF, LINKTYPE_IPOIB } from '../../src/wire/constants.js';
import { decodeIbPacket, encodeIbPacket } from '../../src/wire/ib-packet.js';
import {
  type ErfHeader,
  type IpoibPseudoHeader,
  PcapWriter,
  erfHeader,
  erfRecord,
  ipoibPcapRecord,
  ipoibPseudoHeader,
  parseErfRecord,
  parseIpoibPcapRecord,
  readPcap,
  unicastPseudoHeader,
} from '../../src/wire/pcap.js';
import { expectWireError, hex, roundtrip } from '../helpers/roundtrip.js';

const TS = { tsSec: 1_700_000_000, tsUsec: 123_456 };

/**
 * File header, little-endian: magic d4c3b2a1, version 2.4 (0200 0400), thiszone 0, sigfigs 0,
 * snaplen 65535 (ffff0000), linktype 197 (c5000000).
 * Record: ts_sec 1700000000 = 0x6553f100 (00f15365), ts_usec 123456 = 0x0001e240 (40e20100),
 * incl_len 4, orig_len 4, data deadbeef.
 */
const FILE_LE =
  'd4c3b2a1 0200 0400 00000000 00000000 ffff0000 c5000000' + '00f15365 40e20100 04000000 04000000 deadbeef';
/** The same file big-endian. */
const FILE_BE =
  'a1b2c3d4 0002 0004 00000000 00000000 0000ffff 000000c5' + '6553f100 0001e240 00000004 00000004 deadbeef';

/** The RC SEND ONLY of ib-packet.test.ts, 34 octets on the wire. */
const RC_SEND_HEX = '0002 0002 0008 0001  04 30 ffff 00 000049 80 000010  68656c6c6f 000000  e7bfbe5b 6e68';
/**
 * Its ERF record at 1700000000.123456:
 *   octets 0-7   timestamp, little-endian 64-bit: fraction round(0.123456 * 2^32) = 0x1f9acffa
 *                (facf9a1f) in the low word, seconds 0x6553f100 (00f15365) in the high word
 *   octet 8      type 21 (0x15); octet 9 flags 0x04 (varying length, interface 0)
 *   octets 10-11 rlen 16 + 34 = 50 (0x0032); 12-13 lctr 0; 14-15 wlen 34 (0x0022)
 */
const ERF_HEADER_HEX = 'facf9a1f 00f15365 15 04 0032 0000 0022';

const SGID = 'fe800000000000000002c90300000001';
const DGID = 'ff12401bffff000000000000ffffffff';
const DEST_HWADDR = '00000049 fe800000000000000002c90300000002'; // flags 0, QPN 0x49, GID

describe('pcap files @pcap', () => {
  it('writes a little-endian file against hand-derived octets @pcap', () => {
    const w = PcapWriter.inMemory({ linktype: LINKTYPE_ERF, snaplen: 65535, byteOrder: 'LE' });
    w.append({ ...TS, data: hex('deadbeef') });
    w.close();
    expect(w.toBuffer().toString('hex')).to.equal(hex(FILE_LE).toString('hex'));
  });

  it('writes a big-endian file against hand-derived octets @pcap', () => {
    const w = PcapWriter.inMemory({ linktype: LINKTYPE_ERF, snaplen: 65535, byteOrder: 'BE' });
    w.append({ ...TS, data: hex('deadbeef') });
    expect(w.toBuffer().toString('hex')).to.equal(hex(FILE_BE).toString('hex'));
  });

  it('writes the magic in the host byte order by default @pcap', () => {
    const w = PcapWriter.inMemory({ linktype: LINKTYPE_IPOIB });
    const f = readPcap(w.toBuffer());
    expect(f.byteOrder).to.equal(endianness());
    expect(f.snaplen).to.equal(262_144);
    expect(f.linktype).to.equal(242);
    expect(f.records).to.deep.equal([]);
  });

  it('reads both byte orders to the same records @pcap', () => {
    for (const [file, order] of [
      [FILE_LE, 'LE'],
      [FILE_BE, 'BE'],
    ] as const) {
      const f = readPcap(hex(file));
      expect(f).to.deep.include({
        linktype: 197,
        snaplen: 65535,
        byteOrder: order,
        versionMajor: 2,
        versionMinor: 4,
        thiszone: 0,
        sigfigs: 0,
      });
      expect(f.records).to.have.length(1);
      expect(f.records[0]).to.deep.equal({ ...TS, data: hex('deadbeef'), origLen: 4 });
    }
  });

  it('writes to a file path record by record and reads it back @pcap', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ipoib-lab-pcap-'));
    try {
      const path = join(dir, 'two.pcap');
      const w = PcapWriter.toFile(path, { linktype: LINKTYPE_ERF });
      w.append({ tsSec: 1, tsUsec: 2, data: hex('01') });
      w.append({ tsSec: 3, tsUsec: 999_999, data: hex('0203'), origLen: 9 });
      w.close();
      w.close(); // a second close is harmless
      expectWireError(() => w.append({ tsSec: 4, tsUsec: 0, data: hex('04') }), 'pcap');
      expectWireError(() => w.toBuffer(), 'pcap');
      const f = readPcap(readFileSync(path));
      expect(f.records.map((r) => [r.tsSec, r.tsUsec, r.data.toString('hex'), r.origLen])).to.deep.equal([
        [1, 2, '01', 1],
        [3, 999_999, '0203', 9],
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('cuts records to the snaplen and keeps the original length @pcap', () => {
    const w = PcapWriter.inMemory({ linktype: LINKTYPE_ERF, snaplen: 8 });
    w.append({ ...TS, data: Buffer.alloc(10, 7) });
    const [r] = readPcap(w.toBuffer()).records;
    expect(r?.data.length).to.equal(8);
    expect(r?.origLen).to.equal(10);
  });

  it('rejects bad timestamps, lengths and options on write, naming the field @pcap', () => {
    const w = PcapWriter.inMemory({ linktype: LINKTYPE_ERF });
    expectWireError(() => w.append({ tsSec: 0, tsUsec: 1_000_000, data: hex('00') }), 'pcap.record.ts_usec');
    expectWireError(() => w.append({ tsSec: -1, tsUsec: 0, data: hex('00') }), 'pcap.record.ts_sec');
    expectWireError(() => w.append({ tsSec: 0, tsUsec: 0, data: hex('0000'), origLen: 1 }), 'pcap.record.orig_len');
    expectWireError(() => w.append({ tsSec: 0, tsUsec: 0, data: 'x' as unknown as Buffer }), 'pcap.record.data');
    expectWireError(() => PcapWriter.inMemory({ linktype: 2 ** 32 }), 'pcap.linktype');
    expectWireError(() => PcapWriter.inMemory({ linktype: 1, snaplen: -1 }), 'pcap.snaplen');
  });

  it('rejects a bad magic, including nanosecond files @pcap', () => {
    expect(expectWireError(() => readPcap(hex('0a0d0d0a 00000000')), 'pcap.magic').value).to.equal(0x0a0d0d0a);
    expectWireError(() => readPcap(hex('4d3cb2a1 0200 0400')), 'pcap.magic');
    expectWireError(() => readPcap(hex('a1b2')), 'pcap.magic');
    expectWireError(() => readPcap(Buffer.alloc(0)), 'pcap.magic');
  });

  it('rejects a truncated file header @pcap', () => {
    const full = hex(FILE_LE);
    for (let n = 4; n < 24; n++) expectWireError(() => readPcap(full.subarray(0, n)), 'pcap.header', `${n} octets`);
  });

  it('rejects a truncated record header or record body @pcap', () => {
    const full = hex(FILE_LE);
    for (let n = 25; n < 40; n++) expectWireError(() => readPcap(full.subarray(0, n)), 'pcap.record[0].header', `${n}`);
    for (let n = 40; n < full.length; n++) expectWireError(() => readPcap(full.subarray(0, n)), 'pcap.record[0].data', `${n}`);
    expect(readPcap(full.subarray(0, 24)).records).to.have.length(0);
  });

  it('rejects a record longer than the snaplen or shorter on the wire than captured @pcap', () => {
    const overSnap = hex(FILE_LE.replace('ffff0000', '03000000')); // snaplen 3, record 4
    expect(expectWireError(() => readPcap(overSnap), 'pcap.record[0].incl_len').value).to.equal(4);
    const origShort = hex(FILE_LE.replace('04000000 deadbeef', '03000000 deadbeef')); // orig_len 3
    expectWireError(() => readPcap(origShort), 'pcap.record[0].orig_len');
  });

  it('names the record that is broken @pcap', () => {
    const two = Buffer.concat([hex(FILE_LE), hex('00000000 00000000 05000000 05000000 0102')]);
    expectWireError(() => readPcap(two), 'pcap.record[1].data');
  });
});

describe('ERF records @pcap', () => {
  it('writes a type 21 record around an IB packet against hand-derived octets @pcap @ib', () => {
    const rec = erfRecord(hex(RC_SEND_HEX), TS);
    expect(rec.toString('hex')).to.equal(hex(ERF_HEADER_HEX + RC_SEND_HEX).toString('hex'));
  });

  it('round-trips the 16-octet header as found @pcap', () => {
    const h: ErfHeader = { tsSec: 0x6553f100, tsFrac: 0x1f9acffa, type: 21, flags: 4, rlen: 50, lctr: 0, wlen: 34 };
    roundtrip(erfHeader, h, ERF_HEADER_HEX);
    const odd: ErfHeader = { tsSec: 1, tsFrac: 2, type: 0x82, flags: 0xff, rlen: 0xffff, lctr: 0x1234, wlen: 7 };
    roundtrip(erfHeader, odd, '02000000 01000000 82 ff ffff 1234 0007');
    expectWireError(() => erfHeader.encode({ ...h, rlen: 0x10000 }, Buffer.alloc(16), 0), 'erf.rlen');
    expectWireError(() => erfHeader.encode({ ...h, tsFrac: 2 ** 32 }, Buffer.alloc(16), 0), 'erf.ts.frac');
  });

  it('reads a record back to its packet and timestamp @pcap @ib', () => {
    const r = parseErfRecord(hex(ERF_HEADER_HEX + RC_SEND_HEX));
    expect(r.packet.toString('hex')).to.equal(hex(RC_SEND_HEX).toString('hex'));
    expect(r.tsSec).to.equal(TS.tsSec);
    expect(r.tsUsec).to.equal(TS.tsUsec);
    expect(r.truncated).to.equal(false);
    expect(r.header.flags).to.equal(0x04);
  });

  it('converts microseconds to the binary fraction and back exactly @pcap', () => {
    for (const tsUsec of [0, 1, 499_999, 500_000, 999_999]) {
      const r = parseErfRecord(erfRecord(hex('00'), { tsSec: 7, tsUsec }));
      expect([r.tsSec, r.tsUsec], `${tsUsec}`).to.deep.equal([7, tsUsec]);
    }
    expect(erfRecord(hex('00'), { tsSec: 0, tsUsec: 500_000 }).readUInt32LE(0)).to.equal(0x80000000);
    // A fraction that rounds up to a whole second carries into the seconds.
    const nearlyNext = hex('ffffffff 07000000 15 04 0011 0000 0001 00');
    expect(parseErfRecord(nearlyNext)).to.deep.include({ tsSec: 8, tsUsec: 0 });
  });

  it('puts the capture interface in the flags and rejects one above 3 @pcap', () => {
    expect(erfRecord(hex('00'), TS, { iface: 3 }).readUInt8(9)).to.equal(0x07);
    expectWireError(() => erfRecord(hex('00'), TS, { iface: 4 }), 'erf.flags.iface');
  });

  it('rejects packets that do not fit a 16-bit rlen and bad timestamps @pcap', () => {
    expectWireError(() => erfRecord(Buffer.alloc(65_520), TS), 'erf.rlen');
    expect(erfRecord(Buffer.alloc(65_519), TS).readUInt16BE(10)).to.equal(0xffff);
    expectWireError(() => erfRecord(hex('00'), { tsSec: 0, tsUsec: -1 }), 'erf.ts_usec');
    expectWireError(() => erfRecord('x' as unknown as Buffer, TS), 'erf.packet');
  });

  it('rejects an ERF type other than 21, and extension headers @pcap', () => {
    const eth = hex((ERF_HEADER_HEX + RC_SEND_HEX).replace('15 04', '02 04')); // type 2: Ethernet
    expect(expectWireError(() => parseErfRecord(eth), 'erf.type').value).to.equal(2);
    const ext = hex((ERF_HEADER_HEX + RC_SEND_HEX).replace('15 04', '95 04')); // 21 with the extension bit
    expectWireError(() => parseErfRecord(ext), 'erf.type');
  });

  it('rejects an rlen inconsistent with the record @pcap', () => {
    const full = hex(ERF_HEADER_HEX + RC_SEND_HEX);
    const longer = Buffer.from(full).fill(0x33, 11, 12); // rlen 51, one octet more than present
    expect(expectWireError(() => parseErfRecord(longer), 'erf.rlen').value).to.equal(51);
    const shorter = Buffer.from(full).fill(0x31, 11, 12); // rlen 49, one octet left over
    expectWireError(() => parseErfRecord(shorter), 'erf.rlen');
    const tiny = Buffer.from(full.subarray(0, 16)).fill(0x08, 11, 12); // rlen 8 < header
    expectWireError(() => parseErfRecord(tiny), 'erf.rlen');
  });

  it('rejects every truncation of the header @pcap', () => {
    const full = hex(ERF_HEADER_HEX + RC_SEND_HEX);
    for (let n = 0; n < 16; n++) expectWireError(() => parseErfRecord(full.subarray(0, n)), 'erf.header', `${n}`);
    for (let n = 16; n < full.length; n++) expectWireError(() => parseErfRecord(full.subarray(0, n)), 'erf.rlen', `${n}`);
  });

  it('cuts a padded record to wlen and flags a record shorter than wlen @pcap', () => {
    const padded = hex('facf9a1f 00f15365 15 00 0018 0000 0006  010203040506 0000'); // 2 pad octets
    expect(parseErfRecord(padded)).to.deep.include({ truncated: false });
    expect(parseErfRecord(padded).packet.toString('hex')).to.equal('010203040506');
    const cut = hex('facf9a1f 00f15365 15 0c 0014 0000 0040  01020304'); // wlen 64, 4 captured
    const r = parseErfRecord(cut);
    expect(r.truncated).to.equal(true);
    expect(r.packet.toString('hex')).to.equal('01020304');
  });

  it('carries IB packets through a whole ERF capture file and back @pcap @ib', () => {
    const wire = encodeIbPacket({
      lrh: { vl: 0, sl: 0, dlid: 2, slid: 1 },
      bth: { opcode: 0x04, se: false, migReq: false, pKey: 0xffff, destQp: 0x49, ackReq: true, psn: 0x10 },
      payload: Buffer.from('hello'),
    });
    const w = PcapWriter.inMemory({ linktype: LINKTYPE_ERF });
    w.append({ ...TS, data: erfRecord(wire, TS) });
    const f = readPcap(w.toBuffer());
    expect(f.linktype).to.equal(197);
    const [rec] = f.records;
    if (rec === undefined) throw new Error('no record read back');
    const p = decodeIbPacket(parseErfRecord(rec.data).packet);
    expect(p.payload.toString()).to.equal('hello');
    expect(p.icrc.ok && p.vcrc.ok).to.equal(true);
  });
});

describe('IPoIB capture records @pcap', () => {
  it('round-trips the unicast pseudo-header against hand-derived octets @pcap', () => {
    // octets 0-19 zero; octets 20-39 the destination link-layer address (flags 0, QPN 0x49, GID)
    const v = unicastPseudoHeader(hex(DEST_HWADDR));
    roundtrip(ipoibPseudoHeader, v, `${'00'.repeat(20)} ${DEST_HWADDR}`);
  });

  it('round-trips the GRH-form pseudo-header against hand-derived octets @pcap', () => {
    // word 0: IPVer 6 << 28 | TClass 0 | FlowLabel 0 = 0x60000000; octet 4 = 0;
    // octets 5-7: source QPN 0x48; octets 8-23 SGID; 24-39 DGID
    const v: IpoibPseudoHeader = {
      form: 'grh',
      ipVer: 6,
      tClass: 0,
      flowLabel: 0,
      resv8: 0,
      srcQpn: 0x48,
      sgid: hex(SGID),
      dgid: hex(DGID),
    };
    roundtrip(ipoibPseudoHeader, v, `60000000 00 000048 ${SGID} ${DGID}`);
  });

  it('keeps non-zero octets after the first two of the unicast form as found @pcap', () => {
    const raw = hex(`0000 ${'ab'.repeat(18)} ${DEST_HWADDR}`);
    const v = ipoibPseudoHeader.decode(raw, 0).value;
    expect(v.form).to.equal('unicast');
    if (v.form === 'unicast') expect(v.leading.toString('hex')).to.equal(`0000${'ab'.repeat(18)}`);
  });

  it('refuses pseudo-headers that would read back as the other form or have wrong sizes @pcap', () => {
    const grhForm: IpoibPseudoHeader = {
      form: 'grh',
      ipVer: 0,
      tClass: 0,
      flowLabel: 5,
      resv8: 0,
      srcQpn: 1,
      sgid: hex(SGID),
      dgid: hex(DGID),
    };
    const b = Buffer.alloc(40);
    expectWireError(() => ipoibPseudoHeader.encode(grhForm, b, 0), 'pcap.ipoib.ipver');
    expectWireError(() => ipoibPseudoHeader.encode({ ...grhForm, ipVer: 6, srcQpn: 1 << 24 }, b, 0), 'pcap.ipoib.sqpn');
    expectWireError(() => ipoibPseudoHeader.encode({ ...grhForm, ipVer: 6, sgid: Buffer.alloc(4) }, b, 0), 'pcap.ipoib.sgid');
    const leading = Buffer.alloc(20);
    leading[1] = 1;
    expectWireError(
      () => ipoibPseudoHeader.encode({ form: 'unicast', leading, destHwAddr: hex(DEST_HWADDR) }, b, 0),
      'pcap.ipoib.leading',
    );
    expectWireError(() => ipoibPseudoHeader.encode(unicastPseudoHeader(Buffer.alloc(19)), b, 0), 'pcap.ipoib.dest');
    expectWireError(() => ipoibPseudoHeader.encode(unicastPseudoHeader(hex(DEST_HWADDR)), Buffer.alloc(39), 0), 'pcap.ipoib.pseudo');
  });

  it('builds and reads a whole record: pseudo-header, IPoIB header, payload @pcap', () => {
    const rec = ipoibPcapRecord(unicastPseudoHeader(hex(DEST_HWADDR)), { type: 0x0800, reserved: 0 }, hex('45000014'));
    // 40 octets of pseudo-header, then type 0x0800 and reserved 0, then the payload
    expect(rec.toString('hex')).to.equal(hex(`${'00'.repeat(20)} ${DEST_HWADDR} 0800 0000 45000014`).toString('hex'));
    const back = parseIpoibPcapRecord(rec);
    expect(back.pseudo.form).to.equal('unicast');
    expect(back.header).to.deep.equal({ type: 0x0800, reserved: 0 });
    expect(back.payload.toString('hex')).to.equal('45000014');
  });

  it('rejects records too short for the pseudo-header and the IPoIB header @pcap', () => {
    const rec = ipoibPcapRecord(unicastPseudoHeader(hex(DEST_HWADDR)), { type: 0x0806, reserved: 0 }, Buffer.alloc(0));
    expect(parseIpoibPcapRecord(rec).payload.length).to.equal(0);
    for (let n = 0; n < rec.length; n++) {
      expectWireError(() => parseIpoibPcapRecord(rec.subarray(0, n)), undefined, `${n} octets`);
    }
    expectWireError(() => ipoibPcapRecord(unicastPseudoHeader(hex(DEST_HWADDR)), { type: 0x10000, reserved: 0 }, Buffer.alloc(0)));
    expectWireError(() => ipoibPcapRecord(unicastPseudoHeader(hex(DEST_HWADDR)), { type: 0x0800, reserved: 0 }, 'x' as unknown as Buffer), 'pcap.ipoib.payload');
  });
});

describe('capture readers on damaged input @pcap', () => {
  it('throw nothing but WireError on thousands of mutated and cut inputs @pcap', () => {
    let seed = 0xe4f;
    const rnd = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return Math.floor((seed / 2 ** 32) * n);
    };
    const ipoib = ipoibPcapRecord(unicastPseudoHeader(hex(DEST_HWADDR)), { type: 0x0800, reserved: 0 }, hex('45000014'));
    const cases: Array<[Buffer, (b: Buffer) => unknown]> = [
      [hex(FILE_LE), readPcap],
      [hex(FILE_BE), readPcap],
      [hex(ERF_HEADER_HEX + RC_SEND_HEX), parseErfRecord],
      [ipoib, parseIpoibPcapRecord],
    ];
    let parsed = 0;
    for (let i = 0; i < 4000; i++) {
      const [base, read] = cases[i % cases.length] ?? [hex(FILE_LE), readPcap];
      const b = Buffer.from(base);
      for (let k = 0; k <= rnd(3); k++) b.writeUInt8(rnd(256), rnd(b.length));
      const input = rnd(4) === 0 ? b.subarray(0, rnd(b.length)) : b;
      try {
        read(input);
        parsed++;
      } catch (e) {
        expect(e, `input ${input.toString('hex')}`).to.be.instanceOf(WireError);
      }
    }
    expect(parsed, 'some mutations still parse').to.be.greaterThan(0);
  });
});
