/**
 * The simulated fabric's manager process: the subnet manager and its SA (answering real MADs
 * on QP1 of the SM's own port), the routing tables every port endpoint needs (unicast LID →
 * UDP port, multicast LID → member ports), and the control socket through which port owners
 * attach and operators inspect the fabric and inject faults.
 *
 * Ports exchange packets directly (endpoint to endpoint on 127.0.0.1); the manager only
 * tells them where everyone is, like the forwarding tables an SM programs into switches.
 */
import net from 'node:net';
import { chmodSync, rmSync } from 'node:fs';
import { GSI_QKEY, LID_MULTICAST_BASE, QPN_GSI } from '../../wire/constants.js';
import { formatGid } from '../../wire/mgid.js';
import { JOIN_STATE_FULL, JOIN_STATE_NON } from '../../wire/constants.js';
import { FabricRunError } from '../../errors.js';
import { type FabricDescription, makeFabricDescription, defaultFabric, type FabricNodeInput } from './fabric-description.js';
import type { PartitionsConf } from './partitions-conf.js';
import { SubnetManager } from './subnet-manager.js';
import { SaEngine } from './sa-engine.js';
import type { SimPort } from './subnet.js';
import {
  type ControlRequest,
  type ManagerEvent,
  type PortInfoMessage,
  type RoutesMessage,
  LineSplitter,
  describeZodError,
  encodeLine,
  parseLine,
  requestSchema,
  responseSchema,
} from './control-protocol.js';
import type { FabricRunPaths } from './run-dir.js';
import { writePid } from './run-dir.js';

/** What the manager needs of a port endpoint (implemented by SimEndpoint). */
export interface ManagerEndpoint {
  readonly udpPort: number;
  setRoutes(unicast: RoutesMessage['unicast'], multicast: RoutesMessage['multicast']): void;
  createUdQp(o: { qkey: number; pkeyIndex: number; qpn?: number }): number;
  postSendUd(qpn: number, sends: { dlid: number; dqpn: number; qkey: number; payload: Buffer }): void;
  onReceive(cb: (batch: ReadonlyArray<{ qpn: number; slid: number; srcQp: number; payload: Buffer }>) => void): void;
  setTap(udpPort: number | null): void;
  close(): Promise<void>;
}

export type EndpointFactory = (o: { lid: number; gid: Buffer; mtuCode: number; pkeys: number[] }) => ManagerEndpoint | Promise<ManagerEndpoint>;

/** A tap: receives mirrored packets on a UDP port and writes them to a capture file. */
export interface ManagerTap {
  readonly udpPort: number;
  close(): Promise<void>;
}
export type TapFactory = (file: string) => Promise<ManagerTap>;

export interface FabricManagerOptions {
  paths: FabricRunPaths;
  nodes: number;
  /** Names for the nodes instead of node1..nodeN (each `[a-z][a-z0-9-]*`, unique, not `sm`). */
  nodeNames?: readonly string[];
  /** Port GUIDs by node name instead of the by-order ones (a sim lab file's `guid`s). */
  portGuids?: ReadonlyMap<string, bigint>;
  partitions: PartitionsConf;
  openEndpoint: EndpointFactory;
  openTap?: TapFactory;
  log?: (line: string) => void;
  /** How long to wait for a port owner's answer (counters). */
  ownerTimeoutMs?: number;
}

/** The SM's own port: GUID outside the default fabric's node range. */
export const SM_NODE_NAME = 'sm';
export const SM_PORT_GUID = 0x0002c9030000ff01n;

interface Owner {
  socket: net.Socket;
  node?: string;
  udpPort?: number;
  pending: Map<number, (r: { ok: boolean; result?: unknown; error?: string }) => void>;
}

/**
 * The fabric: every node of `defaultFabric(n)` plus the SM's port, listed first so it gets LID 1.
 * `names` renames the nodes in order (a lab's `dut`, `peer`, `probe`); GUIDs stay those of
 * node1..nodeN, so a partitions file can name ports by GUID either way, except the port GUIDs
 * `portGuids` sets by node name (a sim lab file's `guid`).
 */
export function managedFabric(nodes: number, names?: readonly string[], portGuids?: ReadonlyMap<string, bigint>): FabricDescription {
  const base = defaultFabric(nodes);
  if (names !== undefined && names.length !== nodes) throw new FabricRunError(`${names.length} node names for ${nodes} nodes`);
  const named = base.nodes.map((n, i) => names?.[i] ?? n.name);
  const unknown = [...(portGuids?.keys() ?? [])].filter((n) => !named.includes(n));
  if (unknown.length > 0) throw new FabricRunError(`port GUIDs for nodes the fabric does not have: ${unknown.join(', ')}`);
  const sm: FabricNodeInput = { name: SM_NODE_NAME, type: 'ca', nodeGuid: SM_PORT_GUID - 1n, ports: [{ guid: SM_PORT_GUID }] };
  return makeFabricDescription({
    // A set port GUID replaces the by-order one; the node keeps its node GUID (they differ on real HCAs too).
    nodes: [sm, ...base.nodes.map((n, i) => ({ ...n, name: named[i]!, ports: n.ports.map((p) => ({ ...p, guid: portGuids?.get(named[i]!) ?? p.guid })) }))],
    smPortGuid: SM_PORT_GUID,
  });
}

export class FabricManager {
  private readonly owners = new Set<Owner>();
  private readonly faults = new Map<string, { lossRate?: number; delayMs?: number; seed?: number }>();
  private lastRoutes = '';
  private publishing: Promise<void> = Promise.resolve();
  private tap: ManagerTap | null = null;
  private tapNodes: string[] | null = null;
  private nextOwnerRequestId = 1;
  private closing: Promise<void> | null = null;
  private readonly log: (line: string) => void;
  private resolveDone: () => void = () => undefined;
  /** Resolves once the manager has shut down (a `shutdown` request or close()). */
  readonly done: Promise<void> = new Promise((resolve) => (this.resolveDone = resolve));

  private constructor(
    private readonly o: FabricManagerOptions,
    readonly sm: SubnetManager,
    readonly sa: SaEngine,
    private readonly smEndpoint: ManagerEndpoint,
    private readonly server: net.Server,
  ) {
    this.log = o.log ?? (() => undefined);
  }

  static async start(o: FabricManagerOptions): Promise<FabricManager> {
    const fabric = managedFabric(o.nodes, o.nodeNames, o.portGuids);
    const nodePorts = fabric.nodes.filter((n) => n.name !== SM_NODE_NAME).flatMap((n) => n.ports.map((p) => p.guid));
    // Node ports are down until an owner attaches its endpoint; the SM's port is always up.
    const sm = new SubnetManager(fabric, o.partitions, { downPorts: nodePorts });
    let sendReport: (to: { lid: number; qpn: number }, mad: Buffer) => void = () => undefined;
    const sa = new SaEngine(sm, { reports: { send: (to, mad) => sendReport(to, mad) } });
    const smPort = sm.port(SM_PORT_GUID)!;
    const smEndpoint = await o.openEndpoint({ lid: smPort.lid, gid: smPort.gid, mtuCode: smPort.linkMtuCode, pkeys: [...smPort.pkeyTable] });
    smEndpoint.createUdQp({ qpn: QPN_GSI, qkey: GSI_QKEY, pkeyIndex: 0 });

    rmSync(o.paths.socket, { force: true });
    const server = net.createServer();
    const mgr = new FabricManager(o, sm, sa, smEndpoint, server);
    sendReport = (to, mad) => mgr.sendFromSa(to, mad);
    smEndpoint.onReceive((batch) => mgr.onSmPackets(batch));
    server.on('connection', (s) => mgr.accept(s));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(o.paths.socket, () => {
        server.off('error', reject);
        resolve();
      });
    });
    chmodSync(o.paths.socket, 0o600);
    writePid(o.paths);
    for (const type of ['pkey-change', 'client-reregister', 'port-active', 'port-down'] as const) {
      sm.on(type, (e) => mgr.pushPortEvent(e.portGuid, type));
    }
    await mgr.publishRoutes();
    mgr.log(`fabric ${o.paths.name}: ${o.nodes} nodes, SM at LID ${smPort.lid}, control socket ${o.paths.socket}`);
    return mgr;
  }

  // ---- SA on QP1 of the SM port ----------------------------------------------------------------

  private onSmPackets(batch: ReadonlyArray<{ qpn: number; slid: number; srcQp: number; payload: Buffer }>): void {
    const replies: Array<{ dlid: number; dqpn: number; payload: Buffer }> = [];
    for (const c of batch) {
      if (c.qpn !== QPN_GSI) continue;
      for (const resp of this.sa.handle(c.payload, { lid: c.slid })) replies.push({ dlid: c.slid, dqpn: c.srcQp, payload: resp });
    }
    if (replies.length === 0) return;
    // Joins and leaves change who receives which multicast LID: every port has the new tables
    // before the requester hears its answer, as switches are programmed before a join returns.
    void this.publishRoutes().then(() => {
      for (const r of replies) this.smEndpoint.postSendUd(QPN_GSI, { ...r, qkey: GSI_QKEY });
    });
  }

  /** A MAD the SA sends unasked (a Report), once the routes of the change it reports are in place. */
  private sendFromSa(to: { lid: number; qpn: number }, mad: Buffer): void {
    void this.publishRoutes()
      .then(() => this.smEndpoint.postSendUd(QPN_GSI, { dlid: to.lid, dqpn: to.qpn, qkey: GSI_QKEY, payload: mad }))
      .catch((e: unknown) => this.log(`SA report to LID ${to.lid} not sent: ${(e as Error).message}`));
  }

  // ---- routing ------------------------------------------------------------------------------------

  private ownerOf(node: string): Owner | undefined {
    for (const o of this.owners) if (o.node === node) return o;
    return undefined;
  }

  private udpPortOf(port: SimPort): number | undefined {
    if (port.guid === SM_PORT_GUID) return this.smEndpoint.udpPort;
    return this.ownerOf(port.nodeName)?.udpPort;
  }

  routes(): RoutesMessage {
    const unicast: RoutesMessage['unicast'] = [];
    for (const p of this.sm.subnet.ports()) {
      const udpPort = this.udpPortOf(p);
      if (udpPort !== undefined && p.state === 'active') unicast.push({ lid: p.lid, udpPort });
    }
    const multicast: RoutesMessage['multicast'] = [];
    for (const g of this.sm.groups()) {
      if (g.mlid < LID_MULTICAST_BASE) continue;
      const udpPorts: number[] = [];
      for (const m of this.sm.members(g.mgid)) {
        // Send-only members get no copies of the group's traffic.
        if ((m.joinState & (JOIN_STATE_FULL | JOIN_STATE_NON)) === 0) continue;
        const p = this.sm.port(m.portGuid);
        const udpPort = p && p.state === 'active' ? this.udpPortOf(p) : undefined;
        if (udpPort !== undefined) udpPorts.push(udpPort);
      }
      multicast.push({ mlid: g.mlid, udpPorts: udpPorts.sort((a, b) => a - b) });
    }
    return { unicast, multicast };
  }

  /**
   * Installs the routing tables in every endpoint when they changed, and resolves once every
   * owner has acknowledged them. Calls are serialised, so awaiting the latest one means every
   * earlier change is in place too.
   */
  private publishRoutes(): Promise<void> {
    this.publishing = this.publishing.then(async () => {
      const routes = this.routes();
      const text = JSON.stringify(routes);
      if (text === this.lastRoutes) return;
      this.lastRoutes = text;
      this.smEndpoint.setRoutes(routes.unicast, routes.multicast);
      const owners = [...this.owners].filter((o) => o.udpPort !== undefined);
      await Promise.all(owners.map((o) => this.askOwner(o, { op: 'routes', routes })));
    });
    return this.publishing;
  }

  private portInfo(p: SimPort): PortInfoMessage {
    return {
      node: p.nodeName,
      guid: `0x${p.guid.toString(16).padStart(16, '0')}`,
      gid: formatGid(p.gid),
      lid: p.lid,
      smLid: this.sm.port(SM_PORT_GUID)!.lid,
      mtuCode: p.linkMtuCode,
      pkeys: [...p.pkeyTable],
      state: p.state,
    };
  }

  private pushPortEvent(guid: bigint, reason: 'pkey-change' | 'client-reregister' | 'port-active' | 'port-down'): void {
    const p = this.sm.port(guid);
    if (!p) return;
    const o = this.ownerOf(p.nodeName);
    if (o) this.push(o, { event: 'port', port: this.portInfo(p), reason });
    void this.publishRoutes();
  }

  // ---- control socket -----------------------------------------------------------------------------

  private push(o: Owner, e: ManagerEvent | ({ id: number } & ({ op: 'counters' } | { op: 'routes'; routes: RoutesMessage }))): void {
    if (!o.socket.destroyed) o.socket.write(encodeLine(e));
  }

  private accept(socket: net.Socket): void {
    const owner: Owner = { socket, pending: new Map() };
    this.owners.add(owner);
    socket.setEncoding('utf8');
    const reply = (id: number, r: { ok: true; result: unknown } | { ok: false; error: string }): void => {
      if (!socket.destroyed) socket.write(encodeLine({ id, ...r }));
    };
    const splitter = new LineSplitter(
      (line) => void this.onLine(owner, line, reply),
      (why) => reply(0, { ok: false, error: why }),
    );
    socket.on('data', (chunk: string) => splitter.push(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => this.detach(owner));
  }

  private async onLine(owner: Owner, line: string, reply: (id: number, r: { ok: true; result: unknown } | { ok: false; error: string }) => void): Promise<void> {
    const parsed = parseLine(line);
    if ('error' in parsed) return reply(0, { ok: false, error: parsed.error });
    // An answer from a port owner to one of our requests.
    const answer = responseSchema.safeParse(parsed.value);
    if (answer.success && 'ok' in (parsed.value as object)) {
      const done = owner.pending.get(answer.data.id);
      owner.pending.delete(answer.data.id);
      done?.(answer.data);
      return;
    }
    const req = requestSchema.safeParse(parsed.value);
    if (!req.success) {
      const idGuess = (parsed.value as { id?: unknown }).id;
      return reply(typeof idGuess === 'number' ? idGuess : 0, { ok: false, error: `bad request: ${describeZodError(req.error)}` });
    }
    try {
      reply(req.data.id, { ok: true, result: await this.handle(owner, req.data) });
    } catch (e) {
      reply(req.data.id, { ok: false, error: e instanceof Error ? e.message : String(e) });
    }
  }

  private requireNode(node: string): SimPort {
    const p = this.sm.subnet.ports().find((x) => x.nodeName === node && x.guid !== SM_PORT_GUID);
    if (!p) throw new FabricRunError(`no node named ${node} in this fabric (nodes: ${this.nodeNames().join(', ')})`);
    return p;
  }

  private nodeNames(): string[] {
    return this.sm.subnet.ports().filter((p) => p.guid !== SM_PORT_GUID).map((p) => p.nodeName);
  }

  private async handle(owner: Owner, r: ControlRequest): Promise<unknown> {
    switch (r.op) {
      case 'hello':
        return { fabric: this.o.paths.name, pid: process.pid, nodes: this.nodeNames(), smLid: this.sm.port(SM_PORT_GUID)!.lid };
      case 'attach': {
        const p = this.requireNode(r.node);
        if (owner.node) throw new FabricRunError(`this connection already owns ${owner.node}`);
        if (this.ownerOf(r.node)) throw new FabricRunError(`${r.node} is already attached by another process`);
        owner.node = r.node;
        return this.portInfo(p);
      }
      case 'bind': {
        if (!owner.node) throw new FabricRunError('attach a node before binding its endpoint');
        owner.udpPort = r.udpPort;
        const p = this.requireNode(owner.node);
        const f = this.faults.get(owner.node);
        if (f) this.push(owner, { event: 'faults', ...f });
        if (this.tap && (!this.tapNodes || this.tapNodes.includes(owner.node))) this.push(owner, { event: 'tap', udpPort: this.tap.udpPort });
        this.sm.setPortState(p.guid, 'active'); // raises port-active, which publishes routes
        await this.publishRoutes();
        return { routes: this.routes(), port: this.portInfo(this.requireNode(owner.node)) };
      }
      case 'status':
        return this.status(r.counters === true);
      case 'fault': {
        this.requireNode(r.node);
        const f = { ...this.faults.get(r.node), ...(r.lossRate !== undefined ? { lossRate: r.lossRate } : {}), ...(r.delayMs !== undefined ? { delayMs: r.delayMs } : {}), ...(r.seed !== undefined ? { seed: r.seed } : {}) };
        this.faults.set(r.node, f);
        const o = this.ownerOf(r.node);
        if (o) this.push(o, { event: 'faults', ...f });
        return { node: r.node, ...f, applied: o !== undefined };
      }
      case 'link': {
        const p = this.requireNode(r.node);
        const attached = this.ownerOf(r.node)?.udpPort !== undefined;
        if (r.up && !attached) throw new FabricRunError(`${r.node} has no endpoint attached; its link cannot come up`);
        this.sm.setPortState(p.guid, r.up ? 'active' : 'down');
        await this.publishRoutes();
        return this.portInfo(p);
      }
      case 'sm':
        if (r.running) this.sm.start();
        else this.sm.stop();
        return { running: this.sm.isRunning };
      case 'pkeys': {
        const p = this.requireNode(r.node);
        this.sm.setPkeyTable(p.guid, r.pkeys);
        return this.portInfo(p);
      }
      case 'sa-refuse':
        this.sm.refuseJoins(r.on, r.saError);
        return { refusing: r.on, saError: this.sm.refusedJoinStatus ?? null };
      case 'tap':
        return this.setTap(r.file, r.nodes ?? null);
      case 'shutdown':
        setImmediate(() => void this.close());
        return { stopping: true };
    }
  }

  private async setTap(file: string | null, nodes: string[] | null): Promise<unknown> {
    if (this.tap) {
      await this.tap.close();
      this.tap = null;
    }
    if (file !== null) {
      if (!this.o.openTap) throw new FabricRunError('this manager was started without tap support');
      for (const n of nodes ?? []) this.requireNode(n);
      this.tap = await this.o.openTap(file);
    }
    this.tapNodes = nodes;
    const udpPort = this.tap?.udpPort ?? null;
    this.smEndpoint.setTap(nodes === null || nodes.includes(SM_NODE_NAME) ? udpPort : null);
    for (const o of this.owners) {
      if (o.node && o.udpPort !== undefined) this.push(o, { event: 'tap', udpPort: nodes === null || nodes.includes(o.node) ? udpPort : null });
    }
    return { file, udpPort };
  }

  private askOwner(o: Owner, body: { op: 'counters' } | { op: 'routes'; routes: RoutesMessage }): Promise<unknown> {
    const id = this.nextOwnerRequestId++;
    const timeoutMs = this.o.ownerTimeoutMs ?? 2000;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        o.pending.delete(id);
        this.log(`${o.node ?? 'owner'}: no answer to '${body.op}' within ${timeoutMs} ms`);
        resolve({ error: `no answer within ${timeoutMs} ms` });
      }, timeoutMs);
      o.pending.set(id, (r) => {
        clearTimeout(timer);
        resolve(r.ok ? r.result : { error: r.error });
      });
      this.push(o, { id, ...body });
    });
  }

  async status(withCounters: boolean): Promise<unknown> {
    const ports = await Promise.all(
      this.sm.subnet.ports().map(async (p) => {
        const o = p.guid === SM_PORT_GUID ? undefined : this.ownerOf(p.nodeName);
        return {
          ...this.portInfo(p),
          udpPort: this.udpPortOf(p) ?? null,
          attached: p.guid === SM_PORT_GUID || o?.udpPort !== undefined,
          faults: this.faults.get(p.nodeName) ?? {},
          ...(withCounters && o?.udpPort !== undefined ? { counters: await this.askOwner(o, { op: 'counters' }) } : {}),
        };
      }),
    );
    const groups = this.sm.groups().map((g) => ({
      ...g,
      members: this.sm.members(g.mgid).map((m) => ({ ...m, portGuid: `0x${m.portGuid.toString(16).padStart(16, '0')}` })),
    }));
    return {
      fabric: this.o.paths.name,
      sm: { running: this.sm.isRunning, lid: this.sm.port(SM_PORT_GUID)!.lid, refusingJoins: this.sm.refusedJoinStatus ?? null },
      ports,
      groups,
      tap: this.tap ? { udpPort: this.tap.udpPort, nodes: this.tapNodes } : null,
    };
  }

  private detach(owner: Owner): void {
    this.owners.delete(owner);
    for (const done of owner.pending.values()) done({ ok: false, error: 'owner disconnected' });
    if (!owner.node || this.closing) return;
    const p = this.sm.subnet.ports().find((x) => x.nodeName === owner.node);
    this.log(`${owner.node}: owner disconnected, port down`);
    if (p && p.state !== 'down') this.sm.setPortState(p.guid, 'down');
    void this.publishRoutes();
  }

  /** Tells every owner, closes the socket, the SM endpoint and the tap; removes the socket file. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const o of this.owners) {
        this.push(o, { event: 'shutdown' });
        o.socket.end();
      }
      await new Promise<void>((resolve) => this.server.close(() => resolve()));
      for (const o of this.owners) o.socket.destroy();
      this.sa.close();
      await this.tap?.close();
      await this.smEndpoint.close();
      rmSync(this.o.paths.socket, { force: true });
      rmSync(this.o.paths.pidFile, { force: true });
      this.log(`fabric ${this.o.paths.name}: stopped`);
      this.resolveDone();
    })();
    return this.closing;
  }
}
