/**
 * What the fabric tap and the probe's QPs saw, in the forms cases judge and attach: SA MADs with
 * their MCMemberRecord or PathRecord decoded, the ARP frames among IPoIB frames, each packet once
 * (a fabric-wide tap records a packet as sent and again as accepted), and one-line summaries for
 * the evidence. Nothing here judges.
 */
import { WireError } from '../../src/errors.js';
import type { CapturedPacket, IpoibFrame } from '../../src/lab/capture.js';
import { madsOf } from '../../src/lab/ipoib-frames.js';
import type { ProbeFrame } from '../../src/lab/probe.js';
import { ETH_P_ARP, MGMT_CLASS_SUBN_ADM, SA_ATTR_MCMEMBER_RECORD, SA_ATTR_PATH_RECORD } from '../../src/wire/constants.js';
import { etherTypeName } from '../../src/wire/ipoib-header.js';
import { type McMemberRecord, mcMemberRecord } from '../../src/wire/mcmember-record.js';
import { formatGid } from '../../src/wire/mgid.js';
import { type PathRecord, pathRecord } from '../../src/wire/path-record.js';
import { parseSaMad } from '../../src/wire/sa.js';
import { type RawArp, rawArp } from './frames.js';
import { hex, hex2, hex4, hex6, hex8 } from './hex.js';

// ---- IPoIB frames ------------------------------------------------------------------------------

/**
 * The frames once each. A fabric-wide tap records a packet as sent and again as accepted, with
 * the same octets; `keyOf` may name another identity (by default the whole wire packet).
 */
export function uniqueFrames<F extends { packet: CapturedPacket }>(frames: readonly F[], keyOf: (f: F) => string = (f) => f.packet.raw.toString('hex')): F[] {
  const seen = new Set<string>();
  return frames.filter((f) => {
    const key = keyOf(f);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** The ARP frames among captured IPoIB frames, each body read tolerantly (rawArp). */
export function arpFrames(frames: readonly IpoibFrame[]): Array<{ frame: IpoibFrame; arp: RawArp }> {
  const out: Array<{ frame: IpoibFrame; arp: RawArp }> = [];
  for (const f of frames) {
    if (f.header?.type !== ETH_P_ARP) continue;
    const a = rawArp(f.body);
    if (a) out.push({ frame: f, arp: a });
  }
  return out;
}

/** A captured IPoIB frame for the evidence: addressing, keys, header and the first body octets. */
export function frameSummary(f: IpoibFrame): Record<string, unknown> {
  return {
    tsUs: f.packet.tsUs,
    slid: f.slid,
    dlid: f.dlid,
    srcQpn: hex6(f.srcQpn),
    destQpn: hex6(f.destQpn),
    qkey: hex8(f.qkey),
    pkey: hex4(f.pkey),
    dgid: f.ib.grh ? formatGid(f.ib.grh.dgid) : null,
    type: f.header ? etherTypeName(f.header.type) : null,
    reserved: f.header ? hex4(f.header.reserved) : null,
    udPayloadBytes: f.ib.payload.length,
    body: f.body.subarray(0, 64).toString('hex'),
  };
}

/** A frame a probe QP received, for the evidence. */
export function probeFrameSummary(f: ProbeFrame): Record<string, unknown> {
  return {
    atMs: Math.round(f.atMs),
    slid: f.slid,
    srcQpn: hex6(f.srcQpn),
    pkey: hex4(f.pkey),
    qkey: hex8(f.qkey),
    dgid: f.grh ? formatGid(f.grh.dgid) : null,
    payload: f.payload.subarray(0, 32).toString('hex'),
  };
}

// ---- SA MADs -----------------------------------------------------------------------------------

/** One SA MAD (request or response) as the tap saw it, with its record decoded for the attributes cases read. */
export interface CapturedSaMad {
  tsUs: number;
  slid: number;
  dlid: number;
  /** MAD method octet (0x02 Set = join, 0x15 Delete = leave, 0x81/0x95 their responses …). */
  method: number;
  status: number;
  attributeId: number;
  transactionId: bigint;
  componentMask: bigint;
  /** Set for MCMemberRecord MADs. */
  mcMember?: McMemberRecord;
  /** Set for PathRecord MADs (a GetTable answer shows its first record only). */
  path?: PathRecord;
}

/** A request (as opposed to a response: the method's high bit). */
const isSaRequest = (m: CapturedSaMad): boolean => (m.method & 0x80) === 0;

/** Every SA MAD in a capture, oldest first, each once (same source, destination, method and transaction). */
function saMads(packets: readonly CapturedPacket[]): CapturedSaMad[] {
  const out: CapturedSaMad[] = [];
  const seen = new Set<string>();
  for (const m of madsOf(packets)) {
    const h = m.mad?.header;
    if (!h || h.mgmtClass !== MGMT_CLASS_SUBN_ADM) continue;
    const key = `${m.slid}/${m.dlid}/${h.method}/${h.transactionId}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const sa = parseSaMad(m.ib.payload);
    const r: CapturedSaMad = {
      tsUs: m.packet.tsUs,
      slid: m.slid,
      dlid: m.dlid,
      method: h.method,
      status: h.status,
      attributeId: h.attributeId,
      transactionId: h.transactionId,
      componentMask: sa.sa.componentMask,
    };
    // A record that does not decode is left unset; the MAD itself is still listed.
    try {
      if (h.attributeId === SA_ATTR_MCMEMBER_RECORD) r.mcMember = mcMemberRecord.decode(sa.data, 0).value;
      if (h.attributeId === SA_ATTR_PATH_RECORD) r.path = pathRecord.decode(sa.data, 0).value;
    } catch (e) {
      if (!(e instanceof WireError)) throw e;
    }
    out.push(r);
  }
  return out;
}

/** The SA requests (not responses) in a capture, from `slid` when given. */
export function saRequests(packets: readonly CapturedPacket[], o: { slid?: number } = {}): CapturedSaMad[] {
  return saMads(packets).filter((m) => isSaRequest(m) && (o.slid === undefined || m.slid === o.slid));
}

/** The MCMemberRecord MADs in a capture, requests and responses. */
export function saMcMemberMads(packets: readonly CapturedPacket[]): Array<CapturedSaMad & { mcMember: McMemberRecord }> {
  return saMads(packets).filter((m): m is CapturedSaMad & { mcMember: McMemberRecord } => m.mcMember !== undefined);
}

/** The PathRecord MADs in a capture, queries and answers. */
export function saPathMads(packets: readonly CapturedPacket[]): Array<CapturedSaMad & { path: PathRecord }> {
  return saMads(packets).filter((m): m is CapturedSaMad & { path: PathRecord } => m.path !== undefined);
}

/** An SA MAD for the evidence. */
export function saMadSummary(m: CapturedSaMad): Record<string, unknown> {
  const g = m.mcMember;
  return {
    tsUs: m.tsUs,
    slid: m.slid,
    dlid: m.dlid,
    method: hex2(m.method),
    status: hex4(m.status),
    attributeId: hex4(m.attributeId),
    transactionId: `0x${m.transactionId.toString(16)}`,
    componentMask: `0x${m.componentMask.toString(16)}`,
    ...(g
      ? { mgid: formatGid(g.mgid), portGid: formatGid(g.portGid), joinState: hex(g.joinState, 1), mlid: hex4(g.mlid), qkey: hex8(g.qkey), mtu: g.mtu, pkey: hex4(g.pkey), sl: g.sl, trafficClass: g.trafficClass, flowLabel: g.flowLabel, hopLimit: g.hopLimit, rate: g.rate }
      : {}),
    ...(m.path ? { dgid: formatGid(m.path.dgid), sgid: formatGid(m.path.sgid), pkey: hex4(m.path.pkey) } : {}),
  };
}
