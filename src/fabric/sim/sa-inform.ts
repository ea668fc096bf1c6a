/**
 * The SA's event subscriptions: SubnAdmSet(InformInfo) with Subscribe 1 or 0, and the table
 * of who wants reports of which trap. The reports themselves are sa-reports.ts.
 *
 * What this SA serves, and why:
 * - Traps 66 (multicast group created) and 67 (deleted) only: they are the only events this SA
 *   produces. Any other trap number, the "every trap" wildcard 0xFFFF included, and vendor
 *   (IsGeneric 0) subscriptions are answered with ERR_REQ_INVALID, so a client learns at once
 *   that it will never hear of them.
 * - Type must be subnet management (3, what traps 64-67 are) or 0xFFFF; ProducerType must be
 *   class manager (4, the SA) or 0xFFFFFF; else ERR_REQ_INVALID. Subscribe values other than 0
 *   and 1 are undefined: ERR_REQ_INVALID. QPN 0 (the SMI) cannot take a Report: ERR_REQ_INVALID.
 * - GID: an MGID subscribes to that group's events; all zero to every group's. A GID that is
 *   not a multicast GID can name no group: ERR_REQ_INVALID_GID. The LID range selects ports,
 *   and a group has none, so it is kept but not used.
 * - A subscription belongs to the requesting port and is keyed by trap, GID and QPN. Setting it
 *   again replaces it (a new RespTimeValue takes effect). Unsubscribing one that does not exist
 *   is ERR_REQ_INVALID (as OpenSM answers).
 * - Success is a GetResp carrying a copy of the request's InformInfo; a failure carries it back
 *   with Subscribe 0 (IBA o13-13.1.1), so the requester cannot mistake it for a subscription.
 * - The subscriber's P_Key table is checked when a report is due, not here: it must admit the
 *   group's P_Key for the subscriber to hear of the group (a port learns nothing of partitions
 *   it is not in). The MGID of a group that does not exist yet carries no P_Key to check.
 * - Subscriptions die with the port (port down) and with the SM (a restarted SM knows none and
 *   asks every port to re-register): subnet-manager.ts clears them.
 */
import { encodeToBuffer } from '../../wire/codec.js';
import {
  INFORM_ALL_16,
  INFORM_ALL_PRODUCERS,
  NOTICE_TYPE_SUBNET_MANAGEMENT,
  PRODUCER_TYPE_CLASS_MANAGER,
  TRAP_MCAST_GROUP_CREATED,
  TRAP_MCAST_GROUP_DELETED,
} from '../../wire/constants.js';
import { type InformInfo, informInfo } from '../../wire/inform-info.js';
import { SA_ERR_REQ_INVALID, SA_ERR_REQ_INVALID_GID } from '../../wire/mad.js';
import type { SaOutcome } from './sa-outcome.js';
import type { SimPort } from './subnet.js';

/** The traps this SA reports. */
export const REPORTED_TRAPS: ReadonlySet<number> = new Set([TRAP_MCAST_GROUP_CREATED, TRAP_MCAST_GROUP_DELETED]);

/** One port's wish to hear of one trap. */
export interface InformSubscription {
  readonly portGuid: bigint;
  readonly trapNumber: number;
  /** An MGID, or all zero for every group. */
  readonly gid: Buffer;
  /** The subscriber's QP that takes the Reports. */
  readonly qpn: number;
  /** The subscriber answers a Report within 4.096 µs × 2^respTimeValue. */
  readonly respTimeValue: number;
}

function subscriptionKey(trapNumber: number, gid: Buffer, qpn: number): string {
  return `${trapNumber}:${gid.toString('hex')}:${qpn}`;
}

function isZero(b: Buffer): boolean {
  return b.every((x) => x === 0);
}

/** Every subscription, by port. */
export class InformSubscriptions {
  private readonly byPort = new Map<bigint, Map<string, InformSubscription>>();

  /** Adds or replaces the port's subscription with the same trap, GID and QPN. */
  add(s: InformSubscription): void {
    let mine = this.byPort.get(s.portGuid);
    if (!mine) {
      mine = new Map();
      this.byPort.set(s.portGuid, mine);
    }
    mine.set(subscriptionKey(s.trapNumber, s.gid, s.qpn), { ...s, gid: Buffer.from(s.gid) });
  }

  /** Removes one subscription; false when the port had none such. */
  remove(portGuid: bigint, trapNumber: number, gid: Buffer, qpn: number): boolean {
    const mine = this.byPort.get(portGuid);
    if (!mine?.delete(subscriptionKey(trapNumber, gid, qpn))) return false;
    if (mine.size === 0) this.byPort.delete(portGuid);
    return true;
  }

  /** True while this very subscription (not a later replacement) is in the table. */
  holds(s: InformSubscription): boolean {
    return this.byPort.get(s.portGuid)?.get(subscriptionKey(s.trapNumber, s.gid, s.qpn)) === s;
  }

  /** The port went down: its subscriptions go. */
  dropPort(portGuid: bigint): void {
    this.byPort.delete(portGuid);
  }

  /** A fresh SM knows no subscriptions. */
  clear(): void {
    this.byPort.clear();
  }

  forPort(portGuid: bigint): InformSubscription[] {
    return [...(this.byPort.get(portGuid)?.values() ?? [])];
  }

  all(): InformSubscription[] {
    return [...this.byPort.values()].flatMap((m) => [...m.values()]);
  }

  /** The subscriptions that want to hear of `trapNumber` about the group `mgid`, in port order. */
  matching(trapNumber: number, mgid: Buffer): InformSubscription[] {
    return this.all().filter((s) => s.trapNumber === trapNumber && (isZero(s.gid) || s.gid.equals(mgid)));
  }
}

/** What the request's InformInfo is wrong about, as an SA error code; undefined when nothing. */
function refusal(r: InformInfo): number | undefined {
  if (r.subscribe > 1 || r.isGeneric !== 1 || !REPORTED_TRAPS.has(r.trapNumber)) return SA_ERR_REQ_INVALID;
  if (r.type !== NOTICE_TYPE_SUBNET_MANAGEMENT && r.type !== INFORM_ALL_16) return SA_ERR_REQ_INVALID;
  if (r.producerType !== PRODUCER_TYPE_CLASS_MANAGER && r.producerType !== INFORM_ALL_PRODUCERS) return SA_ERR_REQ_INVALID;
  if (r.qpn === 0) return SA_ERR_REQ_INVALID;
  if (!isZero(r.gid) && r.gid[0] !== 0xff) return SA_ERR_REQ_INVALID_GID;
  return undefined;
}

/** SubnAdmSet(InformInfo) from `requester`: subscribes or unsubscribes; see the module comment. */
export function setInformInfo(o: { subscriptions: InformSubscriptions; requester: SimPort; record: InformInfo }): SaOutcome {
  const { record: r, requester } = o;
  const fail = (saError: number): SaOutcome => ({ saError, record: encodeToBuffer(informInfo, { ...r, subscribe: 0 }) });
  const refused = refusal(r);
  if (refused !== undefined) return fail(refused);
  if (r.subscribe === 1) {
    o.subscriptions.add({ portGuid: requester.guid, trapNumber: r.trapNumber, gid: r.gid, qpn: r.qpn, respTimeValue: r.respTimeValue });
  } else if (!o.subscriptions.remove(requester.guid, r.trapNumber, r.gid, r.qpn)) {
    return fail(SA_ERR_REQ_INVALID);
  }
  return { records: [encodeToBuffer(informInfo, r)] };
}
