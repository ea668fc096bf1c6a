/**
 * Where the qemu Soft-RoCE lab keeps its files on the controller. The cache (VM images, the
 * lab's SSH keys, downloaded .debs) outlives runs; the run directory (VM pid files and
 * consoles, the host journal, this run's lab file and state) exists while the lab is up and
 * is removed by its teardown. Nothing is written under the repository.
 */
import { homedir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runBase } from '../../fabric/sim/run-dir.js';

export const QEMU_LAB_NAME = 'qemu-rxe';
export const QEMU_CACHE_ENV = 'IPOIB_QEMU_CACHE';
export const QEMU_RUN_DIR_ENV = 'IPOIB_QEMU_RUN_DIR';
/** The default cache as the checked-in lab file writes it (`~` is the home of whoever runs the lab). */
export const DEFAULT_QEMU_CACHE = '~/.cache/ipoib-lab/qemu';

/** lab/qemu/ of this tree: the image build script and the guest's files. */
export const QEMU_LAB_DIR = fileURLToPath(new URL('../../../lab/qemu/', import.meta.url));
/** The checked-in lab file for the default cache and ports. */
export const CHECKED_IN_LAB_FILE = fileURLToPath(new URL(`../../../lab/${QEMU_LAB_NAME}.json`, import.meta.url));

export interface QemuLabPaths {
  cacheDir: string;
  runDir: string;
  /** The host journal (journal.ts format): VM stops and the sysctl restore, replayed by teardown. */
  journalDir: string;
  /** state.json: what this run started (QemuLabState). */
  stateFile: string;
  /** The lab file of this run (its ports and key paths). */
  labFile: string;
  identityFile: string;
  knownHostsFile: string;
}

export function expandHome(p: string, home = homedir()): string {
  if (p === '~') return home;
  return p.startsWith('~/') ? path.join(home, p.slice(2)) : path.resolve(p);
}

/** $IPOIB_QEMU_CACHE (default ~/.cache/ipoib-lab/qemu) and $IPOIB_QEMU_RUN_DIR (default <run base>/qemu-rxe). */
export function qemuLabPaths(env: NodeJS.ProcessEnv = process.env, home = homedir()): QemuLabPaths {
  const cacheDir = expandHome(env[QEMU_CACHE_ENV] || DEFAULT_QEMU_CACHE, home);
  const runDir = env[QEMU_RUN_DIR_ENV] ? path.resolve(env[QEMU_RUN_DIR_ENV]) : path.join(runBase(env), QEMU_LAB_NAME);
  return {
    cacheDir,
    runDir,
    journalDir: path.join(runDir, 'journal'),
    stateFile: path.join(runDir, 'state.json'),
    labFile: path.join(runDir, `${QEMU_LAB_NAME}.json`),
    identityFile: path.join(cacheDir, 'ssh/id_ed25519'),
    knownHostsFile: path.join(cacheDir, 'ssh/known_hosts'),
  };
}

/** The files of one VM in the run directory. */
export function vmFiles(runDir: string, vm: string): { pidFile: string; consoleLog: string } {
  return { pidFile: path.join(runDir, `${vm}.pid`), consoleLog: path.join(runDir, `${vm}-console.log`) };
}
