/**
 * An SA client over any port's QP1 (GsiPort): MCMemberRecord join and leave and PathRecord
 * queries as real SA MADs, matched to their responses by TransactionID, retried on timeout
 * like the kernel's SA client. Provider-agnostic: the sim and verbs providers both use it.
 */
import type { GsiAddress, GsiPort } from './gsi.js';
import type { JoinRequest, SaClient } from './hca.js';
import { SaError } from '../errors.js';
import { encodeToBuffer } from '../wire/codec.js';
import {
  MAD_METHOD_DELETE,
  MAD_METHOD_GET,
  MAD_METHOD_SET,
  MGMT_CLASS_SUBN_ADM,
  QPN_GSI,
  SA_ATTR_MCMEMBER_RECORD,
  SA_ATTR_PATH_RECORD,
  SA_CLASS_VERSION,
} from '../wire/constants.js';
import { SA_ERR_NAMES, madIsResponse, saErrorCode } from '../wire/mad.js';
import { type McMemberComponent, type McMemberRecord, mcMemberComponentMask, mcMemberRecord } from '../wire/mcmember-record.js';
import { type PathRecord, type PathRecordComponent, pathRecord, pathRecordComponentMask } from '../wire/path-record.js';
import { parseSaMad, saMad } from '../wire/sa.js';

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

export class GsiSaClient implements SaClient {
  private nextTid = BigInt(Date.now() & 0xffffff) << 16n;
  private readonly waiting = new Map<bigint, (mad: Buffer) => void>();
  private readonly unsubscribe: () => void;

  constructor(
    private readonly port: GsiPort,
    private readonly o: SaClientOptions,
  ) {
    this.unsubscribe = port.onMad((mad) => this.onMad(mad));
  }

  close(): void {
    this.unsubscribe();
    this.waiting.clear();
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

  private onMad(mad: Buffer): void {
    let m;
    try {
      m = parseSaMad(mad);
    } catch {
      return; // not an SA MAD (CM and others share QP1)
    }
    if (!madIsResponse(m.header.method)) return;
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
