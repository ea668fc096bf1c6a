/**
 * The cleanup journal on a node: before a run changes the node, it appends the undo command
 * to a file on that node (through the node's own transport), so that when the run dies without
 * cleaning up (SIGKILL, a crash, a lost controller), `cleanupJournal()` run later -- by
 * `ipoib-lab cleanup` or at the start of the next run -- undoes what was left, newest first,
 * and then deletes the journal.
 *
 * File: <dir>/<run-id>.jsonl in an owner-only directory (default /var/tmp/ipoib-lab-journal,
 * which survives reboots), one JSON object per line:
 *   {"v":1,"kind":"run","runId":..,"node":..,"controller":{"host":..,"pid":..},"at":..}
 *   {"v":1,"kind":"undo","id":1,"description":..,"undo":[argv],"at":..}   before the change
 *   {"v":1,"kind":"done","id":1,"at":..}                                 after it was undone
 * A line cut short by a kill mid-write is ignored when reading.
 */
import { hostname } from 'node:os';
import { ArgumentError, CommandFailedError } from '../errors.js';
import type { DeferStack, Undo } from './defer-stack.js';
import { checkArgv, type RunResult, type Transport } from './transport.js';

export const DEFAULT_JOURNAL_DIR = '/var/tmp/ipoib-lab-journal';
const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const JOURNAL_TIMEOUT_MS = 15_000;

export interface JournalHeader {
  v: 1;
  kind: 'run';
  runId: string;
  node: string;
  controller: { host: string; pid: number };
  at: string;
}

export interface JournalUndo {
  v: 1;
  kind: 'undo';
  id: number;
  description: string;
  undo: string[];
  at: string;
}

export interface JournalDone {
  v: 1;
  kind: 'done';
  id: number;
  at: string;
}

export type JournalLine = JournalHeader | JournalUndo | JournalDone;

/** A run id that sorts by time and is unique enough: 20240501T101502Z-3f9a1c. */
export function newRunId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${stamp}-${Math.random().toString(16).slice(2, 8)}`;
}

export function journalFile(dir: string, runId: string): string {
  return `${dir.replace(/\/+$/, '')}/${runId}.jsonl`;
}

/** Creates `dir` owner-only (0700) on the node; fails if it cannot (e.g. someone else owns it). */
async function ensureJournalDir(t: Transport, dir: string): Promise<void> {
  await t.check(['sh', '-c', 'umask 077 && mkdir -p -- "$1" && chmod 700 -- "$1"', 'sh', dir], { timeoutMs: JOURNAL_TIMEOUT_MS });
}

async function appendLine(t: Transport, file: string, line: JournalLine): Promise<void> {
  await t.check(['sh', '-c', 'umask 077 && cat >> "$1"', 'sh', file], { stdin: `${JSON.stringify(line)}\n`, timeoutMs: JOURNAL_TIMEOUT_MS });
}

export interface RecordedUndo {
  id: number;
  run: Undo;
}

export class NodeJournal {
  private nextId = 1;
  private readonly pending = new Set<number>();

  private constructor(
    readonly transport: Transport,
    readonly runId: string,
    readonly file: string,
  ) {}

  /** Creates the journal of `runId` on the node behind `transport`. */
  static async open(transport: Transport, o: { runId: string; dir?: string }): Promise<NodeJournal> {
    if (!RUN_ID.test(o.runId)) throw new ArgumentError('NodeJournal.open', 'runId', o.runId, `text matching ${RUN_ID} (it names a file)`);
    const dir = o.dir ?? DEFAULT_JOURNAL_DIR;
    await ensureJournalDir(transport, dir);
    const j = new NodeJournal(transport, o.runId, journalFile(dir, o.runId));
    await appendLine(transport, j.file, {
      v: 1,
      kind: 'run',
      runId: o.runId,
      node: transport.name,
      controller: { host: hostname(), pid: process.pid },
      at: new Date().toISOString(),
    });
    return j;
  }

  /** Undos recorded and not yet done. */
  get open(): number {
    return this.pending.size;
  }

  /**
   * Writes the undo to the node's journal; call it BEFORE making the change. `run` is the undo
   * for the cleanup stack: it runs `undo` through the transport and then marks the entry done.
   */
  async record(undo: readonly string[], description: string): Promise<RecordedUndo> {
    checkArgv('NodeJournal.record', undo);
    const id = this.nextId++;
    await appendLine(this.transport, this.file, { v: 1, kind: 'undo', id, description, undo: [...undo], at: new Date().toISOString() });
    this.pending.add(id);
    const run = async () => {
      await this.transport.check(undo);
      await this.markDone(id);
    };
    return { id, run };
  }

  /** Closes an entry: its change was undone (or never happened). */
  async markDone(id: number): Promise<void> {
    await appendLine(this.transport, this.file, { v: 1, kind: 'done', id, at: new Date().toISOString() });
    this.pending.delete(id);
  }

  /** Deletes the journal when nothing is left to undo; otherwise keeps it for cleanupJournal(). */
  async close(): Promise<boolean> {
    if (this.pending.size > 0) return false;
    await this.transport.check(['rm', '-f', '--', this.file], { timeoutMs: JOURNAL_TIMEOUT_MS });
    return true;
  }
}

export interface JournaledChange {
  /** The change itself. */
  argv: readonly string[];
  /** The command that reverts it. */
  undo: readonly string[];
  description: string;
  timeoutMs?: number;
}

/**
 * The whole pattern in one call: journal the undo on the node, make the change, put the undo on
 * the case's stack. A change that exits non-zero is taken to have changed nothing (its entry
 * is closed and CommandFailedError thrown); one whose outcome is unknown (timeout, lost
 * connection) keeps its undo, which may then fail harmlessly.
 */
export async function journaledChange(journal: NodeJournal, stack: DeferStack, c: JournaledChange): Promise<RunResult> {
  const entry = await journal.record(c.undo, c.description);
  let result: RunResult;
  try {
    result = await journal.transport.run(c.argv, c.timeoutMs === undefined ? {} : { timeoutMs: c.timeoutMs });
  } catch (e) {
    stack.defer(entry.run, c.description);
    throw e;
  }
  if (result.code !== 0) {
    await journal.markDone(entry.id);
    throw new CommandFailedError(result.host, result.argv, result.code, result.stdout, result.stderr);
  }
  stack.defer(entry.run, c.description);
  return result;
}
