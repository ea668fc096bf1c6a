/**
 * The VM image of the qemu lab: lab/qemu/build-image.sh builds it from Debian packages into
 * the cache, or answers at once with the cached one when its inputs are unchanged (the
 * script's cache key). This module runs the script with a deadline, streams its progress and
 * reads the image's manifest.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { QemuLabError } from '../../errors.js';
import { qemuHostProblems } from './host.js';
import { QEMU_LAB_DIR } from './paths.js';

/** A cold build took 1.5 min here; a busy shared machine or a slow mirror can take many times that. */
export const DEFAULT_BUILD_TIMEOUT_MS = 1_800_000;
const KILL_GRACE_MS = 5_000;

/** manifest.json of an image (written by build-image.sh). */
export interface ImageManifest {
  key: string;
  suite: string;
  kernel: string;
  node: string;
  packages: string[];
  rootUsedMiB: number;
  rootSizeMiB: number;
  qcow2Bytes: number;
  buildSeconds: number;
  builtAt: string;
}

export interface QemuImage {
  dir: string;
  kernel: string;
  initrd: string;
  disk: string;
  manifest: ImageManifest;
  /** The image was already in the cache. */
  cached: boolean;
  /** Time of this call: the whole build, or the cache check. */
  durationMs: number;
}

export interface EnsureImageOptions {
  cacheDir: string;
  /** Rebuild even when the cache has an image for these inputs. */
  force?: boolean;
  timeoutMs?: number;
  /** One line per progress message of the build script. */
  progress?: (line: string) => void;
}

export function readImage(dir: string, cached: boolean, durationMs: number): QemuImage {
  let manifest: ImageManifest;
  try {
    manifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as ImageManifest;
  } catch (e) {
    throw new QemuLabError(`${dir}/manifest.json cannot be read (${(e as Error).message})`, 'Rebuild the image: npm run lab:qemu:build -- --force.');
  }
  return { dir, kernel: path.join(dir, 'vmlinuz'), initrd: path.join(dir, 'initrd.img'), disk: path.join(dir, 'rootfs.qcow2'), manifest, cached, durationMs };
}

/** Builds the image or finds it in the cache; see the module comment. */
export async function ensureImage(o: EnsureImageOptions): Promise<QemuImage> {
  const problems = qemuHostProblems();
  if (problems.length) throw new QemuLabError(problems.join('; '), 'See lab/qemu/README.md for what the qemu lab needs.');
  const timeoutMs = o.timeoutMs ?? DEFAULT_BUILD_TIMEOUT_MS;
  const started = performance.now();
  const args = [path.join(QEMU_LAB_DIR, 'build-image.sh'), '--cache', o.cacheDir, ...(o.force ? ['--force'] : [])];
  const child = spawn('bash', args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let stdout = '';
  const stderrTail: string[] = [];
  let partial = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    const lines = (partial + d).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      stderrTail.push(line);
      if (stderrTail.length > 40) stderrTail.shift();
      o.progress?.(line);
    }
  });
  // The build runs in its own process group (debootstrap, dpkg in the chroot, mke2fs): a
  // timeout, or this process exiting (a signal's cleanup ends in process.exit), ends all of it,
  // and the script's EXIT trap unmounts and removes its partial tree.
  const signalGroup = (signal: NodeJS.Signals): void => {
    try {
      if (child.pid !== undefined && child.exitCode === null) process.kill(-child.pid, signal);
    } catch {
      // already gone
    }
  };
  const onExit = (): void => signalGroup('SIGTERM');
  process.once('exit', onExit);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    signalGroup('SIGTERM');
    setTimeout(() => signalGroup('SIGKILL'), KILL_GRACE_MS).unref();
  }, timeoutMs);
  const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? -1)));
  clearTimeout(timer);
  process.off('exit', onExit);
  const last = stdout.trim().split('\n').pop() ?? '';
  const m = /^(cached|built) (\/.+)$/.exec(last);
  if (code !== 0 || !m) {
    const why = timedOut ? `did not finish within ${Math.round(timeoutMs / 1000)} s` : `exited with ${code}`;
    throw new QemuLabError(`building the VM image ${why}:\n${stderrTail.join('\n')}`, 'The lines above say why; the build can be run alone with `npm run lab:qemu:build`.');
  }
  return readImage(m[2] as string, m[1] === 'cached', performance.now() - started);
}
