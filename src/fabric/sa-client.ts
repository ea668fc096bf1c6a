/**
 * An SA client over any port's QP1 (GsiPort): MCMemberRecord join and leave and PathRecord
 * queries as real SA MADs, matched to their responses by TransactionID, retried on timeout
 * like the kernel's SA client. Provider-agnostic: the sim and verbs providers both use it.
 *
 * Event subscriptions: subscribe/unsubscribe send SubnAdmSet(InformInfo) (generic, Type subnet
 * management, ProducerType class manager, Reports to QP1), counted per trap and GID so that the
 * interfaces sharing a port share one subscription at the SA; the Sets of one trap and GID go
 * out one at a time, in call order. Every SubnAdmReport(Notice) is answered with a
 * SubnAdmReportResp echoing it; listeners hear each TransactionID once, however often the SA
 * resends it.
 */
import type { GsiAddress, GsiPort } from './gsi.js';
import type { JoinRequest, SaClient, SaNotice, SaSubscription } from './hca.js';
import { SaError } from '../errors.js';
import { type Codec, encodeToBuffer } from '../wire/codec.js';
import {
  INFORM_ALL_LIDS,
  MAD_METHOD_DELETE,
  MAD_METHOD_GET,
  MAD_METHOD_GET_TABLE,
  MAD_METHOD_REPORT,
  MAD_METHOD_REPORT_RESP,
  MAD_METHOD_SET,
  MGMT_CLASS_SUBN_ADM,
  NOTICE_TYPE_SUBNET_MANAGEMENT,
  PRODUCER_TYPE_CLASS_MANAGER,
  QPN_GSI,
  SA_ATTR_INFORM_INFO,
  SA_ATTR_MCMEMBER_RECORD,
  SA_ATTR_NOTICE,
  SA_ATTR_PATH_RECORD,
  SA_CLASS_VERSION,
  SA_HEADER_LEN,
} from '../wire/constants.js';
import { type InformInfo, informInfo } from '../wire/inform-info.js';
import { isGidTrap, notice, trapGid } from '../wire/notice.js';
import {
  MAD_METHOD_RESPONSE_BIT,
  RMPP_FLAG_ACTIVE,
  RMPP_INACTIVE,
  RMPP_FLAG_LAST,
  RMPP_TYPE_ACK,
  RMPP_TYPE_DATA,
  RMPP_VERSION,
  SA_ERR_NAMES,
  SA_ERR_NO_RECORDS,
  madIsResponse,
  saErrorCode,
} from '../wire/mad.js';
import { type McMemberComponent, type McMemberRecord, mcMemberComponentMask, mcMemberRecord } from '../wire/mcmember-record.js';
import { type PathRecord, type PathRecordComponent, pathRecord, pathRecordComponentMask } from '../wire/path-record.js';
import { parseSaMad, type SaMad, saMad, saRecordStride, sliceSaRecords } from '../wire/sa.js';

export interface SaClientOptions {
  /** Where the SA is: the SM's LID (QP1 is implied). */
  smLid: () => number;
  /** Attempts per request (the first included). */
  attempts?: number;
  /** Per-attempt timeout. */
  attemptTimeoutMs?: number;
}

const SA_DATA_LEN = 200;
const ZERO_MCM: McMemberRecord = mcMemberRecord.decode(Buffer.alloc(52), 0).value;
const ZERO_PATH: PathRecord = pathRecord.decode(Buffer.alloc(64), 0).value;

/** Status names for the MAD status bits that are not SA-specific (IBA 13.4.7). */
function describeStatus(status: number): string {
  const sa = saErrorCode(status);
  if (sa !== 0) return `${SA_ERR_NAMES[sa] ?? `SA error ${sa}`} (status 0x${status.toString(16).padStart(4, '0')})`;
  return `MAD status 0x${status.toString(16).padStart(4, '0')}`;
}

export interface GetTableOptions {
  /**
   * SM_Key in the SA header. The SA's own key makes the request trusted: an MCMemberRecord
   * table then holds every member's record with its PortGID and JoinState (an untrusted one
   * gets one record per group with those zeroed). Default 0 (untrusted).
   */
  smKey?: bigint;
  /** For all attempts together (split evenly); default attempts × attemptTimeoutMs. */
  timeoutMs?: number;
}

export interface GetTableRequest<T> {
  attributeId: number;
  /** The record's codec: encodes the template, decodes each record of the answer. */
  codec: Codec<T>;
  /** Template whose `componentMask` components select the records. */
  record: T;
  componentMask: bigint;
}

/**
 * RMPP window this client grants a sending SA in each ACK: segments beyond the last one in
 * order that the SA may send before it waits for the next ACK.
 */
export const RMPP_RECEIVE_WINDOW = 32;

/**
 * RespTimeValue of this client's subscriptions: it answers a Report at once, so 16
 * (4.096 µs × 2^16 ≈ 268 ms) leaves room for a busy event loop without slowing the SA's resends.
 */
export const INFORM_RESP_TIME_VALUE = 16;
/** TransactionIDs of Reports remembered, so that a resent Report is not heard twice. */
const REPORTS_REMEMBERED = 256;

/** One trap and GID's subscription: how many holders, and the Sets in flight, in order. */
interface InformEntry {
  refs: number;
  /** The last Set queued (subscribe or unsubscribe). */
  last: Promise<void>;
  /** The Set that made the current subscription, while there is one. */
  subscribed: Promise<void> | undefined;
}

export class GsiSaClient implements SaClient {
  private nextTid = BigInt(Date.now() & 0xffffff) << 16n;
  private readonly waiting = new Map<bigint, (mad: Buffer) => void>();
  /** GetTable transactions: every response MAD of the TransactionID (RMPP segments), not just the first. */
  private readonly streams = new Map<bigint, (mad: SaMad) => void>();
  private readonly informs = new Map<string, InformEntry>();
  private readonly noticeListeners = new Set<(n: SaNotice) => void>();
  private readonly reportsSeen = new Set<bigint>();
  private readonly stopReceiving: () => void;

  constructor(
    private readonly port: GsiPort,
    private readonly o: SaClientOptions,
  ) {
    this.stopReceiving = port.onMad((mad, from) => this.onMad(mad, from));
  }

  close(): void {
    this.stopReceiving();
    this.waiting.clear();
    this.streams.clear();
    this.informs.clear();
    this.noticeListeners.clear();
  }

  async subscribe(s: SaSubscription): Promise<void> {
    const key = informKey(s);
    let e = this.informs.get(key);
    if (!e) {
      e = { refs: 0, last: Promise.resolve(), subscribed: undefined };
      this.informs.set(key, e);
    }
    e.refs++;
    if (e.refs === 1) e.subscribed = this.queueInform(e, s, true);
    try {
      await e.subscribed;
    } catch (err) {
      // The SA refused or never answered: this holder holds nothing (unless it let go already).
      e.refs = Math.max(0, e.refs - 1);
      throw err;
    }
  }

  async unsubscribe(s: SaSubscription): Promise<void> {
    const e = this.informs.get(informKey(s));
    if (!e || e.refs === 0) return;
    e.refs--;
    if (e.refs > 0) return;
    e.subscribed = undefined;
    await this.queueInform(e, s, false);
  }

  onNotice(cb: (n: SaNotice) => void): () => void {
    this.noticeListeners.add(cb);
    return () => this.noticeListeners.delete(cb);
  }

  /** Queues one SubnAdmSet(InformInfo) behind the earlier ones of the same trap and GID. */
  private queueInform(e: InformEntry, s: SaSubscription, subscribe: boolean): Promise<void> {
    const op = e.last.catch(() => undefined).then(() => this.setInform(s, subscribe));
    e.last = op;
    return op;
  }

  private async setInform(s: SaSubscription, subscribe: boolean): Promise<void> {
    const record: InformInfo = {
      gid: s.gid ?? Buffer.alloc(16),
      lidRangeBegin: INFORM_ALL_LIDS,
      lidRangeEnd: 0,
      reserved: 0,
      isGeneric: 1,
      subscribe: subscribe ? 1 : 0,
      type: NOTICE_TYPE_SUBNET_MANAGEMENT,
      trapNumber: s.trap,
      qpn: QPN_GSI,
      reserved2: 0,
      respTimeValue: INFORM_RESP_TIME_VALUE,
      reserved3: 0,
      producerType: PRODUCER_TYPE_CLASS_MANAGER,
    };
    const what = `${subscribe ? 'subscription to' : 'unsubscription from'} trap ${s.trap}${s.gid ? ` for ${s.gid.toString('hex')}` : ''}`;
    await this.exchange(MAD_METHOD_SET, SA_ATTR_INFORM_INFO, 0n, informInfo, record, what, s.timeoutMs);
  }

  /** A Report: answered at once (every copy), handed to listeners once per TransactionID. */
  private onReport(m: SaMad, from: GsiAddress): void {
    const resp = encodeToBuffer(saMad, {
      header: { ...m.header, method: MAD_METHOD_REPORT_RESP, status: 0 },
      rmpp: { ...RMPP_INACTIVE },
      sa: { ...m.sa, smKey: 0n },
      data: m.data,
    });
    this.port.sendMad({ lid: from.lid, qpn: QPN_GSI, ...(from.pkeyIndex !== undefined ? { pkeyIndex: from.pkeyIndex } : {}) }, resp);
    const tid = m.header.transactionId;
    if (this.reportsSeen.has(tid)) return;
    this.reportsSeen.add(tid);
    if (this.reportsSeen.size > REPORTS_REMEMBERED) this.reportsSeen.delete(this.reportsSeen.values().next().value as bigint);
    const n = notice.decode(m.data, 0).value;
    const heard: SaNotice = { trap: n.trapNumber, gid: isGidTrap(n) ? trapGid(n) : undefined, notice: n };
    for (const l of [...this.noticeListeners]) {
      try {
        l(heard);
      } catch {
        // A listener's failure is its own; the others still hear the Report.
      }
    }
  }

  async join(req: JoinRequest): Promise<McMemberRecord> {
    const record: McMemberRecord = { ...ZERO_MCM, ...req.record, mgid: req.mgid, portGid: this.port.gid, joinState: req.joinState };
    const components = new Set<McMemberComponent>(['mgid', 'portGid', 'joinState']);
    for (const k of Object.keys(req.record ?? {})) components.add(k as McMemberComponent);
    const mask = mcMemberComponentMask([...components]);
    const resp = await this.exchange(MAD_METHOD_SET, SA_ATTR_MCMEMBER_RECORD, mask, mcMemberRecord, record, `join ${req.mgid.toString('hex')}`, req.timeoutMs);
    return mcMemberRecord.decode(resp, 0).value;
  }

  async leave(mgid: Buffer, joinState: number, timeoutMs?: number): Promise<void> {
    const record: McMemberRecord = { ...ZERO_MCM, mgid, portGid: this.port.gid, joinState };
    const mask = mcMemberComponentMask(['mgid', 'portGid', 'joinState']);
    await this.exchange(MAD_METHOD_DELETE, SA_ATTR_MCMEMBER_RECORD, mask, mcMemberRecord, record, 'leave', timeoutMs);
  }

  async pathTo(dgid: Buffer, pkey: number, timeoutMs?: number): Promise<PathRecord> {
    const record: PathRecord = { ...ZERO_PATH, dgid, sgid: this.port.gid, pkey, numbPath: 1 };
    const components: PathRecordComponent[] = ['dgid', 'sgid', 'pkey', 'numbPath'];
    const resp = await this.exchange(MAD_METHOD_GET, SA_ATTR_PATH_RECORD, pathRecordComponentMask(components), pathRecord, record, 'path query', timeoutMs);
    return pathRecord.decode(resp, 0).value;
  }

  /**
   * SubnAdmGetTable: every record the SA selects, reassembled from the RMPP segments of the
   * GetTableResp. Each segment that arrives in order is ACKed, as an RMPP receiver must, so an
   * SA that waits for ACKs (a real one) sends the next window; the sim's SA sends everything at
   * once and ignores the ACKs. An empty table (or ERR_NO_RECORDS) resolves with []; any other
   * status rejects with SaError, as does silence through every attempt.
   */
  async getTable<T>(req: GetTableRequest<T>, o: GetTableOptions = {}): Promise<T[]> {
    const attempts = this.o.attempts ?? 3;
    const perAttempt = o.timeoutMs !== undefined ? Math.max(1, Math.floor(o.timeoutMs / attempts)) : (this.o.attemptTimeoutMs ?? 1000);
    const data = Buffer.alloc(SA_DATA_LEN);
    req.codec.encode(req.record, data, 0);
    const what = `GetTable of attribute 0x${req.attributeId.toString(16).padStart(4, '0')}`;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      const tid = this.nextTid++;
      const request = encodeToBuffer(saMad, {
        header: { baseVersion: 1, mgmtClass: MGMT_CLASS_SUBN_ADM, classVersion: SA_CLASS_VERSION, method: MAD_METHOD_GET_TABLE, status: 0, classSpecific: 0, transactionId: tid, attributeId: req.attributeId, reserved: 0, attributeModifier: 0 },
        rmpp: { version: 0, type: 0, responseTime: 0, flags: 0, status: 0, data1: 0, data2: 0 },
        sa: { smKey: o.smKey ?? 0n, attributeOffset: 0, reserved: 0, componentMask: req.componentMask },
        data,
      });
      const answer = await this.receiveTable(tid, request, perAttempt);
      if (answer === null) continue;
      if ('error' in answer) {
        const status = answer.error.header.status;
        if (saErrorCode(status) === SA_ERR_NO_RECORDS) return [];
        throw new SaError(`SA refused ${what}: ${describeStatus(status)}`, status, saErrorCode(status));
      }
      return tableRecords(answer.segments, req.codec, what);
    }
    throw new SaError(`SA did not answer ${what} after ${attempts} attempts of ${perAttempt} ms`, null, null);
  }

  /**
   * Every MCMemberRecord matching the components given in `query` (an MGID for one group's
   * members, a PortGID for one port's groups, nothing for all); see GetTableOptions.smKey.
   */
  mcMemberTable(query: Partial<McMemberRecord>, o: GetTableOptions = {}): Promise<McMemberRecord[]> {
    const components = Object.keys(query) as McMemberComponent[];
    return this.getTable({ attributeId: SA_ATTR_MCMEMBER_RECORD, codec: mcMemberRecord, record: { ...ZERO_MCM, ...query }, componentMask: mcMemberComponentMask(components) }, o);
  }

  /**
   * Sends `request` and collects the response segments of `tid`: the DATA segments 1..LAST
   * (ACKing each in order), a lone non-RMPP answer, or an error answer. Null on `silenceMs`
   * without progress.
   */
  private receiveTable(tid: bigint, request: Buffer, silenceMs: number): Promise<{ segments: SaMad[] } | { error: SaMad } | null> {
    return new Promise((resolve) => {
      const segments = new Map<number, SaMad>();
      let nextInOrder = 1;
      let lastSegment: number | undefined;
      let timer: NodeJS.Timeout;
      const finish = (v: { segments: SaMad[] } | { error: SaMad } | null): void => {
        clearTimeout(timer);
        this.streams.delete(tid);
        resolve(v);
      };
      const arm = (): void => {
        clearTimeout(timer);
        timer = setTimeout(() => finish(null), silenceMs);
      };
      this.streams.set(tid, (m) => {
        const rmppActive = (m.rmpp.flags & RMPP_FLAG_ACTIVE) !== 0;
        // Once the table is coming, a non-RMPP answer with this TransactionID can only be an
        // SA's reply to one of our ACKs (which carry the request method): not the table's fate.
        if (!rmppActive && segments.size > 0) return;
        if (m.header.status !== 0) return finish({ error: m });
        if (!rmppActive) return finish({ segments: [m] });
        if (m.rmpp.type !== RMPP_TYPE_DATA) return finish({ error: m }); // STOP or ABORT from the sender
        arm();
        segments.set(m.rmpp.data1, m);
        if ((m.rmpp.flags & RMPP_FLAG_LAST) !== 0) lastSegment = m.rmpp.data1;
        const before = nextInOrder;
        while (segments.has(nextInOrder)) nextInOrder++;
        if (nextInOrder > before) this.sendRmppAck(m, nextInOrder - 1);
        if (lastSegment !== undefined && nextInOrder > lastSegment) {
          finish({ segments: Array.from({ length: lastSegment }, (_, i) => segments.get(i + 1)!) });
        }
      });
      arm();
      this.port.sendMad({ lid: this.o.smLid(), qpn: QPN_GSI }, request);
    });
  }

  /**
   * RMPP ACK of every segment up to `segment`, opening the window RMPP_RECEIVE_WINDOW further.
   * It repeats the DATA segment's headers with the R bit cleared (GetTableResp is ACKed as
   * GetTable), as Linux's MAD layer sends its ACKs.
   */
  private sendRmppAck(data: SaMad, segment: number): void {
    const ack = encodeToBuffer(saMad, {
      header: { ...data.header, method: data.header.method & ~MAD_METHOD_RESPONSE_BIT, status: 0 },
      rmpp: { version: RMPP_VERSION, type: RMPP_TYPE_ACK, responseTime: 0, flags: RMPP_FLAG_ACTIVE, status: 0, data1: segment, data2: segment + RMPP_RECEIVE_WINDOW },
      sa: data.sa,
      data: Buffer.alloc(SA_DATA_LEN),
    });
    this.port.sendMad({ lid: this.o.smLid(), qpn: QPN_GSI }, ack);
  }

  private onMad(mad: Buffer, from: GsiAddress): void {
    let m;
    try {
      m = parseSaMad(mad);
    } catch {
      return; // not an SA MAD (CM and others share QP1)
    }
    if (m.header.method === MAD_METHOD_REPORT && m.header.attributeId === SA_ATTR_NOTICE) return this.onReport(m, from);
    if (!madIsResponse(m.header.method)) return;
    const stream = this.streams.get(m.header.transactionId);
    if (stream) return stream(m);
    const done = this.waiting.get(m.header.transactionId);
    if (done) {
      this.waiting.delete(m.header.transactionId);
      done(mad);
    }
  }

  /** Sends one request and resolves with the response's record data; retries on silence. */
  private async exchange<T>(
    method: number,
    attributeId: number,
    componentMask: bigint,
    codec: { encode(v: T, b: Buffer, o: number): number },
    record: T,
    what: string,
    timeoutMs?: number,
  ): Promise<Buffer> {
    const attempts = this.o.attempts ?? 3;
    const perAttempt = timeoutMs !== undefined ? Math.max(1, Math.floor(timeoutMs / attempts)) : (this.o.attemptTimeoutMs ?? 1000);
    const data = Buffer.alloc(SA_DATA_LEN);
    codec.encode(record, data, 0);
    for (let attempt = 1; attempt <= attempts; attempt++) {
      const tid = this.nextTid++;
      const mad = encodeToBuffer(saMad, {
        header: { baseVersion: 1, mgmtClass: MGMT_CLASS_SUBN_ADM, classVersion: SA_CLASS_VERSION, method, status: 0, classSpecific: 0, transactionId: tid, attributeId, reserved: 0, attributeModifier: 0 },
        rmpp: { version: 0, type: 0, responseTime: 0, flags: 0, status: 0, data1: 0, data2: 0 },
        sa: { smKey: 0n, attributeOffset: 0, reserved: 0, componentMask },
        data,
      });
      const response = await new Promise<Buffer | null>((resolve) => {
        const timer = setTimeout(() => {
          this.waiting.delete(tid);
          resolve(null);
        }, perAttempt);
        this.waiting.set(tid, (r) => {
          clearTimeout(timer);
          resolve(r);
        });
        const to: GsiAddress = { lid: this.o.smLid(), qpn: QPN_GSI };
        this.port.sendMad(to, mad);
      });
      if (response === null) continue;
      const r = parseSaMad(response);
      if (r.header.status !== 0) throw new SaError(`SA refused ${what}: ${describeStatus(r.header.status)}`, r.header.status, saErrorCode(r.header.status));
      return r.data;
    }
    throw new SaError(`SA did not answer ${what} after ${attempts} attempts of ${perAttempt} ms`, null, null);
  }
}

function informKey(s: SaSubscription): string {
  return `${s.trap}:${(s.gid ?? Buffer.alloc(16)).toString('hex')}`;
}

/**
 * The records of a reassembled GetTableResp. The first segment's PayloadLength gives the
 * stream's length (20 octets per segment for its SA header, plus the record octets), as IBA
 * and Linux's MAD layer count it; without it (0, or a lone non-RMPP answer) the whole data is
 * read and the all-zero slots after the last record are dropped.
 */
function tableRecords<T>(segments: readonly SaMad[], codec: Codec<T>, what: string): T[] {
  const first = segments[0];
  if (!first) return [];
  const attributeOffset = first.sa.attributeOffset;
  if (attributeOffset === 0) return [];
  const stream = Buffer.concat(segments.map((s) => s.data));
  const stride = saRecordStride(attributeOffset);
  const payloadLength = (first.rmpp.flags & RMPP_FLAG_ACTIVE) !== 0 ? first.rmpp.data2 : 0;
  let count: number;
  if (payloadLength > 0) {
    const streamLen = payloadLength - segments.length * SA_HEADER_LEN;
    if (streamLen < 0 || streamLen > stream.length) {
      throw new SaError(`SA answered ${what} with PayloadLength ${payloadLength} for ${segments.length} segments`, 0, null);
    }
    count = Math.floor(streamLen / stride);
  } else {
    count = Math.floor(stream.length / stride);
    while (count > 0 && stream.subarray((count - 1) * stride, count * stride).every((b) => b === 0)) count--;
  }
  return sliceSaRecords(stream, attributeOffset, count, codec);
}
