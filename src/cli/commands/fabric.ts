/**
 * `ipoib-lab fabric up|status|down|fault|link|sm|tap` and the hidden `fabric serve` that is the
 * manager process itself. `up` starts the manager in the background and waits until its control
 * socket answers; `down` asks it to stop, and kills it only when it does not.
 */
import { spawn } from 'node:child_process';
import { openSync, readFileSync, closeSync, existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ExitError, UsageError } from '../../errors.js';
import { EXIT_FAILURE } from '../exit-codes.js';
import type { Io } from '../run-command.js';
import {
  type FabricRunPaths,
  cleanStale,
  ensurePrivateDir,
  fabricPaths,
  inspectRunDir,
  processAlive,
  runBase,
} from '../../fabric/sim/run-dir.js';
import { FabricClient } from '../../fabric/sim/fabric-client.js';
import { loadPartitionsConf, partitionsWithoutFile, type PartitionsConf } from '../../fabric/sim/partitions-conf.js';
import { formatPkey } from '../../wire/pkey.js';
import { IB_MTU_CODE_TO_BYTES } from '../../wire/constants.js';
import { type LabNodeSpec, defaultLabNodeSpecs, labNodesUnavailable, startLabNodes, stopLabNodes } from '../../ipoib/daemon/lab-nodes.js';

export const DEFAULT_FABRIC_NAME = 'default';
const UP_TIMEOUT_MS = 20_000;
const DOWN_TIMEOUT_MS = 10_000;

export interface FabricTarget {
  name: string;
}

function pathsFor(t: FabricTarget): FabricRunPaths {
  try {
    return fabricPaths(t.name);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

async function readPartitions(file: string | undefined): Promise<PartitionsConf> {
  if (file === undefined) return partitionsWithoutFile();
  if (!existsSync(file)) throw new UsageError(`partitions file ${file} does not exist`);
  try {
    return await loadPartitionsConf(file);
  } catch (e) {
    throw new ExitError(EXIT_FAILURE, (e as Error).message);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function logTail(p: FabricRunPaths, lines = 15): string {
  try {
    return readFileSync(p.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** `name=0x…,name=0x…`: how `fabric up` hands port GUIDs to the manager process. */
export function formatPortGuids(guids: ReadonlyMap<string, bigint>): string {
  return [...guids].map(([node, g]) => `${node}=0x${g.toString(16).padStart(16, '0')}`).join(',');
}

/** The inverse of formatPortGuids; a malformed entry is a UsageError. */
export function parsePortGuids(text: string): Map<string, bigint> {
  const out = new Map<string, bigint>();
  for (const entry of text.split(',')) {
    const m = /^([a-z][a-z0-9-]*)=(0x[0-9a-fA-F]{1,16})$/.exec(entry);
    if (!m || m[1] === undefined || m[2] === undefined) throw new UsageError(`--port-guids: "${entry}" is not NODE=0xGUID`);
    out.set(m[1], BigInt(m[2]));
  }
  return out;
}

export interface FabricUpOptions extends FabricTarget {
  nodes: number;
  /** Names instead of node1..nodeN (a lab file's nodes plus its probe port). */
  nodeNames?: readonly string[];
  /** Port GUIDs by node name instead of the by-order ones (a sim lab file's `guid`s). */
  portGuids?: ReadonlyMap<string, bigint>;
  partitions?: string;
  /** Also start an ipoibd per node in its own network namespace (root only). */
  ipoib?: boolean;
  /** With ipoib: which nodes get a daemon, with what addresses and defects (default: every node, labAddresses). */
  daemons?: readonly LabNodeSpec[];
}

export async function fabricUp(o: FabricUpOptions, io: Io): Promise<number> {
  if (!Number.isInteger(o.nodes) || o.nodes < 1 || o.nodes > 64) throw new UsageError(`--nodes must be 1..64, not ${o.nodes}`);
  const p = pathsFor(o);
  await readPartitions(o.partitions); // a bad file fails here, with line and column, before anything starts
  if (o.ipoib) {
    const why = labNodesUnavailable();
    if (why !== undefined) throw new ExitError(EXIT_FAILURE, why);
  }
  const state = inspectRunDir(p);
  if (state.kind === 'running') throw new ExitError(EXIT_FAILURE, `fabric ${o.name} is already up (manager pid ${state.pid}); 'ipoib-lab fabric down --name ${o.name}' stops it`);
  if (state.kind === 'stale') {
    io.out(`fabric ${o.name}: cleaning up after a manager that is gone (pid ${state.pid ?? 'unknown'})`);
    await stopLabNodes(p, (l) => io.out(`fabric ${o.name}: ${l}`));
  }
  cleanStale(p);
  ensurePrivateDir(runBase());
  ensurePrivateDir(p.dir);

  const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../bin/ipoib-lab.js');
  const args = [bin, 'fabric', 'serve', '--name', o.name, '--nodes', String(o.nodes)];
  if (o.nodeNames) args.push('--node-names', o.nodeNames.join(','));
  if (o.portGuids && o.portGuids.size > 0) args.push('--port-guids', formatPortGuids(o.portGuids));
  if (o.partitions) args.push('--partitions', path.resolve(o.partitions));
  const log = openSync(p.logFile, 'a', 0o600);
  const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', log, log] });
  closeSync(log);
  let exited: number | null = null;
  child.on('exit', (code) => (exited = code ?? -1));
  child.unref();

  const deadline = Date.now() + UP_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (exited !== null) throw new ExitError(EXIT_FAILURE, `fabric manager exited (code ${exited}) while starting:\n${logTail(p)}`);
    if (existsSync(p.socket)) {
      try {
        const c = await FabricClient.connect(p.socket, { connectTimeoutMs: 1000 });
        const hello = await c.request<{ nodes: string[]; smLid: number; pid: number }>({ op: 'hello' }, 2000);
        c.close();
        io.out(`fabric ${o.name} is up: manager pid ${hello.pid}, SM at LID ${hello.smLid}, nodes ${hello.nodes.join(', ')}`);
        io.out(`run directory ${p.dir}; 'ipoib-lab fabric status --name ${o.name}' shows it`);
      } catch {
        await sleep(100);
        continue; // not listening yet
      }
      if (o.ipoib) await upLabNodes(o, p, io);
      return 0;
    }
    await sleep(100);
  }
  try {
    if (child.pid) process.kill(child.pid, 'SIGKILL');
  } catch {
    // already gone
  }
  throw new ExitError(EXIT_FAILURE, `fabric manager did not come up within ${UP_TIMEOUT_MS} ms:\n${logTail(p)}`);
}

/** Starts the lab nodes of a fabric that just came up; a failure takes the fabric down again. */
async function upLabNodes(o: FabricUpOptions, p: FabricRunPaths, io: Io): Promise<void> {
  const names = o.nodeNames ?? Array.from({ length: o.nodes }, (_, i) => `node${i + 1}`);
  const specs = o.daemons ?? defaultLabNodeSpecs(names);
  try {
    const made = await startLabNodes(p, specs, (l) => io.out(l));
    const [a, b] = made;
    if (a && b) io.out(`'ip netns exec ${a.netns} ping ${b.ipv4.split('/')[0]}' reaches ${b.node}; 'ipoibctl --fabric ${o.name} --node ${a.node} show' shows ib0`);
  } catch (e) {
    await fabricDown({ name: o.name }, io).catch(() => undefined);
    throw new ExitError(EXIT_FAILURE, `lab nodes did not come up: ${(e as Error).message}`);
  }
}

async function connect(t: FabricTarget): Promise<FabricClient> {
  const p = pathsFor(t);
  const s = inspectRunDir(p);
  if (s.kind === 'absent') throw new ExitError(EXIT_FAILURE, `no fabric named ${t.name} is up ('ipoib-lab fabric up' starts one)`);
  if (s.kind === 'stale') throw new ExitError(EXIT_FAILURE, `fabric ${t.name} is not running (its manager, pid ${s.pid ?? '?'}, is gone); 'ipoib-lab fabric down --name ${t.name}' cleans up`);
  try {
    return await FabricClient.connect(p.socket);
  } catch (e) {
    throw new ExitError(EXIT_FAILURE, (e as Error).message);
  }
}

async function ask<T>(t: FabricTarget, body: Parameters<FabricClient['request']>[0]): Promise<T> {
  const c = await connect(t);
  try {
    return await c.request<T>(body);
  } catch (e) {
    throw new ExitError(EXIT_FAILURE, (e as Error).message);
  } finally {
    c.close();
  }
}

interface StatusPort {
  node: string;
  guid: string;
  gid: string;
  lid: number;
  state: string;
  pkeys: number[];
  udpPort: number | null;
  attached: boolean;
  faults: { lossRate?: number; delayMs?: number };
  counters?: Record<string, unknown>;
}
interface StatusGroup {
  mgid: string;
  mlid: number;
  pkey: number;
  qkey: number;
  mtuCode: number;
  preCreated: boolean;
  members: Array<{ lid: number; portGid: string; joinStateNames: string[] }>;
}
interface Status {
  fabric: string;
  sm: { running: boolean; lid: number; refusingJoins: number | null };
  ports: StatusPort[];
  groups: StatusGroup[];
  tap: { udpPort: number; nodes: string[] | null } | null;
}

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd());
}

export async function fabricStatus(o: FabricTarget & { json: boolean; counters: boolean }, io: Io): Promise<number> {
  const s = await ask<Status>(o, { op: 'status', counters: o.counters });
  if (o.json) {
    io.out(JSON.stringify(s, null, 2));
    return 0;
  }
  io.out(`fabric ${s.fabric}: SM ${s.sm.running ? 'running' : 'STOPPED'} at LID ${s.sm.lid}${s.sm.refusingJoins ? `, refusing joins (SA error ${s.sm.refusingJoins})` : ''}${s.tap ? `, tap on udp ${s.tap.udpPort}` : ''}`);
  io.out('');
  const portRows = [['NODE', 'LID', 'STATE', 'GID', 'P_KEYS', 'ENDPOINT', 'FAULTS']];
  for (const p of s.ports) {
    const faults = [p.faults.lossRate ? `loss ${p.faults.lossRate}` : '', p.faults.delayMs ? `delay ${p.faults.delayMs}ms` : ''].filter(Boolean).join(', ');
    portRows.push([p.node, String(p.lid), p.state, p.gid, p.pkeys.map(formatPkey).join(' '), p.attached ? `udp ${p.udpPort}` : '-', faults || '-']);
  }
  for (const l of table(portRows)) io.out(l);
  io.out('');
  const groupRows = [['MGID', 'MLID', 'P_KEY', 'Q_KEY', 'MTU', 'KIND', 'MEMBERS (LID:JoinState)']];
  for (const g of s.groups) {
    const members = g.members.map((m) => `${m.lid}:${m.joinStateNames.join('+')}`).join(' ') || '-';
    groupRows.push([g.mgid, `0x${g.mlid.toString(16)}`, formatPkey(g.pkey), `0x${g.qkey.toString(16).padStart(8, '0')}`, String(IB_MTU_CODE_TO_BYTES[g.mtuCode] ?? `code ${g.mtuCode}`), g.preCreated ? 'pre-created' : 'dynamic', members]);
  }
  for (const l of table(groupRows)) io.out(l);
  if (o.counters) {
    io.out('');
    for (const p of s.ports) if (p.counters) io.out(`${p.node}: ${JSON.stringify(p.counters)}`);
  }
  return 0;
}

export async function fabricDown(o: FabricTarget, io: Io): Promise<number> {
  const p = pathsFor(o);
  const s = inspectRunDir(p);
  if (s.kind === 'absent') {
    io.out(`fabric ${o.name} is not up; nothing to do`);
    return 0;
  }
  await stopLabNodes(p, (l) => io.out(`fabric ${o.name}: ${l}`));
  if (s.kind === 'stale') {
    rmSync(p.dir, { recursive: true, force: true });
    io.out(`fabric ${o.name}: removed what a dead manager (pid ${s.pid ?? '?'}) left in ${p.dir}`);
    return 0;
  }
  try {
    const c = await FabricClient.connect(p.socket, { connectTimeoutMs: 2000 });
    await c.request({ op: 'shutdown' }, 3000).catch(() => undefined);
    c.close();
  } catch {
    io.err(`fabric ${o.name}: manager (pid ${s.pid}) does not answer; terminating it`);
  }
  const deadline = Date.now() + DOWN_TIMEOUT_MS;
  let signalled = false;
  while (processAlive(s.pid)) {
    if (Date.now() > deadline) {
      process.kill(s.pid, 'SIGKILL');
      io.err(`fabric ${o.name}: manager ignored SIGTERM; killed`);
      break;
    }
    if (!signalled && Date.now() > deadline - DOWN_TIMEOUT_MS / 2) {
      signalled = true;
      try {
        process.kill(s.pid, 'SIGTERM');
      } catch {
        break;
      }
    }
    await sleep(50);
  }
  rmSync(p.dir, { recursive: true, force: true });
  io.out(`fabric ${o.name} is down`);
  return 0;
}

export async function fabricFault(o: FabricTarget & { node: string; loss?: number; delayMs?: number; seed?: number }, io: Io): Promise<number> {
  if (o.loss === undefined && o.delayMs === undefined) throw new UsageError('give --loss and/or --delay');
  const r = await ask(o, { op: 'fault', node: o.node, ...(o.loss !== undefined ? { lossRate: o.loss } : {}), ...(o.delayMs !== undefined ? { delayMs: o.delayMs } : {}), ...(o.seed !== undefined ? { seed: o.seed } : {}) });
  io.out(JSON.stringify(r));
  return 0;
}

export async function fabricLink(o: FabricTarget & { node: string; up: boolean }, io: Io): Promise<number> {
  const r = await ask(o, { op: 'link', node: o.node, up: o.up });
  io.out(JSON.stringify(r));
  return 0;
}

export async function fabricSm(o: FabricTarget & { running: boolean }, io: Io): Promise<number> {
  const r = await ask(o, { op: 'sm', running: o.running });
  io.out(JSON.stringify(r));
  return 0;
}

export async function fabricTap(o: FabricTarget & { file: string | null; nodes?: string[] }, io: Io): Promise<number> {
  const r = await ask(o, { op: 'tap', file: o.file === null ? null : path.resolve(o.file), ...(o.nodes ? { nodes: o.nodes } : {}) });
  io.out(JSON.stringify(r));
  return 0;
}

/** The manager process: runs until `fabric down`, SIGTERM or SIGINT. */
export async function fabricServe(o: FabricUpOptions, io: Io): Promise<number> {
  const p = pathsFor(o);
  ensurePrivateDir(p.dir);
  const partitions = await readPartitions(o.partitions);
  const { FabricManager } = await import('../../fabric/sim/fabric-manager.js');
  const { openManagerEndpoint, openTapWriter } = await import('../../fabric/sim/endpoint-factory.js');
  const stamp = () => new Date().toISOString();
  const mgr = await FabricManager.start({
    paths: p,
    nodes: o.nodes,
    ...(o.nodeNames ? { nodeNames: o.nodeNames } : {}),
    ...(o.portGuids ? { portGuids: o.portGuids } : {}),
    partitions,
    openEndpoint: openManagerEndpoint,
    openTap: openTapWriter,
    log: (l) => io.out(`${stamp()} ${l}`),
  });
  const stop = (sig: string) => {
    io.out(`${stamp()} ${sig}: stopping`);
    void mgr.close();
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  await mgr.done;
  return 0;
}

