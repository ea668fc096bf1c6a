import { expect } from 'chai';
import { encodeToBuffer } from '../../src/wire/codec.js';
import { etherTypeName, ipoibHeader, ipoibHeaderProblems } from '../../src/wire/ipoib-header.js';
import { ETH_P_ARP, ETH_P_IP, ETH_P_IPV6 } from '../../src/wire/constants.js';
import { expectWireError, hex, roundtrip } from '../helpers/roundtrip.js';

describe('ipoib-header: the 4-octet encapsulation header @encap', function () {
  it('roundtrips an IPv4 header @encap', function () {
    // octets 0-1 Type = 08 00 (IPv4), octets 2-3 Reserved = 00 00
    roundtrip(ipoibHeader, { type: ETH_P_IP, reserved: 0 }, '0800 0000');
  });

  it('roundtrips a header for EtherType 0x86dd @encap', function () {
    // 86 dd = Type, 00 00 = Reserved
    roundtrip(ipoibHeader, { type: ETH_P_IPV6, reserved: 0 }, '86dd 0000');
  });

  it('keeps a non-zero reserved field on decode and reports it as a problem @encap', function () {
    // 08 06 = ARP, ff ff = Reserved (must be ignored by a receiver, so the decoder keeps it)
    roundtrip(ipoibHeader, { type: ETH_P_ARP, reserved: 0xffff }, '0806 ffff');
    const h = ipoibHeader.decode(hex('0800 8000'), 0).value;
    expect(h).to.deep.equal({ type: ETH_P_IP, reserved: 0x8000 });
    expect(ipoibHeaderProblems(h)).to.deep.equal(['reserved 0x8000, want 0']);
    expect(ipoibHeaderProblems({ type: ETH_P_IP, reserved: 0 })).to.deep.equal([]);
  });

  it('decodes any EtherType faithfully, including unassigned ones @encap', function () {
    expect(ipoibHeader.decode(hex('88cc 0000'), 0).value.type).to.equal(0x88cc);
    expect(ipoibHeader.decode(hex('0000 0000'), 0).value.type).to.equal(0);
  });

  it('decodes at an offset and consumes exactly 4 octets of a longer frame @encap', function () {
    const d = ipoibHeader.decode(hex('aa bb 0800 0001 45 00'), 2);
    expect(d).to.deep.equal({ value: { type: ETH_P_IP, reserved: 1 }, bytes: 4 });
  });

  it('refuses a negative, fractional or out-of-range offset on decode @encap', function () {
    expectWireError(() => ipoibHeader.decode(hex('08000000'), -1), 'encap');
    expectWireError(() => ipoibHeader.decode(hex('08000000'), 0.5), 'encap');
    expectWireError(() => ipoibHeader.decode(hex('08000000'), 1), 'encap');
  });

  it('refuses out-of-range type and reserved values on encode @encap', function () {
    const buf = Buffer.alloc(4);
    let e = expectWireError(() => ipoibHeader.encode({ type: 0x10000, reserved: 0 }, buf, 0), 'encap.type');
    expect(e.value).to.equal(0x10000);
    expectWireError(() => ipoibHeader.encode({ type: -1, reserved: 0 }, buf, 0), 'encap.type');
    expectWireError(() => ipoibHeader.encode({ type: 2048.5, reserved: 0 }, buf, 0), 'encap.type');
    e = expectWireError(() => ipoibHeader.encode({ type: ETH_P_IP, reserved: 0x10000 }, buf, 0), 'encap.reserved');
    expect(e.offset).to.equal(2);
  });

  it('refuses to encode into a buffer that is too small @encap', function () {
    expectWireError(() => ipoibHeader.encode({ type: ETH_P_IP, reserved: 0 }, Buffer.alloc(3), 0), 'encap');
    expectWireError(() => ipoibHeader.encode({ type: ETH_P_IP, reserved: 0 }, Buffer.alloc(6), 3), 'encap');
    expect(encodeToBuffer(ipoibHeader, { type: ETH_P_IP, reserved: 0 }).length).to.equal(4);
  });

  it('names the EtherTypes RFC 4391 carries and shows others in hex @encap', function () {
    expect(etherTypeName(ETH_P_IP)).to.equal('IPv4');
    expect(etherTypeName(ETH_P_ARP)).to.equal('ARP');
    expect(etherTypeName(0x8035)).to.equal('RARP');
    expect(etherTypeName(ETH_P_IPV6)).to.equal('IPv6');
    expect(etherTypeName(0x88cc)).to.equal('0x88cc');
    expect(etherTypeName(0x1)).to.equal('0x0001');
  });
});
