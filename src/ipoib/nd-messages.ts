/**
 * IPv6 Neighbor Discovery over IPoIB as the stack sends and accepts it (RFC 4861 with the
 * 20-octet link-layer option of RFC 4391 §9.3): whole IPv6 packets, hop limit 255.
 * - NS: to the target's solicited-node group (a revalidation probe: to the target itself),
 *   with our address in a source option;
 * - NA: unicast to the soliciting node (to all-nodes when it solicited from ::), flags S and
 *   O set, our address in a target option.
 *
 * Accepted as RFC 4861 §7.1 validates: hop limit 255, code 0, a correct checksum, a message
 * long enough, a target that is not multicast, no source option in an NS from ::. An IPoIB
 * link also needs its link-layer options to be the IPoIB kind (length 3): a source or target
 * option of another length carries no address this link can use, so the message is dropped
 * as "ND with a bad option". Anything that is not an NS or NA (RS, RA, redirects) is left to
 * the host.
 */
import { WireError } from '../errors.js';
import { encodeToBuffer } from '../wire/codec.js';
import { ICMPV6_NA, ICMPV6_NS, IPPROTO_ICMPV6, ND_OPT_SOURCE_LLADDR, ND_OPT_TARGET_LLADDR } from '../wire/constants.js';
import { icmpv6Checksum } from '../wire/icmp.js';
import { type IpoibHwAddr, ipoibHwAddr } from '../wire/ipoib-hwaddr.js';
import { type Ipv6Packet, ipv6Packet, makeIpv6Packet } from '../wire/ipv6.js';
import { type NdMessage, ndMessage, type NdOption, withIcmpv6Checksum } from '../wire/nd.js';
import { Defects } from './defects.js';

/** RFC 4861: every ND message is sent, and must arrive, with hop limit 255. TODO(constants) */
export const ND_HOP_LIMIT = 255;

/** ff02::1:ff00:0/104: the 13 octets before the address's low 24 bits. */
const SOLICITED_NODE_PREFIX = Buffer.from('ff0200000000000000000001ff', 'hex');
const ALL_NODES = Buffer.from('ff020000000000000000000000000001', 'hex');
const UNSPECIFIED = Buffer.alloc(16);

/** ff02::1:ffXX:XXXX, the solicited-node group of `addr` (its low 24 bits). */
export function solicitedNodeAddress(addr: Buffer): Buffer {
  const out = Buffer.alloc(16);
  SOLICITED_NODE_PREFIX.copy(out, 0);
  addr.copy(out, 13, 13, 16);
  return out;
}

export function allNodesAddress(): Buffer {
  return Buffer.from(ALL_NODES);
}

/** Seeded defect nd-option-len-2: the option is 2 units long, so only its first 14 octets after type and length fit. */
const DEFECT_OPTION_UNITS = 2;
const OPTION_UNIT = 8;
const OPTION_HEADER_LEN = 2;
const OPTION_PAD_LEN = 2;

function lladdr(type: number, address: IpoibHwAddr, defects: Defects): NdOption {
  if (defects.has('nd-option-len-2')) {
    const body = Buffer.concat([Buffer.alloc(OPTION_PAD_LEN), encodeToBuffer(ipoibHwAddr, address)]);
    return { kind: 'raw', type, length: DEFECT_OPTION_UNITS, data: body.subarray(0, DEFECT_OPTION_UNITS * OPTION_UNIT - OPTION_HEADER_LEN) };
  }
  return { kind: 'lladdr', type, pad: 0, address };
}

function packet(src: Buffer, dst: Buffer, message: NdMessage): Buffer {
  const body = encodeToBuffer(ndMessage, withIcmpv6Checksum(message, src, dst));
  return encodeToBuffer(ipv6Packet, makeIpv6Packet({ src, dst, nextHeader: IPPROTO_ICMPV6, hopLimit: ND_HOP_LIMIT, payload: body }));
}

/** A neighbor solicitation for `target` from `src`, to the target's solicited-node group (or to `dst`: a unicast probe goes to the target itself). */
export function buildNeighborSolicitation(src: Buffer, target: Buffer, sourceHw: IpoibHwAddr, defects: Defects = Defects.NONE, dst: Buffer = solicitedNodeAddress(target)): Buffer {
  return packet(src, dst, {
    type: ICMPV6_NS,
    code: 0,
    checksum: 0,
    reserved: 0,
    target: Buffer.from(target),
    options: [lladdr(ND_OPT_SOURCE_LLADDR, sourceHw, defects)],
  });
}

/** A neighbor advertisement for our `target` to `dst` (solicited when answering an NS from a unicast source). */
export function buildNeighborAdvertisement(target: Buffer, dst: Buffer, targetHw: IpoibHwAddr, solicited: boolean, defects: Defects = Defects.NONE): Buffer {
  return packet(target, dst, {
    type: ICMPV6_NA,
    code: 0,
    checksum: 0,
    router: false,
    solicited,
    override: true,
    reserved: 0,
    target: Buffer.from(target),
    options: [lladdr(ND_OPT_TARGET_LLADDR, targetHw, defects)],
  });
}

export type NdVerdict =
  | { kind: 'not-nd' }
  | { kind: 'bad'; reason: string }
  | { kind: 'ns'; src: Buffer; dst: Buffer; target: Buffer; sourceHw: IpoibHwAddr | undefined }
  | { kind: 'na'; src: Buffer; target: Buffer; targetHw: IpoibHwAddr | undefined; solicited: boolean; override: boolean };

/** The address of the first IPoIB lladdr option of `type`; 'bad' when one of that type has the wrong length. */
function optionAddress(options: readonly NdOption[], type: number): IpoibHwAddr | undefined | 'bad' {
  for (const o of options) {
    if (o.type !== type) continue;
    if (o.kind === 'raw') return 'bad';
    return o.address;
  }
  return undefined;
}

/** Judges an IPv6 packet: an NS or NA for the stack, something else for the host, or a bad ND. Never throws. */
export function parseNd(p: Ipv6Packet): NdVerdict {
  if (p.header.nextHeader !== IPPROTO_ICMPV6 || p.payload.length < 1) return { kind: 'not-nd' };
  const type = p.payload[0];
  if (type !== ICMPV6_NS && type !== ICMPV6_NA) return { kind: 'not-nd' };
  let m: NdMessage;
  try {
    m = ndMessage.decode(p.payload, 0).value;
  } catch (e) {
    if (e instanceof WireError) return { kind: 'bad', reason: e.message };
    throw e;
  }
  if (p.header.hopLimit !== ND_HOP_LIMIT) return { kind: 'bad', reason: `hop limit ${p.header.hopLimit}, want ${ND_HOP_LIMIT}` };
  if (m.code !== 0) return { kind: 'bad', reason: `code ${m.code}, want 0` };
  if (icmpv6Checksum(p.header.src, p.header.dst, p.payload) !== m.checksum) return { kind: 'bad', reason: 'checksum does not verify' };
  if (m.type === ICMPV6_NS) {
    if (m.target[0] === 0xff) return { kind: 'bad', reason: 'target is a multicast address' };
    const sourceHw = optionAddress(m.options, ND_OPT_SOURCE_LLADDR);
    if (sourceHw === 'bad') return { kind: 'bad', reason: 'source link-layer option is not the 3-unit IPoIB form' };
    if (p.header.src.equals(UNSPECIFIED) && sourceHw) return { kind: 'bad', reason: 'source link-layer option in an NS from ::' };
    return { kind: 'ns', src: p.header.src, dst: p.header.dst, target: m.target, sourceHw };
  }
  if (m.type === ICMPV6_NA) {
    if (m.target[0] === 0xff) return { kind: 'bad', reason: 'target is a multicast address' };
    const targetHw = optionAddress(m.options, ND_OPT_TARGET_LLADDR);
    if (targetHw === 'bad') return { kind: 'bad', reason: 'target link-layer option is not the 3-unit IPoIB form' };
    return { kind: 'na', src: p.header.src, target: m.target, targetHw, solicited: m.solicited, override: m.override };
  }
  return { kind: 'not-nd' };
}
