/**
 * The "node" for the deployment tests: the private sshd of the ssh transport tests
 * (sshd-fixture.ts) on 127.0.0.1, logged into as root with a temp home, and the stack to
 * deploy: a snapshot of this checkout (its bundle, unpacked), so edits to the checkout while
 * the tests run cannot change the version under test. Root only.
 */
import { expect } from 'chai';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Context } from 'mocha';
import { type LocalStack, prepareLocalStack } from '../../src/lab/deploy/install.js';
import type { SshSettings } from '../../src/lab/lab-file.js';
import { SshTransport } from '../../src/lab/transports/ssh.js';
import { runTool } from '../../src/util/run-tool.js';
import { requireToolOrSkip, skipWithReason } from '../helpers/skip.js';
import { sshdAvailable, TestSshd } from './sshd-fixture.js';

export function deployFixtureRuns(): boolean {
  return process.getuid?.() === 0 && sshdAvailable();
}

/** Skips the test (with the reason) where the fixture cannot run. */
export async function gate(ctx: Context): Promise<void> {
  if (process.getuid?.() !== 0) await skipWithReason(ctx, 'the private sshd needs root (privilege separation)');
  await requireToolOrSkip(ctx, 'sshd', sshdAvailable(), 'install openssh-server (.ci/run does)');
}

export interface DeployFixture {
  /** A temp folder for the test's own files; removed by dispose(). */
  work: string;
  sshd: TestSshd;
  settings: SshSettings;
  /** Connected as "node1". */
  t: SshTransport;
  /** The snapshot to deploy. */
  local: LocalStack;
  dispose(): Promise<void>;
}

export async function openDeployFixture(): Promise<DeployFixture> {
  const work = mkdtempSync(path.join(tmpdir(), 'ipoib-lab-dpl-'));
  let sshd: TestSshd | undefined;
  let local: LocalStack | undefined;
  let t: SshTransport | undefined;
  const dispose = async (): Promise<void> => {
    await t?.close().catch(() => undefined);
    await sshd?.dispose();
    await local?.dispose();
    rmSync(work, { recursive: true, force: true });
  };
  try {
    const checkout = await prepareLocalStack();
    try {
      const snap = path.join(work, 'tree');
      mkdirSync(snap);
      const r = await runTool('tar', ['-xzf', (await checkout.bundle(true)).file, '-C', snap], { timeoutMs: 60_000 });
      expect(r.code, r.stderr).to.equal(0);
      local = await prepareLocalStack({ root: snap });
    } finally {
      await checkout.dispose();
    }
    sshd = await TestSshd.start();
    const knownHosts = path.join(sshd.dir, 'known_hosts');
    writeFileSync(knownHosts, `${sshd.knownHostsLine()}\n`);
    const settings: SshSettings = {
      host: '127.0.0.1',
      port: sshd.port,
      user: 'root',
      identityFile: sshd.clientKeyFile,
      knownHosts: { file: knownHosts, policy: 'strict' },
      keepaliveIntervalMs: 5_000,
      keepaliveCountMax: 3,
      maxChannels: 6,
      connectTimeoutMs: 5_000,
      reconnectTimeoutMs: 15_000,
    };
    t = await SshTransport.connect({ name: 'node1', ssh: settings });
    return { work, sshd, settings, t, local, dispose };
  } catch (e) {
    await dispose();
    throw e;
  }
}
