/**
 * Every decoder, fed random and mutated bytes of every length, either decodes (consuming no
 * more than it was given) or throws WireError: never RangeError, TypeError or anything else,
 * which would mean a read past the buffer or an unchecked field. Seeded, so a failure repeats.
 */
import { expect } from 'chai';
import { WireError } from '../../src/errors.js';
import type { Codec } from '../../src/wire/codec.js';
import { aeth } from '../../src/wire/aeth.js';
import { arp } from '../../src/wire/arp.js';
import { bth } from '../../src/wire/bth.js';
import { cmDrep, cmDreq, cmRej, cmRep, cmReq, cmRtu, decodeCmMessage, ipoibCmPrivateData } from '../../src/wire/cm.js';
import { deth } from '../../src/wire/deth.js';
import { grh } from '../../src/wire/grh.js';
import { icmpv4Message, icmpv6Message } from '../../src/wire/icmp.js';
import { decodeIbPacket, encodeIbPacket } from '../../src/wire/ib-packet.js';
import { ipoibHeader } from '../../src/wire/ipoib-header.js';
import { ipoibHwAddr } from '../../src/wire/ipoib-hwaddr.js';
import { ipv4Header, ipv4Packet } from '../../src/wire/ipv4.js';
import { ipv6Header, ipv6Packet } from '../../src/wire/ipv6.js';
import { lrh } from '../../src/wire/lrh.js';
import { mad, madHeader, parseMad, rmppHeader } from '../../src/wire/mad.js';
import { mcMemberRecord } from '../../src/wire/mcmember-record.js';
import { ndMessage, ndOption } from '../../src/wire/nd.js';
import { pathRecord } from '../../src/wire/path-record.js';
import { erfHeader, ipoibPseudoHeader, parseErfRecord, parseIpoibPcapRecord, readPcap } from '../../src/wire/pcap.js';
import { parseSaMad, saHeader, saMad } from '../../src/wire/sa.js';
import { tcpHeader, tcpSegment } from '../../src/wire/tcp.js';
import { arpRequestToBroadcast, gsiPacket, mcJoinMad, NODE_A, cmReqMad } from '../fixtures/ib-frames.js';

/** xorshift32: small, seeded, good enough to spread bytes. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

function randomBytes(next: () => number, len: number): Buffer {
  const b = Buffer.alloc(len);
  for (let i = 0; i < len; i++) b[i] = next() & 0xff;
  return b;
}

/** Runs `decode` on `buf`; returns the consumed count, or null when it threw WireError. */
function decodeOrWireError(what: string, decode: (b: Buffer) => number | void, buf: Buffer): void {
  try {
    const n = decode(buf);
    if (typeof n === 'number') expect(n, `${what} consumed more than given`).to.be.at.most(buf.length);
  } catch (e) {
    if (!(e instanceof WireError)) {
      throw new Error(`${what} threw ${(e as Error).name}: ${(e as Error).message} on ${buf.toString('hex')}`);
    }
  }
}

const CODECS: Record<string, Codec<unknown>> = {
  aeth, arp, bth, cmReq, cmRep, cmRtu, cmRej, cmDreq, cmDrep, ipoibCmPrivateData, deth, grh, icmpv4Message,
  icmpv6Message, ipoibHeader, ipoibHwAddr, ipv4Header, ipv4Packet, ipv6Header, ipv6Packet, lrh, madHeader, mad,
  rmppHeader, mcMemberRecord, ndOption, ndMessage, pathRecord, erfHeader, ipoibPseudoHeader, saHeader, saMad, tcpHeader,
  tcpSegment,
} as Record<string, Codec<unknown>>;

const WHOLE_DECODERS: Record<string, (b: Buffer) => number | void> = {
  decodeIbPacket: (b) => void decodeIbPacket(b, { verifyCrcs: false }),
  decodeIbPacketVerified: (b) => void decodeIbPacket(b),
  parseMad: (b) => void parseMad(b),
  parseSaMad: (b) => void parseSaMad(b),
  decodeCmMessage: (b) => void decodeCmMessage(parseMad(b)),
  readPcap: (b) => void readPcap(b),
  parseErfRecord: (b) => void parseErfRecord(b),
  parseIpoibPcapRecord: (b) => void parseIpoibPcapRecord(b),
};

describe('decoders on random and mutated input @encap @ib @mad @pcap', function () {
  it('every codec decodes random bytes of every length 0..300 or throws WireError @encap @ib @mad @pcap', function () {
    const next = rng(0x4242);
    for (const [name, codec] of Object.entries(CODECS)) {
      for (let len = 0; len <= 300; len++) {
        const buf = randomBytes(next, len);
        decodeOrWireError(name, (b) => codec.decode(b, 0).bytes, buf);
        if (len > 3) decodeOrWireError(`${name} at offset 3`, (b) => codec.decode(b, 3).bytes, buf);
      }
    }
  });

  it('whole-message decoders survive random bytes and single-byte mutations of valid frames @encap @ib @mad @pcap @sa @cm', function () {
    const next = rng(0x1b1b);
    const valid = [
      encodeIbPacket(arpRequestToBroadcast(0x8001).fields),
      encodeIbPacket(gsiPacket(NODE_A, 1, mcJoinMad(1n, arpRequestToBroadcast(0xffff).mgid, NODE_A.gid).bytes)),
      mcJoinMad(7n, arpRequestToBroadcast(0xffff).mgid, NODE_A.gid).bytes,
      cmReqMad(9n).bytes,
    ];
    for (const [name, decode] of Object.entries(WHOLE_DECODERS)) {
      for (let len = 0; len <= 300; len += 7) decodeOrWireError(name, decode, randomBytes(next, len));
      for (const v of valid) {
        for (let i = 0; i < 400; i++) {
          const m = Buffer.from(v);
          m[next() % m.length] = next() & 0xff;
          decodeOrWireError(`${name} (mutated)`, decode, m);
          decodeOrWireError(`${name} (truncated)`, decode, m.subarray(0, next() % m.length));
        }
      }
    }
  });
});
