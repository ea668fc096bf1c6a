/**
 * The multicast groups of one IPoIB interface, joined and left through the SA the way Linux
 * ib_ipoib does it (ipoib_multicast.c, as the research describes it):
 * - the broadcast group is joined first, as a full member, giving only MGID, PortGID, P_Key
 *   and JoinState, so the SM must already have it; nothing else is joined, and no multicast is
 *   sent, until it is joined and attached;
 * - its record sets the interface's Q_Key (on the QP before the attach), MTU and carrier;
 * - the host's groups (joinGroup, address-implied groups) are full joins that copy Q_Key, MTU,
 *   TClass, rate, SL, FlowLabel and HopLimit from the broadcast record (RFC 4391 §10), so the SM
 *   can create them; they are attached to the QP;
 * - a send to a group the host did not join makes a send-only group (JoinState 0x8, never
 *   attached) that queues up to 64 packets while it joins; a failed send-only join is retried
 *   once after 2 s, then its queue is dropped and the next packet starts two more tries;
 * - failed full joins are retried with the backoff of backoff.ts, without limit;
 * - send-only groups unused for the neighbour idle time are left (the kernel leaves them when
 *   their neighbour is garbage collected);
 * - with umcast set, a host group another consumer of the port already holds is skipped.
 *
 * Beyond Linux (which subscribes to nothing): RFC 4391 §10 has senders subscribe to the SA's
 * group created (66) and deleted (67) traps to track the groups they use. Every group in the
 * table is tracked from the moment the stack wants it, before its join is answered (the
 * broadcast group once its join succeeded, so nothing is asked of an SA the link cannot use),
 * with one subscription per trap for its MGID; the entry's end (leave, idle collection, flush)
 * gives them back. A flush forgets them all, so a client reregister, a P_Key change or a new
 * bring-up subscribes again. Reports:
 * - 66 for a group waiting to retry its join (or a send-only group that gave up): join at once;
 * - 67 for a joined group: its MLID and attach are forgotten (the membership went with the
 *   group, so no leave); a send-only group joins again on its next packet, as the kernel's
 *   send path would, a group the host listens to (or the broadcast group) at once.
 * Failed joins, leaves, subscriptions and attaches are logged with "multicast … failed", which
 * the daemon shows at every debug level (RFC 4391 §12).
 */
import type { SaClient, SaNotice, SaSubscription, UdDestination, UdQp } from '../fabric/hca.js';
import {
  IPOIB_SIGNATURE_IPV4,
  IPOIB_SIGNATURE_IPV6,
  JOIN_STATE_FULL,
  JOIN_STATE_SEND_ONLY_FULL,
  JOIN_STATE_SEND_ONLY_NON,
  MCAST_QPN,
  MGID_SCOPE_SITE,
  PKEY_FULL_MEMBER_BIT,
  TRAP_MCAST_GROUP_CREATED,
  TRAP_MCAST_GROUP_DELETED,
} from '../wire/constants.js';
import type { McMemberRecord } from '../wire/mcmember-record.js';
import { formatGid } from '../wire/mgid.js';
import { TRAP_NAMES } from '../wire/notice.js';
import { SA_SELECTOR_EXACTLY } from '../wire/sa.js';
import { JOIN_BACKOFF_INITIAL_S, nextBackoff } from './backoff.js';
import { type IpoibClock, OneShot } from './clock.js';
import type { IpoibCounters } from './counters.js';
import type { McgRow } from './debugfs.js';
import { Defects } from './defects.js';
import type { PortMcastDb } from './port-mcast-db.js';

/** IPOIB_MAX_MCAST_QUEUE: packets a group holds while it joins. TODO(constants) */
export const MCAST_QUEUE_MAX = 64;
/** The SA traps every group in use is tracked with. */
export const MCAST_TRAPS: readonly number[] = [TRAP_MCAST_GROUP_CREATED, TRAP_MCAST_GROUP_DELETED];

export type McastKind = 'broadcast' | 'full' | 'send-only';
type JoinPhase = 'idle' | 'joining' | 'waiting' | 'joined';

interface Group {
  readonly mgid: Buffer;
  readonly key: string;
  readonly kind: McastKind;
  readonly created: number;
  phase: JoinPhase;
  record: McMemberRecord | undefined;
  attached: boolean;
  backoff: number;
  readonly retry: OneShot;
  queue: Buffer[];
  lastUsed: number;
  /** One per MCAST_TRAPS entry while the group is tracked: resolves true once the SA took it. */
  subscriptions: Array<Promise<boolean>> | undefined;
}

/** A group as `ipoibctl` shows it. */
export interface McastGroupInfo {
  mgid: string;
  kind: McastKind;
  joined: boolean;
  attached: boolean;
  mlid: number | null;
  queueLen: number;
  backoffS: number;
}

/** What the manager needs from its interface. */
export interface McastEnv {
  readonly clock: IpoibClock;
  readonly counters: IpoibCounters;
  readonly sa: SaClient;
  readonly db: PortMcastDb;
  /** This interface, as the holder of its groups in `db`. */
  readonly holder: object;
  log(line: string): void;
  /** The interface P_Key (0x8000 set). */
  pkey(): number;
  broadcastMgid(): Buffer;
  qp(): UdQp | undefined;
  umcast(): boolean;
  /** SA request timeout for joins and leaves; undefined = the SA client's default. */
  readonly joinTimeoutMs: number | undefined;
  /** The broadcast record arrived: set the QP's Q_Key (called before the attach). */
  setQkey(qkey: number): void;
  /** The broadcast group is joined and attached: MTU, carrier. */
  broadcastReady(record: McMemberRecord): void;
  /** The Q_Key every send uses. */
  qkey(): number;
  post(dest: UdDestination, frame: Buffer): void;
  /** Seeded defects (test builds); default none. */
  readonly defects?: Defects;
}

const SIGNATURE_AT = 2;
const PKEY_AT = 4;
const BROADCAST_GROUP_ID = Buffer.from('ffffffff', 'hex');
const BROADCAST_GROUP_ID_AT = 12;
/** Seeded defects mgid-signature-ipv4/-ipv6: the signatures written instead of 0x401B and 0x601B. */
const DEFECT_SIGNATURE_IPV4 = 0x401a;
const DEFECT_SIGNATURE_IPV6 = 0x601a;

/**
 * The MGID the stack puts on the wire for `mgid` (a correct IPoIB MGID): the same one, unless a
 * seeded MGID defect rewrites the signature, the scope (every group but the broadcast group) or
 * the P_Key's full-member bit. Idempotent, so an MGID may pass through it more than once.
 */
export function mgidAsSent(mgid: Buffer, defects: Defects): Buffer {
  if (!defects.any) return mgid;
  const out = Buffer.from(mgid);
  const signature = out.readUInt16BE(SIGNATURE_AT);
  const ipv4 = signature === IPOIB_SIGNATURE_IPV4 || signature === DEFECT_SIGNATURE_IPV4;
  const broadcast = ipv4 && out.subarray(BROADCAST_GROUP_ID_AT).equals(BROADCAST_GROUP_ID);
  if (defects.has('mgid-signature-ipv4') && signature === IPOIB_SIGNATURE_IPV4) out.writeUInt16BE(DEFECT_SIGNATURE_IPV4, SIGNATURE_AT);
  if (defects.has('mgid-signature-ipv6') && signature === IPOIB_SIGNATURE_IPV6) out.writeUInt16BE(DEFECT_SIGNATURE_IPV6, SIGNATURE_AT);
  if (defects.has('mgid-scope-site') && !broadcast) out[1] = ((out[1] ?? 0) & 0xf0) | MGID_SCOPE_SITE;
  if (defects.has('mgid-pkey-no-full-bit')) out.writeUInt16BE(out.readUInt16BE(PKEY_AT) & ~PKEY_FULL_MEMBER_BIT, PKEY_AT);
  return out;
}

function joinStateOf(kind: McastKind, defects: Defects): number {
  if (kind === 'send-only') return JOIN_STATE_SEND_ONLY_FULL;
  // Seeded defect bcast-join-send-only: the broadcast group joined as a SendOnlyNonMember.
  if (kind === 'broadcast' && defects.has('bcast-join-send-only')) return JOIN_STATE_SEND_ONLY_NON;
  return JOIN_STATE_FULL;
}

export class McastManager {
  private readonly groups = new Map<string, Group>();
  /** The host's memberships by MGID, with how many IP groups map onto each. */
  private readonly hostGroups = new Map<string, { mgid: Buffer; refs: number }>();
  /** Bumped by every flush: answers to older requests are stale. */
  private epoch = 0;
  private running = false;
  private readonly defects: Defects;
  private stopNotices: (() => void) | undefined;

  constructor(private readonly env: McastEnv) {
    this.defects = env.defects ?? Defects.NONE;
  }

  /** The broadcast group's record while it is joined. */
  broadcastRecord(): McMemberRecord | undefined {
    const b = this.broadcast();
    return b?.phase === 'joined' ? b.record : undefined;
  }

  /** Starts joining: the broadcast group first, the rest once it is attached. */
  start(): void {
    this.running = true;
    this.stopNotices ??= this.env.sa.onNotice((n) => this.onNotice(n));
    const key = this.env.broadcastMgid().toString('hex');
    let b = this.groups.get(key);
    if (!b) {
      b = this.makeGroup(this.env.broadcastMgid(), 'broadcast');
      this.groups.set(key, b);
    }
    if (b.phase === 'idle') this.join(b);
    else if (b.phase === 'joined') this.joinHostGroups();
  }

  /**
   * Leaves every group, detaches, cancels retries and drops queued packets; the host's
   * memberships are kept, to be joined again by the next start().
   */
  flush(): void {
    this.running = false;
    this.stopNotices?.();
    this.stopNotices = undefined;
    this.epoch++;
    for (const g of this.groups.values()) this.dispose(g);
    this.groups.clear();
  }

  /** The host joined an IP group mapping to `mgid` (counted: several IP groups share an MGID). */
  hostJoin(group: Buffer): void {
    const mgid = mgidAsSent(group, this.defects);
    const key = mgid.toString('hex');
    const h = this.hostGroups.get(key);
    if (h) {
      h.refs++;
      return;
    }
    this.hostGroups.set(key, { mgid: Buffer.from(mgid), refs: 1 });
    if (this.broadcastRecord()) this.ensureFullGroup(mgid);
  }

  /** The host left an IP group mapping to `mgid`; the last one out leaves the IB group. */
  hostLeave(group: Buffer): void {
    const mgid = mgidAsSent(group, this.defects);
    const key = mgid.toString('hex');
    const h = this.hostGroups.get(key);
    if (!h) return;
    if (--h.refs > 0) return;
    this.hostGroups.delete(key);
    const g = this.groups.get(key);
    if (g?.kind === 'full') {
      this.dispose(g);
      this.groups.delete(key);
    }
  }

  /** Sends one frame to a group: at once when joined, else queued (up to 64) behind a join. */
  send(group: Buffer, frame: Buffer): void {
    if (!this.broadcastRecord()) return this.drop(1);
    const mgid = mgidAsSent(group, this.defects);
    const key = mgid.toString('hex');
    let g = this.groups.get(key);
    if (!g) {
      g = this.makeGroup(mgid, 'send-only');
      this.groups.set(key, g);
      this.track(g);
    }
    g.lastUsed = this.env.clock.now();
    if (g.phase === 'joined' && g.record) {
      this.env.post(this.destination(g, g.record), frame);
      return;
    }
    if (g.queue.length < MCAST_QUEUE_MAX) g.queue.push(frame);
    else this.drop(1);
    if (g.phase === 'idle') this.join(g);
  }

  /** Counts a send to the group `mgid` made past send() (by a native fast path) against its idleness. */
  touch(mgid: Buffer): void {
    const g = this.groups.get(mgid.toString('hex'));
    if (g) g.lastUsed = this.env.clock.now();
  }

  /** Leaves send-only groups not used for `idleMs`. */
  collectIdle(idleMs: number): void {
    const now = this.env.clock.now();
    for (const [key, g] of this.groups) {
      if (g.kind !== 'send-only' || now - g.lastUsed <= idleMs) continue;
      this.dispose(g);
      this.groups.delete(key);
    }
  }

  rows(): McgRow[] {
    return [...this.groups.values()].map((g) => ({
      mgid: g.mgid,
      created: g.created,
      queueLen: g.queue.length,
      complete: g.phase === 'joined',
      sendOnly: g.kind === 'send-only',
    }));
  }

  info(): McastGroupInfo[] {
    return [...this.groups.values()].map((g) => ({
      mgid: formatGid(g.mgid),
      kind: g.kind,
      joined: g.phase === 'joined',
      attached: g.attached,
      mlid: g.record?.mlid ?? null,
      queueLen: g.queue.length,
      backoffS: g.backoff,
    }));
  }

  // ---- internals -------------------------------------------------------------------------------

  private broadcast(): Group | undefined {
    return this.groups.get(this.env.broadcastMgid().toString('hex'));
  }

  private makeGroup(mgid: Buffer, kind: McastKind): Group {
    const now = this.env.clock.now();
    return {
      mgid: Buffer.from(mgid),
      key: mgid.toString('hex'),
      kind,
      created: now,
      phase: 'idle',
      record: undefined,
      attached: false,
      backoff: JOIN_BACKOFF_INITIAL_S,
      retry: new OneShot(this.env.clock),
      queue: [],
      lastUsed: now,
      subscriptions: undefined,
    };
  }

  /** Full joins for every host group not joined yet (after the broadcast group is attached). */
  private joinHostGroups(): void {
    for (const h of this.hostGroups.values()) this.ensureFullGroup(h.mgid);
  }

  private ensureFullGroup(mgid: Buffer): void {
    if (!this.running) return;
    const key = mgid.toString('hex');
    const existing = this.groups.get(key);
    if (existing && existing.kind !== 'send-only') {
      if (existing.phase === 'idle') this.join(existing);
      return;
    }
    if (this.env.umcast() && this.env.db.heldByOther(mgid, this.env.holder)) {
      this.env.counters.inc('mcast_umcast_skipped');
      this.env.log(`umcast: ${formatGid(mgid)} is held by another consumer of the port; not joining it`);
      return;
    }
    if (existing) {
      // The host now listens to a group we only sent to: the send-only entry gives way to a full join.
      this.dispose(existing);
      this.groups.delete(key);
    }
    const g = this.makeGroup(mgid, 'full');
    this.groups.set(key, g);
    this.track(g);
    this.join(g);
  }

  /** The join request: the broadcast group with the bare minimum, the others copying its record. */
  private joinRecord(g: Group): Partial<McMemberRecord> | undefined {
    const pkey = this.env.pkey();
    if (g.kind === 'broadcast') return { pkey };
    const b = this.broadcastRecord();
    if (!b) return undefined;
    return {
      pkey,
      qkey: b.qkey,
      mtuSelector: SA_SELECTOR_EXACTLY,
      mtu: b.mtu,
      trafficClass: b.trafficClass,
      rateSelector: SA_SELECTOR_EXACTLY,
      rate: b.rate,
      sl: b.sl,
      flowLabel: b.flowLabel,
      hopLimit: b.hopLimit,
    };
  }

  private join(g: Group): void {
    const record = this.joinRecord(g);
    if (!record) return; // waits for the broadcast group
    const epoch = this.epoch;
    g.phase = 'joining';
    const joinState = joinStateOf(g.kind, this.defects);
    const req = { mgid: g.mgid, joinState, record, ...(this.env.joinTimeoutMs !== undefined ? { timeoutMs: this.env.joinTimeoutMs } : {}) };
    this.env.sa.join(req).then(
      (rec) => this.joined(g, rec, epoch),
      (err: unknown) => this.joinFailed(g, err, epoch),
    );
  }

  private isCurrent(g: Group, epoch: number): boolean {
    return epoch === this.epoch && this.groups.get(g.key) === g;
  }

  private joined(g: Group, rec: McMemberRecord, epoch: number): void {
    if (!this.isCurrent(g, epoch)) {
      // Answered after a flush or a leave: give the membership back unless a newer entry wants it.
      const now = this.groups.get(g.key);
      if (!now || now.phase === 'idle') this.leave(g.mgid, joinStateOf(g.kind, this.defects));
      return;
    }
    g.record = rec;
    g.backoff = JOIN_BACKOFF_INITIAL_S;
    g.phase = 'joined';
    this.env.counters.inc('mcast_joins');
    this.env.db.add(g.mgid, this.env.holder);
    if (g.kind === 'broadcast') this.env.setQkey(rec.qkey);
    if (g.kind !== 'send-only') this.attach(g, rec);
    const queued = g.queue;
    g.queue = [];
    for (const frame of queued) this.env.post(this.destination(g, rec), frame);
    if (g.kind === 'broadcast') {
      this.track(g);
      this.env.broadcastReady(rec);
      this.joinHostGroups();
    }
  }

  private joinFailed(g: Group, err: unknown, epoch: number): void {
    if (!this.isCurrent(g, epoch)) return;
    this.env.counters.inc('mcast_join_failures');
    const why = err instanceof Error ? err.message : String(err);
    this.env.log(`${g.kind === 'send-only' ? 'sendonly ' : ''}multicast join failed for ${formatGid(g.mgid)}: ${why}`);
    if (g.kind === 'send-only' && g.backoff > JOIN_BACKOFF_INITIAL_S) {
      // Second failure: give up for now; the next packet starts over.
      g.backoff = JOIN_BACKOFF_INITIAL_S;
      g.phase = 'idle';
      this.drop(g.queue.length);
      g.queue = [];
      return;
    }
    g.backoff = nextBackoff(g.backoff);
    g.phase = 'waiting';
    g.retry.arm(g.backoff * 1000, () => {
      if (this.isCurrent(g, epoch) && g.phase === 'waiting') this.join(g);
    });
  }

  private attach(g: Group, rec: McMemberRecord): void {
    const qp = this.env.qp();
    if (!qp) return;
    try {
      qp.attachMulticast(g.mgid, rec.mlid);
      g.attached = true;
    } catch (e) {
      this.env.log(`multicast attach to ${formatGid(g.mgid)} failed: ${(e as Error).message}`);
    }
  }

  private detach(g: Group): void {
    if (g.attached && g.record) {
      try {
        this.env.qp()?.detachMulticast(g.mgid, g.record.mlid);
      } catch (e) {
        this.env.log(`multicast detach from ${formatGid(g.mgid)} failed: ${(e as Error).message}`);
      }
    }
    g.attached = false;
  }

  private subscription(g: Group, trap: number): SaSubscription {
    return { trap, gid: g.mgid, ...(this.env.joinTimeoutMs !== undefined ? { timeoutMs: this.env.joinTimeoutMs } : {}) };
  }

  /** Subscribes to the group's create and delete Reports (once per entry). */
  private track(g: Group): void {
    if (g.subscriptions) return;
    if (this.defects.has('no-trap-subscription')) {
      g.subscriptions = [];
      return;
    }
    g.subscriptions = MCAST_TRAPS.map((trap) =>
      this.env.sa.subscribe(this.subscription(g, trap)).then(
        () => true,
        (err: unknown) => {
          this.env.counters.inc('mcast_subscribe_failures');
          this.env.log(`multicast subscription to trap ${trap} (${TRAP_NAMES[trap]}) failed for ${formatGid(g.mgid)}: ${err instanceof Error ? err.message : String(err)}`);
          return false;
        },
      ),
    );
  }

  /** Gives back the subscriptions the SA took. */
  private untrack(g: Group): void {
    const subscriptions = g.subscriptions;
    g.subscriptions = undefined;
    subscriptions?.forEach((taken, i) => {
      const trap = MCAST_TRAPS[i]!;
      void taken.then((ok) => {
        if (!ok) return;
        this.env.sa.unsubscribe(this.subscription(g, trap)).catch((err: unknown) => {
          this.env.log(`multicast unsubscription from trap ${trap} failed for ${formatGid(g.mgid)}: ${err instanceof Error ? err.message : String(err)}`);
        });
      });
    });
  }

  /** A Report of trap 66 or 67 about a group this interface uses; see the module comment. */
  private onNotice(n: SaNotice): void {
    if (!this.running || !n.gid) return;
    const g = this.groups.get(n.gid.toString('hex'));
    if (!g) return;
    if (n.trap === TRAP_MCAST_GROUP_CREATED) {
      const gaveUp = g.phase === 'idle' && g.kind === 'send-only';
      if (g.phase !== 'waiting' && !gaveUp) return;
      this.env.counters.inc('mcast_reports');
      this.env.log(`${formatGid(g.mgid)} was created: joining it now`);
      g.retry.cancel();
      this.join(g);
    } else if (n.trap === TRAP_MCAST_GROUP_DELETED) {
      if (g.phase !== 'joined') return;
      this.env.counters.inc('mcast_reports');
      this.env.log(`${formatGid(g.mgid)} was deleted: forgetting MLID 0x${(g.record?.mlid ?? 0).toString(16)}`);
      this.detach(g);
      this.env.db.remove(g.mgid, this.env.holder);
      g.record = undefined;
      g.phase = 'idle';
      // A send-only group joins again on its next packet; a group that must receive cannot wait for one.
      if (g.kind !== 'send-only') this.join(g);
    }
  }

  /** Detaches, leaves (when joined or joining), unsubscribes, cancels the retry and drops the queue. */
  private dispose(g: Group): void {
    g.retry.cancel();
    this.detach(g);
    this.untrack(g);
    if (g.phase === 'joined') {
      this.env.db.remove(g.mgid, this.env.holder);
      this.leave(g.mgid, joinStateOf(g.kind, this.defects));
    }
    this.drop(g.queue.length);
    g.queue = [];
    g.phase = 'idle';
  }

  private leave(mgid: Buffer, joinState: number): void {
    this.env.counters.inc('mcast_leaves');
    // A leave that fails (an SM that forgot us after a restart) changes nothing, we are out
    // either way; it is still a failed multicast operation, and logged as one.
    this.env.sa.leave(mgid, joinState, this.env.joinTimeoutMs).catch((err: unknown) => {
      this.env.log(`multicast leave failed for ${formatGid(mgid)}: ${err instanceof Error ? err.message : String(err)}`);
    });
  }

  private destination(g: Group, rec: McMemberRecord): UdDestination {
    return {
      dlid: rec.mlid,
      dqpn: MCAST_QPN,
      qkey: this.env.qkey(),
      sl: rec.sl,
      grh: { dgid: g.mgid, hopLimit: rec.hopLimit, trafficClass: rec.trafficClass, flowLabel: rec.flowLabel },
    };
  }

  private drop(n: number): void {
    if (n <= 0) return;
    this.env.counters.inc('tx_dropped', n);
    this.env.counters.inc('tx_dropped_mcast', n);
  }
}
