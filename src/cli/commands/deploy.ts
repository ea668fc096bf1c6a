/**
 * `ipoib-lab deploy`: installs the reference stack on the lab's ssh nodes whose implementation
 * is `reference` (src/lab/deploy/), and starts, stops or checks their ipoibd.
 *
 *   deploy [--node N ...] [--build|--ship] [--dir DIR]   install (nodes in parallel, one bundle)
 *   deploy --start --fabric NAME [--run-dir DIR]         ipoibd per node (fabric node = lab node name)
 *   deploy --stop [--fabric NAME]                        stop what --start left
 *   deploy --status                                      installed and running versions vs this tree
 *   deploy --print-version                               this tree's version as JSON (run on nodes)
 *
 * Progress goes to stderr, one result line per node to stdout (or JSON with --json). Exit 1
 * when a node failed or (--status) differs from this tree, 2 for a bad command line or lab.
 */
import { ExitError, UsageError } from '../../errors.js';
import { daemonStatus, type NodeStatus, requireMatchingDaemons, startDaemon, stopDaemon, type StartedDaemon, type StopResult } from '../../lab/deploy/daemon.js';
import { type DeployResult, deployStack, prepareLocalStack } from '../../lab/deploy/install.js';
import { checkDeployDir, DEFAULT_DEPLOY_DIR } from '../../lab/deploy/layout.js';
import type { AddonMode } from '../../lab/deploy/node-facts.js';
import { formatStackVersion, installationVersion, type StackVersion, stackVersion } from '../../lab/deploy/version.js';
import { NodeJournal, newRunId } from '../../lab/journal.js';
import type { LabFile, LabNode } from '../../lab/lab-file.js';
import { openTransport } from '../../lab/node-transport.js';
import type { Transport } from '../../lab/transport.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from '../exit-codes.js';
import type { Io } from '../run-command.js';
import { loadChosenLab } from './doctor.js';

export type DeployAction = 'install' | 'start' | 'stop' | 'status' | 'print-version';

export interface DeployCommandOptions {
  action: DeployAction;
  lab?: string | undefined;
  /** --node, repeatable; empty: every eligible node. */
  nodes: readonly string[];
  addon?: AddonMode | undefined;
  /** --dir: overrides every node's deploy.dir. */
  dir?: string | undefined;
  fabric?: string | undefined;
  /** $IPOIB_LAB_RUN_DIR for ipoibd on the nodes (--start). */
  runDir?: string | undefined;
  journalDir?: string | undefined;
  json: boolean;
}

/** The options commander hands over, before their combinations are checked. */
export interface RawDeployOptions {
  lab?: string;
  node?: string[];
  build?: boolean;
  ship?: boolean;
  dir?: string;
  start?: boolean;
  stop?: boolean;
  status?: boolean;
  printVersion?: boolean;
  fabric?: string;
  runDir?: string;
  journalDir?: string;
  json?: boolean;
}

/** Checks which options go together; throws UsageError (exit 2) otherwise. */
export function parseDeployOptions(o: RawDeployOptions): DeployCommandOptions {
  const actions = (['start', 'stop', 'status', 'printVersion'] as const).filter((a) => o[a] === true);
  if (actions.length > 1) throw new UsageError(`give at most one of --start, --stop, --status, --print-version (got ${actions.map((a) => (a === 'printVersion' ? '--print-version' : `--${a}`)).join(', ')})`);
  const action: DeployAction = actions[0] === 'printVersion' ? 'print-version' : (actions[0] ?? 'install');
  if (o.build && o.ship) throw new UsageError('give --build or --ship, not both');
  if ((o.build || o.ship) && action !== 'install') throw new UsageError('--build and --ship only apply when installing (without --start, --stop or --status)');
  if (action === 'start' && !o.fabric) throw new UsageError('--start needs --fabric NAME: the simulated fabric the daemons join');
  if (o.fabric !== undefined && action !== 'start' && action !== 'stop') throw new UsageError('--fabric only applies to --start and --stop');
  if (o.runDir !== undefined && action !== 'start') throw new UsageError('--run-dir only applies to --start');
  if (o.dir !== undefined) {
    try {
      checkDeployDir(o.dir);
    } catch (e) {
      throw new UsageError(`--dir: ${(e as Error).message}`);
    }
  }
  return {
    action,
    lab: o.lab,
    nodes: o.node ?? [],
    addon: o.build ? 'build' : o.ship ? 'ship' : undefined,
    dir: o.dir,
    fabric: o.fabric,
    runDir: o.runDir,
    journalDir: o.journalDir,
    json: o.json === true,
  };
}

const eligible = (n: LabNode): boolean => n.transport === 'ssh' && n.implementation === 'reference';

/** The lab nodes deploy acts on: --node names (each must be an ssh node running reference), else all such nodes. */
export function selectDeployNodes(lab: LabFile, names: readonly string[]): LabNode[] {
  if (names.length === 0) {
    const all = lab.nodes.filter(eligible);
    if (all.length === 0) {
      throw new ExitError(EXIT_USAGE, `lab ${lab.name} has no ssh node with implementation "reference": nothing to deploy to (local nodes run this tree as it is)`);
    }
    return all;
  }
  return [...new Set(names)].map((name) => {
    const n = lab.nodes.find((x) => x.name === name);
    if (!n) throw new UsageError(`lab ${lab.name} has no node ${JSON.stringify(name)} (nodes: ${lab.nodes.map((x) => x.name).join(', ')})`);
    if (!eligible(n)) throw new UsageError(`node ${name} is a ${n.transport} node with implementation "${n.implementation}"; deploy installs the reference stack on ssh nodes with implementation "reference"`);
    return n;
  });
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** Opens each node's transport, runs `fn`, closes it; failures become per-node errors, not exceptions. */
async function perNode<T>(nodes: readonly LabNode[], open: (n: LabNode) => Promise<Transport>, fn: (t: Transport, n: LabNode) => Promise<T>): Promise<{ node: string; value?: T; error?: unknown }[]> {
  return Promise.all(
    nodes.map(async (n) => {
      let t: Transport | undefined;
      try {
        t = await open(n);
        return { node: n.name, value: await fn(t, n) };
      } catch (error) {
        return { node: n.name, error };
      } finally {
        await t?.close().catch(() => undefined);
      }
    }),
  );
}

function installLine(r: DeployResult): string {
  const what = r.outcome === 'installed' ? `installed (addon ${r.addon}; ${r.reasons.join('; ')})` : `already installed (addon ${r.addon})`;
  return `${r.node}: ${what}: ${formatStackVersion(r.version)} at ${r.release} in ${seconds(r.durationMs)}`;
}

function statusLines(s: NodeStatus, local: StackVersion): { out: string[]; problems: string[] } {
  const out: string[] = [];
  const problems: string[] = [];
  if (!s.installed) problems.push(`${s.node}: nothing deployed in ${s.dir} (run ipoib-lab deploy)`);
  else if (s.installed.versionMatches) out.push(`${s.node}: installed ${formatStackVersion(s.installed.marker)} at ${s.installed.release} (addon ${s.installed.marker.addon}): same as this tree`);
  else problems.push(`${s.node}: installed ${formatStackVersion(s.installed.marker)} at ${s.installed.release}, but this tree is ${formatStackVersion(local)} (run ipoib-lab deploy)`);
  if (s.daemons.length === 0) out.push(`${s.node}: no ipoibd started by deploy`);
  for (const d of s.daemons) {
    const v = d.version ? formatStackVersion(d.version) : 'unknown version';
    const head = `${s.node}: ipoibd ${d.fabric}/${d.fabricNode}`;
    if (!d.running) problems.push(`${head} (pid ${d.pid ?? '?'}) is not running any more (ipoib-lab deploy --stop clears it)`);
    else if (d.versionMatches === false) {
      try {
        requireMatchingDaemons({ ...s, daemons: [d] }, local);
      } catch (e) {
        problems.push(message(e));
      }
    } else out.push(`${head} pid ${d.pid} running ${v} since ${d.startedAt}`);
  }
  return { out, problems };
}

export async function deploy(o: DeployCommandOptions, io: Io, open: (node: LabNode) => Promise<Transport> = openTransport): Promise<number> {
  if (o.action === 'print-version') {
    io.out(JSON.stringify(await installationVersion(), null, 2));
    return EXIT_OK;
  }
  const { lab } = await loadChosenLab(o.lab);
  const nodes = selectDeployNodes(lab, o.nodes);
  const dirOf = (n: LabNode): string => o.dir ?? n.deploy?.dir ?? DEFAULT_DEPLOY_DIR;
  const progress = (line: string): void => io.err(line);
  let failed = 0;
  const report = (node: string, e: unknown): void => {
    failed += 1;
    const m = message(e);
    io.err(`${node}: FAILED: ${m.startsWith(`${node}: `) ? m.slice(node.length + 2) : m}`);
  };

  if (o.action === 'install') {
    progress('deploy: hashing this tree');
    const local = await prepareLocalStack();
    progress(`deploy: this tree is ${formatStackVersion(local.version)} (release ${local.name})`);
    try {
      const results = await perNode(nodes, open, (t, n) => deployStack(t, { dir: dirOf(n), local, progress, ...(o.addon ? { addon: o.addon } : {}) }));
      for (const r of results) {
        if (!r.value) report(r.node, r.error);
        else if (!o.json) io.out(installLine(r.value));
      }
      if (o.json) io.out(JSON.stringify(results.map((r) => (r.value ? { node: r.node, ok: true, result: r.value } : { node: r.node, ok: false, error: message(r.error) })), null, 2));
    } finally {
      await local.dispose();
    }
    return failed ? EXIT_FAILURE : EXIT_OK;
  }

  const expected = await stackVersion();
  if (o.action === 'start') {
    const results = await perNode(nodes, open, async (t, n): Promise<StartedDaemon> => {
      const journal = await NodeJournal.open(t, { runId: newRunId(), ...(o.journalDir ? { dir: o.journalDir } : {}) });
      const d = await startDaemon(t, {
        dir: dirOf(n),
        fabric: o.fabric as string,
        fabricNode: n.name,
        ifname: n.interface,
        addresses: n.addresses,
        expected,
        journal,
        progress,
        ...(o.runDir ? { env: { IPOIB_LAB_RUN_DIR: o.runDir } } : {}),
      });
      await journal.close(); // keeps the file: its stop stays pending until --stop or cleanup
      return d;
    });
    for (const r of results) {
      if (!r.value) report(r.node, r.error);
      else if (!o.json) io.out(`${r.node}: ipoibd pid ${r.value.pid} answers (fabric ${r.value.fabric}, node ${r.value.fabricNode}) after ${seconds(r.value.readyMs)}; ${formatStackVersion(r.value.version)} from ${r.value.release}; log ${r.value.logFile}`);
    }
    if (o.json) io.out(JSON.stringify(results.map((r) => (r.value ? { node: r.node, ok: true, daemon: r.value } : { node: r.node, ok: false, error: message(r.error) })), null, 2));
    return failed ? EXIT_FAILURE : EXIT_OK;
  }

  if (o.action === 'stop') {
    const results = await perNode(nodes, open, async (t, n): Promise<StopResult[]> => {
      const s = await daemonStatus(t, { dir: dirOf(n) });
      const mine = s.daemons.filter((d) => o.fabric === undefined || d.fabric === o.fabric);
      const stopped: StopResult[] = [];
      for (const d of mine) stopped.push(await stopDaemon(t, { dir: dirOf(n), fabric: d.fabric, fabricNode: d.fabricNode }));
      return stopped;
    });
    for (const r of results) {
      if (!r.value) report(r.node, r.error);
      else if (o.json) continue;
      else if (r.value.length === 0) io.out(`${r.node}: no ipoibd started by deploy${o.fabric ? ` on fabric ${o.fabric}` : ''}`);
      else for (const s of r.value) io.out(`${r.node}: ipoibd ${s.fabric}/${s.fabricNode} ${s.wasRunning ? `pid ${s.pid} stopped (${s.signal})` : 'was not running; its files were removed'}`);
    }
    if (o.json) io.out(JSON.stringify(results.map((r) => (r.value ? { node: r.node, ok: true, stopped: r.value } : { node: r.node, ok: false, error: message(r.error) })), null, 2));
    return failed ? EXIT_FAILURE : EXIT_OK;
  }

  const results = await perNode(nodes, open, (t, n) => daemonStatus(t, { dir: dirOf(n), expected }));
  for (const r of results) {
    if (!r.value) {
      report(r.node, r.error);
      continue;
    }
    const { out, problems } = statusLines(r.value, expected);
    if (!o.json) for (const line of out) io.out(line);
    for (const p of problems) io.err(p);
    failed += problems.length;
  }
  if (o.json) io.out(JSON.stringify({ local: expected, nodes: results.map((r) => (r.value ? { node: r.node, ok: true, status: r.value } : { node: r.node, ok: false, error: message(r.error) })) }, null, 2));
  return failed ? EXIT_FAILURE : EXIT_OK;
}
