/**
 * Undoes what runs that died left behind on a node: reads every journal in the node's journal
 * directory (journal.ts), runs each undo that was recorded and never marked done, newest
 * first, and deletes the journal. A failing undo is reported and the rest still run (the state
 * it meant to revert is often already gone). Journals of runs still alive on this controller
 * (and this process's own) are left alone.
 */
import { hostname } from 'node:os';
import { DEFAULT_JOURNAL_DIR, type JournalHeader, type JournalUndo } from './journal.js';
import type { Transport } from './transport.js';

const UNDO_TIMEOUT_MS = 60_000;

export interface UndoOutcome {
  description: string;
  undo: string[];
  /** Exit code, or null when the command could not be run (see error). */
  code: number | null;
  stderr: string;
  error?: string;
}

export interface JournalOutcome {
  file: string;
  runId: string | null;
  /** Undos run, newest first. */
  undone: UndoOutcome[];
  /** Why the journal was left alone, when it was. */
  skipped?: string;
}

export interface JournalCleanupReport {
  node: string;
  journals: JournalOutcome[];
  /** Every undo that exited non-zero or could not run, over all journals. */
  failures: UndoOutcome[];
}

export interface ParsedJournal {
  header: JournalHeader | null;
  /** Recorded and not marked done, in recording order. */
  pending: JournalUndo[];
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Reads a journal's text; lines that are not well-formed entries (a write cut short) are ignored. */
export function parseJournal(text: string): ParsedJournal {
  let header: JournalHeader | null = null;
  const undos = new Map<number, JournalUndo>();
  const done = new Set<number>();
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      continue;
    }
    if (!isRecord(v) || v.v !== 1) continue;
    if (v.kind === 'run' && typeof v.runId === 'string' && isRecord(v.controller)) header = v as unknown as JournalHeader;
    else if (v.kind === 'undo' && Number.isInteger(v.id) && Array.isArray(v.undo) && v.undo.length > 0 && v.undo.every((a) => typeof a === 'string')) {
      undos.set(v.id as number, v as unknown as JournalUndo);
    } else if (v.kind === 'done' && Number.isInteger(v.id)) done.add(v.id as number);
  }
  const pending = [...undos.values()].filter((u) => !done.has(u.id)).sort((a, b) => a.id - b.id);
  return { header, pending };
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Why a journal must be left alone, or null when it belongs to a dead run. */
function liveOwner(h: JournalHeader | null, skipRunIds: readonly string[]): string | null {
  if (!h) return null;
  if (skipRunIds.includes(h.runId)) return `run ${h.runId} was asked to be kept`;
  if (h.controller.host !== hostname()) return null; // another controller: labs are reserved per run, so it is dead
  if (h.controller.pid === process.pid) return 'it belongs to this process';
  if (processAlive(h.controller.pid)) return `its run (pid ${h.controller.pid}) is still alive`;
  return null;
}

export interface CleanupJournalOptions {
  dir?: string;
  /** Run ids whose journals must not be touched (the run that is starting). */
  skipRunIds?: readonly string[];
  /** Undo even journals whose run looks alive. */
  force?: boolean;
}

export async function listJournals(t: Transport, dir: string): Promise<string[]> {
  const r = await t.check(['sh', '-c', '[ -d "$1" ] || exit 0; for f in "$1"/*.jsonl; do [ -f "$f" ] && printf "%s\\n" "$f"; done; exit 0', 'sh', dir], {
    timeoutMs: 15_000,
  });
  return r.stdout.split('\n').filter(Boolean).sort();
}

export async function cleanupJournal(t: Transport, o: CleanupJournalOptions = {}): Promise<JournalCleanupReport> {
  const dir = o.dir ?? DEFAULT_JOURNAL_DIR;
  const report: JournalCleanupReport = { node: t.name, journals: [], failures: [] };
  for (const file of await listJournals(t, dir)) {
    const text = (await t.check(['cat', '--', file], { timeoutMs: 15_000 })).stdout;
    const { header, pending } = parseJournal(text);
    const outcome: JournalOutcome = { file, runId: header?.runId ?? null, undone: [] };
    report.journals.push(outcome);
    const keep = o.force ? null : liveOwner(header, o.skipRunIds ?? []);
    if (keep) {
      outcome.skipped = keep;
      continue;
    }
    for (const u of [...pending].reverse()) {
      let done: UndoOutcome;
      try {
        const r = await t.run(u.undo, { timeoutMs: UNDO_TIMEOUT_MS });
        done = { description: u.description, undo: u.undo, code: r.code, stderr: r.stderr };
      } catch (e) {
        done = { description: u.description, undo: u.undo, code: null, stderr: '', error: e instanceof Error ? e.message : String(e) };
      }
      outcome.undone.push(done);
      if (done.code !== 0) report.failures.push(done);
    }
    await t.check(['rm', '-f', '--', file], { timeoutMs: 15_000 });
  }
  return report;
}
