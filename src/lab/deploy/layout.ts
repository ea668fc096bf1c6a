/**
 * Where a deployment lives on a node, under its deploy directory (default ~/.ipoib-lab):
 *
 *   releases/<name>/            one unpacked bundle per tree (name = pack.ts releaseName)
 *   releases/<name>/.deployed.json   written last: the install is complete (version, addon)
 *   releases/.<name>.partial/   an install in progress (never run from)
 *   current -> releases/<name>  the release `deploy` installed last; ipoibd starts from it
 *   run/ipoibd-<fabric>-<node>.{pid,log,json}   a daemon started by startDaemon
 *
 * `~` is the home of the user commands run as on the node (root with sudo), resolved there.
 */
import { DeployError } from '../../errors.js';
import type { Transport } from '../transport.js';

export const DEFAULT_DEPLOY_DIR = '~/.ipoib-lab';
export const INSTALLED_MARKER = '.deployed.json';
const HOME_TIMEOUT_MS = 15_000;

/** A deploy directory as the lab file or --dir gives it: absolute, or under `~`. */
export function checkDeployDir(dir: string): void {
  if (!/^(~|~\/.*|\/.*)$/.test(dir) || dir.includes('\0') || /(^|\/)\.\.(\/|$)/.test(dir)) {
    throw new DeployError(`deploy directory ${JSON.stringify(dir)} is neither absolute nor under ~`, 'Give an absolute path or one starting with ~/ (the node user\'s home), without "..".');
  }
}

/** Replaces a leading `~` with `home`. */
export function expandHome(dir: string, home: string): string {
  if (dir === '~') return home;
  if (dir.startsWith('~/')) return `${home.replace(/\/+$/, '')}/${dir.slice(2)}`;
  return dir;
}

/** The node's deploy directory, absolute (asks the node for $HOME when the path starts with ~). */
export async function resolveDeployDir(t: Transport, dir: string): Promise<string> {
  checkDeployDir(dir);
  if (!dir.startsWith('~')) return dir.replace(/(.)\/+$/, '$1');
  const r = await t.check(['sh', '-c', 'printf %s "$HOME"'], { timeoutMs: HOME_TIMEOUT_MS });
  if (!r.stdout.startsWith('/')) throw new DeployError(`$HOME on the node is ${JSON.stringify(r.stdout)}, not an absolute path`, 'Give an absolute deploy directory (--dir or the node\'s deploy.dir).', t.name);
  return expandHome(dir, r.stdout).replace(/(.)\/+$/, '$1');
}

export interface DaemonFiles {
  pidFile: string;
  logFile: string;
  stateFile: string;
}

/** Files of the daemon for `fabric`/`node` (both already checked to be plain names). */
export function daemonFiles(dir: string, fabric: string, node: string): DaemonFiles {
  const base = `${dir}/run/ipoibd-${fabric}-${node}`;
  return { pidFile: `${base}.pid`, logFile: `${base}.log`, stateFile: `${base}.json` };
}

export const releasesDir = (dir: string): string => `${dir}/releases`;
export const releaseDir = (dir: string, name: string): string => `${dir}/releases/${name}`;
export const currentLink = (dir: string): string => `${dir}/current`;
