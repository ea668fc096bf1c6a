import { expect } from 'chai';
import { crc32 } from 'node:zlib';
import { computeIcrc, readIcrc, stampIcrc, verifyIcrc, writeIcrc } from '../../src/wire/icrc.js';
import { expectWireError, hex } from '../helpers/roundtrip.js';

/**
 * A local RC SEND ONLY, LRH through payload (no CRCs):
 *   LRH  50 02 0002 0007 0001   VL 5, LVer 0, SL 0, LNH 0b10, DLID 2, PktLen 7 (28 octets), SLID 1
 *   BTH  04 00 ffff c0 000049 80 000010   resv8a 0xc0 = FECN + BECN set by a switch
 *   payload de ad be ef
 * Masked for the ICRC: VL -> 0xf (octet 0 = 0xf0), resv8a -> 0xff.
 */
const LOCAL = '5002 0002 0007 0001  04 00 ffff c0 000049 80 000010  deadbeef';
const LOCAL_MASKED = 'f002 0002 0007 0001  04 00 ffff ff 000049 80 000010  deadbeef';

const SGID = 'fe800000000000000002c90300000001';
const DGID = 'ff12401bffff000000000000ffffffff';
/**
 * A global UD SEND ONLY, LRH through payload:
 *   LRH  30 23 c000 0013 0001   VL 3, SL 2, LNH 0b11, DLID 0xc000, PktLen 19 (76 octets), SLID 1
 *   GRH  61234567 001c 1b 3f SGID DGID   IPVer 6, TClass 0x12, FlowLabel 0x34567, PayLen 28, HopLmt 63
 *   BTH  64 00 ffff 40 ffffff 00 000005   resv8a 0x40 (BECN)
 *   DETH 00000b1b 00 000048
 *   payload 01020304
 * Masked: the whole LRH -> ones; GRH word 0 -> 0x6fffffff (IPVer kept); HopLmt -> 0xff; resv8a -> 0xff.
 */
const GLOBAL = `3023 c000 0013 0001  61234567 001c 1b 3f ${SGID} ${DGID}  64 00 ffff 40 ffffff 00 000005  00000b1b 00 000048  01020304`;
const GLOBAL_MASKED = `ffff ffff ffff ffff  6fffffff 001c 1b ff ${SGID} ${DGID}  64 00 ffff ff ffffff 00 000005  00000b1b 00 000048  01020304`;

/** `hexStr` with the octet at `at` replaced by `octet`. */
function withOctet(hexStr: string, at: number, octet: number): Buffer {
  const b = hex(hexStr);
  b[at] = octet;
  return b;
}

describe('ICRC @crc', () => {
  it('is the CRC-32 that zlib computes (check value of "123456789" is 0xcbf43926) @crc', () => {
    expect(crc32(Buffer.from('123456789'))).to.equal(0xcbf43926);
  });

  it('covers a local packet with only LRH VL and BTH resv8a set to ones @crc', () => {
    expect(computeIcrc(hex(LOCAL))).to.equal(crc32(hex(LOCAL_MASKED)));
    expect(computeIcrc(hex(LOCAL))).to.equal(0x71af5473);
  });

  it('ignores VL and resv8a of a local packet but not SL, DLID, PktLen or the payload @crc', () => {
    const base = computeIcrc(hex(LOCAL));
    expect(computeIcrc(withOctet(LOCAL, 0, 0x70)), 'VL 7').to.equal(base);
    expect(computeIcrc(withOctet(LOCAL, 12, 0x00)), 'resv8a 0').to.equal(base);
    expect(computeIcrc(withOctet(LOCAL, 1, 0x12)), 'SL 1').not.to.equal(base);
    expect(computeIcrc(withOctet(LOCAL, 3, 0x03)), 'DLID 3').not.to.equal(base);
    expect(computeIcrc(withOctet(LOCAL, 5, 0x08)), 'PktLen 8').not.to.equal(base);
    expect(computeIcrc(withOctet(LOCAL, 20, 0xdf)), 'payload').not.to.equal(base);
  });

  it('covers a global packet with the whole LRH and GRH TClass, FlowLabel, HopLmt set to ones @crc', () => {
    expect(computeIcrc(hex(GLOBAL))).to.equal(crc32(hex(GLOBAL_MASKED)));
  });

  it('ignores what routers rewrite in a global packet but not PayLen, SGID or the transport headers @crc', () => {
    const base = computeIcrc(hex(GLOBAL));
    expect(computeIcrc(withOctet(GLOBAL, 3, 0x07)), 'DLID').to.equal(base);
    expect(computeIcrc(withOctet(GLOBAL, 7, 0x09)), 'SLID').to.equal(base);
    expect(computeIcrc(withOctet(GLOBAL, 1, 0xf3)), 'SL').to.equal(base);
    expect(computeIcrc(withOctet(GLOBAL, 9, 0x99)), 'TClass/FlowLabel').to.equal(base);
    expect(computeIcrc(withOctet(GLOBAL, 15, 0x01)), 'HopLmt').to.equal(base);
    expect(computeIcrc(withOctet(GLOBAL, 8, 0x40)), 'IPVer').not.to.equal(base);
    expect(computeIcrc(withOctet(GLOBAL, 13, 0x1d)), 'PayLen').not.to.equal(base);
    expect(computeIcrc(withOctet(GLOBAL, 31, 0x02)), 'SGID').not.to.equal(base);
    expect(computeIcrc(withOctet(GLOBAL, 59, 0x06)), 'PSN').not.to.equal(base);
  });

  it('matches the Linux rxe seed: an all-ones LRH leaves the CRC state at 0xdebb20e3 @crc', () => {
    // rxe starts its RoCE ICRC from 0xdebb20e3 instead of hashing a pseudo-LRH of ones.
    expect((~crc32(Buffer.alloc(8, 0xff))) >>> 0).to.equal(0xdebb20e3);
    expect(computeIcrc(hex(GLOBAL).subarray(8), { startsAt: 'grh' })).to.equal(computeIcrc(hex(GLOBAL)));
  });

  it('follows the given packet kind, not a deliberately wrong LNH, when told @crc', () => {
    const lnhLocal = withOctet(GLOBAL, 1, 0x22); // LNH 0b10 although a GRH follows
    expect(computeIcrc(lnhLocal, { global: true })).to.equal(computeIcrc(hex(GLOBAL)));
    expect(computeIcrc(lnhLocal)).not.to.equal(computeIcrc(hex(GLOBAL)));
  });

  it('refuses raw packets and header-truncated input @crc', () => {
    expectWireError(() => computeIcrc(withOctet(LOCAL, 1, 0x01)), 'lrh.lnh');
    expectWireError(() => computeIcrc(withOctet(LOCAL, 1, 0x00)), 'lrh.lnh');
    expectWireError(() => computeIcrc(hex(LOCAL).subarray(0, 19)), 'icrc.headers');
    expectWireError(() => computeIcrc(hex(GLOBAL).subarray(0, 59)), 'icrc.headers');
    expectWireError(() => computeIcrc(hex(GLOBAL).subarray(8, 50), { startsAt: 'grh' }), 'icrc.headers');
    expectWireError(() => computeIcrc(Buffer.alloc(3)), 'icrc.headers');
  });

  it('is stored least significant octet first @crc', () => {
    const b = Buffer.alloc(6, 0xee);
    writeIcrc(0x11223344, b, 1);
    expect(b.toString('hex')).to.equal('ee44332211ee');
    expect(readIcrc(b, 1)).to.equal(0x11223344);
    expectWireError(() => writeIcrc(0x100000000, b, 0), 'icrc');
    expectWireError(() => writeIcrc(-1, b, 0), 'icrc');
    expectWireError(() => writeIcrc(1, b, 3), 'icrc');
    expectWireError(() => readIcrc(b, 3), 'icrc');
  });

  it('verifies, detects a corrupted payload, and re-stamps a whole wire packet @crc', () => {
    const icrc = computeIcrc(hex(LOCAL));
    const wire = Buffer.concat([hex(LOCAL), Buffer.alloc(6)]);
    wire.writeUInt32LE(icrc, wire.length - 6);
    expect(verifyIcrc(wire)).to.deep.equal({ ok: true, carried: icrc, computed: icrc });
    expect(verifyIcrc(wire.subarray(0, wire.length - 2), { vcrcPresent: false }).ok).to.equal(true);

    wire[20] = 0x00; // payload octet
    const bad = verifyIcrc(wire);
    expect(bad.ok).to.equal(false);
    expect(bad.carried).to.equal(icrc);
    expect(bad.computed).to.not.equal(icrc);

    stampIcrc(wire);
    expect(verifyIcrc(wire).ok).to.equal(true);
  });

  it('refuses packets too short to hold their CRCs @crc', () => {
    expectWireError(() => verifyIcrc(Buffer.alloc(5)), 'icrc');
    expectWireError(() => stampIcrc(Buffer.alloc(4)), 'icrc');
  });
});
