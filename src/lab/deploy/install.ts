/**
 * Installs the reference stack on a node through its transport (deployStack):
 *
 *   probe (one command) → already installed? done → ship or build → pack (once per run) →
 *   copy → unpack into releases/.<name>.partial → build there if needed (cmake-js, offline:
 *   node-api-headers comes in the bundle) → verify (the node's own `ipoib-lab deploy
 *   --print-version`: tree hash recomputed there, addon loaded) → mark complete, move into
 *   place, point `current` at it, drop old releases.
 *
 * A failure removes the partial tree and the upload; an installed release is never half
 * written, because its marker is written last. Installing is not journalled as a change to
 * undo: a release is meant to stay. Every remote command has a deadline.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CommandFailedError, DeployError, DeployVersionMismatchError } from '../../errors.js';
import type { RunResult, Transport } from '../transport.js';
import { DEFAULT_DEPLOY_DIR, INSTALLED_MARKER, releaseDir } from './layout.js';
import { type AddonMode, checkBuildable, checkEsbuildFor, checkRunnable, decideAddon, type LocalFacts, localFacts, type NodeFacts, probeNode } from './node-facts.js';
import { type BundleEntry, type PackedBundle, packStack, releaseName, STACK_ROOT, stackFiles } from './pack.js';
import { formatStackVersion, type InstallationVersion, parseStackVersion, sameStackVersion, type StackVersion, stackVersion } from './version.js';

const COPY_TIMEOUT_MS = 300_000;
const UNPACK_TIMEOUT_MS = 120_000;
const BUILD_TIMEOUT_MS = 900_000;
const VERIFY_TIMEOUT_MS = 120_000;
const FINALIZE_TIMEOUT_MS = 60_000;
const CLEANUP_TIMEOUT_MS = 60_000;
/** Releases kept besides the current one and those a running daemon uses. */
export const KEEP_RELEASES = 3;

/** The controller's side of a deployment: this tree, listed, versioned and packed at most once per kind. */
export interface LocalStack {
  readonly root: string;
  readonly files: readonly BundleEntry[];
  readonly version: StackVersion;
  /** The release name on nodes (pack.ts releaseName). */
  readonly name: string;
  readonly facts: LocalFacts;
  /** esbuild's version in the lock (a node of another CPU needs its platform package). */
  readonly esbuildVersion: string;
  bundle(withAddon: boolean): Promise<PackedBundle>;
  /** Removes the packed files. */
  dispose(): Promise<void>;
}

export async function prepareLocalStack(o: { root?: string } = {}): Promise<LocalStack> {
  const root = o.root ?? STACK_ROOT;
  const files = await stackFiles(root);
  const [version, facts] = await Promise.all([stackVersion(root, files), localFacts(root)]);
  const lock = JSON.parse(readFileSync(path.join(root, 'package-lock.json'), 'utf8')) as { packages?: Record<string, { version?: string }> };
  const esbuildVersion = lock.packages?.['node_modules/esbuild']?.version ?? 'latest';
  const packs = new Map<boolean, Promise<PackedBundle>>();
  let workDir: Promise<string> | null = null;
  return {
    root,
    files,
    version,
    name: releaseName(version),
    facts,
    esbuildVersion,
    bundle(withAddon) {
      let p = packs.get(withAddon);
      if (!p) {
        workDir ??= mkdtemp(path.join(tmpdir(), 'ipoib-lab-bundle-'));
        p = workDir.then((outDir) => packStack({ root, files, version, withAddon, outDir }));
        packs.set(withAddon, p);
      }
      return p;
    },
    async dispose() {
      if (workDir) await rm(await workDir, { recursive: true, force: true });
    },
  };
}

export interface DeployOptions {
  /** Deploy directory on the node (default ~/.ipoib-lab). */
  dir?: string;
  /** Force shipping the local addon or building it on the node; default: ship when compatible. */
  addon?: AddonMode;
  /** The controller's tree; made (and disposed) here when not given. */
  local?: LocalStack;
  /** Progress lines ("node1: copying 13.3 MB"). */
  progress?: (line: string) => void;
  buildTimeoutMs?: number;
}

export interface DeployResult {
  node: string;
  outcome: 'installed' | 'already-installed';
  addon: 'shipped' | 'built';
  /** The deploy directory, absolute. */
  dir: string;
  /** The release directory, absolute. */
  release: string;
  version: StackVersion;
  /** Why the addon was shipped or built. */
  reasons: string[];
  bytesCopied: number;
  durationMs: number;
  /** What the node said about itself. */
  facts: { arch: string; nodeVersion: string | null; glibc: string | null };
}

/** The marker of a complete install (releases/<name>/.deployed.json). */
export interface InstalledMarker extends StackVersion {
  name: string;
  addon: 'shipped' | 'built';
  installedAt: string;
  arch: string;
  nodeVersion: string | null;
}

export function parseInstalledMarker(v: unknown): InstalledMarker | null {
  const version = parseStackVersion(v);
  if (!version || typeof v !== 'object' || v === null) return null;
  const m = v as Record<string, unknown>;
  if (typeof m.name !== 'string' || (m.addon !== 'shipped' && m.addon !== 'built')) return null;
  return {
    ...version,
    name: m.name,
    addon: m.addon,
    installedAt: typeof m.installedAt === 'string' ? m.installedAt : '',
    arch: typeof m.arch === 'string' ? m.arch : '',
    nodeVersion: typeof m.nodeVersion === 'string' ? m.nodeVersion : null,
  };
}

const mb = (n: number): string => `${(n / 1e6).toFixed(1)} MB`;
const tail = (text: string, lines = 15): string => text.trim().split('\n').slice(-lines).join('\n');

/** $1 upload, $2 partial dir. */
const UNPACK_SCRIPT = 'set -e; umask 022; rm -rf -- "$2"; mkdir -p -- "$2"; tar -xzf "$1" -C "$2" --no-same-owner; rm -f -- "$1"';

/**
 * $1 deploy dir, $2 release name, $3 releases to keep; stdin: the marker. Writes the marker,
 * moves the partial tree into place, points `current` at it, and removes old releases (never
 * the new one, and none a daemon's state file names).
 */
const FINALIZE_SCRIPT = `set -e
d=$1; n=$2; keep=$3
p="$d/releases/.$n.partial"; r="$d/releases/$n"
cat > "$p/${INSTALLED_MARKER}"
rm -rf -- "$r"
mv -- "$p" "$r"
mkdir -p -- "$d/run"
ln -sfn "releases/$n" "$d/current.new" && mv -fT -- "$d/current.new" "$d/current"
i=0
for x in $(ls -1t -- "$d/releases"); do
  i=$((i+1))
  [ "$i" -le "$keep" ] && continue
  [ "$x" = "$n" ] && continue
  grep -qsF "/releases/$x\\"" "$d"/run/*.json && continue
  rm -rf -- "$d/releases/$x"
done`;

async function checked(t: Transport, argv: readonly string[], timeoutMs: number, what: string, hint: string, cwd?: string): Promise<RunResult> {
  const r = await t.run(argv, { timeoutMs, ...(cwd ? { cwd } : {}) });
  if (r.code !== 0) throw new DeployError(`${what} failed (exit ${r.code}):\n${tail(`${r.stdout}\n${r.stderr}`)}`, hint, t.name, { cause: new CommandFailedError(r.host, r.argv, r.code, r.stdout, r.stderr) });
  return r;
}

/** Asks the tree at `release` on the node for its version: the node recomputes the tree hash itself. */
export async function remoteInstallationVersion(t: Transport, release: string, timeoutMs = VERIFY_TIMEOUT_MS): Promise<InstallationVersion> {
  const r = await checked(
    t,
    ['node', `${release}/bin/ipoib-lab.js`, 'deploy', '--print-version'],
    timeoutMs,
    'running the installed tree (ipoib-lab deploy --print-version)',
    'The tree was copied but does not run there; the output above says why.',
  );
  let parsed: unknown;
  try {
    parsed = JSON.parse(r.stdout);
  } catch {
    throw new DeployError(`the installed tree printed no version JSON: ${tail(r.stdout, 3)}`, 'Look at the node\'s Node.js installation.', t.name);
  }
  const p = parsed as Partial<InstallationVersion>;
  const stack = parseStackVersion(p.stack);
  if (!stack || typeof p.native !== 'object' || p.native === null) throw new DeployError(`the installed tree printed an unexpected version: ${tail(r.stdout, 3)}`, 'Is the node running an older ipoib-lab?', t.name);
  return { stack, node: String(p.node), native: p.native };
}

/** Ensures `current` points at `name` (one command, only when it does not). */
async function pointCurrentAt(t: Transport, f: NodeFacts, name: string): Promise<void> {
  if (f.current === `releases/${name}`) return;
  await t.check(['sh', '-c', 'ln -sfn "releases/$2" "$1/current.new" && mv -fT -- "$1/current.new" "$1/current"', 'sh', f.dir, name], { timeoutMs: FINALIZE_TIMEOUT_MS });
}

/** $1 deploy dir, $2 release name: the pids of running daemons whose state file names that release. */
const IN_USE_SCRIPT = `for s in "$1"/run/ipoibd-*.json; do
  [ -f "$s" ] && grep -qsF "/releases/$2\\"" "$s" || continue
  p=$(cat -- "\${s%.json}.pid" 2>/dev/null || true)
  [ -n "$p" ] && grep -qsa ipoibd "/proc/$p/cmdline" && echo "$p"
done; exit 0`;

/** Reinstalling a release (--build over a shipped one, or the reverse) replaces its files: not under a running daemon. */
async function refuseIfInUse(t: Transport, dir: string, name: string): Promise<void> {
  const r = await t.check(['sh', '-c', IN_USE_SCRIPT, 'sh', dir, name], { timeoutMs: FINALIZE_TIMEOUT_MS });
  const pids = r.stdout.split('\n').filter(Boolean);
  if (pids.length) throw new DeployError(`ipoibd (pid ${pids.join(', ')}) runs from ${releaseDir(dir, name)}, which reinstalling would replace`, 'Stop it first (ipoib-lab deploy --stop).', t.name);
}

/** Installs this tree on the node behind `t`; see the module comment. */
export async function deployStack(t: Transport, o: DeployOptions = {}): Promise<DeployResult> {
  const started = performance.now();
  const local = o.local ?? (await prepareLocalStack());
  const say = (line: string): void => o.progress?.(`${t.name}: ${line}`);
  try {
    const f = await probeNode(t, o.dir ?? DEFAULT_DEPLOY_DIR, local.name, local.facts.addonLibs);
    checkRunnable(f);
    const release = releaseDir(f.dir, local.name);
    const facts = { arch: f.arch, nodeVersion: f.nodeVersion, glibc: f.glibc };
    const marker = parseInstalledMarker(f.installed);
    const want = o.addon === 'ship' ? 'shipped' : o.addon === 'build' ? 'built' : undefined;
    if (marker && sameStackVersion(marker, local.version) && (want === undefined || marker.addon === want)) {
      await pointCurrentAt(t, f, local.name);
      say(`already installed at ${release}`);
      return { node: t.name, outcome: 'already-installed', addon: marker.addon, dir: f.dir, release, version: local.version, reasons: [`installed ${marker.installedAt}`], bytesCopied: 0, durationMs: performance.now() - started, facts };
    }

    if (marker && sameStackVersion(marker, local.version)) await refuseIfInUse(t, f.dir, local.name);
    if (f.arch !== local.facts.arch) checkEsbuildFor(local.facts, f, local.esbuildVersion);
    const decision = decideAddon(local.facts, f, o.addon);
    if (decision.mode === 'build') checkBuildable(f);
    else if (local.facts.staleBecause) say(`warning: ${local.facts.staleBecause} is newer than the local addon; shipping it anyway (npm run build:native refreshes it)`);
    say(`${decision.mode === 'ship' ? 'shipping the local addon' : 'building the addon on the node'}: ${decision.reasons.join('; ')}`);

    const bundle = await local.bundle(decision.mode === 'ship');
    say(`copying ${bundle.name} (${mb(bundle.sizeBytes)}, ${bundle.entries} files)`);
    const upload = `/tmp/ipoib-lab-upload-${local.name}-${randomBytes(4).toString('hex')}.tar.gz`;
    const partial = `${f.dir}/releases/.${local.name}.partial`;
    try {
      await t.put(bundle.file, upload, { timeoutMs: COPY_TIMEOUT_MS });
      await checked(t, ['sh', '-c', UNPACK_SCRIPT, 'sh', upload, partial], UNPACK_TIMEOUT_MS, `unpacking into ${partial}`, 'Check the space and permissions of the deploy directory (--dir or deploy.dir).');
      if (decision.mode === 'build') {
        say('building the addon (cmake-js; a few minutes)');
        await checked(
          t,
          ['node', 'node_modules/cmake-js/bin/cmake-js', 'compile', '--directory', 'native', '--out', 'native/build'],
          o.buildTimeoutMs ?? BUILD_TIMEOUT_MS,
          'building the addon (cmake-js compile)',
          'Install what the build output names (Debian: cmake g++ make zlib1g-dev libboost-dev), or ship a build from a controller of the same CPU (--ship).',
          partial,
        );
      }
      say('verifying (the node recomputes the tree hash and loads the addon)');
      const seen = await remoteInstallationVersion(t, partial);
      if (!sameStackVersion(seen.stack, local.version)) {
        throw new DeployError(
          `the copied tree is version ${formatStackVersion(seen.stack)} on the node, but ${formatStackVersion(local.version)} was packed`,
          'Files changed while they were packed (edits in the checkout?) or the copy was damaged: deploy again.',
          t.name,
        );
      }
      if (!seen.native.loaded) {
        throw new DeployError(`the addon does not load on the node: ${seen.native.error}`, decision.mode === 'ship' ? 'Deploy with --build to build it there.' : 'The build finished but its result does not load; see the error.', t.name);
      }
      const m: InstalledMarker = { ...local.version, name: local.name, addon: decision.mode === 'ship' ? 'shipped' : 'built', installedAt: new Date().toISOString(), arch: f.arch, nodeVersion: f.nodeVersion };
      const fin = await t.run(['sh', '-c', FINALIZE_SCRIPT, 'sh', f.dir, local.name, String(KEEP_RELEASES)], { stdin: `${JSON.stringify(m)}\n`, timeoutMs: FINALIZE_TIMEOUT_MS });
      if (fin.code !== 0) throw new DeployError(`moving the release into place failed: ${tail(fin.stderr, 3)}`, 'Check the deploy directory\'s permissions.', t.name);
      say(`installed at ${release}`);
      return { node: t.name, outcome: 'installed', addon: m.addon, dir: f.dir, release, version: local.version, reasons: decision.reasons, bytesCopied: bundle.sizeBytes, durationMs: performance.now() - started, facts };
    } catch (e) {
      await t.run(['rm', '-rf', '--', partial, upload], { timeoutMs: CLEANUP_TIMEOUT_MS }).catch(() => undefined);
      throw e;
    }
  } finally {
    if (!o.local) await local.dispose();
  }
}

/** The release `current` points at on the node, with its marker; null when nothing is installed. */
export async function installedRelease(t: Transport, dir: string): Promise<{ release: string; marker: InstalledMarker } | null> {
  const r = await t.run(['sh', '-c', 'r=$(readlink -f -- "$1/current") || exit 3; [ -f "$r/$2" ] || exit 3; echo "$r"; cat -- "$r/$2"', 'sh', dir, INSTALLED_MARKER], { timeoutMs: FINALIZE_TIMEOUT_MS });
  if (r.code === 3) return null;
  if (r.code !== 0) throw new CommandFailedError(r.host, r.argv, r.code, r.stdout, r.stderr);
  const nl = r.stdout.indexOf('\n');
  let marker: InstalledMarker | null = null;
  try {
    marker = parseInstalledMarker(JSON.parse(r.stdout.slice(nl + 1)));
  } catch {
    marker = null;
  }
  if (!marker) throw new DeployError(`${r.stdout.slice(0, nl)}/${INSTALLED_MARKER} is not a deployment marker`, 'Deploy again (ipoib-lab deploy).', t.name);
  return { release: r.stdout.slice(0, nl), marker };
}

/** Throws DeployVersionMismatchError unless `current` on the node is `expected`; returns the release. */
export async function requireInstalledVersion(t: Transport, dir: string, expected: StackVersion): Promise<{ release: string; marker: InstalledMarker }> {
  const found = await installedRelease(t, dir);
  if (!found) throw new DeployError(`nothing is deployed in ${dir}`, 'Run `ipoib-lab deploy` for this node first.', t.name);
  if (!sameStackVersion(found.marker, expected)) throw new DeployVersionMismatchError(t.name, formatStackVersion(found.marker), formatStackVersion(expected));
  return found;
}
