/**
 * A simulated fabric in this process (two nodes, partitions Default and 0x8001) and ipoibd
 * instances on it, in process or as child processes of bin/ipoibd.js, plus ipoibctl called
 * in process with its output captured. Not a test file itself.
 *
 *   node1  LID 2  P_Keys [0xffff, 0x8001]
 *   node2  LID 3  P_Keys [0xffff, 0x8001]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { main as ipoibctl } from '../../src/cli/ipoibctl.js';
import { FabricClient } from '../../src/fabric/sim/fabric-client.js';
import { FabricManager } from '../../src/fabric/sim/fabric-manager.js';
import { openManagerEndpoint, openPortEndpoint, openTapWriter } from '../../src/fabric/sim/endpoint-factory.js';
import { parsePartitionsConf } from '../../src/fabric/sim/partitions-conf.js';
import { SimHcaPort } from '../../src/fabric/sim/provider.js';
import { ensurePrivateDir, fabricPaths, type FabricRunPaths } from '../../src/fabric/sim/run-dir.js';
import { socketAnswers } from '../../src/ipoib/daemon/control-server.js';
import type { IpoibCmOptions } from '../../src/ipoib/cm/cm-config.js';
import { IpoibDaemon } from '../../src/ipoib/daemon/daemon.js';

export const PARTITIONS = `
Default=0x7fff, ipoib : ALL=full ;
lab=0x8001, ipoib, mtu=5, Q_Key=0x80001234 : ALL=full ;
`;

export const FABRIC = 't';

export interface CtlResult {
  code: number;
  out: string;
  err: string;
}

export interface GroupStatus {
  mgid: string;
  members: Array<{ lid: number }>;
}

export interface PortStatus {
  node: string;
  lid: number;
  gid: string;
}

export class DaemonLab {
  private readonly daemons: IpoibDaemon[] = [];
  private readonly children: ChildProcess[] = [];
  readonly logs: string[] = [];

  private constructor(
    readonly base: string,
    readonly paths: FabricRunPaths,
    readonly mgr: FabricManager,
  ) {}

  static async start(): Promise<DaemonLab> {
    const base = mkdtempSync(path.join(tmpdir(), 'ipoibd-test-'));
    const paths = fabricPaths(FABRIC, base);
    ensurePrivateDir(paths.dir);
    const mgr = await FabricManager.start({ paths, nodes: 2, partitions: parsePartitionsConf(PARTITIONS), openEndpoint: openManagerEndpoint, openTap: openTapWriter });
    return new DaemonLab(base, paths, mgr);
  }

  /** An ipoibd in this process on `node`, its socket in the run directory; `cm` as ipoibd's --cm-* options give it. */
  async daemon(node: string, addresses: string[] = [], o: { cm?: IpoibCmOptions } = {}): Promise<IpoibDaemon> {
    const d = await IpoibDaemon.start({
      fabric: this.paths,
      node,
      addresses,
      ...(o.cm ? { cm: o.cm } : {}),
      log: (l) => this.logs.push(l),
      openPort: (socketPath, n) => SimHcaPort.open({ socketPath, node: n, openEndpoint: openPortEndpoint }),
    });
    this.daemons.push(d);
    return d;
  }

  /** bin/ipoibd.js as a child process (the run directory passed through IPOIB_LAB_RUN_DIR). */
  spawnDaemon(node: string, extra: string[] = []): ChildProcess & { stderrText: () => string } {
    const child = spawn(process.execPath, [path.resolve('bin/ipoibd.js'), '--fabric', FABRIC, '--node', node, ...extra], {
      env: { ...process.env, IPOIB_LAB_RUN_DIR: this.base },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let text = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (c: string) => (text += c));
    this.children.push(child);
    return Object.assign(child, { stderrText: () => text });
  }

  socketOf(node: string): string {
    return path.join(this.paths.dir, `ipoibd-${node}.sock`);
  }

  /** Waits until a daemon answers on `node`'s socket. */
  async waitForSocket(node: string, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await socketAnswers(this.socketOf(node), 300))) {
      if (Date.now() > deadline) throw new Error(`no ipoibd on ${node} within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** ipoibctl --socket <node's socket> ARGS, in process. */
  async ctl(node: string, ...args: string[]): Promise<CtlResult> {
    const out: string[] = [];
    const err: string[] = [];
    const code = await ipoibctl(['--socket', this.socketOf(node), ...args], { out: (l) => out.push(l), err: (l) => err.push(l) });
    return { code, out: out.join('\n'), err: err.join('\n') };
  }

  /** The manager's status: ports (node, LID, GID) and the SA's groups with their members. */
  async status(): Promise<{ ports: PortStatus[]; groups: GroupStatus[] }> {
    const c = await FabricClient.connect(this.paths.socket);
    try {
      return await c.request<{ ports: PortStatus[]; groups: GroupStatus[] }>({ op: 'status' });
    } finally {
      c.close();
    }
  }

  async close(): Promise<void> {
    for (const d of this.daemons.splice(0)) await d.stop().catch(() => undefined);
    for (const c of this.children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await this.mgr.close();
    rmSync(this.base, { recursive: true, force: true });
  }
}

/** Waits for a child process to exit; resolves with its code (or the signal name). */
export function exitOf(child: ChildProcess, timeoutMs = 15_000): Promise<number | string> {
  return new Promise((resolve, reject) => {
    if (child.exitCode !== null) return resolve(child.exitCode);
    if (child.signalCode !== null) return resolve(child.signalCode);
    const t = setTimeout(() => reject(new Error(`process ${child.pid ?? '?'} did not exit within ${timeoutMs} ms`)), timeoutMs);
    child.once('exit', (code, signal) => {
      clearTimeout(t);
      resolve(code ?? signal ?? -1);
    });
  });
}

/** Polls `ok` until it holds or `timeoutMs` passes. */
export async function until(what: string, ok: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
