/**
 * The offload engine fed random and mutated input (seeded, so a failure repeats): random virtio-net
 * headers, random octets, valid packets with octets changed or cut short, batches of mutated and
 * shuffled segments. It must never crash, and what it accepts must still keep its promises:
 * segments within the MTU with valid checksums, completion touching only the checksum field,
 * coalescing giving back every input exactly once and merging only what verifies. An access
 * past a buffer need not crash here; the same kinds of input were also run through the C++ built
 * with AddressSanitizer and UBSan, and through the addon under valgrind, with no errors.
 */
import { expect } from 'chai';
import { OffloadError } from '../../src/errors.js';
import { type VnetHeader, offloadCoalesce, offloadComplete, offloadSegment, vnetHeader } from '../../src/ipoib/native/offload.js';
import {
  TCP_FLAG_ACK,
  TCP_FLAG_PSH,
  VNET_HDR_F_DATA_VALID,
  VNET_HDR_F_NEEDS_CSUM,
  VNET_HDR_GSO_ECN,
  VNET_HDR_GSO_TCPV4,
  VNET_HDR_GSO_TCPV6,
  VNET_HDR_GSO_UDP,
} from '../../src/wire/constants.js';
import { timestampOptions } from '../../src/wire/tcp.js';
import {
  FLOW_V4,
  FLOW_V4_OTHER,
  FLOW_V6,
  decodeTcpPacket,
  expectChecksumsValid,
  gsoVnet,
  pattern,
  rng,
  tcpPacket,
  withPartialChecksum,
} from './offload-packets.js';

const GSO_TYPES = [0, VNET_HDR_GSO_TCPV4, VNET_HDR_GSO_TCPV6, VNET_HDR_GSO_UDP, VNET_HDR_GSO_TCPV4 | VNET_HDR_GSO_ECN, 5, 0x80, 0xff];

function randomBytes(next: () => number, len: number): Buffer {
  const b = Buffer.alloc(len);
  for (let i = 0; i < len; i++) b[i] = next() & 0xff;
  return b;
}

/** A vnet header with every field drawn at random, mostly from values that mean something. */
function randomVnet(next: () => number, base: VnetHeader): VnetHeader {
  const pick = (v: number, max: number): number => (next() % 4 === 0 ? next() % (max + 1) : v);
  return {
    flags: next() % 8 === 0 ? next() & 0xff : base.flags ^ (next() % 4 === 0 ? VNET_HDR_F_NEEDS_CSUM : 0) ^ (next() % 8 === 0 ? VNET_HDR_F_DATA_VALID : 0),
    gsoType: next() % 4 === 0 ? GSO_TYPES[next() % GSO_TYPES.length]! : base.gsoType,
    hdrLen: pick(base.hdrLen, 0xffff),
    gsoSize: pick(base.gsoSize, 0xffff),
    csumStart: next() % 8 === 0 ? next() & 0xffff : pick(base.csumStart, 120),
    csumOffset: next() % 8 === 0 ? next() & 0xffff : pick(base.csumOffset, 40),
  };
}

/** Changes 1 to 4 octets, mostly in the headers; sometimes cuts the packet short or lengthens it. */
function mutate(next: () => number, p: Buffer): Buffer {
  let m = Buffer.from(p);
  const n = 1 + (next() % 4);
  for (let i = 0; i < n; i++) {
    const at = next() % 2 === 0 ? next() % Math.min(m.length, 80) : next() % m.length;
    m[at] = next() & 0xff;
  }
  if (next() % 6 === 0) m = m.subarray(0, next() % m.length);
  else if (next() % 10 === 0) m = Buffer.concat([m, randomBytes(next, 1 + (next() % 9))]);
  return m;
}

/** Runs `fn`; an OffloadError is a refusal (returns undefined), anything else fails the test. */
function refusedOr<T>(what: string, fn: () => T): T | undefined {
  try {
    return fn();
  } catch (e) {
    if (e instanceof OffloadError) return undefined;
    throw new Error(`${what} threw ${(e as Error).name}: ${(e as Error).message}`);
  }
}

const TS = timestampOptions(1, 2);
const superPackets = (): Buffer[] =>
  [FLOW_V4, FLOW_V6].flatMap((flow) =>
    [1, 1500, 6000].map((size) => withPartialChecksum(tcpPacket(flow, { seq: 9, flags: TCP_FLAG_ACK | TCP_FLAG_PSH, payload: pattern(size, size), options: TS }))),
  );

describe('offload engine on random and mutated input @offload @native @robustness', function () {
  it('segmentation: random headers and octets are refused or cut within the MTU, with valid checksums @offload @native @robustness @mtu', function () {
    const next = rng(0x0ff1);
    let accepted = 0;
    let refused = 0;
    const originals = superPackets();
    for (let round = 0; round < 3000; round++) {
      const original = originals[round % originals.length]!;
      const random = round % 5 === 0;
      const packet = random ? randomBytes(next, next() % 200) : mutate(next, original);
      const vnet = random ? randomVnet(next, vnetHeader()) : randomVnet(next, gsoVnet(original, 1000));
      const mtu = [68, 1280, 2044, 4092, 65535][next() % 5]!;
      const what = `round ${round}: vnet ${JSON.stringify(vnet)}, mtu ${mtu}, packet ${packet.subarray(0, 64).toString('hex')}`;
      const segs = refusedOr(what, () => offloadSegment(vnet, packet, mtu));
      if (segs === undefined) {
        refused++;
        continue;
      }
      accepted++;
      expect(segs.length, what).to.be.at.least(1);
      for (const s of segs) expect(s.length, what).to.be.at.most(mtu);
      if ((vnet.gsoType & ~VNET_HDR_GSO_ECN) !== 0) {
        // Accepted as GSO: the engine found IP and TCP headers, so the codecs must read every segment.
        segs.forEach((s, i) => expectChecksumsValid(decodeTcpPacket(s), `${what}, segment ${i}`));
      } else {
        expect(segs.length, what).to.equal(1);
        expect(segs[0]!.length, what).to.equal(packet.length);
      }
    }
    expect(accepted, 'some mutated packets are still accepted').to.be.greaterThan(100);
    expect(refused, 'and many refused').to.be.greaterThan(100);
  });

  it('completion: random placements and octets are refused, or only the checksum field changes @offload @native @robustness', function () {
    const next = rng(0xc5c5);
    for (let round = 0; round < 5000; round++) {
      const packet = randomBytes(next, next() % 120);
      const vnet = randomVnet(next, vnetHeader({ flags: VNET_HDR_F_NEEDS_CSUM, csumStart: next() % 130, csumOffset: next() % 130 }));
      const what = `round ${round}: vnet ${JSON.stringify(vnet)}, ${packet.length} octets`;
      const out = refusedOr(what, () => offloadComplete(vnet, packet));
      if (out === undefined) continue;
      expect(out.length, what).to.equal(packet.length);
      const at = vnet.csumStart + vnet.csumOffset;
      const changed = [...out.keys()].filter((i) => out[i] !== packet[i]);
      expect(changed.every((i) => i === at || i === at + 1), `${what}: changed octets ${changed.join(',')}`).to.equal(true);
    }
  });

  it('coalescing: mutated, duplicated and shuffled segments come back each exactly once, merges valid @offload @native @robustness @ipv6', function () {
    const next = rng(0x6a0);
    const flows = [FLOW_V4, FLOW_V4_OTHER, FLOW_V6];
    for (let round = 0; round < 400; round++) {
      const batch: Buffer[] = [];
      const n = 1 + (next() % 48);
      const counters = [0, 0, 0];
      for (let i = 0; i < n; i++) {
        const f = next() % flows.length;
        const k = counters[f]!;
        if (next() % 10 !== 0) counters[f] = k + 1; // sometimes a duplicate
        let p = tcpPacket(flows[f]!, { seq: 1000 + k * 1000, flags: TCP_FLAG_ACK, payload: pattern(1000, k + 1), id: k, options: TS });
        if (next() % 8 === 0) p = mutate(next, p);
        else if (next() % 30 === 0) p = randomBytes(next, next() % 100);
        batch.push(p);
      }
      if (next() % 4 === 0) {
        const a = next() % n;
        const b = next() % n;
        [batch[a], batch[b]] = [batch[b]!, batch[a]!];
      }
      const what = `round ${round}`;
      for (const checksum of ['complete', 'partial'] as const) {
        const out = offloadCoalesce(batch, { checksum });
        const seen = out.flatMap((o) => o.members);
        expect([...seen].sort((x, y) => x - y), `${what}: every input once`).to.deep.equal([...Array(n).keys()]);
        expect(out.map((o) => o.members[0]), `${what}: output in the order of first inputs`).to.deep.equal(
          out.map((o) => o.members[0]).sort((x, y) => x! - y!),
        );
        for (const o of out) {
          expect(o.members, `${what}: members in input order`).to.deep.equal([...o.members].sort((x, y) => x - y));
          if (o.members.length === 1) {
            expect(o.packet.equals(batch[o.members[0]!]!), `${what}: passed through unchanged`).to.equal(true);
            continue;
          }
          expect(o.packet.length, what).to.be.at.most(65535);
          const m = decodeTcpPacket(checksum === 'complete' ? o.packet : offloadComplete({ ...o.vnet, gsoType: 0 }, o.packet));
          expectChecksumsValid(m, `${what}: merged ${o.members.join(',')}`);
          const payloads = o.members.map((i) => decodeTcpPacket(batch[i]!).tcp.payload);
          expect(m.tcp.payload.equals(Buffer.concat(payloads)), `${what}: merged payload`).to.equal(true);
        }
      }
    }
  });
});
