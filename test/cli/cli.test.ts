import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { main as ipoibLab } from '../../src/cli/ipoib-lab.js';
import { main as ipoibctl } from '../../src/cli/ipoibctl.js';
import type { Io } from '../../src/cli/run-command.js';
import { EXIT_FAILURE, EXIT_NOT_IMPLEMENTED, EXIT_OK, EXIT_USAGE } from '../../src/cli/exit-codes.js';
import { runTool } from '../../src/util/run-tool.js';
import { PRODUCT_VERSION } from '../../src/version.js';

function captureIo(): Io & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (l) => stdout.push(l), err: (l) => stderr.push(l) };
}

describe('command line @cli', function () {
  it('prints help and exits 0 for --help @cli', async function () {
    const io = captureIo();
    expect(await ipoibLab(['--help'], io)).to.equal(EXIT_OK);
    expect(io.stdout.join('\n')).to.match(/Usage: ipoib-lab/).and.to.match(/\binfo\b/);
  });

  it('rejects an unknown command with exit 2 and a hint @cli', async function () {
    const io = captureIo();
    expect(await ipoibLab(['frobnicate'], io)).to.equal(EXIT_USAGE);
    expect(io.stderr.join('\n')).to.match(/unknown command 'frobnicate'/);
  });

  it('rejects a missing command with exit 2 @cli', async function () {
    const io = captureIo();
    expect(await ipoibLab([], io)).to.equal(EXIT_USAGE);
    expect(io.stderr.join('\n')).to.match(/a command is required/);
  });

  it('certify refuses a hardware lab plainly (exit 69: deployment has not landed) and a missing lab file with exit 1 @cli @lab', async function () {
    const hw = captureIo();
    expect(await ipoibLab(['certify', '--lab', 'lab/examples/hca-rack.json'], hw)).to.equal(EXIT_NOT_IMPLEMENTED);
    expect(hw.stderr.join('\n')).to.match(/runs on fabric ib: certifying on rxe and ib labs needs deploying/);
    const missing = captureIo();
    expect(await ipoibLab(['run', '--lab', 'no-such-lab.json'], missing)).to.equal(1);
    expect(missing.stderr.join('\n')).to.match(/no-such-lab\.json: 1 problem:[\s\S]*cannot read the file \(ENOENT\)/);
  });

  it('prints ipoibctl help with exit 0, and exits 2 when no daemon is named @cli', async function () {
    const help = captureIo();
    expect(await ipoibctl(['--help'], help)).to.equal(EXIT_OK);
    expect(help.stdout.join('\n')).to.match(/^Usage: ipoibctl /).and.to.include('create_child IF PKEY');
    const none = captureIo();
    expect(await ipoibctl(['show'], none)).to.equal(EXIT_USAGE);
    expect(none.stderr.join('\n')).to.match(/say which daemon/);
  });

  it('fails ipoibctl with exit 1 when no daemon listens on the socket @cli', async function () {
    const io = captureIo();
    expect(await ipoibctl(['--socket', path.join(tmpdir(), `no-ipoibd-${process.pid}.sock`), 'show'], io)).to.equal(EXIT_FAILURE);
    expect(io.stderr.join('\n')).to.match(/^ipoibctl: cannot reach ipoibd at .*ENOENT/);
  });

  it('reports installation facts as JSON with info --json @cli @native', async function () {
    const io = captureIo();
    const code = await ipoibLab(['info', '--json'], io);
    const info = JSON.parse(io.stdout.join('\n')) as { version: string; node: string; native: { loaded: boolean; error?: string } };
    expect(info.version).to.equal(PRODUCT_VERSION);
    expect(info.node).to.equal(process.version);
    expect(info.native.loaded, `native addon: ${info.native.error ?? 'loaded'}`).to.equal(true);
    expect(code).to.equal(EXIT_OK);
  });

  it('refuses to build a report from an empty results directory, with exit 1 and the reason @cli', async function () {
    const dir = mkdtempSync(path.join(tmpdir(), 'ipoib-lab-report-'));
    try {
      const io = captureIo();
      expect(await ipoibLab(['report', '--results', dir, '--out', path.join(dir, 'out')], io)).to.equal(EXIT_FAILURE);
      expect(io.stderr.join('\n')).to.match(/no allure results in .*run the tests first/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('runs from the installed bin shims @cli', async function () {
    const r = await runTool(process.execPath, [path.resolve('bin/ipoib-lab.js'), '--version'], { timeoutMs: 30_000 });
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout.trim()).to.equal(PRODUCT_VERSION);
    // ipoibd without its required --fabric/--node is a usage error.
    const d = await runTool(process.execPath, [path.resolve('bin/ipoibd.js')], { timeoutMs: 30_000 });
    expect(d.code, d.stderr).to.equal(EXIT_USAGE);
    expect(d.stderr).to.match(/required option '--fabric <name>' not specified/);
  });
});
