import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as zlib from 'node:zlib';
import { NativeError } from '../../src/errors.js';
import {
  callNative,
  listRdmaDevices,
  loadNative,
  loadNativeFrom,
  NATIVE_ABI,
  nativeBuildInfo,
  nativeCandidates,
  nativeCrc32,
} from '../../src/native/addon.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ADDON_TS = fileURLToPath(new URL('../../src/native/addon.ts', import.meta.url));
const FAKE_IBVERBS_C = fileURLToPath(new URL('./fixtures/fake-ibverbs.c', import.meta.url));

interface PackageJson {
  version: string;
  binary: { napi_versions: number[] };
}
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as PackageJson;

/** node:zlib gained crc32 in Node 20.15 / 22.2; older runtimes skip the cross-check. */
const zlibCrc32 = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

/** Calls `fn` and returns what it threw (fails when it returns normally). */
function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  expect.fail('expected the call to throw');
}

describe('native addon: loading @native', function () {
  it('loads from native/build with abi equal to NATIVE_ABI, once @native', function () {
    const binding = loadNative();
    expect(binding.abi).to.equal(NATIVE_ABI);
    expect(loadNative(), 'second call returns the cached binding').to.equal(binding);
  });

  it('tries Release, then Debug, under the package root @native', function () {
    expect(nativeCandidates('/pkg')).to.deep.equal([
      '/pkg/native/build/Release/ipoib_native.node',
      '/pkg/native/build/Debug/ipoib_native.node',
    ]);
    expect(nativeCandidates()[0]).to.equal(join(ROOT, 'native/build/Release/ipoib_native.node'));
  });

  describe('with bad candidate paths @native', function () {
    let dir = '';
    before(function () {
      dir = mkdtempSync(join(tmpdir(), 'ipoib-native-'));
      writeFileSync(join(dir, 'garbage.node'), 'this is not a shared object\n');
      writeFileSync(join(dir, 'old-abi.cjs'), 'module.exports = { abi: 999, hasVerbs: false };\n');
      writeFileSync(join(dir, 'no-functions.cjs'), `module.exports = { abi: ${NATIVE_ABI}, hasVerbs: false };\n`);
    });
    after(function () {
      rmSync(dir, { recursive: true, force: true });
    });

    it('throws one NativeError listing every path, its failure and the fix @native', function () {
      const paths = [
        join(dir, 'missing.node'),
        join(dir, 'garbage.node'),
        join(dir, 'old-abi.cjs'),
        join(dir, 'no-functions.cjs'),
      ];
      const e = thrownBy(() => loadNativeFrom(paths));
      expect(e).to.be.instanceOf(NativeError);
      const err = e as NativeError;
      expect(err.op).to.equal('load');
      const lines = err.message.split('\n');
      expect(lines).to.have.length(paths.length + 2);
      expect(lines[1]).to.equal(`  ${paths[0]}: not found`);
      expect(lines[2]).to.match(/^ {2}\S+garbage\.node: .+/);
      expect(lines[2]).to.not.include('not found');
      expect(lines[3]).to.equal(
        `  ${paths[2]}: abi 999, expected ${NATIVE_ABI}: the binary is stale or foreign, rebuild it`,
      );
      expect(lines[4]).to.equal(`  ${paths[3]}: buildInfo is not a function`);
      expect(lines[5]).to.equal('fix: run `npm run build:native`; needs cmake and a C++ compiler');
    });

    it('says so when given no paths at all @native', function () {
      const e = thrownBy(() => loadNativeFrom([]));
      expect(e).to.be.instanceOf(NativeError);
      expect((e as NativeError).message).to.include('(no candidate paths)');
    });

    it('falls through failing candidates to a good one @native', function () {
      const good = nativeCandidates().find((p) => existsSync(p));
      expect(good, 'a built addon').to.be.a('string');
      const binding = loadNativeFrom([join(dir, 'missing.node'), join(dir, 'garbage.node'), good as string]);
      expect(binding.abi).to.equal(NATIVE_ABI);
      expect(binding.crc32(Buffer.from('a'))).to.equal(0xe8b7be43);
    });
  });
});

describe('native addon: buildInfo @native', function () {
  it('reports typed fields that agree with package.json and hasVerbs @native', function () {
    const info = nativeBuildInfo();
    expect(Object.keys(info).sort()).to.deep.equal(
      ['buildType', 'compiler', 'napiVersion', 'verbs', 'version', 'zlibHeaderVersion', 'zlibVersion'].sort(),
    );
    expect(info.version).to.equal(pkg.version);
    expect(info.compiler).to.be.a('string').and.match(/\S+ \d+(\.\d+)*/);
    expect(info.napiVersion).to.equal(pkg.binary.napi_versions[0]);
    expect(info.napiVersion).to.be.at.most(Number(process.versions.napi));
    expect(info.verbs).to.equal(loadNative().hasVerbs);
    expect(info.zlibVersion).to.match(/^\d+\.\d+(\.\d+)*/);
    expect(info.zlibHeaderVersion).to.match(/^\d+\.\d+(\.\d+)*/);
    expect(info.buildType).to.be.oneOf(['Release', 'Debug', 'RelWithDebInfo', 'MinSizeRel']);
  });

  it('refuses arguments with a TypeError from C++ @native', function () {
    const binding = loadNative() as unknown as Record<string, (...args: unknown[]) => unknown>;
    for (const fn of ['buildInfo', 'listRdmaDevices']) {
      const e = thrownBy(() => binding[fn]?.(1));
      expect(e, fn).to.be.instanceOf(TypeError);
      expect((e as TypeError).message).to.equal(`${fn}() takes 0 arguments, got 1`);
    }
  });
});

describe('native addon: listRdmaDevices @native', function () {
  it('returns an array whose entries have name, guid, nodeType and transport @native', function () {
    const devices = listRdmaDevices();
    expect(devices).to.be.an('array');
    for (const d of devices) {
      expect(d.name, JSON.stringify(d)).to.be.a('string').and.not.equal('');
      expect(d.guid, JSON.stringify(d)).to.match(/^[0-9a-f]{16}$/);
      expect(d.nodeType, JSON.stringify(d)).to.be.a('string');
      expect(d.transport, JSON.stringify(d)).to.be.a('string');
    }
  });

  it('lists no devices on a host without /sys/class/infiniband @native', function () {
    if (existsSync('/sys/class/infiniband')) this.skip(); // this host has RDMA devices
    expect(listRdmaDevices()).to.deep.equal([]);
  });

  describe('with libibverbs replaced by test/native/fixtures/fake-ibverbs.c @native', function () {
    interface ChildResult {
      devices?: unknown;
      error?: { name: string; message: string; op?: string; errno?: number; code?: string; stack?: string };
    }
    let results: Record<string, ChildResult> & { frees?: string | null } = {};
    let dir = '';

    before(function () {
      // The fake needs verbs compiled in (else nothing calls it), Linux's LD_PRELOAD and a C compiler.
      const cc = spawnSync('cc', ['--version'], { encoding: 'utf8' });
      if (process.platform !== 'linux' || !loadNative().hasVerbs || cc.status !== 0) this.skip();
      dir = mkdtempSync(join(tmpdir(), 'ipoib-fake-ibverbs-'));
      const so = join(dir, 'fake-ibverbs.so');
      const build = spawnSync('cc', ['-shared', '-fPIC', '-Wall', '-o', so, FAKE_IBVERBS_C], { encoding: 'utf8' });
      expect(build.status, `cc failed:\n${build.stderr}`).to.equal(0);
      const script = [
        `import { listRdmaDevices } from ${JSON.stringify(pathToFileURL(ADDON_TS).href)};`,
        'const out = {};',
        "for (const mode of ['enosys', 'eperm', 'devices']) {",
        '  process.env.FAKE_IBV = mode;',
        '  try { out[mode] = { devices: listRdmaDevices() }; }',
        '  catch (e) { out[mode] = { error: { name: e.name, message: e.message, op: e.op, errno: e.errno, code: e.code, stack: e.stack } }; }',
        '}',
        'out.frees = process.env.FAKE_IBV_FREES ?? null;',
        'console.log(JSON.stringify(out));',
      ].join('\n');
      const child = spawnSync(process.execPath, ['--import', 'tsx/esm', '--input-type=module', '-e', script], {
        cwd: ROOT,
        encoding: 'utf8',
        env: { ...process.env, LD_PRELOAD: so },
      });
      expect(child.status, `child failed:\n${child.stderr}`).to.equal(0);
      results = JSON.parse(child.stdout) as typeof results;
    });
    after(function () {
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('reads ENOSYS (a kernel without RDMA) as no devices @native', function () {
      expect(results.enosys).to.deep.equal({ devices: [] });
    });

    it('turns another errno into NativeError with op, errno and code, at the caller @native', function () {
      const err = results.eperm?.error;
      expect(err, JSON.stringify(results.eperm)).to.not.equal(undefined);
      expect(err?.name).to.equal('NativeError');
      expect(err?.op).to.equal('ibv_get_device_list');
      expect(err?.errno).to.equal(1);
      expect(err?.code).to.equal('EPERM');
      expect(err?.message).to.match(/^ibv_get_device_list: .+ \(EPERM\)$/);
      expect(err?.stack).to.include('[eval');
    });

    it('lists devices with GUIDs in host order and named node and transport types @native', function () {
      expect(results.devices).to.deep.equal({
        devices: [
          { name: 'mlx5_0', guid: '0002c90300a1b2c3', nodeType: 'ca', transport: 'ib' },
          { name: 'siw0', guid: 'fe80000000000001', nodeType: 'rnic', transport: 'iwarp' },
        ],
      });
      expect(results.frees, 'ibv_free_device_list calls').to.equal('1');
    });
  });
});

describe('native addon: callNative error conversion @native', function () {
  it('makes an errno-carrying native error a NativeError with the caller on the stack @native', function () {
    const native = Object.assign(new Error('ibv_open_device: No such device (ENODEV)'), {
      op: 'ibv_open_device',
      errno: 19,
      code: 'ENODEV',
    });
    const e = thrownBy(function aCallerNamedInTheStack() {
      callNative('openDevice', () => {
        throw native;
      });
    });
    expect(e).to.be.instanceOf(NativeError);
    const err = e as NativeError;
    expect([err.message, err.op, err.errno, err.code]).to.deep.equal([native.message, 'ibv_open_device', 19, 'ENODEV']);
    expect(err.cause).to.equal(native);
    expect(err.stack).to.include('aCallerNamedInTheStack');
  });

  it('names the call when the native error carries no op @native', function () {
    const e = thrownBy(() =>
      callNative('buildInfo', () => {
        throw new Error('std::bad_alloc');
      }),
    );
    expect(e).to.be.instanceOf(NativeError);
    expect([(e as NativeError).op, (e as NativeError).errno, (e as NativeError).code]).to.deep.equal([
      'buildInfo',
      undefined,
      undefined,
    ]);
  });

  it('passes argument errors through unchanged @native', function () {
    const typeError = new TypeError('bad');
    const rangeError = new RangeError('far');
    expect(thrownBy(() => callNative('x', () => { throw typeError; }))).to.equal(typeError);
    expect(thrownBy(() => callNative('x', () => { throw rangeError; }))).to.equal(rangeError);
  });
});

describe('native addon: zlib crc32 @native', function () {
  it('gives the standard check value 0xCBF43926 for "123456789" @native', function () {
    expect(nativeCrc32(Buffer.from('123456789', 'ascii'))).to.equal(0xcbf43926);
    expect(loadNative().crc32(new TextEncoder().encode('123456789'))).to.equal(0xcbf43926);
  });

  it('returns the seed for no bytes and chains through the seed @native', function () {
    expect(nativeCrc32(Buffer.alloc(0))).to.equal(0);
    expect(nativeCrc32(new Uint8Array(0), 0xdeadbeef)).to.equal(0xdeadbeef);
    // randomBytes(0) has no backing memory at all (a null data pointer), for which zlib itself
    // returns 0 whatever the seed; the addon must not pass that quirk on.
    expect(nativeCrc32(randomBytes(0), 0xdeadbeef)).to.equal(0xdeadbeef);
    const data = randomBytes(1000);
    expect(nativeCrc32(data.subarray(300), nativeCrc32(data.subarray(0, 300)))).to.equal(nativeCrc32(data));
  });

  it('reads only the bytes of a view, not its whole ArrayBuffer @native', function () {
    const backing = Buffer.from('xx123456789yy', 'ascii');
    expect(nativeCrc32(backing.subarray(2, 11))).to.equal(0xcbf43926);
  });

  it('equals node:zlib crc32 for random buffers and seeds @native', function () {
    if (zlibCrc32 === undefined) this.skip(); // this Node has no zlib.crc32
    const crc = zlibCrc32;
    for (const length of [0, 1, 3, 4, 7, 8, 63, 64, 65, 1000, 4096, 65_537, 1 << 20]) {
      const data = randomBytes(length);
      const seed = randomBytes(4).readUInt32BE(0);
      const what = length <= 64 ? `data ${data.toString('hex')} seed ${seed}` : `length ${length} seed ${seed}`;
      expect(nativeCrc32(data), what).to.equal(crc(data));
      // Node 20's zlib.crc32 returns 0 instead of the seed for a Buffer with no backing memory
      // (randomBytes(0)); the empty case with a seed is pinned in the test above instead.
      if (length > 0) expect(nativeCrc32(data, seed), what).to.equal(crc(data, seed));
    }
  });

  it('gets a TypeError from C++ for a wrong argument type, and lives on @native', function () {
    const crc32 = loadNative().crc32 as (...args: unknown[]) => unknown;
    const cases: [string, unknown[], RegExp][] = [
      ['a string', ['123456789'], /^crc32\(data\) must be a Buffer or Uint8Array$/],
      ['a Uint16Array', [new Uint16Array(4)], /^crc32\(data\) must be a Buffer or Uint8Array$/],
      ['an ArrayBuffer', [new ArrayBuffer(4)], /^crc32\(data\) must be a Buffer or Uint8Array$/],
      ['null', [null], /^crc32\(data\) must be a Buffer or Uint8Array$/],
      ['no arguments', [], /^crc32\(\) takes 1 to 2 arguments, got 0$/],
      ['three arguments', [Buffer.alloc(1), 0, 0], /^crc32\(\) takes 1 to 2 arguments, got 3$/],
      ['a string seed', [Buffer.alloc(1), '1'], /^crc32\(seed\) must be a number$/],
      ['a bigint seed', [Buffer.alloc(1), 1n], /^crc32\(seed\) must be a number$/],
    ];
    for (const [what, args, message] of cases) {
      const e = thrownBy(() => crc32(...args));
      expect(e, what).to.be.instanceOf(TypeError);
      expect((e as Error).message, what).to.match(message);
    }
    expect(crc32(Buffer.from('123456789')), 'still usable afterwards').to.equal(0xcbf43926);
  });

  it('gets a RangeError from C++ for a seed outside uint32 @native', function () {
    const crc32 = loadNative().crc32 as (...args: unknown[]) => unknown;
    for (const seed of [-1, 2 ** 32, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      const e = thrownBy(() => crc32(Buffer.alloc(1), seed));
      expect(e, String(seed)).to.be.instanceOf(RangeError);
      expect((e as Error).message, String(seed)).to.equal('crc32(seed) must be an integer from 0 to 4294967295');
    }
    expect(crc32(Buffer.alloc(0), 0xffffffff)).to.equal(0xffffffff);
  });

  it('nativeCrc32 checks its arguments in TypeScript before crossing @native', function () {
    const call = nativeCrc32 as (...args: unknown[]) => unknown;
    const e1 = thrownBy(() => call('abc'));
    expect(e1).to.be.instanceOf(TypeError);
    expect((e1 as Error).message).to.match(/^nativeCrc32: data must be/);
    const e2 = thrownBy(() => call(Buffer.alloc(1), '1'));
    expect(e2).to.be.instanceOf(TypeError);
    expect((e2 as Error).message).to.match(/^nativeCrc32: seed must be a number/);
    const e3 = thrownBy(() => call(Buffer.alloc(1), -1));
    expect(e3).to.be.instanceOf(RangeError);
    expect((e3 as Error).message).to.match(/^nativeCrc32: seed must be an integer/);
  });
});
