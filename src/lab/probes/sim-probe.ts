/**
 * The probe on a simulated fabric: a port of its own (a SimHcaPort attached to one node of the
 * running fabric manager), so what it sends crosses the same endpoints, routes and receive
 * checks as the DUT's traffic, and it receives only what a real port would accept.
 *
 * Frames go out exactly as asked (the endpoint builds LRH, GRH, BTH and DETH from the
 * destination given; nothing is resolved or corrected). SA operations are real MADs on QP1 to
 * the SM's LID. Every MAD reaching QP1 is recorded, the probe's own SA answers included.
 */
import { openPortEndpoint } from '../../fabric/sim/endpoint-factory.js';
import type { PortEndpointFactory } from '../../fabric/sim/provider.js';
import { SimHcaPort } from '../../fabric/sim/provider.js';
import { DEFAULT_SM_KEY } from '../../fabric/sim/subnet-manager.js';
import type { RcAcceptFn, RcConnectOptions, RcListener, RcQp, UdCompletion, UdQp } from '../../fabric/hca.js';
import { ArgumentError } from '../../errors.js';
import { PKEY_BASE_MASK, QPN_GSI } from '../../wire/constants.js';
import type { McMemberRecord } from '../../wire/mcmember-record.js';
import type { PathRecord } from '../../wire/path-record.js';
import type { Probe, ProbeDestination, ProbeFrame, ProbeMad, ProbeQp } from '../probe.js';
import { Recorder } from './recorder.js';

export interface SimProbeOptions {
  /** The fabric manager's control socket (run-dir.ts fabricPaths(name).socket). */
  socketPath: string;
  /** The fabric node whose port the probe takes (no other process may own it). */
  node: string;
  /**
   * SM_Key for groupMembers(): the SA shows every member's PortGID and JoinState only to a
   * request carrying its key. Default: the sim SM's (OpenSM's default, 1).
   */
  smKey?: bigint;
  /** How the port's endpoint is opened (default: the native sim endpoint). */
  openEndpoint?: PortEndpointFactory;
}

function hex24(n: number): string {
  return `0x${n.toString(16).padStart(6, '0')}`;
}

class SimProbeQp implements ProbeQp {
  private readonly frames: Recorder<ProbeFrame>;
  private closed = false;

  constructor(
    private readonly qp: UdQp,
    private readonly pkeyAt: (index: number) => number,
    clock: () => number,
    private readonly onClose: () => void,
  ) {
    this.frames = new Recorder(`frame on QP ${hex24(qp.qpn)}`);
    qp.onReceive((batch) => {
      const atMs = clock();
      for (const c of batch) this.frames.add(toFrame(c, atMs));
    });
  }

  get qpn(): number {
    return this.qp.qpn;
  }

  get qkey(): number {
    return this.qp.qkey;
  }

  get pkeyIndex(): number {
    return this.qp.pkeyIndex;
  }

  get pkey(): number {
    return this.pkeyAt(this.qp.pkeyIndex);
  }

  send(to: ProbeDestination, payload: Buffer): void {
    this.qp.send(to, payload);
  }

  received(): readonly ProbeFrame[] {
    return this.frames.all();
  }

  waitFor(match: (f: ProbeFrame) => boolean, timeoutMs: number): Promise<ProbeFrame> {
    return this.frames.waitFor(match, timeoutMs);
  }

  collect(match: (f: ProbeFrame) => boolean, windowMs: number): Promise<ProbeFrame[]> {
    return this.frames.collect(match, windowMs);
  }

  clear(): void {
    this.frames.clear();
  }

  attachMulticast(mgid: Buffer, mlid: number): void {
    this.qp.attachMulticast(mgid, mlid);
  }

  detachMulticast(mgid: Buffer, mlid: number): void {
    this.qp.detachMulticast(mgid, mlid);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.frames.close();
    await this.qp.close();
    this.onClose();
  }
}

/** A completion as the probe records it: copied, because the endpoint may reuse its buffers. */
function toFrame(c: UdCompletion, atMs: number): ProbeFrame {
  const f: ProbeFrame = { atMs, qpn: c.qpn, srcQpn: c.srcQpn, slid: c.slid, sl: c.sl, pkey: c.pkey, qkey: c.qkey, payload: Buffer.from(c.payload) };
  if (c.grh) f.grh = { ...c.grh, sgid: Buffer.from(c.grh.sgid), dgid: Buffer.from(c.grh.dgid) };
  return f;
}

export class SimProbe implements Probe {
  private readonly openedAtMs = performance.now();
  private readonly madLog = new Recorder<ProbeMad>('MAD on QP1');
  private readonly qps = new Set<SimProbeQp>();
  private readonly stopMads: () => void;
  private closed = false;

  private constructor(
    readonly name: string,
    private readonly port: SimHcaPort,
    private readonly smKey: bigint,
  ) {
    this.stopMads = port.gsi.onMad((mad, from) => this.madLog.add({ atMs: this.nowMs(), slid: from.lid, mad: Buffer.from(mad) }));
  }

  /** Attaches to `node` of the fabric behind `socketPath`; the caller registers close(). */
  static async open(o: SimProbeOptions): Promise<SimProbe> {
    const port = await SimHcaPort.open({ socketPath: o.socketPath, node: o.node, openEndpoint: o.openEndpoint ?? openPortEndpoint });
    return new SimProbe(o.node, port, o.smKey ?? DEFAULT_SM_KEY);
  }

  // The port's attributes change with SM events (LID, P_Key table): read them live.
  get lid(): number {
    return this.port.attributes().lid;
  }

  get gid(): Buffer {
    return this.port.attributes().gid;
  }

  get smLid(): number {
    return this.port.attributes().smLid;
  }

  get pkeys(): readonly number[] {
    return this.port.attributes().pkeys;
  }

  /** The underlying port (sim only): its counters, its CM, RC connections. */
  get hcaPort(): SimHcaPort {
    return this.port;
  }

  async openQp(o: { qkey: number; pkeyIndex?: number }): Promise<ProbeQp> {
    const qp = await this.port.createUdQp({ qkey: o.qkey, pkeyIndex: o.pkeyIndex ?? 0 });
    const probeQp: SimProbeQp = new SimProbeQp(qp, (i) => this.pkeys[i] ?? 0, () => this.nowMs(), () => this.qps.delete(probeQp));
    this.qps.add(probeQp);
    return probeQp;
  }

  pkeyIndexOf(pkey: number): number {
    const exact = this.pkeys.indexOf(pkey);
    if (exact >= 0) return exact;
    return this.pkeys.findIndex((k) => (k & PKEY_BASE_MASK) === (pkey & PKEY_BASE_MASK));
  }

  join(o: { mgid: Buffer; joinState: number; record?: Partial<McMemberRecord>; timeoutMs?: number }): Promise<McMemberRecord> {
    return this.port.sa.join(o);
  }

  leave(mgid: Buffer, joinState: number): Promise<void> {
    return this.port.sa.leave(mgid, joinState);
  }

  pathTo(dgid: Buffer, pkey: number): Promise<PathRecord> {
    return this.port.sa.pathTo(dgid, pkey);
  }

  groupMembers(mgid: Buffer): Promise<McMemberRecord[]> {
    return this.port.sa.mcMemberTable({ mgid }, { smKey: this.smKey });
  }

  sendMad(dlid: number, mad: Buffer, o: { pkeyIndex?: number } = {}): void {
    // The length is not checked: a robustness probe may send a short or long one on purpose.
    if (!Buffer.isBuffer(mad)) throw new ArgumentError('SimProbe.sendMad', 'mad', mad, 'a Buffer');
    this.port.gsi.sendMad({ lid: dlid, qpn: QPN_GSI, pkeyIndex: o.pkeyIndex ?? 0 }, mad);
  }

  mads(): readonly ProbeMad[] {
    return this.madLog.all();
  }

  waitForMad(match: (m: ProbeMad) => boolean, timeoutMs: number): Promise<ProbeMad> {
    return this.madLog.waitFor(match, timeoutMs);
  }

  clearMads(): void {
    this.madLog.clear();
  }

  listenRc(serviceId: bigint, accept: RcAcceptFn): RcListener {
    return this.port.listenRc(serviceId, accept);
  }

  connectRc(o: RcConnectOptions): Promise<RcQp> {
    return this.port.connectRc(o);
  }

  /** Closes every QP still open, then the port (which disconnects its RC connections; its node goes down on the fabric). Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stopMads();
    this.madLog.close();
    for (const qp of [...this.qps]) await qp.close();
    await this.port.close();
  }

  private nowMs(): number {
    return performance.now() - this.openedAtMs;
  }
}
