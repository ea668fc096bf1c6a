/**
 * Cleanup: the per-case defer() stack (LIFO, every undo runs, failures collected, no
 * registration while it runs), SIGINT/SIGTERM running the open stacks before exit, and the
 * journal on a node that lets a later run undo what a SIGKILLed run left behind.
 */
import { expect } from 'chai';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ArgumentError, CleanupError, CommandFailedError, CommandTimeout, StateError } from '../../src/errors.js';
import { DeferStack } from '../../src/lab/defer-stack.js';
import { journaledChange, NodeJournal, newRunId } from '../../src/lab/journal.js';
import { cleanupJournal, parseJournal } from '../../src/lab/journal-cleanup.js';
import { LocalTransport } from '../../src/lab/transports/local.js';
import { skipWithReason } from '../helpers/skip.js';

const FIXTURES = path.resolve('test/lab/fixtures');

/** Runs a fixture script under tsx as its own process. */
function startChild(script: string, env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx/esm', path.join(FIXTURES, script)], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

function waitForReady(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('ready\n')) resolve();
    });
    child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    child.once('exit', (code, signal) => reject(new Error(`child exited (${code ?? signal}) before it was ready: ${err}`)));
  });
}

function exitOf(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve({ code: child.exitCode, signal: child.signalCode });
    else child.once('exit', (code, signal) => resolve({ code, signal }));
  });
}

describe('cleanup stack @lab', function () {
  it('runs undos last-in first-out and is empty afterwards @lab', async function () {
    const order: string[] = [];
    const s = new DeferStack('case');
    s.defer(() => order.push('first'));
    s.defer(async () => {
      await new Promise((r) => setTimeout(r, 10));
      order.push('second');
    });
    s.defer(() => order.push('third'));
    expect(s.size).to.equal(3);
    await s.run();
    expect(order).to.deep.equal(['third', 'second', 'first']);
    expect(s.size).to.equal(0);
    await s.run();
    expect(order, 'a second run has nothing to do').to.have.length(3);
  });

  it('runs every undo when some throw, and lists the failures in a CleanupError @lab', async function () {
    const ran: string[] = [];
    const s = new DeferStack('case');
    s.defer(() => ran.push('a'), 'undo a');
    s.defer(() => {
      throw new Error('b broke');
    }, 'undo b');
    s.defer(() => ran.push('c'), 'undo c');
    s.defer(() => Promise.reject(new Error('d broke')), 'undo d');
    const err = await s.run().catch((e: unknown) => e);
    expect(ran).to.deep.equal(['c', 'a']);
    expect(err).to.be.instanceOf(CleanupError);
    const failures = (err as CleanupError).failures;
    expect(failures.map((f) => [f.description, (f.error as Error).message])).to.deep.equal([
      ['undo d', 'd broke'],
      ['undo b', 'b broke'],
    ]);
    expect((err as CleanupError).message).to.equal('2 cleanup steps failed:\n  undo d: d broke\n  undo b: b broke');
  });

  it('refuses registration while it runs its cleanups, and accepts it again afterwards @lab', async function () {
    const s = new DeferStack('case');
    let refusal: unknown = null;
    s.defer(() => {
      try {
        s.defer(() => undefined, 'sneaked in');
      } catch (e) {
        refusal = e;
      }
    });
    await s.run();
    expect(refusal).to.be.instanceOf(StateError);
    expect((refusal as StateError).message).to.equal('DeferStack(case).defer() called in state "running its cleanups"');
    expect(s.size, 'nothing was queued').to.equal(0);
    s.defer(() => undefined);
    expect(s.size).to.equal(1);
  });

  it('shares one run between concurrent callers, so each undo runs once @lab', async function () {
    let count = 0;
    const s = new DeferStack('case');
    s.defer(async () => {
      await new Promise((r) => setTimeout(r, 20));
      count += 1;
    });
    await Promise.all([s.run(), s.run()]);
    expect(count).to.equal(1);
  });
});

describe('cleanup on SIGINT and SIGTERM @lab', function () {
  this.timeout(30_000);
  let dir: string;
  beforeEach(function () {
    dir = mkdtempSync(path.join(tmpdir(), 'ipoib-lab-signal-'));
  });
  afterEach(function () {
    rmSync(dir, { recursive: true, force: true });
  });

  for (const [signal, status] of [
    ['SIGTERM', 143],
    ['SIGINT', 130],
  ] as const) {
    it(`${signal} runs the open stacks newest first, then exits with ${status} @lab`, async function () {
      const marker = path.join(dir, 'marker');
      writeFileSync(marker, '');
      const child = startChild('signal-child.ts', { MARKER_FILE: marker });
      try {
        await waitForReady(child);
        child.kill(signal);
        await new Promise((r) => setTimeout(r, 60));
        child.kill(signal); // a repeated signal must not cut the cleanup short
        const { code } = await exitOf(child);
        expect(code).to.equal(status);
        const lines = readFileSync(marker, 'utf8').split('\n').filter(Boolean);
        expect(lines.filter((l) => !l.startsWith('log: '))).to.deep.equal(['second.3', 'second.1', 'first.2', 'first.1']);
        expect(lines.some((l) => l.includes(`${signal} again; still cleaning up`))).to.equal(true);
        expect(lines.some((l) => l.includes('cleanup failed: second case: 1 cleanup step failed:') && l.includes('failing undo: undo failed on purpose'))).to.equal(true);
      } finally {
        child.kill('SIGKILL');
      }
    });
  }
});

/** Everything under `root`: relative path, type and, for files, content. */
function listing(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const p = path.join(d, name);
      const st = lstatSync(p);
      const rel = path.relative(root, p);
      if (st.isDirectory()) {
        out.push(`${rel}/ ${(st.mode & 0o777).toString(8)}`);
        walk(p);
      } else out.push(`${rel} ${(st.mode & 0o777).toString(8)} ${JSON.stringify(readFileSync(p, 'utf8'))}`);
    }
  };
  walk(root);
  return out;
}

describe('cleanup journal on a node @lab', function () {
  this.timeout(60_000);
  let dir: string;
  let work: string;
  let journalDir: string;
  beforeEach(function () {
    dir = mkdtempSync(path.join(tmpdir(), 'ipoib-lab-journal-'));
    work = path.join(dir, 'work');
    journalDir = path.join(dir, 'journal');
    execFileSync('mkdir', [work]);
    writeFileSync(path.join(work, 'kept'), 'kept content');
  });
  afterEach(function () {
    rmSync(dir, { recursive: true, force: true });
  });

  it('records undos in an owner-only journal that a clean run closes and deletes @lab', async function () {
    const t = new LocalTransport({ name: 'node' });
    const runId = newRunId(new Date('2024-05-01T10:15:02.345Z'));
    expect(runId).to.match(/^20240501T101502Z-[0-9a-f]{1,6}$/);
    const journal = await NodeJournal.open(t, { runId, dir: journalDir });
    expect(statSync(journalDir).mode & 0o777).to.equal(0o700);
    const stack = new DeferStack('case');
    await journaledChange(journal, stack, { argv: ['touch', `${work}/x`], undo: ['rm', `${work}/x`], description: 'remove x' });
    expect(statSync(journal.file).mode & 0o777).to.equal(0o600);
    const before = parseJournal(readFileSync(journal.file, 'utf8'));
    expect(before.header?.runId).to.equal(runId);
    expect(before.header?.controller.pid).to.equal(process.pid);
    expect(before.pending.map((u) => [u.id, u.description, u.undo])).to.deep.equal([[1, 'remove x', ['rm', `${work}/x`]]]);
    expect(journal.open).to.equal(1);
    expect(await journal.close(), 'not deleted while an undo is open').to.equal(false);

    await stack.run();
    expect(existsSync(`${work}/x`)).to.equal(false);
    expect(parseJournal(readFileSync(journal.file, 'utf8')).pending, 'marked done').to.deep.equal([]);
    expect(await journal.close()).to.equal(true);
    expect(existsSync(journal.file)).to.equal(false);
  });

  it('closes the entry of a change that failed and queues no undo for it @lab', async function () {
    const t = new LocalTransport({ name: 'node' });
    const journal = await NodeJournal.open(t, { runId: 'failed-change', dir: journalDir });
    const stack = new DeferStack('case');
    const err = await journaledChange(journal, stack, { argv: ['mkdir', `${work}/no/such/parent`], undo: ['rmdir', `${work}/no/such/parent`], description: 'x' }).catch(
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(CommandFailedError);
    expect(stack.size).to.equal(0);
    expect(journal.open).to.equal(0);
    expect(parseJournal(readFileSync(journal.file, 'utf8')).pending).to.deep.equal([]);
  });

  it('keeps the undo of a change whose outcome is unknown (timed out) @lab', async function () {
    const t = new LocalTransport({ name: 'node' });
    const journal = await NodeJournal.open(t, { runId: 'timed-out-change', dir: journalDir });
    const stack = new DeferStack('case');
    const err = await journaledChange(journal, stack, { argv: ['sleep', '5'], undo: ['true'], description: 'undo the slow change', timeoutMs: 200 }).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(CommandTimeout);
    expect(stack.size).to.equal(1);
    expect(journal.open).to.equal(1);
    await stack.run();
    expect(journal.open).to.equal(0);
  });

  it('refuses a run id that cannot name a journal file @lab', async function () {
    const t = new LocalTransport({ name: 'node' });
    for (const runId of ['', '../escape', 'a/b', '.hidden']) {
      const err = await NodeJournal.open(t, { runId, dir: journalDir }).catch((e: unknown) => e);
      expect(err, runId).to.be.instanceOf(ArgumentError);
    }
    expect(existsSync(journalDir), 'nothing was created').to.equal(false);
  });

  it('ignores a line cut short by a kill mid-write @lab', function () {
    const text = [
      JSON.stringify({ v: 1, kind: 'run', runId: 'r', node: 'n', controller: { host: 'h', pid: 1 }, at: 'now' }),
      JSON.stringify({ v: 1, kind: 'undo', id: 1, description: 'one', undo: ['rm', 'a'], at: 'now' }),
      JSON.stringify({ v: 1, kind: 'undo', id: 2, description: 'two', undo: ['rm', 'b'], at: 'now' }),
      JSON.stringify({ v: 1, kind: 'done', id: 2, at: 'now' }),
      JSON.stringify({ v: 1, kind: 'undo', id: 3, description: 'bad', undo: [], at: 'now' }),
      '{"v":1,"kind":"undo","id":4,"descr',
    ].join('\n');
    const parsed = parseJournal(text);
    expect(parsed.header?.runId).to.equal('r');
    expect(parsed.pending.map((u) => u.id)).to.deep.equal([1]);
  });

  it('leaves the journals of live runs alone @lab', async function () {
    const t = new LocalTransport({ name: 'node' });
    const mine = await NodeJournal.open(t, { runId: 'this-process', dir: journalDir });
    await mine.record(['rm', '-f', `${work}/kept`], 'would delete kept');
    const report = await cleanupJournal(t, { dir: journalDir });
    expect(report.journals.map((j) => [j.runId, j.skipped])).to.deep.equal([['this-process', 'it belongs to this process']]);
    expect(existsSync(path.join(work, 'kept'))).to.equal(true);
    const kept = await cleanupJournal(t, { dir: journalDir, skipRunIds: ['this-process'], force: false });
    expect(kept.journals[0]?.skipped).to.equal('run this-process was asked to be kept');
  });

  async function killedRunIsUndone(netns: string | undefined): Promise<void> {
    const t = new LocalTransport({ name: 'node', netns });
    const links = async () =>
      netns ? (JSON.parse((await t.check(['ip', '-j', 'link', 'show'])).stdout) as { ifname: string; flags: string[] }[]).map((l) => `${l.ifname} ${l.flags.join(',')}`) : [];
    const stateBefore = [...listing(work), ...(await links())];

    const runId = newRunId();
    const child = startChild('journal-child.ts', { WORK_DIR: work, JOURNAL_DIR: journalDir, RUN_ID: runId, ...(netns ? { NETNS: netns } : {}) });
    try {
      await waitForReady(child);
    } finally {
      child.kill('SIGKILL');
    }
    expect((await exitOf(child)).signal).to.equal('SIGKILL');
    const stateLeft = [...listing(work), ...(await links())];
    expect(stateLeft, 'the killed run left changes behind').to.not.deep.equal(stateBefore);

    const report = await cleanupJournal(t, { dir: journalDir });
    expect(report.failures, JSON.stringify(report.failures)).to.deep.equal([]);
    const expected = [
      ...(netns ? ['set loopback down again', 'delete the veth pair'] : []),
      'move the kept file back',
      'remove the file in the folder',
      'remove the created folder',
      'remove the created file',
    ];
    expect(report.journals.map((j) => [j.runId, j.undone.map((u) => u.description)])).to.deep.equal([[runId, expected]]);
    expect([...listing(work), ...(await links())], 'state after cleanup equals state before the run').to.deep.equal(stateBefore);
    expect(readdirSync(journalDir), 'the journal is deleted').to.deep.equal([]);
    expect((await cleanupJournal(t, { dir: journalDir })).journals, 'nothing left for a second cleanup').to.deep.equal([]);
  }

  it('undoes exactly what a run killed with SIGKILL left behind, then deletes its journal @lab', async function () {
    await killedRunIsUndone(undefined);
  });

  it('undoes the link changes of a SIGKILLed run inside a network namespace @lab', async function () {
    if (process.getuid?.() !== 0) await skipWithReason(this, 'creating a network namespace needs root');
    const ns = `ipoib-lab-j${process.pid}`;
    execFileSync('ip', ['netns', 'add', ns]);
    try {
      await killedRunIsUndone(ns);
    } finally {
      execFileSync('ip', ['netns', 'del', ns]);
    }
  });
});
