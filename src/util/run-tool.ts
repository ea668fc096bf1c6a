/**
 * Runs a local program with an argv array (never through a shell) and a mandatory timeout.
 * Never throws for a failed program: the result says what happened.
 */
import { execFile } from 'node:child_process';

export interface ToolResult {
  code: number;
  stdout: string;
  stderr: string;
  /** Set when the program could not run at all or was killed by the timeout. */
  error?: string;
  durationMs: number;
}

export interface ToolOptions {
  timeoutMs: number;
  maxBufferBytes?: number;
  env?: NodeJS.ProcessEnv;
}

export function runTool(file: string, args: readonly string[], o: ToolOptions): Promise<ToolResult> {
  const started = performance.now();
  return new Promise((resolve) => {
    execFile(
      file,
      [...args],
      { timeout: o.timeoutMs, maxBuffer: o.maxBufferBytes ?? 64 * 1024 * 1024, env: o.env ?? process.env, encoding: 'utf8' },
      (err, stdout, stderr) => {
        const durationMs = performance.now() - started;
        if (!err) return resolve({ code: 0, stdout, stderr, durationMs });
        const e = err as NodeJS.ErrnoException & { killed?: boolean; signal?: string | null; code?: number | string };
        let error: string | undefined;
        if (e.code === 'ENOENT') error = `${file}: not found`;
        else if (e.killed || e.signal === 'SIGTERM') error = `${file} timed out after ${o.timeoutMs} ms`;
        else if (typeof e.code !== 'number') error = e.message;
        resolve({ code: typeof e.code === 'number' ? e.code : -1, stdout, stderr, durationMs, ...(error ? { error } : {}) });
      },
    );
  });
}
