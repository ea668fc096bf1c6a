/**
 * On SIGINT or SIGTERM, run every open cleanup stack (newest first) and only then exit, with the
 * shell's status for that signal (130, 143). A repeated signal while cleanup runs is ignored
 * (the kernel selftest runner does the same, so a second Ctrl-C cannot strand a half-undone
 * lab); a deadline bounds the wait so a hung undo cannot keep the process alive forever.
 *
 * Installed explicitly by whoever owns the process (the harness, the CLI), never as a side
 * effect of importing, since it replaces Node's default exit on these signals.
 */
import { openStacks } from './open-stacks.js';

export interface SignalCleanupOptions {
  /** Give up on cleanup after this long and exit anyway (default 60 s). */
  deadlineMs?: number;
  /** Where failures are reported (default stderr). */
  log?: (line: string) => void;
  /** How to leave (default process.exit); tests replace it. */
  exit?: (code: number) => void;
}

const EXIT_CODES: Readonly<Record<'SIGINT' | 'SIGTERM', number>> = { SIGINT: 130, SIGTERM: 143 };

let installed: (() => void) | null = null;

/** Runs the open stacks; resolves with one line per failure. Never throws. */
export async function runOpenStacks(): Promise<string[]> {
  const problems: string[] = [];
  for (const stack of openStacks()) {
    try {
      await stack.run();
    } catch (e) {
      problems.push(`${stack.label}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  return problems;
}

/** Installs the handlers (once; later calls return the same uninstaller). */
export function installSignalCleanup(o: SignalCleanupOptions = {}): () => void {
  if (installed) return installed;
  const log = o.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const exit = o.exit ?? ((code: number) => process.exit(code));
  let handling = false;
  const handler = (signal: 'SIGINT' | 'SIGTERM') => {
    if (handling) {
      log(`ipoib-lab: ${signal} again; still cleaning up`);
      return;
    }
    handling = true;
    log(`ipoib-lab: ${signal}: running ${openStacks().length} open cleanup stack(s) before exit`);
    const deadlineMs = o.deadlineMs ?? 60_000;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<string[]>((r) => {
      timer = setTimeout(() => r([`cleanup did not finish within ${deadlineMs} ms`]), deadlineMs);
    });
    void Promise.race([runOpenStacks(), deadline]).then((problems) => {
      clearTimeout(timer);
      for (const p of problems) log(`ipoib-lab: cleanup failed: ${p}`);
      exit(EXIT_CODES[signal]);
    });
  };
  const onInt = () => handler('SIGINT');
  const onTerm = () => handler('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  installed = () => {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
    installed = null;
  };
  return installed;
}
