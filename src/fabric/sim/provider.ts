/**
 * The `sim` provider of the HCA abstraction: one port of a simulated fabric. It attaches to the
 * fabric manager (which assigns LID, GID and P_Key table and publishes routes), owns the port's
 * native endpoint, serves QP1 (SA client, and the CM), makes RC connections (rc-service.ts:
 * the CM over QP1, RC QPs inside the endpoint), and turns manager pushes into port events.
 * Everything above src/fabric/ sees only HcaPort.
 */
import { GSI_QKEY, QPN_GSI } from '../../wire/constants.js';
import { parseGid } from '../../wire/mgid.js';
import { FabricRunError } from '../../errors.js';
import type {
  FabricCapabilities,
  HcaPort,
  PortAttributes,
  PortEvent,
  RcAcceptFn,
  RcConnectOptions,
  RcListener,
  RcQp,
  UdCompletion,
  UdDestination,
  UdQp,
} from '../hca.js';
import type { GsiAddress, GsiPort } from '../gsi.js';
import { GsiSaClient } from '../sa-client.js';
import { CmService } from './cm-service.js';
import { FabricClient } from './fabric-client.js';
import type { ManagerEvent, PortInfoMessage, RoutesMessage } from './control-protocol.js';
import type { RcPortEvent, RcQpSnapshot } from './native-rc.js';
import type { PortRc } from './rc-qp.js';
import { SimRcService } from './rc-service.js';
import { RtuGate } from './rtu-gate.js';

/** One completion as the endpoint delivers it. */
export interface EndpointCompletion {
  qpn: number;
  srcQp: number;
  slid: number;
  sl: number;
  pkey: number;
  pkeyIndex?: number;
  qkey: number;
  grh?: { sgid: Buffer; dgid: Buffer; hopLimit: number; tclass: number; flowLabel: number };
  payload: Buffer;
}

export interface EndpointSend {
  dlid: number;
  dqpn: number;
  qkey: number;
  payload: Buffer;
  sl?: number;
  pkeyIndex?: number;
  grh?: { dgid: Buffer; hopLimit?: number; tclass?: number; flowLabel?: number };
}

/** What the provider needs of a port endpoint (implemented by the native SimEndpoint). */
export interface PortEndpoint {
  readonly udpPort: number;
  setLid(lid: number): void;
  setPkeyTable(pkeys: number[]): void;
  setState(state: 'active' | 'down'): void;
  setRoutes(unicast: RoutesMessage['unicast'], multicast: RoutesMessage['multicast']): void;
  createUdQp(o: { qkey: number; pkeyIndex: number; qpn?: number }): number;
  modifyUdQp(qpn: number, o: { qkey?: number; pkeyIndex?: number }): void;
  destroyQp(qpn: number): void;
  attachMulticast(qpn: number, mgid: Buffer, mlid: number): void;
  detachMulticast(qpn: number, mgid: Buffer, mlid: number): void;
  postSendUd(qpn: number, sends: EndpointSend | EndpointSend[]): void;
  onReceive(cb: (batch: EndpointCompletion[]) => void): void;
  counters(): unknown;
  setFaults(f: { lossRate?: number; delayMs?: number; seed?: number }): void;
  setTap(udpPort: number | null): void;
  /** The RC side of the port (once): RC QPs in the endpoint, their events to `onEvents`. */
  openRc(onEvents: (events: RcPortEvent[]) => void): PortRc;
  close(): Promise<void>;
}

export type PortEndpointFactory = (o: { lid: number; gid: Buffer; mtuCode: number; pkeys: number[]; state: 'active' | 'down' }) => PortEndpoint | Promise<PortEndpoint>;

export interface SimPortOptions {
  /** The fabric manager's control socket (run-dir.ts fabricPaths(name).socket). */
  socketPath: string;
  /** Which node's port to take, e.g. `node1`. */
  node: string;
  openEndpoint: PortEndpointFactory;
  /**
   * PacketLifeTime exponent the port's CM assumes (4.096 µs × 2^n; default 0x12, what the sim's
   * SA puts in PathRecords, as OpenSM does). Every CM wait adds two of them; tests shorten it.
   */
  cmPacketLifeTime?: number;
}

const CAPABILITIES: FabricCapabilities = { subnetAdministrator: true, partitions: true, connectedMode: true, wireCapture: true };

function toAttributes(p: PortInfoMessage): PortAttributes {
  const gid = parseGid(p.gid);
  return {
    guid: BigInt(p.guid),
    gid,
    lid: p.lid,
    smLid: p.smLid,
    state: p.state,
    activeMtuCode: p.mtuCode,
    linkLayer: 'infiniband',
    pkeys: [...p.pkeys],
  };
}

export class SimHcaPort implements HcaPort {
  readonly provider = 'sim' as const;
  readonly capabilities = CAPABILITIES;
  readonly sa: GsiSaClient;
  readonly gsi: GsiPort;
  /** The port's CM (REQ/REP/RTU/REJ/DREQ/DREP on QP1): it answers every REQ, listened for or not. */
  readonly cm: CmService;
  private readonly rc: SimRcService;
  private readonly rcPort: PortRc;
  private attrs: PortAttributes;
  private readonly eventListeners = new Set<(e: PortEvent) => void>();
  private readonly gsiListeners = new Set<(mad: Buffer, from: GsiAddress) => void>();
  private readonly qps = new Map<number, SimUdQp>();
  private closed = false;

  private constructor(
    private readonly client: FabricClient,
    private readonly ep: PortEndpoint,
    info: PortInfoMessage,
    cmPacketLifeTime: number | undefined,
  ) {
    this.attrs = toAttributes(info);
    const self = this;
    this.gsi = {
      get lid() {
        return self.attrs.lid;
      },
      get gid() {
        return self.attrs.gid;
      },
      caGuid: this.attrs.guid - 1n,
      sendMad: (to, mad) => this.ep.postSendUd(QPN_GSI, { dlid: to.lid, dqpn: QPN_GSI, qkey: GSI_QKEY, payload: mad, pkeyIndex: to.pkeyIndex ?? 0 }),
      onMad: (cb) => {
        this.gsiListeners.add(cb);
        return () => this.gsiListeners.delete(cb);
      },
    };
    this.sa = new GsiSaClient(this.gsi, { smLid: () => this.attrs.smLid });
    const gate = new RtuGate(this.gsi);
    this.cm = new CmService(gate.port, cmPacketLifeTime === undefined ? {} : { packetLifeTime: cmPacketLifeTime });
    let rc: SimRcService | undefined;
    this.rcPort = ep.openRc((events) => rc?.dispatch(events));
    rc = new SimRcService({ cm: this.cm, gate, rc: this.rcPort, sa: this.sa, attributes: () => this.attrs });
    this.rc = rc;
    ep.onReceive((batch) => this.dispatch(batch));
    client.onEvent((e) => this.onManagerEvent(e));
    client.onClose(() => {
      if (!this.closed) this.emit({ type: 'port-down' });
    });
  }

  /** Attaches to `node` on the fabric behind `socketPath` and brings its port up. */
  static async open(o: SimPortOptions): Promise<SimHcaPort> {
    let ep: PortEndpoint | undefined;
    const client = await FabricClient.connect(o.socketPath, {
      counters: () => ep?.counters() ?? null,
      onRoutes: (r) => ep?.setRoutes(r.unicast, r.multicast),
    });
    try {
      const info = await client.request<PortInfoMessage>({ op: 'attach', node: o.node });
      ep = await o.openEndpoint({ lid: info.lid, gid: parseGid(info.gid), mtuCode: info.mtuCode, pkeys: info.pkeys, state: 'active' });
      ep.createUdQp({ qpn: QPN_GSI, qkey: GSI_QKEY, pkeyIndex: 0 });
      const port = new SimHcaPort(client, ep, info, o.cmPacketLifeTime);
      const bound = await client.request<{ routes: RoutesMessage; port: PortInfoMessage }>({ op: 'bind', udpPort: ep.udpPort });
      ep.setRoutes(bound.routes.unicast, bound.routes.multicast);
      port.attrs = toAttributes(bound.port);
      return port;
    } catch (e) {
      client.close();
      await ep?.close();
      throw e instanceof FabricRunError ? e : new FabricRunError(`cannot open ${o.node}: ${(e as Error).message}`);
    }
  }

  attributes(): PortAttributes {
    return { ...this.attrs, pkeys: [...this.attrs.pkeys] };
  }

  onEvent(cb: (e: PortEvent) => void): () => void {
    this.eventListeners.add(cb);
    return () => this.eventListeners.delete(cb);
  }

  counters(): unknown {
    return this.ep.counters();
  }

  async createUdQp(o: { qkey: number; pkeyIndex: number }): Promise<UdQp> {
    if (o.pkeyIndex >= this.attrs.pkeys.length) {
      throw new FabricRunError(`P_Key index ${o.pkeyIndex} is outside the port's table of ${this.attrs.pkeys.length}`);
    }
    const qpn = this.ep.createUdQp(o);
    const qp = new SimUdQp(this.ep, qpn, o.qkey, o.pkeyIndex, () => this.qps.delete(qpn));
    this.qps.set(qpn, qp);
    return qp;
  }

  listenRc(serviceId: bigint, accept: RcAcceptFn): RcListener {
    return this.rc.listen(serviceId, accept);
  }

  connectRc(o: RcConnectOptions): Promise<RcQp> {
    return this.rc.connect(o);
  }

  /**
   * SIM ONLY: the port's endpoint, for a native data plane that binds one of this port's UD
   * QPs (src/ipoib/node.ts hands it to TunDataPlane). Nothing else should reach past the
   * HcaPort API; the caller checks that it is the native SimEndpoint.
   */
  endpointForDataPlane(): PortEndpoint {
    return this.ep;
  }

  /** The port's RC QPs as the endpoint sees them (sim only: tests and diagnostics). */
  rcQpns(): number[] {
    return this.rcPort.qpns();
  }

  /** One RC QP's state, path and engine counters (sim only). */
  rcQpInfo(qpn: number): RcQpSnapshot {
    return this.rcPort.qpInfo(qpn);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.rc.close(); // a DREQ to every connected peer, then the QPs go
    this.cm.close();
    this.sa.close();
    for (const qp of [...this.qps.values()]) await qp.close();
    this.client.close();
    await this.ep.close();
  }

  private emit(e: PortEvent): void {
    for (const l of this.eventListeners) l(e);
  }

  private dispatch(batch: EndpointCompletion[]): void {
    const perQp = new Map<number, UdCompletion[]>();
    for (const c of batch) {
      if (c.qpn === QPN_GSI) {
        const from: GsiAddress = { lid: c.slid, qpn: QPN_GSI, pkeyIndex: c.pkeyIndex ?? 0, ...(c.grh ? { gid: c.grh.sgid } : {}) };
        for (const l of this.gsiListeners) l(c.payload, from);
        continue;
      }
      let list = perQp.get(c.qpn);
      if (!list) perQp.set(c.qpn, (list = []));
      list.push({
        qpn: c.qpn,
        srcQpn: c.srcQp,
        slid: c.slid,
        sl: c.sl,
        pkey: c.pkey,
        qkey: c.qkey,
        payload: c.payload,
        ...(c.grh ? { grh: { sgid: c.grh.sgid, dgid: c.grh.dgid, hopLimit: c.grh.hopLimit, trafficClass: c.grh.tclass, flowLabel: c.grh.flowLabel } } : {}),
      });
    }
    for (const [qpn, list] of perQp) this.qps.get(qpn)?.deliver(list);
  }

  private onManagerEvent(e: ManagerEvent): void {
    switch (e.event) {
      case 'port': {
        const before = this.attrs;
        this.attrs = toAttributes(e.port);
        if (before.lid !== this.attrs.lid) this.ep.setLid(this.attrs.lid);
        this.ep.setPkeyTable([...this.attrs.pkeys]);
        this.ep.setState(this.attrs.state === 'active' ? 'active' : 'down');
        if (e.reason === 'pkey-change') this.emit({ type: 'pkey-change', pkeys: this.attrs.pkeys });
        else if (e.reason === 'client-reregister') this.emit({ type: 'client-reregister' });
        else if (e.reason === 'port-active') this.emit({ type: 'port-active' });
        else if (e.reason === 'port-down') this.emit({ type: 'port-down' });
        else this.emit({ type: 'lid-change', lid: this.attrs.lid });
        return;
      }
      case 'faults':
        this.ep.setFaults({ ...(e.lossRate !== undefined ? { lossRate: e.lossRate } : {}), ...(e.delayMs !== undefined ? { delayMs: e.delayMs } : {}), ...(e.seed !== undefined ? { seed: e.seed } : {}) });
        return;
      case 'tap':
        this.ep.setTap(e.udpPort);
        return;
      case 'shutdown':
        this.ep.setState('down');
        this.emit({ type: 'port-down' });
        return;
    }
  }
}

class SimUdQp implements UdQp {
  private readonly listeners = new Set<(batch: readonly UdCompletion[]) => void>();
  private closed = false;

  constructor(
    private readonly ep: PortEndpoint,
    readonly qpn: number,
    private currentQkey: number,
    readonly pkeyIndex: number,
    private readonly onClose: () => void,
  ) {}

  get qkey(): number {
    return this.currentQkey;
  }

  setQkey(qkey: number): void {
    this.ep.modifyUdQp(this.qpn, { qkey });
    this.currentQkey = qkey;
  }

  send(to: UdDestination, payload: Buffer): void {
    this.ep.postSendUd(this.qpn, {
      dlid: to.dlid,
      dqpn: to.dqpn,
      qkey: to.qkey,
      payload,
      pkeyIndex: this.pkeyIndex,
      ...(to.sl !== undefined ? { sl: to.sl } : {}),
      ...(to.grh
        ? { grh: { dgid: to.grh.dgid, ...(to.grh.hopLimit !== undefined ? { hopLimit: to.grh.hopLimit } : {}), ...(to.grh.trafficClass !== undefined ? { tclass: to.grh.trafficClass } : {}), ...(to.grh.flowLabel !== undefined ? { flowLabel: to.grh.flowLabel } : {}) } }
        : {}),
    });
  }

  onReceive(cb: (batch: readonly UdCompletion[]) => void): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  deliver(batch: UdCompletion[]): void {
    for (const l of this.listeners) l(batch);
  }

  attachMulticast(mgid: Buffer, mlid: number): void {
    this.ep.attachMulticast(this.qpn, mgid, mlid);
  }

  detachMulticast(mgid: Buffer, mlid: number): void {
    this.ep.detachMulticast(this.qpn, mgid, mlid);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.ep.destroyQp(this.qpn);
    this.onClose();
  }
}
