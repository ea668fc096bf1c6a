/**
 * Framing and the receive-side classification (self-loop filter, short frames, EtherTypes,
 * the reserved field), and where a host packet goes (tx-destination).
 *
 * Frame golden: type 0x0800 then reserved 0x0000, then the packet: `0800 0000 <packet>`.
 */
import { expect } from 'chai';
import type { UdCompletion } from '../../src/fabric/hca.js';
import { classifyReceived, frame, isNonBroadcastMulticast } from '../../src/ipoib/frames.js';
import { txDestination } from '../../src/ipoib/tx-destination.js';
import { ETH_P_ARP, ETH_P_IP, ETH_P_IPV6 } from '../../src/wire/constants.js';
import { encodeToBuffer } from '../../src/wire/codec.js';
import { ipv4Packet, makeIpv4Packet } from '../../src/wire/ipv4.js';
import { ipv6Packet, makeIpv6Packet } from '../../src/wire/ipv6.js';
import { broadcastMgid, parseGid } from '../../src/wire/mgid.js';

const SELF = { lid: 2, qpn: 0x48, gid: parseGid('fe80::2:c903:0:101') };

function completion(payload: Buffer, o: Partial<UdCompletion> = {}): UdCompletion {
  return { qpn: 0x48, srcQpn: 0x49, slid: 3, sl: 0, pkey: 0xffff, qkey: 0xb1b, payload, ...o };
}

const v4 = (dst: string): Buffer => encodeToBuffer(ipv4Packet, makeIpv4Packet({ src: '10.0.0.1', dst, protocol: 17, payload: Buffer.alloc(8) }));
const v6 = (dst: string): Buffer =>
  encodeToBuffer(ipv6Packet, makeIpv6Packet({ src: parseGid('fe80::1'), dst: parseGid(dst), nextHeader: 17, payload: Buffer.alloc(8) }));

describe('IPoIB framing and receive checks @encap @ipoib-stack', function () {
  it('puts the EtherType and a zero reserved field in front of the packet @encap @ipoib-stack', function () {
    expect(frame(ETH_P_IP, Buffer.from('4500', 'hex')).toString('hex')).to.equal('080000004500');
  });

  it('drops our own multicast copy by source LID and QPN @encap @multicast @ipoib-stack', function () {
    const echo = completion(frame(ETH_P_IP, v4('224.0.0.1')), { slid: 2, srcQpn: 0x48, grh: { sgid: SELF.gid, dgid: broadcastMgid(0xffff), hopLimit: 0, trafficClass: 0, flowLabel: 0 } });
    expect(classifyReceived(echo, SELF)).to.deep.include({ action: 'drop', reason: 'own-echo' });
  });

  it('keeps a message from our LID and QPN whose GRH names another port @encap @ib @ipoib-stack', function () {
    const other = completion(frame(ETH_P_IP, v4('10.0.0.1')), { slid: 2, srcQpn: 0x48, grh: { sgid: parseGid('fe80::2:c903:0:999'), dgid: SELF.gid, hopLimit: 0, trafficClass: 0, flowLabel: 0 } });
    expect(classifyReceived(other, SELF).action).to.equal('ipv4');
    expect(classifyReceived(completion(frame(ETH_P_IP, v4('10.0.0.1')), { slid: 2, srcQpn: 0x77 }), SELF).action, 'same LID, other QPN').to.equal('ipv4');
  });

  it('drops frames shorter than the header and unknown EtherTypes @encap @ipoib-stack', function () {
    for (let n = 0; n < 4; n++) expect(classifyReceived(completion(Buffer.alloc(n)), SELF), `${n} octets`).to.deep.include({ action: 'drop', reason: 'short' });
    expect(classifyReceived(completion(frame(0x88cc, Buffer.alloc(10))), SELF)).to.deep.include({ action: 'drop', reason: 'ethertype', etherType: 0x88cc });
    expect(classifyReceived(completion(frame(0x8035, Buffer.alloc(56))), SELF), 'RARP is not served').to.deep.include({ reason: 'ethertype' });
  });

  it('dispatches IPv4, IPv6 and ARP and reports a non-zero reserved field without dropping @encap @ip @ipv6 @arp @ipoib-stack', function () {
    const f = frame(ETH_P_ARP, Buffer.alloc(56));
    f.writeUInt16BE(0x0020, 2);
    const v = classifyReceived(completion(f), SELF);
    expect(v).to.deep.include({ action: 'arp', reserved: 0x20 });
    expect(classifyReceived(completion(frame(ETH_P_IPV6, v6('fe80::1'))), SELF).action).to.equal('ipv6');
    expect(classifyReceived(completion(Buffer.from('08000000', 'hex')), SELF), 'a bare header').to.deep.include({ action: 'ipv4' });
  });

  it('counts as multicast only MGIDs other than the broadcast group @multicast @mgid @encap @ipoib-stack', function () {
    const bc = broadcastMgid(0xffff);
    const grh = (dgid: Buffer) => ({ grh: { sgid: SELF.gid, dgid, hopLimit: 0, trafficClass: 0, flowLabel: 0 } });
    expect(isNonBroadcastMulticast(completion(Buffer.alloc(4), grh(parseGid('ff12:401b:ffff::1'))), bc)).to.equal(true);
    expect(isNonBroadcastMulticast(completion(Buffer.alloc(4), grh(bc)), bc)).to.equal(false);
    expect(isNonBroadcastMulticast(completion(Buffer.alloc(4), grh(SELF.gid)), bc)).to.equal(false);
    expect(isNonBroadcastMulticast(completion(Buffer.alloc(4)), bc)).to.equal(false);
  });
});

describe('where a host packet goes on the link @multicast @mgid @ip @ipoib-stack', function () {
  const link = { pkey: 0x8001, scope: 2, ipv4Broadcasts: new Set(['10.0.0.255']) };

  it('sends limited and subnet broadcasts to the broadcast group of our P_Key @multicast @mgid @ip @pkey @ipoib-stack', function () {
    for (const dst of ['255.255.255.255', '10.0.0.255']) {
      const d = txDestination(v4(dst), ETH_P_IP, link);
      expect(d.kind, dst).to.equal('multicast');
      if (d.kind === 'multicast') expect(d.mgid.equals(broadcastMgid(0x8001)), dst).to.equal(true);
    }
  });

  it('maps IPv4 and IPv6 groups with our P_Key and scope @multicast @mgid @ip @ipv6 @ipoib-stack', function () {
    const d4 = txDestination(v4('239.1.2.3'), ETH_P_IP, { ...link, scope: 5 });
    // ff15 (T, site scope) 401b 8001, then the low 28 bits of 239.1.2.3 = 0x0f010203.
    expect(d4.kind === 'multicast' && d4.mgid.toString('hex')).to.equal('ff15401b' + '80010000' + '00000000' + '0f010203');
    const d6 = txDestination(v6('ff02::1:ff00:201'), ETH_P_IPV6, link);
    // ff12 601b 8001, then octets 6..15 of ff02::1:ff00:201.
    expect(d6.kind === 'multicast' && d6.mgid.toString('hex')).to.equal('ff12601b' + '8001' + '00000000' + '0001ff000201');
  });

  it('resolves everything else as unicast, by address text @ip @ipv6 @ipoib-stack', function () {
    expect(txDestination(v4('10.0.0.2'), ETH_P_IP, link)).to.deep.equal({ kind: 'unicast', family: 4, ip: '10.0.0.2' });
    expect(txDestination(v6('fe80::0202:c903:0:201'), ETH_P_IPV6, link)).to.deep.equal({ kind: 'unicast', family: 6, ip: 'fe80::202:c903:0:201' });
  });

  it('refuses packets whose header does not parse or whose EtherType is not IP @ip @ipoib-stack', function () {
    expect(txDestination(Buffer.alloc(10), ETH_P_IP, link).kind).to.equal('invalid');
    expect(txDestination(v4('10.0.0.2'), ETH_P_IPV6, link).kind, 'IPv4 bytes as IPv6').to.equal('invalid');
    expect(txDestination(v4('10.0.0.2'), ETH_P_ARP, link).kind).to.equal('invalid');
  });
});
