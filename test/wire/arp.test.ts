import { expect } from 'chai';
import { arp, ARP_IPOIB_LEN, arpOpName, arpOverIpoib, arpProblems, type ArpPacket } from '../../src/wire/arp.js';
import { encodeToBuffer } from '../../src/wire/codec.js';
import { ARP_OP_REPLY, ARP_OP_REQUEST } from '../../src/wire/constants.js';
import type { IpoibHwAddr } from '../../src/wire/ipoib-hwaddr.js';
import { parseGid } from '../../src/wire/mgid.js';
import { expectWireError, hex, roundtrip } from '../helpers/roundtrip.js';

const SHA: IpoibHwAddr = { flags: 0x80, qpn: 0x48, gid: parseGid('fe80::2:c903:a:1b2c') };
const ZERO_HW: IpoibHwAddr = { flags: 0, qpn: 0, gid: Buffer.alloc(16) };
const request = (over: Partial<ArpPacket> = {}): ArpPacket => ({
  ...arpOverIpoib({ op: ARP_OP_REQUEST, sha: SHA, spa: '10.0.0.1', tha: ZERO_HW, tpa: '10.0.0.2' }),
  ...over,
});

// A request from 10.0.0.1 for 10.0.0.2 (checked against tshark 4.0's ARP dissector:
// "Hardware type: InfiniBand (32) ... Hardware size: 20 ... Opcode: request (1)").
const REQUEST_HEX = [
  '0020', //                                      0-1   htype 32 (InfiniBand)
  '0800', //                                      2-3   ptype IPv4
  '14', //                                        4     hlen 20
  '04', //                                        5     plen 4
  '0001', //                                      6-7   op 1 (request)
  '80 000048 fe800000000000000002c903000a1b2c', // 8-27  sha: flags RC, QPN 0x48, GID fe80::2:c903:a:1b2c
  '0a000001', //                                  28-31 spa 10.0.0.1
  '00 000000 00000000000000000000000000000000', // 32-51 tha: all zero in a request
  '0a000002', //                                  52-55 tpa 10.0.0.2
].join('');

/** REQUEST_HEX with octet `at` replaced. */
const patched = (at: number, byte: number): Buffer => {
  const b = hex(REQUEST_HEX);
  b[at] = byte;
  return b;
};

describe('arp: ARP over IPoIB for IPv4 @arp', function () {
  it('roundtrips a request, 56 octets long @arp', function () {
    expect(ARP_IPOIB_LEN).to.equal(56);
    roundtrip(arp, request(), REQUEST_HEX);
  });

  it('roundtrips a reply with a UD-only sender and a filled target address @arp', function () {
    const reply = request({
      op: ARP_OP_REPLY,
      sha: { flags: 0, qpn: 0xabcdef, gid: parseGid('fe80::2:c903:a:1b2d') },
      spa: '10.0.0.2',
      tha: SHA,
      tpa: '10.0.0.1',
    });
    // 0020 0800 14 04 | 0002 reply | sha 00 abcdef fe80::2:c903:a:1b2d | 0a000002 | tha = SHA above | 0a000001
    roundtrip(
      arp,
      reply,
      '0020 0800 14 04 0002' +
        ' 00abcdef fe800000000000000002c903000a1b2d 0a000002' +
        ' 80000048 fe800000000000000002c903000a1b2c 0a000001',
    );
  });

  it('decodes the addresses as copies @arp', function () {
    const frame = hex(REQUEST_HEX);
    const p = arp.decode(frame, 0).value;
    frame.fill(0xaa);
    expect(p.sha.gid.toString('hex')).to.equal('fe800000000000000002c903000a1b2c');
  });

  it('refuses an ARP hlen other than 20, before checking the length @arp', function () {
    for (const h of [0, 6, 16, 21, 255]) {
      const e = expectWireError(() => arp.decode(patched(4, h), 0), 'arp.hlen', `hlen ${h}`);
      expect(e.value).to.equal(h);
      expect(e.offset).to.equal(4);
    }
    // an Ethernet-style 28-octet ARP is refused for its hlen, not reported as truncated
    const ether = hex('0001 0800 06 04 0001 020000000001 0a000001 000000000000 0a000002');
    expectWireError(() => arp.decode(ether, 0), 'arp.hlen');
  });

  it('refuses an ARP plen other than 4 @arp', function () {
    for (const p of [0, 6, 16]) {
      const e = expectWireError(() => arp.decode(patched(5, p), 0), 'arp.plen', `plen ${p}`);
      expect(e.value).to.equal(p);
    }
  });

  it('reports a body one octet short as truncated @arp', function () {
    expectWireError(() => arp.decode(hex(REQUEST_HEX).subarray(0, 55), 0), 'arp');
    const atOne = Buffer.concat([Buffer.alloc(1), hex(REQUEST_HEX).subarray(0, 55)]);
    expect(expectWireError(() => arp.decode(atOne, 1), 'arp').offset).to.equal(1);
  });

  it('decodes a wrong htype, ptype and op faithfully and reports each @arp', function () {
    const b = hex(REQUEST_HEX);
    b.writeUInt16BE(1, 0); // Ethernet
    b.writeUInt16BE(0x86dd, 2);
    b.writeUInt16BE(8, 6); // InARP request
    const p = arp.decode(b, 0).value;
    expect([p.htype, p.ptype, p.op]).to.deep.equal([1, 0x86dd, 8]);
    expect(arpProblems(p)).to.deep.equal([
      'htype 1, want 32',
      'ptype 0x86dd, want 0x0800',
      'op 8 (InARP request), want 1 (request) or 2 (reply)',
    ]);
  });

  it('finds no problems in a well-formed request or reply @arp', function () {
    expect(arpProblems(request())).to.deep.equal([]);
    expect(arpProblems(request({ op: ARP_OP_REPLY, tha: SHA }))).to.deep.equal([]);
    // a request whose tha is garbage is still fine: what goes there is up to the sender
    expect(arpProblems(request({ tha: { flags: 0xff, qpn: 0xffffff, gid: Buffer.alloc(16, 0xff) } }))).to.deep.equal(
      [],
    );
  });

  it('reports sender addresses that cannot be used for unicast @arp', function () {
    expect(arpProblems(request({ sha: { ...SHA, flags: 0xa0 } }))).to.deep.equal([
      'sha reserved flag bits 0x20 set, want 0',
    ]);
    for (const qpn of [0, 1, 0xffffff]) {
      expect(arpProblems(request({ sha: { ...SHA, qpn } })), `qpn ${qpn}`).to.deep.equal([
        `sha QPN 0x${qpn.toString(16).padStart(6, '0')} cannot receive IPoIB unicast`,
      ]);
    }
    expect(arpProblems(request({ sha: { ...SHA, gid: parseGid('ff12:401b:ffff::1') } }))).to.deep.equal([
      'sha GID is a multicast GID, want a port GID',
    ]);
    expect(arpProblems(request({ sha: { ...SHA, gid: Buffer.alloc(16) } }))).to.deep.equal([
      'sha GID is all zero, want a port GID',
    ]);
  });

  it('reports hlen and plen in a hand-built value @arp', function () {
    expect(arpProblems(request({ hlen: 6, plen: 16 }))).to.deep.equal(['hlen 6, want 20', 'plen 16, want 4']);
  });

  it('names the ARP ops @arp', function () {
    expect([1, 2, 3, 4, 8, 9].map(arpOpName)).to.deep.equal([
      'request',
      'reply',
      'RARP request',
      'RARP reply',
      'InARP request',
      'InARP reply',
    ]);
    expect(arpOpName(0)).to.equal('op 0');
    expect(arpOpName(0xffff)).to.equal('op 65535');
  });

  it('encodes any 16-bit htype, ptype and op, so probes can send them @arp', function () {
    const b = encodeToBuffer(arp, request({ htype: 6, ptype: 0x86dd, op: 0xffff }));
    expect(b.subarray(0, 8).toString('hex')).to.equal('0006' + '86dd' + '14' + '04' + 'ffff');
  });

  it('refuses on encode hlen and plen other than 20 and 4 @arp', function () {
    const buf = Buffer.alloc(56);
    expect(expectWireError(() => arp.encode(request({ hlen: 6 }), buf, 0), 'arp.hlen').value).to.equal(6);
    expect(expectWireError(() => arp.encode(request({ plen: 16 }), buf, 0), 'arp.plen').value).to.equal(16);
  });

  it('refuses on encode out-of-range htype, ptype and op @arp', function () {
    const buf = Buffer.alloc(56);
    expectWireError(() => arp.encode(request({ htype: 0x10000 }), buf, 0), 'arp.htype');
    expectWireError(() => arp.encode(request({ ptype: -1 }), buf, 0), 'arp.ptype');
    expectWireError(() => arp.encode(request({ op: 1.5 }), buf, 0), 'arp.op');
  });

  it('refuses on encode bad IPv4 text and bad embedded addresses, naming the field @arp', function () {
    const buf = Buffer.alloc(56);
    expectWireError(() => arp.encode(request({ spa: '10.0.0' }), buf, 0), 'arp.spa');
    expectWireError(() => arp.encode(request({ tpa: '10.0.0.300' }), buf, 0), 'arp.tpa');
    expectWireError(() => arp.encode(request({ sha: { ...SHA, qpn: 0x1000000 } }), buf, 0), 'arp.sha.qpn');
    expectWireError(() => arp.encode(request({ tha: { ...SHA, gid: Buffer.alloc(4) } }), buf, 0), 'arp.tha.gid');
    expectWireError(() => arp.encode(request({ sha: { ...SHA, flags: 256 } }), buf, 0), 'arp.sha.flags');
  });

  it('refuses to encode into a buffer that is too small, leaving it untouched @arp', function () {
    const buf = Buffer.alloc(55, 0xee);
    expectWireError(() => arp.encode(request(), buf, 0), 'arp');
    expect(buf.every((b) => b === 0xee)).to.equal(true);
  });
});
