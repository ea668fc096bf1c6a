import { expect } from 'chai';
import jsCrc from 'js-crc';
import { verifyIcrc } from '../../src/wire/icrc.js';
import { VCRC_MODEL, computeVcrc, readVcrc, stampVcrc, verifyVcrc, writeVcrc } from '../../src/wire/vcrc.js';
import { expectWireError, hex } from '../helpers/roundtrip.js';

/**
 * Test oracle: the VCRC's definition computed one bit at a time (LSB-first shift register with
 * the bit-reversed polynomial 0xD008, start 0xFFFF, final XOR 0xFFFF). It only checks the
 * library; the module under test never uses it.
 */
function bitwiseVcrc(data: Buffer): number {
  let c = 0xffff;
  for (const octet of data) {
    c ^= octet;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xd008 : c >>> 1;
  }
  return (c ^ 0xffff) & 0xffff;
}

/** The RC SEND ONLY of ib-packet.test.ts: LRH..payload+pad, ICRC e7bfbe5b, VCRC 6e68 (least significant octet first). */
const RC_SEND = '0002 0002 0008 0001  04 30 ffff 00 000049 80 000010  68656c6c6f 000000  e7bfbe5b 6e68';

describe('VCRC @crc', () => {
  it('uses a CRC library that reproduces published CRC-16 check values @crc', () => {
    const check = Buffer.from('123456789');
    const model = (poly: number, init: number, reflect: boolean, xorout: number) =>
      jsCrc.createModel({ width: 16, poly, init, refin: reflect, refout: reflect, xorout });
    expect(model(0x8005, 0x0000, true, 0x0000).hex(check), 'CRC-16/ARC').to.equal('bb3d');
    expect(model(0x1021, 0xffff, true, 0xffff).hex(check), 'CRC-16/X-25 (same shape as the VCRC)').to.equal('906e');
    expect(model(0x1021, 0xffff, false, 0x0000).hex(check), 'CRC-16/IBM-3740').to.equal('29b1');
  });

  it('is CRC-16 with poly 0x100B, init and final XOR 0xFFFF, reflected: check value 0x0A3D @crc', () => {
    expect(VCRC_MODEL).to.deep.equal({ width: 16, poly: 0x100b, init: 0xffff, refin: true, refout: true, xorout: 0xffff });
    expect(computeVcrc(Buffer.from('123456789'))).to.equal(0x0a3d);
    expect(bitwiseVcrc(Buffer.from('123456789'))).to.equal(0x0a3d);
  });

  it('agrees with the bitwise definition on packets of every length up to 70 octets @crc', () => {
    const data = Buffer.from(Array.from({ length: 70 }, (_, i) => (i * 37 + 11) & 0xff));
    for (let n = 0; n <= data.length; n++) {
      const part = data.subarray(0, n);
      expect(computeVcrc(part), `${n} octets`).to.equal(bitwiseVcrc(part));
    }
  });

  it('is stored least significant octet first @crc', () => {
    const b = Buffer.alloc(4, 0xee);
    writeVcrc(0x0a3d, b, 1);
    expect(b.toString('hex')).to.equal('ee3d0aee');
    expect(readVcrc(b, 1)).to.equal(0x0a3d);
    expectWireError(() => writeVcrc(0x10000, b, 0), 'vcrc');
    expectWireError(() => writeVcrc(-1, b, 0), 'vcrc');
    expectWireError(() => writeVcrc(1, b, 3), 'vcrc');
    expectWireError(() => readVcrc(b, 3), 'vcrc');
  });

  it('verifies a wire packet and catches a VL rewrite the ICRC does not see @crc', () => {
    const wire = hex(RC_SEND);
    expect(verifyVcrc(wire)).to.deep.equal({ ok: true, carried: 0x686e, computed: 0x686e });
    wire[0] = 0x10; // VL 1, as a switch might remap it
    expect(verifyIcrc(wire).ok, 'ICRC is invariant').to.equal(true);
    const bad = verifyVcrc(wire);
    expect(bad.ok).to.equal(false);
    expect(bad.carried).to.equal(0x686e);
    expect(bad.computed).to.equal(bitwiseVcrc(wire.subarray(0, wire.length - 2)));
    stampVcrc(wire); // what the switch does after remapping VL
    expect(verifyVcrc(wire).ok).to.equal(true);
  });

  it('catches a corrupted VCRC octet @crc', () => {
    const wire = hex(RC_SEND);
    wire.writeUInt8(wire.readUInt8(wire.length - 1) ^ 0x01, wire.length - 1);
    expect(verifyVcrc(wire).ok).to.equal(false);
  });

  it('refuses packets too short to hold a VCRC @crc', () => {
    expectWireError(() => verifyVcrc(Buffer.alloc(1)), 'vcrc');
    expectWireError(() => stampVcrc(Buffer.alloc(0)), 'vcrc');
  });
});
