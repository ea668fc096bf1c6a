/**
 * An in-memory HcaPort for the stack's unit tests: attributes the test sets, events it raises,
 * UD QPs that record what is sent and let the test inject completions, and a scripted SA
 * (joins answered from a table of groups, refusals on demand, every request recorded). Not a
 * test file itself. Tests that need real packets use the simulated fabric instead.
 */
import type { HcaPort, JoinRequest, PortAttributes, PortEvent, SaClient, SaNotice, SaSubscription, UdCompletion, UdDestination, UdQp } from '../../src/fabric/hca.js';
import { SaError } from '../../src/errors.js';
import { IPOIB_DEFAULT_QKEY, NOTICE_TYPE_SUBNET_MANAGEMENT, PRODUCER_TYPE_CLASS_MANAGER } from '../../src/wire/constants.js';
import { gidDataDetails } from '../../src/wire/notice.js';
import type { McMemberRecord } from '../../src/wire/mcmember-record.js';
import { mcMemberRecord } from '../../src/wire/mcmember-record.js';
import { broadcastMgid } from '../../src/wire/mgid.js';
import type { PathRecord } from '../../src/wire/path-record.js';
import { pathRecord } from '../../src/wire/path-record.js';

export const FAKE_GID = Buffer.from('fe800000000000000002c90300000101', 'hex');
export const FAKE_GUID = 0x0002c90300000101n;

const ZERO_MCM = mcMemberRecord.decode(Buffer.alloc(52), 0).value;
const ZERO_PATH = pathRecord.decode(Buffer.alloc(64), 0).value;

export interface SentUd {
  qpn: number;
  to: UdDestination;
  payload: Buffer;
}

export class FakeQp implements UdQp {
  private listeners = new Set<(b: readonly UdCompletion[]) => void>();
  readonly attached: Array<{ mgid: string; mlid: number }> = [];
  /** Q_Key values set, in order. */
  readonly qkeys: number[] = [];
  closed = false;
  private current: number;

  constructor(
    readonly qpn: number,
    qkey: number,
    readonly pkeyIndex: number,
    private readonly sent: SentUd[],
    /** Who was attached when each set happened, to check "Q_Key before attach". */
    readonly events: string[],
  ) {
    this.current = qkey;
  }

  get qkey(): number {
    return this.current;
  }

  setQkey(qkey: number): void {
    this.current = qkey;
    this.qkeys.push(qkey);
    this.events.push(`qkey 0x${qkey.toString(16)}`);
  }

  send(to: UdDestination, payload: Buffer): void {
    this.sent.push({ qpn: this.qpn, to, payload: Buffer.from(payload) });
  }

  onReceive(cb: (batch: readonly UdCompletion[]) => void): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  deliver(batch: UdCompletion[]): void {
    for (const l of this.listeners) l(batch);
  }

  attachMulticast(mgid: Buffer, mlid: number): void {
    this.attached.push({ mgid: mgid.toString('hex'), mlid });
    this.events.push(`attach ${mgid.toString('hex')}`);
  }

  detachMulticast(mgid: Buffer, mlid: number): void {
    const i = this.attached.findIndex((a) => a.mgid === mgid.toString('hex') && a.mlid === mlid);
    if (i >= 0) this.attached.splice(i, 1);
    this.events.push(`detach ${mgid.toString('hex')}`);
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

export interface FakeGroup {
  mlid: number;
  qkey: number;
  mtu: number;
  rate?: number;
  sl?: number;
}

/** A scripted SA: groups it knows, a refusal switch, a path table, and a log of every request. */
export class FakeSa implements SaClient {
  /** Every subscribe and unsubscribe, in order: `+66 <mgid hex>` / `-67 <mgid hex>`. */
  readonly informLog: string[] = [];
  /** Subscriptions held now, by `<trap> <mgid hex>`, with their holder counts. */
  readonly subscribed = new Map<string, number>();
  /** When set, every subscribe is refused with this SA status. */
  refuseSubscribe: number | null = null;
  private readonly noticeListeners = new Set<(n: SaNotice) => void>();
  readonly groups = new Map<string, FakeGroup>();
  readonly paths = new Map<string, { dlid: number; sl: number; rate: number }>();
  readonly joins: JoinRequest[] = [];
  readonly leaves: Array<{ mgid: string; joinState: number }> = [];
  readonly pathQueries: Array<{ dgid: string; pkey: number }> = [];
  /** When set, every join is refused with this SA status. */
  refuse: number | null = null;
  /** Groups unknown to the SA are created (as an SM does for full-component joins) with this MLID base. */
  private nextMlid = 0xc100;
  /** Hold answers until release() when true. */
  hold = false;
  private held: Array<() => void> = [];

  async join(req: JoinRequest): Promise<McMemberRecord> {
    this.joins.push(req);
    await this.gate();
    if (this.refuse !== null) throw new SaError('SA refused join', this.refuse << 8, this.refuse);
    const key = req.mgid.toString('hex');
    let g = this.groups.get(key);
    if (!g) {
      if (req.record?.qkey === undefined) throw new SaError('SA refused join: no such group', 0x0300, 3);
      g = { mlid: this.nextMlid++, qkey: req.record.qkey, mtu: req.record.mtu ?? 4 };
      this.groups.set(key, g);
    }
    return { ...ZERO_MCM, mgid: Buffer.from(req.mgid), portGid: FAKE_GID, qkey: g.qkey, mlid: g.mlid, mtu: g.mtu, rate: g.rate ?? 3, sl: g.sl ?? 0, joinState: req.joinState, pkey: req.record?.pkey ?? 0xffff };
  }

  async leave(mgid: Buffer, joinState: number): Promise<void> {
    this.leaves.push({ mgid: mgid.toString('hex'), joinState });
  }

  async pathTo(dgid: Buffer, pkey: number): Promise<PathRecord> {
    this.pathQueries.push({ dgid: dgid.toString('hex'), pkey });
    await this.gate();
    const p = this.paths.get(dgid.toString('hex'));
    if (!p) throw new SaError('SA refused path query: no records', 0x0300, 3);
    return { ...ZERO_PATH, dgid: Buffer.from(dgid), sgid: FAKE_GID, dlid: p.dlid, sl: p.sl, rate: p.rate, pkey, numbPath: 1 };
  }

  async subscribe(s: SaSubscription): Promise<void> {
    const key = `${s.trap} ${(s.gid ?? Buffer.alloc(16)).toString('hex')}`;
    this.informLog.push(`+${key}`);
    if (this.refuseSubscribe !== null) throw new SaError('SA refused subscription', this.refuseSubscribe << 8, this.refuseSubscribe);
    this.subscribed.set(key, (this.subscribed.get(key) ?? 0) + 1);
  }

  async unsubscribe(s: SaSubscription): Promise<void> {
    const key = `${s.trap} ${(s.gid ?? Buffer.alloc(16)).toString('hex')}`;
    this.informLog.push(`-${key}`);
    const n = (this.subscribed.get(key) ?? 0) - 1;
    if (n > 0) this.subscribed.set(key, n);
    else this.subscribed.delete(key);
  }

  onNotice(cb: (n: SaNotice) => void): () => void {
    this.noticeListeners.add(cb);
    return () => this.noticeListeners.delete(cb);
  }

  /** Delivers a Report of `trap` about `mgid`, as the SA would to a subscriber. */
  report(trap: number, mgid: Buffer): void {
    const notice = {
      isGeneric: true, type: NOTICE_TYPE_SUBNET_MANAGEMENT, producerType: PRODUCER_TYPE_CLASS_MANAGER, trapNumber: trap,
      issuerLid: 1, noticeToggle: false, noticeCount: 0, dataDetails: gidDataDetails(mgid), issuerGid: Buffer.alloc(16),
    };
    for (const l of [...this.noticeListeners]) l({ trap, gid: Buffer.from(mgid), notice });
  }

  /** How many listeners hear Reports now. */
  get noticeListenerCount(): number {
    return this.noticeListeners.size;
  }

  release(): void {
    const h = this.held;
    this.held = [];
    for (const r of h) r();
  }

  private gate(): Promise<void> {
    if (!this.hold) return Promise.resolve();
    return new Promise((resolve) => this.held.push(resolve));
  }
}

export class FakePort implements HcaPort {
  readonly provider = 'sim' as const;
  readonly capabilities = { subnetAdministrator: true, partitions: true, connectedMode: false, wireCapture: false };
  readonly sa = new FakeSa();
  readonly sent: SentUd[] = [];
  readonly qps: FakeQp[] = [];
  readonly events: string[] = [];
  private listeners = new Set<(e: PortEvent) => void>();
  private nextQpn = 0x48;
  attrs: PortAttributes;

  constructor(o: Partial<PortAttributes> = {}) {
    this.attrs = {
      guid: FAKE_GUID,
      gid: FAKE_GID,
      lid: 2,
      smLid: 1,
      state: 'active',
      activeMtuCode: 5,
      linkLayer: 'infiniband',
      pkeys: [0xffff, 0x8001],
      ...o,
    };
  }

  attributes(): PortAttributes {
    return { ...this.attrs, pkeys: [...this.attrs.pkeys] };
  }

  onEvent(cb: (e: PortEvent) => void): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  emit(e: PortEvent): void {
    for (const l of this.listeners) l(e);
  }

  async createUdQp(o: { qkey: number; pkeyIndex: number }): Promise<UdQp> {
    const qp = new FakeQp(this.nextQpn++, o.qkey, o.pkeyIndex, this.sent, this.events);
    this.qps.push(qp);
    return qp;
  }

  /** The QP the stack uses now (the last one created that is not closed). */
  liveQp(): FakeQp | undefined {
    return [...this.qps].reverse().find((q) => !q.closed);
  }

  listenRc(): never {
    throw new Error('FakePort has no RC');
  }

  connectRc(): never {
    throw new Error('FakePort has no RC');
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }
}

/** A fake port whose SA knows the broadcast groups of 0xffff (2048, Q_Key 0xb1b) and 0x8001 (4096, 0x80001234). */
export function fakePortWithGroups(o: Partial<PortAttributes> = {}): FakePort {
  const p = new FakePort(o);
  p.sa.groups.set(broadcastMgid(0xffff).toString('hex'), { mlid: 0xc000, qkey: IPOIB_DEFAULT_QKEY, mtu: 4 });
  p.sa.groups.set(broadcastMgid(0x8001).toString('hex'), { mlid: 0xc001, qkey: 0x80001234, mtu: 5, sl: 3, rate: 7 });
  return p;
}

/** Lets queued promise callbacks run. */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
