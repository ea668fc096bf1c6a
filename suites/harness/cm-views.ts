/**
 * Connected mode as the fabric tap saw it: the CM MADs (REQ, REP, RTU, REJ, DREQ, DREP) with
 * their bodies and IPoIB-CM private data decoded, and the RC SEND messages put back together
 * from their packets (FIRST … LAST, or ONLY), each once (a fabric-wide tap records a packet as
 * sent and again as accepted). Nothing here judges.
 */
import { WireError } from '../../src/errors.js';
import type { CapturedPacket } from '../../src/lab/capture.js';
import { madsOf } from '../../src/lab/ipoib-frames.js';
import { type CmKind, type CmMessage, decodeCmMessage, type IpoibCmPrivateData, ipoibCmPrivateData, parseIpoibCmServiceId } from '../../src/wire/cm.js';
import {
  IPOIB_HEADER_LEN,
  MGMT_CLASS_CM,
  OP_RC_SEND_FIRST,
  OP_RC_SEND_LAST,
  OP_RC_SEND_LAST_IMM,
  OP_RC_SEND_MIDDLE,
  OP_RC_SEND_ONLY,
  OP_RC_SEND_ONLY_IMM,
} from '../../src/wire/constants.js';
import { etherTypeName } from '../../src/wire/ipoib-header.js';
import { hex4, hex6 } from './hex.js';

/** One CM MAD on the wire. */
export interface CapturedCm {
  tsUs: number;
  slid: number;
  dlid: number;
  transactionId: bigint;
  msg: CmMessage;
  /** The IPoIB-CM private data at the start of the message's private-data field (REQ, REP, REJ, RTU, DREQ, DREP all have one). */
  ipoib: IpoibCmPrivateData;
}

/** The CM MADs of a capture, oldest first, each once (same source, destination and octets). */
export function cmMads(packets: readonly CapturedPacket[]): CapturedCm[] {
  const out: CapturedCm[] = [];
  const seen = new Set<string>();
  for (const m of madsOf(packets)) {
    if (!m.mad || m.mad.header.mgmtClass !== MGMT_CLASS_CM) continue;
    const key = `${m.slid}/${m.dlid}/${m.ib.payload.toString('hex')}`;
    if (seen.has(key)) continue;
    seen.add(key);
    let msg: CmMessage;
    try {
      msg = decodeCmMessage(m.mad);
    } catch (e) {
      if (e instanceof WireError) continue; // MRA, LAP, SIDR …: not IPoIB-CM's
      throw e;
    }
    out.push({ tsUs: m.packet.tsUs, slid: m.slid, dlid: m.dlid, transactionId: m.mad.header.transactionId, msg, ipoib: ipoibCmPrivateData.decode(msg.body.privateData, 0).value });
  }
  return out;
}

/** The CM MADs of one kind, optionally from `slid` and/or to `dlid`. */
export function cmOf<K extends CmKind>(mads: readonly CapturedCm[], kind: K, o: { slid?: number; dlid?: number } = {}): Array<CapturedCm & { msg: Extract<CmMessage, { kind: K }> }> {
  return mads.filter(
    (m): m is CapturedCm & { msg: Extract<CmMessage, { kind: K }> } => m.msg.kind === kind && (o.slid === undefined || m.slid === o.slid) && (o.dlid === undefined || m.dlid === o.dlid),
  );
}

/** A CM MAD for the evidence: kind, addressing, the fields IPoIB-CM cases read, the private data. */
export function cmSummary(m: CapturedCm): Record<string, unknown> {
  const base = { tsUs: m.tsUs, kind: m.msg.kind, slid: m.slid, dlid: m.dlid, transactionId: `0x${m.transactionId.toString(16)}` };
  const pd = { privateData: { reserved: m.ipoib.reserved, udQpn: hex6(m.ipoib.qpn), receiveMtu: m.ipoib.receiveMtu } };
  switch (m.msg.kind) {
    case 'REQ': {
      const b = m.msg.body;
      const sid = parseIpoibCmServiceId(b.serviceId);
      return {
        ...base,
        serviceId: `0x${b.serviceId.toString(16).padStart(16, '0')}`,
        serviceIdParts: { prefix: `0x${sid.prefix.toString(16).padStart(2, '0')}`, profile: sid.profile, type: sid.type, reserved: sid.reserved, qpn: hex6(sid.qpn) },
        localCommId: b.localCommId,
        localQpn: hex6(b.localQpn),
        startingPsn: b.startingPsn,
        pathMtu: b.pathMtu,
        retryCount: b.retryCount,
        rnrRetryCount: b.rnrRetryCount,
        remoteCmResponseTimeout: b.remoteCmResponseTimeout,
        localCmResponseTimeout: b.localCmResponseTimeout,
        maxCmRetries: b.maxCmRetries,
        localAckTimeout: b.primaryPath.localAckTimeout,
        pkey: hex4(b.pkey),
        ...pd,
      };
    }
    case 'REP':
      return { ...base, localCommId: m.msg.body.localCommId, remoteCommId: m.msg.body.remoteCommId, localQpn: hex6(m.msg.body.localQpn), startingPsn: m.msg.body.startingPsn, ...pd };
    case 'REJ':
      return { ...base, localCommId: m.msg.body.localCommId, remoteCommId: m.msg.body.remoteCommId, reason: m.msg.body.reason, messageRejected: m.msg.body.messageRejected, ...pd };
    case 'DREQ':
      return { ...base, localCommId: m.msg.body.localCommId, remoteCommId: m.msg.body.remoteCommId, remoteQpn: hex6(m.msg.body.remoteQpn) };
    default:
      return { ...base, localCommId: m.msg.body.localCommId, remoteCommId: m.msg.body.remoteCommId };
  }
}

/** One RC SEND message, put together from its packets. */
export interface RcMessage {
  /** When its first packet was captured. */
  tsUs: number;
  slid: number;
  dlid: number;
  /** The receiving QP (BTH DestQP); RC packets do not name the sender's. */
  destQpn: number;
  firstPsn: number;
  packets: number;
  payload: Buffer;
  /** False when the capture ended before its LAST packet. */
  complete: boolean;
}

const FIRST = new Set([OP_RC_SEND_FIRST]);
const MIDDLE = new Set([OP_RC_SEND_MIDDLE]);
const LAST = new Set([OP_RC_SEND_LAST, OP_RC_SEND_LAST_IMM]);
const ONLY = new Set([OP_RC_SEND_ONLY, OP_RC_SEND_ONLY_IMM]);

/**
 * The RC SEND messages of a capture, in the order their first packets were seen. Packets are
 * taken once each (the same octets twice are the tap's two records, or a retransmission whose
 * first copy was taken already), then in order per connection (SLID, DLID, DestQP).
 */
export function rcMessages(packets: readonly CapturedPacket[]): RcMessage[] {
  const out: Array<RcMessage & { parts: Buffer[] }> = [];
  const open = new Map<string, RcMessage & { parts: Buffer[] }>();
  const seen = new Set<string>();
  for (const p of packets) {
    const ib = p.ib;
    if (!ib) continue;
    const op = ib.bth.opcode;
    if (!FIRST.has(op) && !MIDDLE.has(op) && !LAST.has(op) && !ONLY.has(op)) continue;
    const raw = p.raw.toString('hex');
    if (seen.has(raw)) continue;
    seen.add(raw);
    const key = `${ib.lrh.slid}/${ib.lrh.dlid}/${ib.bth.destQp}`;
    if (FIRST.has(op) || ONLY.has(op)) {
      const m = { tsUs: p.tsUs, slid: ib.lrh.slid, dlid: ib.lrh.dlid, destQpn: ib.bth.destQp, firstPsn: ib.bth.psn, packets: 0, payload: Buffer.alloc(0), complete: false, parts: [] as Buffer[] };
      open.set(key, m);
      out.push(m);
    }
    const m = open.get(key);
    if (!m) continue; // a MIDDLE or LAST whose FIRST the capture missed
    m.parts.push(ib.payload);
    m.packets++;
    if (LAST.has(op) || ONLY.has(op)) {
      m.complete = true;
      open.delete(key);
    }
  }
  return out.map(({ parts, ...m }) => ({ ...m, payload: Buffer.concat(parts) }));
}

/** An RC message for the evidence: addressing, length, and the IPoIB header it starts with. */
export function rcSummary(m: RcMessage): Record<string, unknown> {
  const header = m.payload.length >= IPOIB_HEADER_LEN ? { type: etherTypeName(m.payload.readUInt16BE(0)), reserved: hex4(m.payload.readUInt16BE(2)) } : null;
  return { tsUs: m.tsUs, slid: m.slid, dlid: m.dlid, destQpn: hex6(m.destQpn), firstPsn: m.firstPsn, packets: m.packets, octets: m.payload.length, complete: m.complete, header };
}
