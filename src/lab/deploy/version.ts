/**
 * The version of a stack tree, as deployment compares it: the package version (src/version.ts),
 * the git commit and whether the bundled files differ from it (when the tree is a git
 * checkout), and the tree hash of the bundled files (pack.ts). Two trees are the same version
 * when package version and tree hash agree; the commit only says where a tree came from (a
 * deployed tree has no .git, so it carries the commit in its deploy-stamp.json).
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { runTool } from '../../util/run-tool.js';
import { type BundleEntry, STACK_ROOT, STAMP_FILE, stackFiles, treeHash } from './pack.js';

export interface StackVersion {
  /** package.json version. */
  version: string;
  /** Full git commit id the tree was made from, or null when unknown. */
  commit: string | null;
  /** The bundled files differ from that commit. */
  dirty: boolean;
  /** sha256 (hex) of the bundled files (pack.ts treeHash). */
  treeHash: string;
}

const GIT_TIMEOUT_MS = 15_000;
/** The paths whose changes make a tree "dirty" (the bundled ones; node_modules is git-ignored). */
const VERSIONED_PATHS = ['package.json', 'package-lock.json', 'bin', 'src', 'lab', 'native/CMakeLists.txt', 'native/package.json', 'native/src'];

/** `0.1.0 (commit 3de52a2c91f0, dirty; tree 1a2b3c4d5e6f)`: how messages show a version. */
export function formatStackVersion(v: StackVersion): string {
  const from = v.commit ? `commit ${v.commit.slice(0, 12)}${v.dirty ? ', dirty' : ''}` : 'no commit';
  return `${v.version} (${from}; tree ${v.treeHash.slice(0, 12)})`;
}

/** Same version: equal package version and tree hash. The commit is informational. */
export function sameStackVersion(a: StackVersion, b: StackVersion): boolean {
  return a.version === b.version && a.treeHash === b.treeHash;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Reads a StackVersion from parsed JSON (a stamp, a state file, a node's answer); null when it is not one. */
export function parseStackVersion(v: unknown): StackVersion | null {
  if (!isRecord(v)) return null;
  const { version, commit, dirty, treeHash: hash } = v;
  if (typeof version !== 'string' || !version) return null;
  if (commit !== null && typeof commit !== 'string') return null;
  if (typeof dirty !== 'boolean' || typeof hash !== 'string' || !/^[0-9a-f]{64}$/.test(hash)) return null;
  return { version, commit, dirty, treeHash: hash };
}

async function gitFacts(root: string): Promise<{ commit: string | null; dirty: boolean } | null> {
  const head = await runTool('git', ['-C', root, 'rev-parse', '--verify', '-q', 'HEAD'], { timeoutMs: GIT_TIMEOUT_MS });
  if (head.code !== 0) return null;
  const status = await runTool('git', ['-C', root, 'status', '--porcelain', '--', ...VERSIONED_PATHS], { timeoutMs: GIT_TIMEOUT_MS });
  return { commit: head.stdout.trim(), dirty: status.code !== 0 || status.stdout.trim() !== '' };
}

/** Commit and dirty flag from a deployed tree's stamp (it has no .git). */
async function stampFacts(root: string): Promise<{ commit: string | null; dirty: boolean } | null> {
  const file = path.join(root, STAMP_FILE);
  if (!existsSync(file)) return null;
  try {
    const v = parseStackVersion(JSON.parse(await readFile(file, 'utf8')));
    return v ? { commit: v.commit, dirty: v.dirty } : null;
  } catch {
    return null;
  }
}

/** The version of the tree at `root` (default: this one), its tree hash computed now. */
export async function stackVersion(root = STACK_ROOT, files?: readonly BundleEntry[]): Promise<StackVersion> {
  const listed = files ?? (await stackFiles(root));
  const pkg = JSON.parse(await readFile(path.join(root, 'package.json'), 'utf8')) as { version?: unknown };
  if (typeof pkg.version !== 'string') throw new TypeError(`${path.join(root, 'package.json')} has no version`);
  const [hash, origin] = await Promise.all([treeHash(root, listed), existsSync(path.join(root, '.git')) ? gitFacts(root) : stampFacts(root)]);
  return { version: pkg.version, commit: origin?.commit ?? null, dirty: origin?.dirty ?? false, treeHash: hash };
}

/** What `ipoib-lab deploy --print-version` prints on a node: its tree's version and whether the addon loads. */
export interface InstallationVersion {
  stack: StackVersion;
  node: string;
  native: { loaded: true; compiler: string; napiVersion: number } | { loaded: false; error: string };
}

export async function installationVersion(root = STACK_ROOT): Promise<InstallationVersion> {
  const stack = await stackVersion(root);
  let native: InstallationVersion['native'];
  try {
    const addon = await import('../../native/addon.js');
    const info = addon.nativeBuildInfo();
    native = { loaded: true, compiler: info.compiler, napiVersion: info.napiVersion };
  } catch (e) {
    native = { loaded: false, error: e instanceof Error ? e.message : String(e) };
  }
  return { stack, node: process.version, native };
}
