/**
 * Where a running simulated fabric keeps its state: one owner-only directory per fabric name
 * holding the manager's control socket, its pid file and its log. A later `fabric up` must
 * never collide with a fabric that crashed: a directory whose manager is gone is stale and is
 * cleaned before reuse; one whose manager still runs is refused.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, chmodSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FabricRunError } from '../../errors.js';

export const FABRIC_NAME_PATTERN = /^[a-z][a-z0-9-]{0,31}$/;

export interface FabricRunPaths {
  name: string;
  dir: string;
  socket: string;
  pidFile: string;
  logFile: string;
  stateFile: string;
}

/**
 * The base directory: $IPOIB_LAB_RUN_DIR, else /run/ipoib-lab for root, else
 * $XDG_RUNTIME_DIR/ipoib-lab, else <tmpdir>/ipoib-lab-<uid>.
 */
export function runBase(env: NodeJS.ProcessEnv = process.env): string {
  if (env.IPOIB_LAB_RUN_DIR) return path.resolve(env.IPOIB_LAB_RUN_DIR);
  const uid = process.getuid?.() ?? 0;
  if (uid === 0 && existsSync('/run')) return '/run/ipoib-lab';
  if (env.XDG_RUNTIME_DIR) return path.join(env.XDG_RUNTIME_DIR, 'ipoib-lab');
  return path.join(tmpdir(), `ipoib-lab-${uid}`);
}

export function fabricPaths(name: string, base = runBase()): FabricRunPaths {
  if (!FABRIC_NAME_PATTERN.test(name)) {
    throw new FabricRunError(`fabric name ${JSON.stringify(name)} must match ${FABRIC_NAME_PATTERN}`);
  }
  const dir = path.join(base, `fabric-${name}`);
  return {
    name,
    dir,
    socket: path.join(dir, 'manager.sock'),
    pidFile: path.join(dir, 'manager.pid'),
    logFile: path.join(dir, 'manager.log'),
    stateFile: path.join(dir, 'state.json'),
  };
}

/** Creates `dir` (and parents) owner-only; refuses a directory someone else owns. */
export function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = statSync(dir);
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) {
    throw new FabricRunError(`${dir} belongs to uid ${st.uid}, not to this user (${uid}); refusing to use it`);
  }
  if ((st.mode & 0o077) !== 0) chmodSync(dir, 0o700);
}

/** The pid recorded in the pid file, or null when there is none or it is unreadable. */
export function readPid(p: FabricRunPaths): number | null {
  try {
    const n = Number.parseInt(readFileSync(p.pidFile, 'utf8').trim(), 10);
    return Number.isInteger(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists but belongs to someone else; still alive.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export type RunDirState = { kind: 'absent' } | { kind: 'running'; pid: number } | { kind: 'stale'; pid: number | null };

export function inspectRunDir(p: FabricRunPaths): RunDirState {
  if (!existsSync(p.dir)) return { kind: 'absent' };
  const pid = readPid(p);
  if (pid !== null && processAlive(pid)) return { kind: 'running', pid };
  return { kind: 'stale', pid };
}

/** Removes what a dead manager left behind. Never touches a directory whose manager is alive. */
export function cleanStale(p: FabricRunPaths): void {
  const s = inspectRunDir(p);
  if (s.kind === 'running') throw new FabricRunError(`fabric ${p.name} is running (pid ${s.pid}); stop it with 'ipoib-lab fabric down'`);
  if (s.kind === 'stale') rmSync(p.dir, { recursive: true, force: true });
}

export function writePid(p: FabricRunPaths, pid = process.pid): void {
  writeFileSync(p.pidFile, `${pid}\n`, { mode: 0o600 });
}
