/**
 * `ipoib-lab cleanup`: on every node of the lab, undoes what interrupted runs left behind by
 * replaying their journals (cleanupJournal), and prints each undo and each failure.
 *
 * Nodes go one after another: local nodes share this machine's journal directory, so each
 * journal is left to the node its header names (a journal naming no node of this lab goes to
 * the first node that sees it), and undone through that node's transport (its namespace, sudo).
 */
import { DEFAULT_JOURNAL_DIR } from '../../lab/journal.js';
import { cleanupJournal, type JournalCleanupReport, listJournals, parseJournal, type UndoOutcome } from '../../lab/journal-cleanup.js';
import type { LabFile, LabNode } from '../../lab/lab-file.js';
import { openTransport } from '../../lab/node-transport.js';
import type { Transport } from '../../lab/transport.js';
import { EXIT_FAILURE, EXIT_OK } from '../exit-codes.js';
import type { Io } from '../run-command.js';
import { loadChosenLab } from './doctor.js';

export interface CleanupOptions {
  lab?: string | undefined;
  /** Undo only the journal of this run. */
  runId?: string | undefined;
  /** Journal directory on the nodes (default /var/tmp/ipoib-lab-journal). */
  journalDir?: string | undefined;
}

const READ_TIMEOUT_MS = 15_000;

/** Run ids this node must leave alone: other nodes' journals, and with --run-id every other run. */
async function runsToKeep(t: Transport, node: LabNode, lab: LabFile, dir: string, runId: string | undefined): Promise<string[]> {
  const others = new Set(lab.nodes.map((n) => n.name).filter((n) => n !== node.name));
  const keep: string[] = [];
  for (const file of await listJournals(t, dir)) {
    const { header } = parseJournal((await t.check(['cat', '--', file], { timeoutMs: READ_TIMEOUT_MS })).stdout);
    if (!header) continue; // cut in its first line: it holds no undo, and cleanupJournal just removes it
    if (others.has(header.node) || (runId !== undefined && header.runId !== runId)) keep.push(header.runId);
  }
  return keep;
}

function undoLine(u: UndoOutcome): string {
  if (u.code === 0) return `  undone: ${u.description}`;
  const why = u.error ?? `exit ${u.code}${u.stderr.trim() ? `: ${u.stderr.trim().split('\n').slice(-2).join(' | ')}` : ''}`;
  return `  FAILED: ${u.description} (${u.undo.join(' ')}): ${why}`;
}

function printReport(r: JournalCleanupReport, io: Io): number {
  const acted = r.journals.filter((j) => j.skipped === undefined || !j.skipped.startsWith('run '));
  if (acted.length === 0) io.out(`${r.node}: nothing to undo`);
  for (const j of acted) {
    if (j.skipped !== undefined) {
      io.out(`${r.node}: left ${j.file} alone: ${j.skipped}`);
      continue;
    }
    io.out(`${r.node}: ${j.file} (run ${j.runId ?? 'unknown'}): ${j.undone.length} undo${j.undone.length === 1 ? '' : 's'}`);
    for (const u of j.undone) io.out(undoLine(u));
  }
  return r.journals.reduce((n, j) => n + j.undone.filter((u) => u.code === 0).length, 0);
}

export async function cleanup(o: CleanupOptions, io: Io, open: (node: LabNode) => Promise<Transport> = openTransport): Promise<number> {
  const { lab } = await loadChosenLab(o.lab);
  const dir = o.journalDir ?? DEFAULT_JOURNAL_DIR;
  let undone = 0;
  let failed = 0;
  let runFound = false;
  for (const node of lab.nodes) {
    let t: Transport | undefined;
    try {
      t = await open(node);
      const skipRunIds = await runsToKeep(t, node, lab, dir, o.runId);
      const r = await cleanupJournal(t, { dir, skipRunIds });
      undone += printReport(r, io);
      runFound ||= r.journals.some((j) => j.runId === o.runId && j.skipped === undefined);
      failed += r.failures.length;
    } catch (e) {
      failed += 1;
      io.err(`${node.name}: cleanup FAILED: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      await t?.close().catch(() => undefined);
    }
  }
  if (o.runId !== undefined && !runFound) {
    failed += 1;
    io.err(`no node has an unfinished journal of run ${o.runId} in ${dir}`);
  }
  io.out(`cleanup: ${undone} undone, ${failed} failed on ${lab.nodes.length} node${lab.nodes.length === 1 ? '' : 's'}`);
  return failed === 0 ? EXIT_OK : EXIT_FAILURE;
}
