/**
 * ipoibd's body: attaches to one node of a simulated fabric, runs the reference IPoIB stack on
 * its port (the parent interface, `ib0` by default, brought up with its addresses), and serves
 * the control socket that ipoibctl talks to. stop() leaves every multicast group (and waits for
 * the SA's answers), releases the port and removes the socket and pid file.
 *
 * The TUN data plane is optional: with `bindDataPlane` and `netns` (ipoibd passes IpoibNode's
 * binding) the parent, and each child when `up` brings it up, gets a TUN device of its own
 * name in `netns`; without them the stack runs on the fabric alone, which is all the control
 * surface needs.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { FabricRunError } from '../../errors.js';
import type { HcaPort } from '../../fabric/hca.js';
import { type FabricRunPaths, inspectRunDir } from '../../fabric/sim/run-dir.js';
import type { IpoibCmOptions } from '../cm/cm-config.js';
import { defectBanner, Defects } from '../defects.js';
import { IpoibHost } from '../host.js';
import type { IpoibInterface } from '../interface.js';
import { ControlServer, removeStaleSocket } from './control-server.js';
import { daemonPaths } from './daemon-paths.js';
import { type HandlerContext, handle } from './handlers.js';
import { trackLeaves } from './tracked-port.js';

/** How long stop() waits for the SA to answer the leaves. */
const LEAVE_WAIT_MS = 3000;

/** Something that carries an interface's traffic elsewhere (a TUN device); closed on stop. */
export interface DataPlaneBinding {
  close(): Promise<void>;
  /** The plane's own counters (it carries the traffic the stack never sees), when it keeps any. */
  counters?(): Readonly<Record<string, number>>;
}

export interface IpoibDaemonOptions {
  fabric: FabricRunPaths;
  node: string;
  ifname?: string;
  netns?: string;
  addresses?: readonly string[];
  /** Control socket path; default `<run dir>/ipoibd-<node>.sock`. */
  socket?: string;
  /** TEST ONLY: seeded defects every interface commits (`ipoibd --defect`); default none. */
  defects?: Defects;
  /** Connected mode of every interface (offered or not, Service-ID profile, passive cap, idle reaping); default the kernel's. */
  cm?: IpoibCmOptions;
  log?: (line: string) => void;
  openPort: (socketPath: string, node: string) => Promise<HcaPort>;
  /**
   * Binds the parent to a TUN device in `netns` (used only when `netns` is given). It owns the
   * addresses and the admin-up of the parent then: it must add the one and do the other.
   */
  bindDataPlane?: (o: { iface: IpoibInterface; port: HcaPort; netns: string; addresses: readonly string[]; log: (line: string) => void }) => Promise<DataPlaneBinding>;
}

/** Link state changes and a missing P_Key. */
const STATE_LINE = /^\S+: (down|no-pkey|port-down|joining|up)$|P_Key .* is not found/;
/**
 * Failed multicast operations (join, leave, report subscription, attach): RFC 4391 §12 asks for
 * every one to be logged, since some fail with nothing in the foreground to notice.
 */
const MCAST_FAILURE_LINE = /^\S+: (sendonly )?multicast .*\bfailed\b/;

/** Whether the daemon shows a line an interface logged at debug level `level` (0 = the default). */
export function daemonShows(line: string, level: number): boolean {
  return level > 0 || STATE_LINE.test(line) || MCAST_FAILURE_LINE.test(line);
}

export class IpoibDaemon {
  private stopping: Promise<void> | undefined;

  private constructor(
    readonly socketPath: string,
    readonly host: IpoibHost,
    readonly parent: IpoibInterface,
    private readonly pidFile: string | undefined,
    private readonly server: ControlServer,
    private readonly port: HcaPort,
    private readonly leavesSettled: (ms: number) => Promise<void>,
    private readonly dataPlane: DataPlaneBinding | undefined,
    private readonly childPlanes: Map<string, DataPlaneBinding>,
    private readonly log: (line: string) => void,
  ) {}

  static async start(o: IpoibDaemonOptions): Promise<IpoibDaemon> {
    const log = o.log ?? (() => undefined);
    const defects = o.defects ?? Defects.NONE;
    const banner = defectBanner(defects);
    if (banner) log(banner);
    const state = inspectRunDir(o.fabric);
    if (state.kind !== 'running') throw new FabricRunError(`fabric ${o.fabric.name} is not up ('ipoib-lab fabric up --name ${o.fabric.name}' starts it)`);
    const dp = daemonPaths(o.fabric, o.node);
    const socketPath = o.socket ?? dp.socket;
    if (!(await removeStaleSocket(socketPath))) throw new FabricRunError(`another ipoibd is serving ${socketPath}; stop it first`);

    const inner = await o.openPort(o.fabric.socket, o.node);
    const tracked = trackLeaves(inner);
    const debugLevels = new Map<string, number>();
    const host = new IpoibHost({
      interfaceDefaults: { defects, ...(o.cm ? { cm: o.cm } : {}) },
      log: (line) => {
        const ifname = line.slice(0, Math.max(0, line.indexOf(':')));
        if (daemonShows(line, debugLevels.get(ifname) ?? 0)) log(line);
      },
    });
    let server: ControlServer | undefined;
    let dataPlane: DataPlaneBinding | undefined;
    try {
      const parent = host.addPort(tracked.port, o.ifname ?? 'ib0');
      const bind = o.bindDataPlane;
      const netns = o.netns;
      const ctx: HandlerContext = {
        host,
        defects: defects.list(),
        node: o.node,
        fabric: o.fabric.name,
        debugLevels,
        adminUp: new Set(),
        childPlanes: new Map(),
        ...(bind && netns !== undefined ? { bindChild: (iface: IpoibInterface, addresses: readonly string[]) => bind({ iface, port: tracked.port, netns, addresses, log }) } : {}),
      };
      if (o.bindDataPlane && o.netns !== undefined) {
        dataPlane = await o.bindDataPlane({ iface: parent, port: tracked.port, netns: o.netns, addresses: o.addresses ?? [], log });
        ctx.parentPlane = { ifname: parent.name, binding: dataPlane };
        log(`${parent.name}: TUN device in network namespace ${o.netns}`);
      } else {
        for (const a of o.addresses ?? []) parent.addAddress(a);
        await parent.open();
        if (o.netns !== undefined) log(`${parent.name}: no TUN data plane available; --netns ${o.netns} is not used`);
      }
      ctx.adminUp.add(parent.name);
      server = await ControlServer.listen(socketPath, (r) => handle(ctx, r), log);
      const pidFile = o.socket === undefined ? dp.pidFile : undefined;
      if (pidFile) writeFileSync(pidFile, `${process.pid}\n`, { mode: 0o600 });
      log(`${o.node}: ${parent.name} on fabric ${o.fabric.name}, control socket ${socketPath}`);
      return new IpoibDaemon(socketPath, host, parent, pidFile, server, tracked.port, (ms) => tracked.leavesSettled(ms), dataPlane, ctx.childPlanes, log);
    } catch (e) {
      await server?.close().catch(() => undefined);
      await dataPlane?.close().catch(() => undefined);
      await host.close().catch(() => undefined);
      await inner.close().catch(() => undefined);
      throw e;
    }
  }

  /** Leaves the groups, removes the data plane, releases the port; idempotent. */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    await this.server.close();
    const planes = [...this.childPlanes.entries(), ...(this.dataPlane ? [[this.parent.name, this.dataPlane] as const] : [])];
    this.childPlanes.clear();
    for (const [name, plane] of planes) {
      await plane.close().catch((e: unknown) => this.log(`${name}: removing the TUN device failed: ${(e as Error).message}`));
    }
    await this.host.close();
    await this.leavesSettled(LEAVE_WAIT_MS);
    await this.port.close();
    if (this.pidFile) rmSync(this.pidFile, { force: true });
    this.log('stopped');
  }
}
