/**
 * Lab nodes for `ipoib-lab fabric up --ipoib`: one network namespace and one ipoibd per node,
 * node i getting 192.0.2.i/24 and 2001:db8::i/64 on its ib0.
 *
 * Everything made is journalled in the fabric's run directory (`lab-nodes.json`) *before* it
 * is made, so `fabric down`, or the next `fabric up` after a crash, can undo it: daemons are
 * stopped (SIGTERM, then SIGKILL) and namespaces deleted. A journalled pid is signalled only
 * while /proc says it is still an ipoibd, so a recycled pid is never hit.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { FabricRunError } from '../../errors.js';
import { type FabricRunPaths, processAlive } from '../../fabric/sim/run-dir.js';
import { runTool } from '../../util/run-tool.js';
import { socketAnswers } from './control-server.js';
import { daemonPaths } from './daemon-paths.js';

const START_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 8_000;

const journalSchema = z.object({
  namespaces: z.array(z.string()),
  daemons: z.array(z.object({ node: z.string(), pid: z.number().int().positive() })),
});
export type LabNodesJournal = z.infer<typeof journalSchema>;

export interface LabNode {
  node: string;
  netns: string;
  ipv4: string;
  ipv6: string;
  pid: number;
  socket: string;
}

export function journalFile(p: FabricRunPaths): string {
  return path.join(p.dir, 'lab-nodes.json');
}

/** The namespace of a lab node: `ipl-<fabric>-<node>`. */
export function labNamespace(fabric: string, node: string): string {
  return `ipl-${fabric}-${node}`;
}

export function labAddresses(i: number): { ipv4: string; ipv6: string } {
  return { ipv4: `192.0.2.${i}/24`, ipv6: `2001:db8::${i.toString(16)}/64` };
}

/** Why lab nodes cannot be made here, or undefined when they can. */
export function labNodesUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'lab nodes need Linux network namespaces';
  if (process.getuid?.() !== 0) {
    return 'lab nodes (--ipoib) need root to create network namespaces and TUN devices; running them as a normal user through an unprivileged user namespace is a later step. Run as root, or leave out --ipoib.';
  }
  if (!existsSync('/dev/net/tun')) return '/dev/net/tun is missing: lab nodes need TUN devices';
  return undefined;
}

export function readJournal(p: FabricRunPaths): LabNodesJournal | undefined {
  try {
    const parsed = journalSchema.safeParse(JSON.parse(readFileSync(journalFile(p), 'utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

function writeJournal(p: FabricRunPaths, j: LabNodesJournal): void {
  writeFileSync(journalFile(p), `${JSON.stringify(j, null, 2)}\n`, { mode: 0o600 });
}

async function ip(args: string[]): Promise<void> {
  const r = await runTool('ip', args, { timeoutMs: 10_000 });
  if (r.code !== 0) throw new FabricRunError(`ip ${args.join(' ')}: ${(r.error ?? r.stderr).trim()}`);
}

function isIpoibd(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('ipoibd');
  } catch {
    return false;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** What to start on one lab node: its fabric node, the addresses of its ib0, connected mode, seeded defects (test builds only). */
export interface LabNodeSpec {
  node: string;
  /** IPv4/IPv6 CIDRs; the first IPv4 and IPv6 ones are reported as the node's addresses. */
  addresses: readonly string[];
  defects?: readonly string[];
  /** Connected mode of the node's ipoibd (ipoibd's --cm-* options); default offered, Linux profile. */
  cm?: LabNodeCm;
}

export interface LabNodeCm {
  /** false: a UD-only node (--no-connected-mode). */
  enabled?: boolean;
  profile?: 'linux' | 'rfc';
  maxPassive?: number;
  idleMs?: number;
  reapIntervalMs?: number;
}

/** ipoibd's command-line options for a node's connected-mode settings. */
export function cmArgs(cm: LabNodeCm | undefined): string[] {
  if (!cm) return [];
  const out: string[] = [];
  if (cm.enabled === false) out.push('--no-connected-mode');
  if (cm.profile !== undefined) out.push('--cm-profile', cm.profile);
  if (cm.maxPassive !== undefined) out.push('--cm-max-passive', String(cm.maxPassive));
  if (cm.idleMs !== undefined) out.push('--cm-idle-ms', String(cm.idleMs));
  if (cm.reapIntervalMs !== undefined) out.push('--cm-reap-interval-ms', String(cm.reapIntervalMs));
  return out;
}

/** The default specs of `fabric up --ipoib`: node i gets labAddresses(i). */
export function defaultLabNodeSpecs(nodes: readonly string[]): LabNodeSpec[] {
  return nodes.map((node, i) => {
    const { ipv4, ipv6 } = labAddresses(i + 1);
    return { node, addresses: [ipv4, ipv6] };
  });
}

/** Creates the namespaces and starts one ipoibd per node; undoes it all when one fails. */
export async function startLabNodes(p: FabricRunPaths, nodes: readonly LabNodeSpec[], log: (line: string) => void): Promise<LabNode[]> {
  const journal: LabNodesJournal = { namespaces: [], daemons: [] };
  const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../bin/ipoibd.js');
  const made: LabNode[] = [];
  try {
    for (const spec of nodes) {
      const { node } = spec;
      const netns = labNamespace(p.name, node);
      const ipv4 = spec.addresses.find((a) => !a.includes(':')) ?? '';
      const ipv6 = spec.addresses.find((a) => a.includes(':')) ?? '';
      journal.namespaces.push(netns);
      writeJournal(p, journal);
      await ip(['netns', 'add', netns]);
      await ip(['-n', netns, 'link', 'set', 'lo', 'up']);
      const dp = daemonPaths(p, node);
      const out = openSync(dp.logFile, 'a', 0o600);
      const args = [bin, '--fabric', p.name, '--node', node, '--netns', netns];
      for (const a of spec.addresses) args.push('--address', a);
      for (const d of spec.defects ?? []) args.push('--defect', d);
      args.push(...cmArgs(spec.cm));
      const child = spawn(process.execPath, args, {
        detached: true,
        stdio: ['ignore', out, out],
      });
      closeSync(out);
      child.unref();
      if (child.pid === undefined) throw new FabricRunError(`could not start ipoibd for ${node}`);
      journal.daemons.push({ node, pid: child.pid });
      writeJournal(p, journal);
      made.push({ node, netns, ipv4, ipv6, pid: child.pid, socket: dp.socket });
    }
    for (const n of made) await waitReady(n, daemonPaths(p, n.node).logFile);
    for (const n of made) {
      const defects = nodes.find((s) => s.node === n.node)?.defects ?? [];
      log(`${n.node}: ipoibd pid ${n.pid}, ib0 ${[n.ipv4, n.ipv6].filter(Boolean).join(' ')} in network namespace ${n.netns}${defects.length ? `, SEEDED DEFECTS: ${defects.join(', ')}` : ''}`);
    }
    return made;
  } catch (e) {
    await stopLabNodes(p, log);
    throw e;
  }
}

async function waitReady(n: LabNode, logFile: string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (!processAlive(n.pid)) throw new FabricRunError(`ipoibd for ${n.node} exited while starting:\n${tail(logFile)}`);
    if (await socketAnswers(n.socket, 500)) return;
    await sleep(100);
  }
  throw new FabricRunError(`ipoibd for ${n.node} did not come up within ${START_TIMEOUT_MS} ms:\n${tail(logFile)}`);
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-10).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Stops the journalled daemons and deletes the journalled namespaces; a no-op without a journal. */
export async function stopLabNodes(p: FabricRunPaths, log: (line: string) => void): Promise<void> {
  const j = readJournal(p);
  if (!j) return;
  const live = j.daemons.filter((d) => processAlive(d.pid) && isIpoibd(d.pid));
  for (const d of live) {
    try {
      process.kill(d.pid, 'SIGTERM');
    } catch {
      // gone meanwhile
    }
  }
  const deadline = Date.now() + STOP_TIMEOUT_MS;
  while (live.some((d) => processAlive(d.pid) && isIpoibd(d.pid)) && Date.now() < deadline) await sleep(50);
  for (const d of live) {
    if (processAlive(d.pid) && isIpoibd(d.pid)) {
      process.kill(d.pid, 'SIGKILL');
      log(`${d.node}: ipoibd (pid ${d.pid}) ignored SIGTERM; killed`);
    }
  }
  for (const ns of j.namespaces) {
    const r = await runTool('ip', ['netns', 'del', ns], { timeoutMs: 10_000 });
    if (r.code !== 0 && !/No such file|does not exist|Invalid/i.test(r.stderr)) log(`ip netns del ${ns}: ${r.stderr.trim()}`);
  }
  for (const d of j.daemons) rmSync(daemonPaths(p, d.node).socket, { force: true });
  rmSync(journalFile(p), { force: true });
  if (live.length + j.namespaces.length > 0) log(`stopped ${live.length} ipoibd, removed ${j.namespaces.length} network namespace(s)`);
}
