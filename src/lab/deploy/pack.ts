/**
 * The bundle of the reference stack that goes to a lab node: exactly what `ipoibd` and
 * `ipoibctl` need there, so the node needs no package registry.
 *
 * - package.json, package-lock.json, bin/, src/, lab/ (the default lab file and schema the
 *   sources refer to), the native sources (native/CMakeLists.txt, native/package.json,
 *   native/src/);
 * - node_modules: the production dependencies as package-lock.json marks them, plus tsx and
 *   what it needs, because the bin/ shims run the TypeScript sources through tsx (a dev
 *   dependency in package.json, a run-time one for the shims), minus the controller-only
 *   allure-commandline. Nested node_modules are taken only as their own lock entries, so a dev
 *   package nested under a production one stays out;
 * - when the addon is shipped, native/build/Release/ipoib_native.node;
 * - deploy-stamp.json: the version the bundle was made from (version.ts).
 *
 * Never reports/, .git, test/, suites/ or a local native/build tree: the list is built from
 * the names above, not by excluding things.
 *
 * The tree hash (sha256 over every listed file's path, type, user-execute bit and content,
 * the addon and the stamp excluded) names the bundle, so the same tree always gets the same
 * release name on a node and a second deploy can see that it is already there.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { lstat, mkdtemp, readdir, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DeployError } from '../../errors.js';
import { runTool } from '../../util/run-tool.js';
import type { StackVersion } from './version.js';

/** The package root of this tree (where package.json is). */
export const STACK_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** Where the addon is built and, when shipped, where it lands on the node (relative to the root). */
export const ADDON_PATH = 'native/build/Release/ipoib_native.node';
/** The version stamp inside every bundle (relative to the root); not part of the tree hash. */
export const STAMP_FILE = 'deploy-stamp.json';

/** Top-level files and folders of the bundle (besides node_modules). */
const TREE_PARTS: readonly string[] = ['package.json', 'package-lock.json', 'bin', 'src', 'lab', 'native/CMakeLists.txt', 'native/package.json', 'native/src'];
/** Dev dependencies the node needs at run time: bin/*.js import tsx/esm/api. */
const RUNTIME_DEV_PACKAGES: readonly string[] = ['tsx'];
/**
 * Production packages only the controller uses: allure-commandline turns results into the HTML
 * report (`ipoib-lab report`, with Java) and is three quarters of the bundle's bytes.
 */
export const CONTROLLER_ONLY_PACKAGES: readonly string[] = ['node_modules/allure-commandline'];

const PACK_TIMEOUT_MS = 180_000;

export interface BundleEntry {
  /** Relative to the root, "/"-separated. */
  path: string;
  kind: 'file' | 'symlink';
  /** The owner's execute bit (the only mode bit a non-root unpack keeps for certain). */
  executable: boolean;
  sizeBytes: number;
}

interface LockPackage {
  dev?: boolean;
  devOptional?: boolean;
  optional?: boolean;
  link?: boolean;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

interface PackageLock {
  lockfileVersion?: number;
  packages?: Record<string, LockPackage>;
}

/** Where Node's resolution finds `dep` required from the package at `from` (lock keys). */
function resolveLockDep(packages: Record<string, LockPackage>, from: string, dep: string): string | undefined {
  let base = from;
  for (;;) {
    const candidate = base ? `${base}/node_modules/${dep}` : `node_modules/${dep}`;
    if (packages[candidate]) return candidate;
    if (!base) return undefined;
    const cut = base.lastIndexOf('/node_modules/');
    base = cut < 0 ? '' : base.slice(0, cut);
  }
}

/**
 * The node_modules folders the bundle takes, as package-lock.json keys ("node_modules/a",
 * "node_modules/a/node_modules/b"): every non-dev package plus the closure of the run-time dev
 * packages. Optional packages that are not installed here (other platforms) are left out.
 */
export function bundledPackages(lock: PackageLock, installed: (lockKey: string) => boolean): string[] {
  const packages = lock.packages;
  if (!packages || (lock.lockfileVersion ?? 0) < 2) {
    throw new DeployError('package-lock.json has no "packages" map (lockfileVersion 2 or 3)', 'Regenerate it with npm 7 or later (npm install --package-lock-only).');
  }
  const chosen = new Set<string>();
  const missing: string[] = [];
  const take = (key: string): void => {
    if (chosen.has(key)) return;
    const p = packages[key];
    if (!p || p.link) return;
    if (!installed(key)) {
      if (!p.optional && !p.devOptional) missing.push(key);
      return;
    }
    chosen.add(key);
  };
  for (const [key, p] of Object.entries(packages)) {
    if (key === '' || !key.startsWith('node_modules/')) continue;
    if (!p.dev && !CONTROLLER_ONLY_PACKAGES.includes(key)) take(key);
  }
  const queue = RUNTIME_DEV_PACKAGES.map((name) => `node_modules/${name}`);
  for (let key = queue.shift(); key !== undefined; key = queue.shift()) {
    if (chosen.has(key)) continue;
    take(key);
    if (!chosen.has(key)) continue;
    const p = packages[key] ?? {};
    for (const dep of [...Object.keys(p.dependencies ?? {}), ...Object.keys(p.optionalDependencies ?? {})]) {
      const at = resolveLockDep(packages, key, dep);
      if (at) queue.push(at);
    }
  }
  if (missing.length) {
    throw new DeployError(`node_modules lacks ${missing.length} package(s) package-lock.json lists: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', ...' : ''}`, 'Run `npm ci` in the project first.');
  }
  return [...chosen].sort();
}

async function walk(root: string, rel: string, skipNested: boolean, out: BundleEntry[]): Promise<void> {
  const abs = path.join(root, rel);
  const st = await lstat(abs);
  if (st.isSymbolicLink()) {
    out.push({ path: rel, kind: 'symlink', executable: false, sizeBytes: 0 });
    return;
  }
  if (st.isFile()) {
    out.push({ path: rel, kind: 'file', executable: (st.mode & 0o100) !== 0, sizeBytes: st.size });
    return;
  }
  if (!st.isDirectory()) return;
  for (const name of await readdir(abs)) {
    if (skipNested && name === 'node_modules') continue;
    await walk(root, `${rel}/${name}`, skipNested, out);
  }
}

/** Every file of the bundle except the addon and the stamp, sorted by path. */
export async function stackFiles(root = STACK_ROOT): Promise<BundleEntry[]> {
  let lock: PackageLock;
  try {
    lock = JSON.parse(await readFile(path.join(root, 'package-lock.json'), 'utf8')) as PackageLock;
  } catch (e) {
    throw new DeployError(`cannot read ${path.join(root, 'package-lock.json')}: ${(e as Error).message}`, 'The bundle is made from an npm checkout with its lock file.');
  }
  const out: BundleEntry[] = [];
  for (const part of TREE_PARTS) {
    if (!existsSync(path.join(root, part))) throw new DeployError(`${path.join(root, part)} is missing`, 'The bundle is made from a complete checkout of ipoib-lab.');
    await walk(root, part, false, out);
  }
  for (const key of bundledPackages(lock, (k) => existsSync(path.join(root, k, 'package.json')))) await walk(root, key, true, out);
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

function fileDigest(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(file)
      .on('error', reject)
      .on('data', (d) => h.update(d))
      .on('end', () => resolve(h.digest('hex')));
  });
}

/** sha256 (hex) over the entries: path, type, execute bit and content (a link's target). */
export async function treeHash(root: string, entries: readonly BundleEntry[]): Promise<string> {
  const digests = new Array<string>(entries.length);
  let next = 0;
  // A few reads at once: most files are small, so latency, not bandwidth, is the cost.
  const worker = async (): Promise<void> => {
    for (let i = next++; i < entries.length; i = next++) {
      const e = entries[i] as BundleEntry;
      const abs = path.join(root, e.path);
      digests[i] = e.kind === 'symlink' ? createHash('sha256').update(await readlink(abs)).digest('hex') : await fileDigest(abs);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  const h = createHash('sha256');
  entries.forEach((e, i) => h.update(`${e.path}\0${e.kind}\0${e.executable ? 'x' : '-'}\0${digests[i]}\n`));
  return h.digest('hex');
}

/** The content-addressed release name: ipoib-lab-<version>-<first 12 hex digits of the tree hash>. */
export function releaseName(v: Pick<StackVersion, 'version' | 'treeHash'>): string {
  return `ipoib-lab-${v.version}-${v.treeHash.slice(0, 12)}`;
}

export interface PackedBundle {
  file: string;
  name: string;
  /** Whether native/build/Release/ipoib_native.node is inside. */
  withAddon: boolean;
  entries: number;
  sizeBytes: number;
  durationMs: number;
}

export interface PackOptions {
  root?: string;
  /** The listing and version of the tree (stackFiles + version.ts), so a caller computes them once. */
  files: readonly BundleEntry[];
  version: StackVersion;
  withAddon: boolean;
  /** Folder the .tar.gz is written to. */
  outDir: string;
}

/** Writes the bundle with Debian's tar (gzip level 1: the tree is mostly text and time matters more). */
export async function packStack(o: PackOptions): Promise<PackedBundle> {
  const started = performance.now();
  const root = o.root ?? STACK_ROOT;
  const name = releaseName(o.version);
  const paths = o.files.map((e) => e.path);
  if (o.withAddon) {
    if (!existsSync(path.join(root, ADDON_PATH))) throw new DeployError(`no local addon to ship (${path.join(root, ADDON_PATH)})`, 'Run `npm run build:native` here, or deploy with --build.');
    paths.push(ADDON_PATH);
  }
  const work = await mkdtemp(path.join(o.outDir, '.pack-'));
  try {
    const list = path.join(work, 'files');
    await writeFile(list, paths.map((p) => `${p}\0`).join(''));
    await writeFile(path.join(work, STAMP_FILE), `${JSON.stringify({ ...o.version, name }, null, 2)}\n`);
    const file = path.join(o.outDir, `${name}${o.withAddon ? '-addon' : ''}.tar.gz`);
    // Owner and times are not kept: the node's user owns what it unpacks.
    const r = await runTool(
      'tar',
      ['--create', '--file', file, '--use-compress-program', 'gzip -1', '--owner=0', '--group=0', '--numeric-owner', '--no-recursion', '--null', '-C', root, '-T', list, '-C', work, STAMP_FILE],
      { timeoutMs: PACK_TIMEOUT_MS },
    );
    if (r.code !== 0) throw new DeployError(`tar could not write ${file}: ${(r.error ?? r.stderr).trim()}`, 'Needs GNU tar and gzip here (Debian: apt-get install tar gzip).');
    return { file, name, withAddon: o.withAddon, entries: paths.length + 1, sizeBytes: (await stat(file)).size, durationMs: performance.now() - started };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
