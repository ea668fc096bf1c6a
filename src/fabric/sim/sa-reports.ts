/**
 * The SA's Reports: when a multicast group is created or deleted, every port subscribed to that
 * trap (for that MGID or for every group) gets a SubnAdmReport(Notice) on the QP its
 * InformInfo named, and the SA sends it again until the port answers with a
 * SubnAdmReportResp of the same TransactionID.
 *
 * - The Notice: generic, Type subnet management, ProducerType class manager, the trap number,
 *   IssuerLID and IssuerGID of the SM's port (zero when the fabric names no SM port), the MGID
 *   6 octets into DataDetails. NoticeToggle and NoticeCount stay 0: they sequence Traps sent
 *   to the SM, and a Report is told apart by its TransactionID.
 * - A subscriber hears only of groups whose P_Key its table admits.
 * - Resends: every `reportResendMs(RespTimeValue)`, REPORT_SENDS times in all; a resend is
 *   skipped (and the report forgotten) once the SM has stopped, the subscriber's port is down,
 *   or the subscription is gone.
 * - A ReportResp counts only from the port the Report went to.
 */
import { encodeToBuffer } from '../../wire/codec.js';
import {
  MAD_METHOD_REPORT,
  MGMT_CLASS_SUBN_ADM,
  NOTICE_TYPE_SUBNET_MANAGEMENT,
  PRODUCER_TYPE_CLASS_MANAGER,
  SA_ATTR_NOTICE,
  SA_CLASS_VERSION,
  TRAP_MCAST_GROUP_CREATED,
  TRAP_MCAST_GROUP_DELETED,
} from '../../wire/constants.js';
import { RMPP_INACTIVE } from '../../wire/mad.js';
import { gidDataDetails, notice } from '../../wire/notice.js';
import { SA_DATA_LEN, saMad } from '../../wire/sa.js';
import { type CmClock, type CmTimerHandle, ibTimeMs, systemClock } from './cm-timing.js';
import type { McGroupEvent } from './mcast-groups.js';
import type { InformSubscription } from './sa-inform.js';
import { type SimPort, tableAdmits } from './subnet.js';
import type { SubnetManager } from './subnet-manager.js';

/** Sends of one Report: the first and up to three resends. */
export const REPORT_SENDS = 4;
/** Bounds of the wait between sends, whatever RespTimeValue says (0 would mean 4 µs, 31 hours). */
export const REPORT_RESEND_MIN_MS = 100;
export const REPORT_RESEND_MAX_MS = 4000;

/** How long the SA waits for a ReportResp: twice the subscriber's response time, within the bounds. */
export function reportResendMs(respTimeValue: number): number {
  return Math.min(REPORT_RESEND_MAX_MS, Math.max(REPORT_RESEND_MIN_MS, Math.ceil(2 * ibTimeMs(respTimeValue))));
}

/** Where Reports leave: QP1 of the SM's port. */
export interface ReportTransport {
  /** Sends one MAD to the port at `lid`, to its QP `qpn`, with the GSI Q_Key. */
  send(to: { lid: number; qpn: number }, mad: Buffer): void;
  /** Timers for the resends; default the system clock. */
  clock?: CmClock;
}

interface PendingReport {
  readonly subscription: InformSubscription;
  readonly mad: Buffer;
  sends: number;
  timer: CmTimerHandle | undefined;
}

export class SaReporter {
  private readonly pending = new Map<bigint, PendingReport>();
  private readonly clock: CmClock;
  private readonly stopListening: () => void;
  private nextTid = 0x5a00_0000_0000_0000n;

  constructor(
    private readonly sm: SubnetManager,
    private readonly transport: ReportTransport,
  ) {
    this.clock = transport.clock ?? systemClock;
    this.stopListening = sm.onGroupEvent((e) => this.onGroupEvent(e));
  }

  /** Reports sent and not yet answered (nor given up). */
  get outstanding(): number {
    return this.pending.size;
  }

  /** A ReportResp with `transactionId` came from `from`; true when it answered a pending Report. */
  acknowledge(transactionId: bigint, from: SimPort): boolean {
    const p = this.pending.get(transactionId);
    if (!p || p.subscription.portGuid !== from.guid) return false;
    this.forget(transactionId);
    return true;
  }

  /** Stops reporting and cancels every resend. */
  close(): void {
    this.stopListening();
    for (const tid of [...this.pending.keys()]) this.forget(tid);
  }

  private onGroupEvent(e: McGroupEvent): void {
    if (!this.sm.isRunning) return;
    const trap = e.type === 'created' ? TRAP_MCAST_GROUP_CREATED : TRAP_MCAST_GROUP_DELETED;
    for (const s of this.sm.informs.matching(trap, e.group.mgid)) {
      const port = this.sm.port(s.portGuid);
      if (!port || port.state !== 'active' || !tableAdmits(port.pkeyTable, e.group.pkey)) continue;
      const tid = this.nextTid++;
      const p: PendingReport = { subscription: s, mad: this.reportMad(tid, trap, e.group.mgid), sends: 0, timer: undefined };
      this.pending.set(tid, p);
      this.sendOne(tid, p);
    }
  }

  private sendOne(tid: bigint, p: PendingReport): void {
    const port = this.sm.port(p.subscription.portGuid);
    if (!this.sm.isRunning || !port || port.state !== 'active' || !this.sm.informs.holds(p.subscription)) {
      this.forget(tid);
      return;
    }
    p.sends++;
    this.transport.send({ lid: port.lid, qpn: p.subscription.qpn }, p.mad);
    if (p.sends >= REPORT_SENDS) {
      // The last send gets the same wait for its answer, then the report is given up.
      p.timer = this.clock.setTimeout(() => this.forget(tid), reportResendMs(p.subscription.respTimeValue));
    } else {
      p.timer = this.clock.setTimeout(() => this.sendOne(tid, p), reportResendMs(p.subscription.respTimeValue));
    }
    p.timer.unref?.();
  }

  private forget(tid: bigint): void {
    const p = this.pending.get(tid);
    if (!p) return;
    if (p.timer) this.clock.clearTimeout(p.timer);
    this.pending.delete(tid);
  }

  private reportMad(transactionId: bigint, trapNumber: number, mgid: Buffer): Buffer {
    const smGuid = this.sm.subnet.fabric.smPortGuid;
    const smPort = smGuid === undefined ? undefined : this.sm.port(smGuid);
    const data = Buffer.alloc(SA_DATA_LEN);
    notice.encode(
      {
        isGeneric: true,
        type: NOTICE_TYPE_SUBNET_MANAGEMENT,
        producerType: PRODUCER_TYPE_CLASS_MANAGER,
        trapNumber,
        issuerLid: smPort?.lid ?? 0,
        noticeToggle: false,
        noticeCount: 0,
        dataDetails: gidDataDetails(mgid),
        issuerGid: smPort ? Buffer.from(smPort.gid) : Buffer.alloc(16),
      },
      data,
      0,
    );
    return encodeToBuffer(saMad, {
      header: {
        baseVersion: 1,
        mgmtClass: MGMT_CLASS_SUBN_ADM,
        classVersion: SA_CLASS_VERSION,
        method: MAD_METHOD_REPORT,
        status: 0,
        classSpecific: 0,
        transactionId,
        attributeId: SA_ATTR_NOTICE,
        reserved: 0,
        attributeModifier: 0,
      },
      rmpp: { ...RMPP_INACTIVE },
      sa: { smKey: 0n, attributeOffset: 0, reserved: 0, componentMask: 0n },
      data,
    });
  }
}
