/**
 * Finding and reading a lab file: which file (`--lab`, then $IPOIB_LAB_FILE, then the default
 * lab/sim.json of this package), parsing with line and column on a syntax error, validation,
 * and making its paths absolute (`~/` is the home directory; other relative paths are relative
 * to the lab file, so a lab folder can be moved as a whole).
 */
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LabFileError } from '../errors.js';
import type { LabFile } from './lab-file.js';
import { validateLabFile } from './lab-file-validate.js';

export const LAB_FILE_ENV = 'IPOIB_LAB_FILE';

/** lab/sim.json of this package, wherever it is installed. */
export const DEFAULT_LAB_FILE = fileURLToPath(new URL('../../lab/sim.json', import.meta.url));

export interface LabFileChoice {
  file: string;
  /** Where the choice came from, for messages such as "lab file (from $IPOIB_LAB_FILE): ...". */
  source: 'option' | 'env' | 'default';
}

/** `--lab FILE` wins over $IPOIB_LAB_FILE, which wins over lab/sim.json. Relative paths are from `cwd`. */
export function resolveLabFile(opts: { lab?: string | undefined }, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): LabFileChoice {
  if (opts.lab) return { file: path.resolve(cwd, opts.lab), source: 'option' };
  const fromEnv = env[LAB_FILE_ENV];
  if (fromEnv) return { file: path.resolve(cwd, fromEnv), source: 'env' };
  return { file: DEFAULT_LAB_FILE, source: 'default' };
}

/** `~/x` → home; relative → relative to the lab file's folder; absolute stays. */
export function resolveLabPath(p: string, labDir: string, home = homedir()): string {
  if (p === '~') return home;
  if (p.startsWith('~/')) return path.join(home, p.slice(2));
  return path.resolve(labDir, p);
}

function lineAndColumn(text: string, message: string): string {
  const m = /position (\d+)/.exec(message);
  if (!m) return '';
  const before = text.slice(0, Number(m[1]));
  const line = before.split('\n').length;
  const column = before.length - before.lastIndexOf('\n');
  return ` (line ${line}, column ${column})`;
}

/** Parses, validates and resolves a lab file's text; throws LabFileError with every problem. */
export function parseLabFile(text: string, file: string, home = homedir()): LabFile {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    throw new LabFileError(file, [{ file, path: '$', message: `not valid JSON: ${msg}${lineAndColumn(text, msg)}` }]);
  }
  const { lab, problems } = validateLabFile(doc, file);
  if (problems.length) throw new LabFileError(file, problems);
  const dir = path.dirname(file);
  if (lab.fabric.partitionsFile) lab.fabric.partitionsFile = resolveLabPath(lab.fabric.partitionsFile, dir, home);
  for (const n of lab.nodes) {
    if (!n.ssh) continue;
    if (n.ssh.identityFile) n.ssh.identityFile = resolveLabPath(n.ssh.identityFile, dir, home);
    if (typeof n.ssh.agent === 'string') n.ssh.agent = resolveLabPath(n.ssh.agent, dir, home);
    n.ssh.knownHosts.file = resolveLabPath(n.ssh.knownHosts.file, dir, home);
  }
  return lab;
}

/** Reads a lab file from disk; an unreadable file is a LabFileError too. */
export async function loadLabFile(file: string): Promise<LabFile> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? String(e);
    throw new LabFileError(file, [{ file, path: '$', message: `cannot read the file (${code})` }]);
  }
  return parseLabFile(text, file);
}
