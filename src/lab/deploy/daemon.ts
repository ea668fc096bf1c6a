/**
 * ipoibd on a lab node, from the deployed release: start in the background (setsid + nohup,
 * so it outlives the command and the connection that started it), wait until its control
 * socket answers `ipoibctl --json show`, stop (SIGTERM, SIGKILL after a grace period), status.
 *
 * Start refuses a release that is not this controller's version. Before it starts anything it
 * journals its stop on the node (journal.ts), so `ipoib-lab cleanup` or the next run stops a
 * daemon a killed run left; the stop also goes on the caller's DeferStack when one is given.
 * The stop is a self-contained shell command (pid file → signal → wait), because the journal
 * replays it without any of this code. A pid is signalled only while /proc says it is still
 * an ipoibd, so a recycled pid is never hit.
 */
import { DeployError, DeployVersionMismatchError } from '../../errors.js';
import type { DeferStack } from '../defer-stack.js';
import type { NodeJournal } from '../journal.js';
import type { RunResult, Transport } from '../transport.js';
import { requireInstalledVersion, installedRelease, type InstalledMarker } from './install.js';
import { DEFAULT_DEPLOY_DIR, daemonFiles, type DaemonFiles, resolveDeployDir } from './layout.js';
import { formatStackVersion, parseStackVersion, sameStackVersion, type StackVersion } from './version.js';

const NAME = /^[a-z][a-z0-9-]{0,31}$/;
const START_TIMEOUT_MS = 30_000;
const DEFAULT_READY_TIMEOUT_MS = 30_000;
const CTL_TIMEOUT_MS = 20_000;
const DEFAULT_GRACE_MS = 5_000;
const SMALL_TIMEOUT_MS = 15_000;
/** Exit code of the readiness probe when the daemon is gone. */
const GONE = 99;

/** $1 release, $2 pid file, $3 log file, then ipoibd's arguments. Prints the daemon's pid. */
const START_SCRIPT = `set -e
rel=$1; pidf=$2; log=$3; shift 3
mkdir -p -- "$(dirname -- "$pidf")"
umask 077
if [ -s "$pidf" ]; then
  p=$(cat -- "$pidf")
  if grep -qsa ipoibd "/proc/$p/cmdline"; then echo "ipoibd already runs as pid $p ($pidf)" >&2; exit 3; fi
fi
rm -f -- "$pidf"
cd -- "$rel"
setsid nohup sh -c 'echo $$ > "$0"; exec "$@"' "$pidf" node bin/ipoibd.js "$@" >>"$log" 2>&1 </dev/null &
i=0
while [ ! -s "$pidf" ] && [ "$i" -lt 50 ]; do sleep 0.1; i=$((i+1)); done
[ -s "$pidf" ] || { echo "no pid in $pidf after 5 s" >&2; exit 4; }
cat -- "$pidf"`;

/**
 * $1 pid file, $2 state file, $3 grace in tenths of a second. Prints "stopped PID TERM|KILL",
 * "not-running [PID]" or "still-running PID" (exit 1). Idempotent.
 */
const STOP_SCRIPT = `p=$(cat -- "$1" 2>/dev/null || true)
alive() { [ -n "$p" ] && grep -qsa ipoibd "/proc/$p/cmdline"; }
if ! alive; then rm -f -- "$1" "$2"; echo "not-running $p"; exit 0; fi
kill -TERM "$p" 2>/dev/null || true
i=0; while alive && [ "$i" -lt "$3" ]; do sleep 0.1; i=$((i+1)); done
sig=TERM
if alive; then
  sig=KILL; kill -KILL "$p" 2>/dev/null || true
  i=0; while alive && [ "$i" -lt 50 ]; do sleep 0.1; i=$((i+1)); done
fi
if alive; then echo "still-running $p"; exit 1; fi
rm -f -- "$1" "$2"
echo "stopped $p $sig"`;

/** $1 run dir. One line per state file: running|stopped TAB pid TAB state JSON. */
const STATUS_SCRIPT = `for s in "$1"/ipoibd-*.json; do
  [ -f "$s" ] || continue
  p=$(cat -- "\${s%.json}.pid" 2>/dev/null || true)
  a=stopped; [ -n "$p" ] && grep -qsa ipoibd "/proc/$p/cmdline" && a=running
  printf '%s\\t%s\\t%s\\n' "$a" "$p" "$(tr -d '\\n' < "$s")"
done; exit 0`;

/** The argv that stops the daemon whose files are `f` (also what the journal replays). */
export function stopArgv(f: DaemonFiles, graceMs = DEFAULT_GRACE_MS): string[] {
  return ['sh', '-c', STOP_SCRIPT, 'ipoibd-stop', f.pidFile, f.stateFile, String(Math.max(1, Math.round(graceMs / 100)))];
}

export interface StartDaemonOptions {
  /** Deploy directory on the node (default ~/.ipoib-lab). */
  dir?: string;
  /** ipoibd --fabric: the simulated fabric's name as the node sees it. */
  fabric: string;
  /** ipoibd --node: the fabric node whose port the daemon takes. */
  fabricNode: string;
  netns?: string;
  ifname?: string;
  addresses?: readonly string[];
  socket?: string;
  /** Environment of the daemon and of the readiness probe (e.g. IPOIB_LAB_RUN_DIR). */
  env?: Readonly<Record<string, string>>;
  /** This controller's version: a release of another version is refused. */
  expected: StackVersion;
  /** The node's journal: the stop is recorded there before the daemon starts. */
  journal: NodeJournal;
  /** Also put the stop on this stack. */
  stack?: DeferStack;
  readyTimeoutMs?: number;
  /** SIGTERM → SIGKILL grace of the journalled stop (default 5 s). */
  graceMs?: number;
  progress?: (line: string) => void;
}

export interface StartedDaemon extends DaemonFiles {
  /** The lab node (transport) name. */
  node: string;
  fabric: string;
  fabricNode: string;
  pid: number;
  /** The release directory it runs from (absolute). */
  release: string;
  version: StackVersion;
  /** Its entry in the node journal. */
  journalEntry: number;
  /** From the start command to the first answer of its control socket. */
  readyMs: number;
}

interface DaemonState {
  v: 1;
  fabric: string;
  node: string;
  pid: number;
  release: string;
  version: StackVersion;
  startedAt: string;
  journal: { file: string; id: number } | null;
}

function checkNames(fabric: string, node: string): void {
  if (!NAME.test(fabric)) throw new DeployError(`fabric name ${JSON.stringify(fabric)} is not valid`, `Use ${NAME} (as ipoib-lab fabric up --name takes it).`);
  if (!NAME.test(node)) throw new DeployError(`fabric node name ${JSON.stringify(node)} is not valid`, `Use ${NAME}, e.g. node1.`);
}

function ipoibctlArgv(release: string, o: Pick<StartDaemonOptions, 'fabric' | 'fabricNode' | 'socket'>): string[] {
  const target = o.socket ? ['--socket', o.socket] : ['--fabric', o.fabric, '--node', o.fabricNode];
  return ['node', `${release}/bin/ipoibctl.js`, ...target, '--json', 'show'];
}

async function logTail(t: Transport, logFile: string): Promise<string> {
  const r = await t.run(['tail', '-n', '20', '--', logFile], { timeoutMs: SMALL_TIMEOUT_MS }).catch(() => null);
  return r?.stdout.trim() || '(empty log)';
}

async function appendJournalDone(t: Transport, journal: { file: string; id: number }): Promise<void> {
  const line = JSON.stringify({ v: 1, kind: 'done', id: journal.id, at: new Date().toISOString() });
  await t.run(['sh', '-c', '[ -f "$1" ] || exit 0; cat >> "$1"', 'sh', journal.file], { stdin: `${line}\n`, timeoutMs: SMALL_TIMEOUT_MS });
}

/** Starts ipoibd from the node's current release; see the module comment. */
export async function startDaemon(t: Transport, o: StartDaemonOptions): Promise<StartedDaemon> {
  checkNames(o.fabric, o.fabricNode);
  const say = (line: string): void => o.progress?.(`${t.name}: ${line}`);
  const dir = await resolveDeployDir(t, o.dir ?? DEFAULT_DEPLOY_DIR);
  const { release, marker } = await requireInstalledVersion(t, dir, o.expected);
  const files = daemonFiles(dir, o.fabric, o.fabricNode);
  const args = ['--fabric', o.fabric, '--node', o.fabricNode];
  if (o.netns) args.push('--netns', o.netns);
  if (o.ifname) args.push('--ifname', o.ifname);
  for (const a of o.addresses ?? []) args.push('--address', a);
  if (o.socket) args.push('--socket', o.socket);
  const env = o.env ?? {};

  const entry = await o.journal.record(stopArgv(files, o.graceMs), `stop ipoibd ${o.fabric}/${o.fabricNode} on ${t.name} (${files.pidFile})`);
  const started = performance.now();
  let r: RunResult;
  try {
    r = await t.run(['sh', '-c', START_SCRIPT, 'ipoibd-start', release, files.pidFile, files.logFile, ...args], { env, timeoutMs: START_TIMEOUT_MS });
  } catch (e) {
    o.stack?.defer(entry.run, `stop ipoibd ${o.fabric}/${o.fabricNode} on ${t.name}`); // outcome unknown: keep the undo
    throw e;
  }
  if (r.code !== 0) {
    await o.journal.markDone(entry.id);
    throw new DeployError(`ipoibd did not start: ${r.stderr.trim() || `exit ${r.code}`}`, r.code === 3 ? 'Stop it first (ipoib-lab deploy --stop).' : `See ${files.logFile} on the node.`, t.name);
  }
  const pid = Number(r.stdout.trim().split('\n').pop());
  if (!Number.isInteger(pid) || pid <= 0) {
    o.stack?.defer(entry.run, `stop ipoibd ${o.fabric}/${o.fabricNode} on ${t.name}`);
    throw new DeployError(`the start command printed no pid: ${JSON.stringify(r.stdout.trim())}`, `Look at ${files.pidFile} and ${files.logFile} on the node.`, t.name);
  }
  const version: StackVersion = { version: marker.version, commit: marker.commit, dirty: marker.dirty, treeHash: marker.treeHash };
  o.stack?.defer(entry.run, `stop ipoibd ${o.fabric}/${o.fabricNode} on ${t.name}`);
  const state: DaemonState = { v: 1, fabric: o.fabric, node: o.fabricNode, pid, release, version, startedAt: new Date().toISOString(), journal: { file: o.journal.file, id: entry.id } };
  await t.check(['sh', '-c', 'umask 077; cat > "$1"', 'sh', files.stateFile], { stdin: `${JSON.stringify(state)}\n`, timeoutMs: SMALL_TIMEOUT_MS });
  say(`ipoibd pid ${pid} started from ${release}; waiting for its control socket`);

  const stopNow = async (): Promise<void> => {
    try {
      await entry.run();
    } catch {
      // the error that follows says what went wrong; cleanup replays the journal entry if this failed
    }
  };
  const deadline = Date.now() + (o.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS);
  let last = '';
  for (;;) {
    const probe = await t.run(['sh', '-c', `grep -qsa ipoibd "/proc/$1/cmdline" || exit ${GONE}; shift; exec "$@"`, 'sh', String(pid), ...ipoibctlArgv(release, o)], {
      env,
      timeoutMs: CTL_TIMEOUT_MS,
    });
    if (probe.code === 0) break;
    if (probe.code === GONE) {
      const log = await logTail(t, files.logFile);
      await stopNow();
      throw new DeployError(`ipoibd (pid ${pid}) exited during start; its log ends:\n${log}`, `The whole log is ${files.logFile} on the node.`, t.name);
    }
    last = (probe.stderr || probe.stdout).trim();
    if (Date.now() >= deadline) {
      const log = await logTail(t, files.logFile);
      await stopNow();
      throw new DeployError(`ipoibd (pid ${pid}) did not answer ipoibctl within ${o.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS} ms (last: ${last}); it was stopped. Its log ends:\n${log}`, 'Is the fabric up and reachable from the node?', t.name);
    }
    await new Promise((res) => setTimeout(res, 300));
  }
  return { node: t.name, fabric: o.fabric, fabricNode: o.fabricNode, pid, release, version, journalEntry: entry.id, readyMs: performance.now() - started, ...files };
}

export interface StopDaemonOptions {
  dir?: string;
  fabric: string;
  fabricNode: string;
  graceMs?: number;
}

export interface StopResult {
  node: string;
  fabric: string;
  fabricNode: string;
  /** The pid that was stopped (or found dead), when there was one. */
  pid: number | null;
  /** Whether it was running when asked to stop. */
  wasRunning: boolean;
  /** The signal that ended it, when it was running. */
  signal: 'SIGTERM' | 'SIGKILL' | null;
  durationMs: number;
}

async function readState(t: Transport, stateFile: string): Promise<DaemonState | null> {
  const r = await t.run(['cat', '--', stateFile], { timeoutMs: SMALL_TIMEOUT_MS });
  if (r.code !== 0) return null;
  try {
    return JSON.parse(r.stdout) as DaemonState;
  } catch {
    return null;
  }
}

/** Stops the daemon of `fabric`/`fabricNode` (SIGTERM, SIGKILL after graceMs) and closes its journal entry. */
export async function stopDaemon(t: Transport, o: StopDaemonOptions): Promise<StopResult> {
  checkNames(o.fabric, o.fabricNode);
  const started = performance.now();
  const dir = await resolveDeployDir(t, o.dir ?? DEFAULT_DEPLOY_DIR);
  const files = daemonFiles(dir, o.fabric, o.fabricNode);
  const state = await readState(t, files.stateFile);
  const graceMs = o.graceMs ?? DEFAULT_GRACE_MS;
  const r = await t.run(stopArgv(files, graceMs), { timeoutMs: graceMs + SMALL_TIMEOUT_MS });
  const [word, pidText, sig] = r.stdout.trim().split(/\s+/);
  if (r.code !== 0 || (word !== 'stopped' && word !== 'not-running')) {
    throw new DeployError(`ipoibd ${o.fabric}/${o.fabricNode} did not stop: ${(r.stdout + r.stderr).trim()}`, 'Look at the process on the node (it may be stuck in the kernel).', t.name);
  }
  if (state?.journal && typeof state.journal.file === 'string' && Number.isInteger(state.journal.id)) await appendJournalDone(t, state.journal);
  const pid = pidText ? Number(pidText) : null;
  return {
    node: t.name,
    fabric: o.fabric,
    fabricNode: o.fabricNode,
    pid: Number.isInteger(pid) ? pid : null,
    wasRunning: word === 'stopped',
    signal: word === 'stopped' ? (sig === 'KILL' ? 'SIGKILL' : 'SIGTERM') : null,
    durationMs: performance.now() - started,
  };
}

export interface DaemonStatus {
  fabric: string;
  fabricNode: string;
  pid: number | null;
  running: boolean;
  release: string;
  version: StackVersion | null;
  /** Whether it runs this controller's version (null when no expected version was given). */
  versionMatches: boolean | null;
  startedAt: string;
}

export interface NodeStatus {
  node: string;
  dir: string;
  installed: { release: string; marker: InstalledMarker; versionMatches: boolean | null } | null;
  daemons: DaemonStatus[];
}

/** What is deployed on the node and which daemons startDaemon left there, compared with `expected`. */
export async function daemonStatus(t: Transport, o: { dir?: string; expected?: StackVersion } = {}): Promise<NodeStatus> {
  const dir = await resolveDeployDir(t, o.dir ?? DEFAULT_DEPLOY_DIR);
  const found = await installedRelease(t, dir);
  const matches = (v: StackVersion | null): boolean | null => (o.expected ? v !== null && sameStackVersion(v, o.expected) : null);
  const r = await t.check(['sh', '-c', STATUS_SCRIPT, 'sh', `${dir}/run`], { timeoutMs: SMALL_TIMEOUT_MS });
  const daemons: DaemonStatus[] = [];
  for (const line of r.stdout.split('\n')) {
    const [state, pidText, json] = line.split('\t');
    if (!json) continue;
    let s: Partial<DaemonState>;
    try {
      s = JSON.parse(json) as Partial<DaemonState>;
    } catch {
      continue;
    }
    const version = parseStackVersion(s.version);
    daemons.push({
      fabric: String(s.fabric),
      fabricNode: String(s.node),
      pid: pidText ? Number(pidText) : null,
      running: state === 'running',
      release: String(s.release),
      version,
      versionMatches: matches(version),
      startedAt: String(s.startedAt),
    });
  }
  return { node: t.name, dir, installed: found ? { ...found, versionMatches: matches(found.marker) } : null, daemons };
}

/** Throws DeployVersionMismatchError for the first running daemon that is not `expected`. */
export function requireMatchingDaemons(s: NodeStatus, expected: StackVersion): void {
  for (const d of s.daemons) {
    if (d.running && d.versionMatches === false) {
      throw new DeployVersionMismatchError(s.node, d.version ? formatStackVersion(d.version) : 'unknown', formatStackVersion(expected), `ipoibd ${d.fabric}/${d.fabricNode} (pid ${d.pid})`);
    }
  }
}
