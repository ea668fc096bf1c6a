/**
 * What deployment needs to know about a node, asked in one command (CPU, Node.js and its
 * Node-API version, glibc, tar and the build tools, what is installed already), and the pure
 * decisions taken from it: can the node run the stack at all, can the local addon be shipped
 * or must it be built there, and can it be built there.
 *
 * The addon is a Node-API module (native/package.json: binary.napi_versions), so it loads in
 * any Node.js that offers that Node-API version, whatever its module ABI
 * (process.versions.modules, reported for the record). What ties a build to a machine is the
 * CPU and the C library: it ships when the node has the same `uname -m` and a glibc at least
 * as new as the one it was built against here.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { DeployError } from '../../errors.js';
import { runTool } from '../../util/run-tool.js';
import type { Transport } from '../transport.js';
import { INSTALLED_MARKER, checkDeployDir } from './layout.js';
import { ADDON_PATH } from './pack.js';

export const MIN_NODE_MAJOR = 20;
const PROBE_TIMEOUT_MS = 30_000;

/** Debian packages for what a node may lack. */
export const DEBIAN_PACKAGES: Readonly<Record<string, string>> = {
  tar: 'tar',
  gzip: 'gzip',
  cmake: 'cmake',
  'c++': 'g++',
  'make or ninja': 'make',
  'zlib.h': 'zlib1g-dev',
  'boost/crc.hpp': 'libboost-dev',
};

export interface NodeFacts {
  /** The node's name (the transport's). */
  name: string;
  /** The deploy directory, absolute. */
  dir: string;
  /** `uname -m`. */
  arch: string;
  /** process.version of the node's `node`, or null when there is none on PATH. */
  nodeVersion: string | null;
  /** process.versions.modules (Node's module ABI). */
  modules: string | null;
  /** process.versions.napi: the highest Node-API version it offers. */
  napi: number | null;
  /** e.g. "2.36" (getconf GNU_LIBC_VERSION, else ldd --version); null when not glibc or unknown. */
  glibc: string | null;
  tools: ReadonlySet<string>;
  headers: ReadonlySet<'zlib' | 'boost'>;
  /** `.deployed.json` of the release this tree would be installed as, when it is there. */
  installed: unknown;
  /** Where `current` points (relative link text), or null. */
  current: string | null;
  /** The shared libraries asked about (the local addon's) that the node has. */
  libs: ReadonlySet<string>;
}

/**
 * $1 deploy dir (may start with ~), $2 release name, then shared library names to look for.
 * Prints key=value lines. The Node.js part runs only when there is a `node` on PATH.
 */
const PROBE_SCRIPT = `
case "$1" in "~") d=$HOME ;; "~/"*) d="$HOME/\${1#\\~/}" ;; *) d=$1 ;; esac
echo "dir=$d"
echo "arch=$(uname -m)"
if command -v node >/dev/null 2>&1; then
  node -e 'const v=process.versions;console.log("node="+process.version+"\\nmodules="+v.modules+"\\nnapi="+(v.napi||""))' 2>/dev/null
fi
g=$(getconf GNU_LIBC_VERSION 2>/dev/null | sed -n 's/^glibc //p')
[ -n "$g" ] || g=$(ldd --version 2>/dev/null | sed -n '1s/.* \\([0-9][0-9]*\\.[0-9][0-9]*\\)$/\\1/p')
echo "glibc=$g"
for t in tar gzip cmake g++ c++ make ninja setsid nohup; do command -v "$t" >/dev/null 2>&1 && echo "tool=$t"; done
[ -f /usr/include/zlib.h ] && echo "header=zlib"
[ -f /usr/include/boost/crc.hpp ] && echo "header=boost"
m="$d/releases/$2/${INSTALLED_MARKER}"
[ -f "$m" ] && echo "installed=$(tr -d '\\n' < "$m")"
[ -L "$d/current" ] && echo "current=$(readlink "$d/current")"
shift 2
for l in "$@"; do
  for x in /lib /usr/lib /lib64 /usr/lib64 /lib/*-linux-gnu /usr/lib/*-linux-gnu /usr/local/lib; do
    [ -e "$x/$l" ] && { echo "lib=$l"; break; }
  done
done
exit 0
`;

/** Reads the probe's key=value lines (pure; exported for tests). */
export function parseNodeFacts(name: string, stdout: string): NodeFacts {
  const one = new Map<string, string>();
  const tools = new Set<string>();
  const libs = new Set<string>();
  const headers = new Set<'zlib' | 'boost'>();
  for (const line of stdout.split('\n')) {
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    const k = line.slice(0, eq);
    const v = line.slice(eq + 1).trim();
    if (k === 'tool') tools.add(v);
    else if (k === 'lib') libs.add(v);
    else if (k === 'header' && (v === 'zlib' || v === 'boost')) headers.add(v);
    else one.set(k, v);
  }
  let installed: unknown = null;
  const marker = one.get('installed');
  if (marker) {
    try {
      installed = JSON.parse(marker);
    } catch {
      installed = null; // a marker cut short is no marker: reinstall
    }
  }
  const napi = Number(one.get('napi'));
  return {
    name,
    dir: one.get('dir') ?? '',
    arch: one.get('arch') ?? '',
    nodeVersion: one.get('node') || null,
    modules: one.get('modules') || null,
    napi: Number.isInteger(napi) && napi > 0 ? napi : null,
    glibc: one.get('glibc') || null,
    tools,
    headers,
    installed,
    current: one.get('current') || null,
    libs,
  };
}

/** Asks the node (one command); `libs`: shared library names to look for (the local addon's). */
export async function probeNode(t: Transport, dir: string, releaseName: string, libs: readonly string[] = []): Promise<NodeFacts> {
  checkDeployDir(dir);
  const r = await t.check(['sh', '-c', PROBE_SCRIPT, 'ipoib-lab-probe', dir, releaseName, ...libs], { timeoutMs: PROBE_TIMEOUT_MS });
  const facts = parseNodeFacts(t.name, r.stdout);
  if (!facts.dir.startsWith('/')) throw new DeployError(`the deploy directory ${dir} resolves to ${JSON.stringify(facts.dir)} on the node`, 'Give an absolute deploy directory (--dir or deploy.dir).', t.name);
  return facts;
}

/** Throws unless the node has Node.js >= 20, tar and gzip: without them nothing installed can run. */
export function checkRunnable(f: NodeFacts): void {
  const major = f.nodeVersion ? Number(/^v(\d+)/.exec(f.nodeVersion)?.[1]) : NaN;
  if (!(major >= MIN_NODE_MAJOR)) {
    throw new DeployError(
      f.nodeVersion ? `Node.js ${f.nodeVersion} is too old (the stack needs ${MIN_NODE_MAJOR} or later)` : 'no Node.js on the PATH of the node\'s login user',
      `Install Node.js ${MIN_NODE_MAJOR} or later: Debian 13 "apt-get install nodejs"; Debian 12 ships 18, so take nodejs ${MIN_NODE_MAJOR}+ from deb.nodesource.com or nodejs.org.`,
      f.name,
    );
  }
  const missing = ['tar', 'gzip'].filter((x) => !f.tools.has(x));
  if (missing.length) throw new DeployError(`${missing.join(' and ')} missing`, `Install them: apt-get install ${missing.map((m) => DEBIAN_PACKAGES[m]).join(' ')}.`, f.name);
}

/** What the node lacks to build the addon, by the names DEBIAN_PACKAGES knows. */
export function missingBuildTools(f: NodeFacts): string[] {
  const missing: string[] = [];
  if (!f.tools.has('cmake')) missing.push('cmake');
  if (!f.tools.has('g++') && !f.tools.has('c++')) missing.push('c++');
  if (!f.tools.has('make') && !f.tools.has('ninja')) missing.push('make or ninja');
  if (!f.headers.has('zlib')) missing.push('zlib.h');
  if (!f.headers.has('boost')) missing.push('boost/crc.hpp');
  return missing;
}

export function checkBuildable(f: NodeFacts): void {
  const missing = missingBuildTools(f);
  if (missing.length === 0) return;
  const pkgs = [...new Set(missing.map((m) => DEBIAN_PACKAGES[m] ?? m))];
  throw new DeployError(
    `cannot build the addon on the node: ${missing.join(', ')} missing`,
    `Install them (Debian: apt-get install ${pkgs.join(' ')}; libibverbs-dev too for the verbs parts), or ship a build from a controller of the same CPU (--ship).`,
    f.name,
  );
}

/** What the controller offers: its CPU, C library, the addon it built and the Node-API version that addon needs. */
export interface LocalFacts {
  arch: string;
  glibc: string | null;
  /** binary.napi_versions[0] of native/package.json. */
  napiRequired: number;
  /** The local addon, or null when it was never built. */
  addon: string | null;
  /** A native source newer than the addon (the build may be stale), or null. */
  staleBecause: string | null;
  /** The shared libraries the addon loads besides the C library and the dynamic loader (ldd). */
  addonLibs: readonly string[];
  /** @esbuild/<platform> packages the tree has: tsx needs the one of the node's CPU. */
  esbuildPlatforms: readonly string[];
}

async function newestSource(dir: string): Promise<{ file: string; mtimeMs: number } | null> {
  let best: { file: string; mtimeMs: number } | null = null;
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const file = path.join(dir, e.name);
    const found = e.isDirectory() ? await newestSource(file) : e.isFile() ? { file, mtimeMs: statSync(file).mtimeMs } : null;
    if (found && (!best || found.mtimeMs > best.mtimeMs)) best = found;
  }
  return best;
}

export async function localFacts(root: string): Promise<LocalFacts> {
  const uname = await runTool('uname', ['-m'], { timeoutMs: 5_000 });
  const getconf = await runTool('getconf', ['GNU_LIBC_VERSION'], { timeoutMs: 5_000 });
  const native = JSON.parse(readFileSync(path.join(root, 'native/package.json'), 'utf8')) as { binary?: { napi_versions?: number[] } };
  const napiRequired = native.binary?.napi_versions?.[0];
  if (typeof napiRequired !== 'number') throw new DeployError('native/package.json has no binary.napi_versions', 'It tells cmake-js and deployment which Node-API version the addon targets.');
  const addonFile = path.join(root, ADDON_PATH);
  const addon = existsSync(addonFile) ? addonFile : null;
  let staleBecause: string | null = null;
  if (addon) {
    const newest = await newestSource(path.join(root, 'native/src'));
    if (newest && newest.mtimeMs > statSync(addon).mtimeMs) staleBecause = path.relative(root, newest.file);
  }
  let addonLibs: string[] = [];
  if (addon) {
    const ldd = await runTool('ldd', [addon], { timeoutMs: 10_000 });
    // "libibverbs.so.1 => /lib/...": the sonames; linux-vdso and ld-linux are no files to look for.
    if (ldd.code === 0) addonLibs = [...ldd.stdout.matchAll(/^\s*(\S+\.so[.\d]*)\s+=>/gm)].map((m) => m[1] as string);
  }
  const esbuildDir = path.join(root, 'node_modules/@esbuild');
  const esbuildPlatforms = existsSync(esbuildDir) ? (await readdir(esbuildDir)).sort() : [];
  return {
    arch: uname.stdout.trim(),
    glibc: /^glibc (\S+)/.exec(getconf.stdout.trim())?.[1] ?? null,
    napiRequired,
    addon,
    staleBecause,
    addonLibs,
    esbuildPlatforms,
  };
}

/** `uname -m` → the CPU name in esbuild's package names (linux-<cpu>). */
export function esbuildCpu(unameArch: string): string {
  const map: Record<string, string> = { x86_64: 'x64', aarch64: 'arm64', armv7l: 'arm', armv6l: 'arm', i686: 'ia32', i386: 'ia32', ppc64le: 'ppc64', s390x: 's390x', riscv64: 'riscv64', loongarch64: 'loong64', mips64: 'mips64el' };
  return map[unameArch] ?? unameArch;
}

/** Throws unless the bundle carries the esbuild binary of the node's CPU (tsx runs every TypeScript file through it). */
export function checkEsbuildFor(local: LocalFacts, f: NodeFacts, esbuildVersion: string): void {
  const want = `linux-${esbuildCpu(f.arch)}`;
  if (local.esbuildPlatforms.includes(want)) return;
  throw new DeployError(
    `the node is ${f.arch} and the bundle's tsx needs esbuild's @esbuild/${want}, which this controller's node_modules lacks (it has ${local.esbuildPlatforms.map((p) => `@esbuild/${p}`).join(', ') || 'none'})`,
    `Fetch it here once: npm install --no-save --force @esbuild/${want}@${esbuildVersion} (the bundle then carries it).`,
    f.name,
  );
}

/** "2.36" >= "2.31" */
export function glibcAtLeast(have: string, need: string): boolean {
  const a = have.split('.').map(Number);
  const b = need.split('.').map(Number);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x !== y) return x > y;
  }
  return true;
}

export type AddonMode = 'ship' | 'build';

export interface AddonDecision {
  mode: AddonMode;
  /** Why, in words for the progress line and the result. */
  reasons: string[];
}

/** Why the local addon cannot run on the node ([] when it can). */
export function shipProblems(local: LocalFacts, f: NodeFacts): string[] {
  const out: string[] = [];
  if (!local.addon) out.push('there is no local build of the addon (npm run build:native)');
  if (local.arch !== f.arch) out.push(`the node is ${f.arch || 'of unknown CPU'}, this controller ${local.arch}`);
  if (!local.glibc) out.push('this controller\'s C library is not glibc (or its version is unknown)');
  else if (!f.glibc) out.push('the node\'s glibc version is unknown (getconf GNU_LIBC_VERSION gave nothing)');
  else if (!glibcAtLeast(f.glibc, local.glibc)) out.push(`the node has glibc ${f.glibc}, older than ${local.glibc} the addon was built against`);
  const absent = local.addonLibs.filter((l) => !f.libs.has(l));
  if (absent.length) out.push(`the node lacks ${absent.join(', ')}, which the local addon links`);
  if (f.napi === null) out.push('the node\'s Node.js reports no Node-API version');
  else if (f.napi < local.napiRequired) out.push(`the node's Node.js offers Node-API ${f.napi}, the addon needs ${local.napiRequired}`);
  return out;
}

/** Ship or build (pure): `force` from --ship/--build, otherwise ship when the local build runs there. */
export function decideAddon(local: LocalFacts, f: NodeFacts, force?: AddonMode): AddonDecision {
  const problems = shipProblems(local, f);
  if (force === 'build') return { mode: 'build', reasons: ['--build asked for a build on the node'] };
  if (problems.length === 0) {
    const same = `same CPU ${f.arch}, glibc ${f.glibc} >= ${local.glibc}, Node-API ${f.napi} >= ${local.napiRequired} (module ABI ${f.modules ?? '?'})`;
    return { mode: 'ship', reasons: [force === 'ship' ? `--ship: ${same}` : same] };
  }
  if (force === 'ship') throw new DeployError(`cannot ship the local addon: ${problems.join('; ')}`, 'Deploy with --build (or without --ship) to build it on the node.', f.name);
  return { mode: 'build', reasons: problems };
}
