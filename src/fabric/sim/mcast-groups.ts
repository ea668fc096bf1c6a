/**
 * The SA's multicast group table: groups keyed by MGID, their MLIDs, their members and each
 * member's JoinState. Pure bookkeeping; who may join is the SA's decision (sa-mcmember.ts).
 *
 * Lifetime rules (IBA ch. 15 as OpenSM implements it, osm_multicast.c):
 * - a group lives while it has a full member; FullMember (0x1) and SendOnlyFullMember (0x8,
 *   OpenSM "Add support for send only full member multicast joins") both count;
 * - when the last full member leaves, a group that was not pre-created is deleted together with
 *   its remaining NonMember / SendOnlyNonMember members (RFC 4391 §11: those do not keep a
 *   group alive);
 * - pre-created groups (partitions.conf `ipoib`) are never deleted. OpenSM also drops their
 *   non-full members when the last full member leaves; we keep them, since nothing in IBA asks
 *   for that and it would make send-only members of broadcast groups vanish unannounced.
 */
import {
  JOIN_STATE_FULL,
  JOIN_STATE_SEND_ONLY_FULL,
  LID_MULTICAST_BASE,
} from '../../wire/constants.js';

export { LID_MULTICAST_MAX } from '../../wire/constants.js';
import { LID_MULTICAST_MAX } from '../../wire/constants.js';

/** JoinState bits that keep a group alive and may create one. */
export const FULL_JOIN_BITS = JOIN_STATE_FULL | JOIN_STATE_SEND_ONLY_FULL;

/** The group's own MCMemberRecord components (everything but PortGID, JoinState, ProxyJoin). */
export interface McGroupParams {
  mgid: Buffer;
  qkey: number;
  pkey: number;
  mtuCode: number;
  rateCode: number;
  sl: number;
  flowLabel: number;
  trafficClass: number;
  hopLimit: number;
  packetLifeTime: number;
  /** MCMemberRecord Scope: the MGID's scope nibble. */
  scope: number;
}

export interface McMember {
  portGuid: bigint;
  portGid: Buffer;
  /** OR of every JoinState bit the port has joined with and not left. */
  joinState: number;
  proxyJoin: boolean;
}

export interface McGroup extends McGroupParams {
  readonly mlid: number;
  readonly preCreated: boolean;
  /** Keyed by port GUID, in join order. */
  readonly members: Map<bigint, McMember>;
}

export interface LeaveResult {
  /** The member's JoinState after the leave (0 when it is no longer a member). */
  joinState: number;
  /** The group went away with this leave. */
  groupDeleted: boolean;
}

function key(mgid: Buffer): string {
  return mgid.toString('hex');
}

export function hasFullMember(g: McGroup): boolean {
  for (const m of g.members.values()) if ((m.joinState & FULL_JOIN_BITS) !== 0) return true;
  return false;
}

/** A group came into being or went away (what the SA reports as traps 66 and 67). */
export interface McGroupEvent {
  type: 'created' | 'deleted';
  group: McGroup;
}

export class McastGroups {
  private readonly byMgid = new Map<string, McGroup>();
  private assignedIds = 0;

  /**
   * `onEvent` hears of every group created and deleted by the lifetime rules. forgetDynamicState
   * raises nothing: a restarted SM does not delete its groups, it never knew them.
   */
  constructor(private readonly onEvent: (e: McGroupEvent) => void = () => undefined) {}

  /** A fresh 32-bit number for the next SA-assigned MGID (wraps; the caller skips MGIDs in use). */
  nextAssignedId(): number {
    const id = this.assignedIds;
    this.assignedIds = (this.assignedIds + 1) >>> 0;
    return id;
  }

  /** Every group, ordered by MGID octets (the order OpenSM's MGID map walks them). */
  all(): McGroup[] {
    return [...this.byMgid.values()].sort((a, b) => Buffer.compare(a.mgid, b.mgid));
  }

  get(mgid: Buffer): McGroup | undefined {
    return this.byMgid.get(key(mgid));
  }

  /**
   * Creates a group on the lowest free MLID from 0xC000 (OpenSM's get_new_mlid scans the same
   * way). Returns undefined when the MLID space is exhausted. Throws if the MGID exists.
   */
  create(params: McGroupParams, preCreated: boolean): McGroup | undefined {
    if (this.byMgid.has(key(params.mgid))) throw new RangeError(`group ${key(params.mgid)} already exists`);
    const used = new Set([...this.byMgid.values()].map((g) => g.mlid));
    let mlid = LID_MULTICAST_BASE;
    while (used.has(mlid)) mlid++;
    if (mlid > LID_MULTICAST_MAX) return undefined;
    const group: McGroup = { ...params, mgid: Buffer.from(params.mgid), mlid, preCreated, members: new Map() };
    this.byMgid.set(key(group.mgid), group);
    this.onEvent({ type: 'created', group });
    return group;
  }

  /** Adds `joinState` bits to the port's membership; returns the resulting JoinState. */
  join(group: McGroup, portGuid: bigint, portGid: Buffer, joinState: number): number {
    const m = group.members.get(portGuid);
    if (m) {
      m.joinState |= joinState;
      return m.joinState;
    }
    group.members.set(portGuid, { portGuid, portGid: Buffer.from(portGid), joinState, proxyJoin: false });
    return joinState;
  }

  /** Clears `joinState` bits of a member (the caller checked it is one) and applies the lifetime rules. */
  leave(group: McGroup, portGuid: bigint, joinState: number): LeaveResult {
    const m = group.members.get(portGuid);
    if (!m) return { joinState: 0, groupDeleted: false };
    m.joinState &= ~joinState;
    if (m.joinState === 0) group.members.delete(portGuid);
    const remaining = m.joinState;
    return { joinState: remaining, groupDeleted: this.deleteIfDead(group) };
  }

  /** Removes a port from every group (the port went down); returns the MGIDs of groups deleted. */
  dropPort(portGuid: bigint): Buffer[] {
    const deleted: Buffer[] = [];
    for (const g of this.all()) {
      if (!g.members.delete(portGuid)) continue;
      if (this.deleteIfDead(g)) deleted.push(g.mgid);
    }
    return deleted;
  }

  /** A restarted SM knows only its pre-created groups, all without members. */
  forgetDynamicState(): void {
    for (const g of [...this.byMgid.values()]) {
      if (g.preCreated) g.members.clear();
      else this.byMgid.delete(key(g.mgid));
    }
  }

  private deleteIfDead(group: McGroup): boolean {
    if (group.preCreated || hasFullMember(group)) return false;
    group.members.clear();
    if (!this.byMgid.delete(key(group.mgid))) return false;
    this.onEvent({ type: 'deleted', group });
    return true;
  }
}
