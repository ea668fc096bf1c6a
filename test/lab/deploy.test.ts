/**
 * Deployment without a node: what the bundle holds (from a small fixture tree with a lock file
 * of production, dev, nested, optional and controller-only packages, and from this tree), that
 * the tree hash and release name are stable and change with content, version comparison, the
 * ship-or-build decision and the node checks, and the command line's argument errors.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { main } from '../../src/cli/ipoib-lab.js';
import type { Io } from '../../src/cli/run-command.js';
import { parseDeployOptions, selectDeployNodes } from '../../src/cli/commands/deploy.js';
import { DeployError, ExitError, LabFileError, UsageError } from '../../src/errors.js';
import { checkDeployDir, expandHome } from '../../src/lab/deploy/layout.js';
import {
  checkBuildable,
  checkEsbuildFor,
  checkRunnable,
  decideAddon,
  glibcAtLeast,
  type LocalFacts,
  type NodeFacts,
  parseNodeFacts,
} from '../../src/lab/deploy/node-facts.js';
import { bundledPackages, packStack, releaseName, STACK_ROOT, stackFiles } from '../../src/lab/deploy/pack.js';
import { formatStackVersion, parseStackVersion, sameStackVersion, type StackVersion, stackVersion } from '../../src/lab/deploy/version.js';
import type { LabFile, LabNode } from '../../src/lab/lab-file.js';
import { parseLabFile } from '../../src/lab/lab-file-load.js';

function captureIo(): Io & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (l) => stdout.push(l), err: (l) => stderr.push(l) };
}

function write(root: string, rel: string, text: string): void {
  mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
  writeFileSync(path.join(root, rel), text);
}

/** A tree shaped like this project's, small, with one package of every kind the lock file knows. */
function fixtureTree(): string {
  const root = mkdtempSync(path.join(tmpdir(), 'ipoib-lab-dpl-tree-'));
  write(root, 'package.json', JSON.stringify({ name: 'fixture', version: '9.8.7' }));
  const pkgs: Record<string, object> = {
    '': { name: 'fixture', version: '9.8.7' },
    'node_modules/prod-a': { version: '1.0.0', dependencies: { 'nested-c': '1' } },
    'node_modules/prod-a/node_modules/nested-c': { version: '1.0.0' },
    'node_modules/prod-a/node_modules/nested-dev-d': { version: '1.0.0', dev: true },
    'node_modules/dev-b': { version: '1.0.0', dev: true },
    'node_modules/allure-commandline': { version: '2.0.0' },
    'node_modules/tsx': { version: '4.0.0', dev: true, dependencies: { esbuild: '0.1' } },
    'node_modules/esbuild': { version: '0.1.0', dev: true, optionalDependencies: { '@esbuild/linux-x64': '0.1.0', '@esbuild/linux-arm64': '0.1.0' } },
    'node_modules/@esbuild/linux-x64': { version: '0.1.0', dev: true, optional: true },
    'node_modules/@esbuild/linux-arm64': { version: '0.1.0', dev: true, optional: true },
    'node_modules/prod-optional-absent': { version: '1.0.0', optional: true },
  };
  write(root, 'package-lock.json', JSON.stringify({ name: 'fixture', lockfileVersion: 3, packages: pkgs }));
  for (const key of Object.keys(pkgs)) {
    if (!key || key.includes('linux-arm64') || key.includes('absent')) continue;
    write(root, `${key}/package.json`, JSON.stringify({ name: key.split('node_modules/').pop() }));
    write(root, `${key}/index.js`, `// ${key}\n`);
  }
  write(root, 'bin/ipoibd.js', '#!/usr/bin/env node\n');
  chmodSync(path.join(root, 'bin/ipoibd.js'), 0o755);
  write(root, 'src/cli/ipoibd.ts', 'export {};\n');
  write(root, 'lab/sim.json', '{}\n');
  write(root, 'native/CMakeLists.txt', 'project(x)\n');
  write(root, 'native/package.json', JSON.stringify({ binary: { napi_versions: [8] } }));
  write(root, 'native/src/addon.cc', '// addon\n');
  write(root, 'native/build/Release/ipoib_native.node', 'ELF');
  write(root, 'native/build/CMakeCache.txt', 'cache\n');
  write(root, 'reports/allure-results/x.json', '{}');
  write(root, '.git/HEAD', 'ref: refs/heads/main\n');
  write(root, 'test/a.test.ts', '\n');
  write(root, 'suites/tags.ts', '\n');
  return root;
}

const VERSION: StackVersion = { version: '0.1.0', commit: '3de52a294765e388803348d741183e6bde24ecd2', dirty: false, treeHash: 'a'.repeat(64) };

const tarList = (file: string): string[] => execFileSync('tar', ['-tzf', file], { encoding: 'utf8' }).trim().split('\n').sort();

describe('deployment bundle: contents and content hash @lab', function () {
  this.timeout(30_000);
  let root: string;
  let out: string;
  beforeEach(function () {
    root = fixtureTree();
    out = mkdtempSync(path.join(tmpdir(), 'ipoib-lab-dpl-out-'));
  });
  afterEach(function () {
    rmSync(root, { recursive: true, force: true });
    rmSync(out, { recursive: true, force: true });
  });

  it('holds the sources, production node_modules plus tsx, the addon when shipped and a stamp; nothing else @lab', async function () {
    const files = await stackFiles(root);
    const version = await stackVersion(root, files);
    const b = await packStack({ root, files, version, withAddon: true, outDir: out });
    const listed = tarList(b.file);
    expect(listed).to.include.members([
      'package.json',
      'package-lock.json',
      'bin/ipoibd.js',
      'src/cli/ipoibd.ts',
      'lab/sim.json',
      'native/CMakeLists.txt',
      'native/package.json',
      'native/src/addon.cc',
      'native/build/Release/ipoib_native.node',
      'deploy-stamp.json',
      'node_modules/prod-a/index.js',
      'node_modules/prod-a/node_modules/nested-c/index.js',
      'node_modules/tsx/index.js',
      'node_modules/esbuild/index.js',
      'node_modules/@esbuild/linux-x64/index.js',
    ]);
    const unwanted = listed.filter((p) => /^(reports|\.git|test|suites)\/|CMakeCache|dev-b|nested-dev-d|allure-commandline|linux-arm64/.test(p));
    expect(unwanted, 'dev, controller-only and generated files stay out').to.deep.equal([]);
    expect(b.entries).to.equal(listed.length);
    expect(b.name).to.equal(`ipoib-lab-9.8.7-${version.treeHash.slice(0, 12)}`);

    const bare = await packStack({ root, files, version, withAddon: false, outDir: out });
    expect(tarList(bare.file)).to.not.include('native/build/Release/ipoib_native.node');
    const stamp = JSON.parse(execFileSync('tar', ['-xzOf', bare.file, 'deploy-stamp.json'], { encoding: 'utf8' })) as unknown;
    expect(parseStackVersion(stamp)).to.deep.equal(version);
  });

  it('names the same tree the same way across packs, and changes the name with content or the execute bit only @lab', async function () {
    const v1 = await stackVersion(root);
    const files = await stackFiles(root);
    const a = await packStack({ root, files, version: v1, withAddon: false, outDir: out });
    utimesSync(path.join(root, 'src/cli/ipoibd.ts'), new Date(0), new Date(0)); // times are not content
    const v2 = await stackVersion(root);
    const b = await packStack({ root, files: await stackFiles(root), version: v2, withAddon: true, outDir: out });
    expect(v2.treeHash).to.equal(v1.treeHash);
    expect(b.name, 'the addon does not change the release name').to.equal(a.name);

    write(root, 'native/build/Release/ipoib_native.node', 'another build');
    write(root, 'reports/new.txt', 'x');
    expect((await stackVersion(root)).treeHash, 'addon and unbundled files are not hashed').to.equal(v1.treeHash);

    write(root, 'src/cli/ipoibd.ts', 'export {}; // changed\n');
    const v3 = await stackVersion(root);
    expect(v3.treeHash).to.not.equal(v1.treeHash);
    write(root, 'src/cli/ipoibd.ts', 'export {};\n');
    expect((await stackVersion(root)).treeHash).to.equal(v1.treeHash);
    chmodSync(path.join(root, 'bin/ipoibd.js'), 0o644);
    expect((await stackVersion(root)).treeHash).to.not.equal(v1.treeHash);
  });

  it('refuses a node_modules that lacks a production package the lock lists, and a lock without packages @lab', async function () {
    rmSync(path.join(root, 'node_modules/prod-a'), { recursive: true });
    const err = await stackFiles(root).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(DeployError);
    expect((err as Error).message).to.match(/node_modules\/prod-a.*npm ci/s);
    expect(() => bundledPackages({ lockfileVersion: 1 }, () => true)).to.throw(DeployError, /lockfileVersion 2 or 3/);
  });

  it('takes from this tree what ipoibd needs and no dev-only or controller-only package @lab', async function () {
    const paths = (await stackFiles(STACK_ROOT)).map((e) => e.path);
    expect(paths).to.include.members(['bin/ipoibd.js', 'bin/ipoibctl.js', 'src/cli/ipoibd.ts', 'native/CMakeLists.txt', 'node_modules/tsx/package.json', 'node_modules/commander/package.json', 'node_modules/cmake-js/package.json', 'node_modules/node-api-headers/package.json']);
    const bad = paths.filter((p) => /^(node_modules\/(typescript|@types|allure-commandline)\/|reports\/|\.git\/|test\/|suites\/|native\/build\/)/.test(p));
    expect(bad).to.deep.equal([]);
  });
});

describe('deployment versions @lab', function () {
  it('compares package version and tree hash, shows the commit, and reads versions defensively @lab', function () {
    const other = { ...VERSION, commit: 'ffffffffffffffffffffffffffffffffffffffff', dirty: true };
    expect(sameStackVersion(VERSION, other), 'the commit is informational').to.equal(true);
    expect(sameStackVersion(VERSION, { ...VERSION, treeHash: 'b'.repeat(64) })).to.equal(false);
    expect(sameStackVersion(VERSION, { ...VERSION, version: '0.1.1' })).to.equal(false);
    expect(formatStackVersion(other)).to.equal('0.1.0 (commit ffffffffffff, dirty; tree aaaaaaaaaaaa)');
    expect(formatStackVersion({ ...VERSION, commit: null })).to.equal('0.1.0 (no commit; tree aaaaaaaaaaaa)');
    expect(releaseName(VERSION)).to.equal('ipoib-lab-0.1.0-aaaaaaaaaaaa');
    expect(parseStackVersion({ ...VERSION, extra: 1 })).to.deep.equal(VERSION);
    for (const bad of [null, [], { ...VERSION, treeHash: 'xyz' }, { ...VERSION, dirty: 'no' }, { ...VERSION, version: '' }, { ...VERSION, commit: 5 }]) expect(parseStackVersion(bad)).to.equal(null);
  });

  it('reads this tree\'s version from package.json and git @lab', async function () {
    const v = await stackVersion();
    expect(v.version).to.match(/^\d+\.\d+\.\d+/);
    expect(v.treeHash).to.match(/^[0-9a-f]{64}$/);
    expect(v.commit === null || /^[0-9a-f]{40}$/.test(v.commit)).to.equal(true);
  });
});

function nodeFacts(over: Partial<NodeFacts> = {}): NodeFacts {
  return {
    name: 'n1',
    dir: '/home/lab/.ipoib-lab',
    arch: 'x86_64',
    nodeVersion: 'v20.19.2',
    modules: '115',
    napi: 9,
    glibc: '2.36',
    tools: new Set(['tar', 'gzip', 'cmake', 'g++', 'make']),
    headers: new Set(['zlib', 'boost'] as const),
    installed: null,
    current: null,
    libs: new Set(['libz.so.1', 'libibverbs.so.1']),
    ...over,
  };
}

const LOCAL: LocalFacts = { arch: 'x86_64', glibc: '2.36', napiRequired: 8, addon: '/x/ipoib_native.node', staleBecause: null, addonLibs: ['libz.so.1', 'libibverbs.so.1'], esbuildPlatforms: ['linux-x64'] };

describe('deployment decisions: ship or build, node checks @lab', function () {
  it('ships when CPU, glibc and Node-API allow it, whatever the module ABI, and builds otherwise with the reasons @lab', function () {
    const ship = decideAddon(LOCAL, nodeFacts({ modules: '127', napi: 10, glibc: '2.41' }));
    expect(ship.mode).to.equal('ship');
    expect(ship.reasons[0]).to.match(/same CPU x86_64, glibc 2\.41 >= 2\.36, Node-API 10 >= 8 \(module ABI 127\)/);
    const cases: [Partial<NodeFacts> | Partial<LocalFacts>, RegExp, 'node' | 'local'][] = [
      [{ arch: 'aarch64' }, /the node is aarch64, this controller x86_64/, 'node'],
      [{ glibc: '2.31' }, /glibc 2\.31, older than 2\.36/, 'node'],
      [{ glibc: null }, /glibc version is unknown/, 'node'],
      [{ napi: 7 }, /Node-API 7, the addon needs 8/, 'node'],
      [{ libs: new Set(['libz.so.1']) }, /the node lacks libibverbs\.so\.1, which the local addon links/, 'node'],
      [{ addon: null }, /no local build of the addon/, 'local'],
    ];
    for (const [over, reason, side] of cases) {
      const d = side === 'node' ? decideAddon(LOCAL, nodeFacts(over as Partial<NodeFacts>)) : decideAddon({ ...LOCAL, ...(over as Partial<LocalFacts>) }, nodeFacts());
      expect(d.mode, JSON.stringify(over)).to.equal('build');
      expect(d.reasons.join('; ')).to.match(reason);
    }
    expect(decideAddon(LOCAL, nodeFacts(), 'build')).to.deep.equal({ mode: 'build', reasons: ['--build asked for a build on the node'] });
    expect(decideAddon(LOCAL, nodeFacts(), 'ship').mode).to.equal('ship');
    expect(() => decideAddon(LOCAL, nodeFacts({ arch: 'aarch64' }), 'ship')).to.throw(DeployError, /n1: cannot ship the local addon: the node is aarch64.*--build/);
    expect(glibcAtLeast('2.36', '2.36')).to.equal(true);
    expect(glibcAtLeast('2.4', '2.36')).to.equal(false);
    expect(glibcAtLeast('3.0', '2.36')).to.equal(true);
  });

  it('names what a node lacks and the Debian packages to install @lab', function () {
    expect(() => checkRunnable(nodeFacts())).to.not.throw();
    expect(() => checkRunnable(nodeFacts({ nodeVersion: null }))).to.throw(DeployError, /n1: no Node\.js on the PATH.*Install Node\.js 20 or later: Debian 13 "apt-get install nodejs"/s);
    expect(() => checkRunnable(nodeFacts({ nodeVersion: 'v18.19.0' }))).to.throw(DeployError, /Node\.js v18\.19\.0 is too old.*nodesource/s);
    expect(() => checkRunnable(nodeFacts({ tools: new Set(['gzip']) }))).to.throw(DeployError, /tar missing.*apt-get install tar/s);
    expect(() => checkBuildable(nodeFacts())).to.not.throw();
    expect(() => checkBuildable(nodeFacts({ tools: new Set(['tar', 'gzip', 'cmake', 'ninja', 'c++']) }))).to.not.throw();
    expect(() => checkBuildable(nodeFacts({ tools: new Set(['tar', 'gzip']), headers: new Set() }))).to.throw(
      DeployError,
      /cannot build the addon on the node: cmake, c\+\+, make or ninja, zlib\.h, boost\/crc\.hpp missing.*apt-get install cmake g\+\+ make zlib1g-dev libboost-dev/s,
    );
    expect(() => checkEsbuildFor(LOCAL, nodeFacts({ arch: 'aarch64' }), '0.28.0')).to.throw(DeployError, /@esbuild\/linux-arm64.*npm install --no-save --force @esbuild\/linux-arm64@0\.28\.0/s);
    expect(() => checkEsbuildFor({ ...LOCAL, esbuildPlatforms: ['linux-arm64', 'linux-x64'] }, nodeFacts({ arch: 'aarch64' }), '0.28.0')).to.not.throw();
  });

  it('reads the node probe\'s answer, a cut marker being no marker @lab', function () {
    const f = parseNodeFacts('n1', ['dir=/root/.ipoib-lab', 'arch=aarch64', 'node=v22.1.0', 'modules=127', 'napi=9', 'glibc=2.41', 'tool=tar', 'tool=gzip', 'header=zlib', 'lib=libibverbs.so.1', 'installed={"version":"0.1.0"', 'current=releases/x', ''].join('\n'));
    expect(f).to.deep.include({ dir: '/root/.ipoib-lab', arch: 'aarch64', nodeVersion: 'v22.1.0', modules: '127', napi: 9, glibc: '2.41', installed: null, current: 'releases/x' });
    expect([...f.tools]).to.deep.equal(['tar', 'gzip']);
    expect([...f.headers]).to.deep.equal(['zlib']);
    expect([...f.libs]).to.deep.equal(['libibverbs.so.1']);
    expect(parseNodeFacts('n1', 'dir=/x\narch=x86_64\nglibc=\n')).to.deep.include({ nodeVersion: null, napi: null, glibc: null });
  });

  it('takes deploy directories that are absolute or under ~ only @lab', function () {
    for (const ok of ['~', '~/.ipoib-lab', '/opt/ipoib-lab']) expect(() => checkDeployDir(ok), ok).to.not.throw();
    for (const bad of ['relative/dir', '~other/x', '/opt/../etc', '']) expect(() => checkDeployDir(bad), bad).to.throw(DeployError);
    expect(expandHome('~/.ipoib-lab', '/home/lab/')).to.equal('/home/lab/.ipoib-lab');
    expect(expandHome('/opt/x', '/home/lab')).to.equal('/opt/x');
  });
});

function labOf(nodes: Partial<LabNode>[]): LabFile {
  return {
    name: 'rack',
    fabric: { kind: 'sim' },
    partitions: [{ name: 'default', pkey: '0xffff', ipoib: true }],
    capture: { method: 'none' },
    nodes: nodes.map((n, i) => ({ name: `n${i}`, role: 'dut', implementation: 'reference', transport: 'ssh', sudo: false, interface: 'ib0', addresses: [], ...n }) as LabNode),
  };
}

describe('ipoib-lab deploy: command line @cli @lab', function () {
  this.timeout(30_000);

  it('refuses option combinations that do not go together @cli @lab', function () {
    expect(parseDeployOptions({})).to.deep.include({ action: 'install', nodes: [], addon: undefined, json: false });
    expect(parseDeployOptions({ ship: true, node: ['a', 'b'] })).to.deep.include({ action: 'install', addon: 'ship', nodes: ['a', 'b'] });
    expect(parseDeployOptions({ start: true, fabric: 'f', runDir: '/r' })).to.deep.include({ action: 'start', fabric: 'f', runDir: '/r' });
    expect(parseDeployOptions({ printVersion: true }).action).to.equal('print-version');
    const refused: [object, RegExp][] = [
      [{ build: true, ship: true }, /--build or --ship, not both/],
      [{ start: true, stop: true }, /at most one of .*got --start, --stop/],
      [{ status: true, build: true }, /only apply when installing/],
      [{ start: true }, /--start needs --fabric/],
      [{ fabric: 'f' }, /--fabric only applies to --start and --stop/],
      [{ stop: true, runDir: '/r' }, /--run-dir only applies to --start/],
      [{ dir: 'relative' }, /--dir: deploy directory "relative" is neither absolute nor under ~/],
    ];
    for (const [o, msg] of refused) expect(() => parseDeployOptions(o), JSON.stringify(o)).to.throw(UsageError, msg);
  });

  it('acts on ssh nodes with the reference stack only, and says so for other nodes @cli @lab @ssh', function () {
    const lab = labOf([{ name: 'a' }, { name: 'b', transport: 'local' }, { name: 'c', implementation: 'kernel' }]);
    expect(selectDeployNodes(lab, []).map((n) => n.name)).to.deep.equal(['a']);
    expect(selectDeployNodes(lab, ['a', 'a']).map((n) => n.name)).to.deep.equal(['a']);
    expect(() => selectDeployNodes(lab, ['z'])).to.throw(UsageError, /no node "z" \(nodes: a, b, c\)/);
    expect(() => selectDeployNodes(lab, ['b'])).to.throw(UsageError, /node b is a local node with implementation "reference"/);
    expect(() => selectDeployNodes(lab, ['c'])).to.throw(UsageError, /implementation "kernel"/);
    const none = (() => {
      try {
        selectDeployNodes(labOf([{ transport: 'local' }]), []);
      } catch (e) {
        return e;
      }
      return null;
    })();
    expect(none).to.be.instanceOf(ExitError);
    expect((none as ExitError).exitCode).to.equal(2);
    expect((none as Error).message).to.match(/no ssh node with implementation "reference": nothing to deploy to/);
  });

  it('exits 2 with the reason for bad arguments and for a lab without deployable nodes @cli @lab', async function () {
    const both = captureIo();
    expect(await main(['deploy', '--build', '--ship'], both)).to.equal(2);
    expect(both.stderr.join('\n')).to.match(/--build or --ship, not both/);
    const none = captureIo();
    expect(await main(['deploy', '--status', '--lab', 'lab/sim.json'], none)).to.equal(2);
    expect(none.stderr.join('\n')).to.match(/lab sim has no ssh node with implementation "reference"/);
  });

  it('validates a node\'s deploy.dir in the lab file @cli @lab', function () {
    const doc = {
      name: 'x',
      fabric: { kind: 'sim' },
      nodes: [{ name: 'a', role: 'dut', implementation: 'reference', transport: 'ssh', ssh: { host: 'h', user: 'u', agent: true }, interface: 'ib0', deploy: { dir: 'relative/dir', extra: 1 } }],
      partitions: [{ name: 'default', pkey: '0xffff' }],
    };
    const err = (() => {
      try {
        parseLabFile(JSON.stringify(doc), '/labs/x.json', '/home/t');
      } catch (e) {
        return e as LabFileError;
      }
      throw new Error('accepted');
    })();
    expect(err).to.be.instanceOf(LabFileError);
    expect(err.problems.map((p) => `${p.path}: ${p.message}`)).to.include.members([
      '$.nodes[0].deploy.dir: must be an absolute path or one starting with ~/, got "relative/dir"',
      '$.nodes[0].deploy.extra: unknown key (allowed here: dir)',
    ]);
    doc.nodes[0]!.deploy = { dir: '~/ipoib' } as typeof doc.nodes[0]['deploy'];
    expect(parseLabFile(JSON.stringify(doc), '/labs/x.json', '/home/t').nodes[0]?.deploy?.dir, '~ stays for the node to resolve').to.equal('~/ipoib');
  });
});
