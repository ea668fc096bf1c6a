/**
 * The one TypeScript file that loads the C++ addon (native/, built by `npm run build:native`)
 * and declares its whole surface. The C++ side of that surface is native/src/addon.cc.
 *
 * Use the wrapped functions (`nativeBuildInfo`, `listRdmaDevices`, `nativeCrc32`): they check
 * arguments here first and turn native failures into NativeError carrying op/errno/code and the
 * caller's stack. `loadNative()` hands out the raw binding for tests and for new wrappers.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { types } from 'node:util';
import { NativeError } from '../errors.js';

/** Version of the native surface; must equal kNativeAbi in native/src/build_info.h. */
export const NATIVE_ABI = 1;

/** What `buildInfo()` reports about the binary. */
export interface NativeBuildInfo {
  /** The package version the binary was built from (package.json `version`). */
  readonly version: string;
  /** Compiler id and version, e.g. "GNU 12.2.0". */
  readonly compiler: string;
  /** The N-API version the binary was compiled against. */
  readonly napiVersion: number;
  /** Whether the libibverbs parts were compiled in (same as `hasVerbs`). */
  readonly verbs: boolean;
  /** The zlib the addon's calls bind to at run time (Node's bundled one when Node exports it). */
  readonly zlibVersion: string;
  /** The zlib header version the addon was compiled against. */
  readonly zlibHeaderVersion: string;
  /** CMake build type, e.g. "Release". */
  readonly buildType: string;
}

export type RdmaNodeType =
  | 'ca'
  | 'switch'
  | 'router'
  | 'rnic'
  | 'usnic'
  | 'usnic-udp'
  | 'unspecified'
  | 'unknown';
export type RdmaTransport = 'ib' | 'iwarp' | 'usnic' | 'usnic-udp' | 'unspecified' | 'unknown';

/** One device as libibverbs lists it. */
export interface RdmaDevice {
  /** Kernel device name, e.g. "mlx5_0". */
  readonly name: string;
  /** Node GUID: 16 lowercase hex digits, most significant first. */
  readonly guid: string;
  readonly nodeType: RdmaNodeType;
  readonly transport: RdmaTransport;
}

/** Everything ipoib_native.node exports. */
export interface NativeBinding {
  /** Checked against NATIVE_ABI at load. */
  readonly abi: number;
  /** Whether the libibverbs parts were compiled in; without them listRdmaDevices() is always []. */
  readonly hasVerbs: boolean;
  buildInfo(): NativeBuildInfo;
  /** [] on a kernel without RDMA; other failures throw an Error with op/errno/code. */
  listRdmaDevices(): RdmaDevice[];
  /** zlib's CRC-32 of `data`, continuing from `seed` (a previous result; default 0). */
  crc32(data: Uint8Array, seed?: number): number;
}

const BINARY_NAME = 'ipoib_native.node';
const BUILD_FIX = 'run `npm run build:native`; needs cmake and a C++ compiler';
const requireNative = createRequire(import.meta.url);

/** The nearest directory at or above this module that holds a package.json (source or dist). */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new NativeError(`no package.json above ${fileURLToPath(import.meta.url)}`, 'load');
    dir = parent;
  }
}

/** Where cmake-js puts the binary, in the order the loader tries them. */
export function nativeCandidates(root: string = packageRoot()): string[] {
  return ['Release', 'Debug'].map((config) => join(root, 'native', 'build', config, BINARY_NAME));
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Why `mod` is not a usable binding, or undefined when it is. */
function bindingProblem(mod: unknown): string | undefined {
  if (typeof mod !== 'object' || mod === null) return `exports a ${typeof mod}, not an object`;
  const m = mod as Record<string, unknown>;
  if (m.abi !== NATIVE_ABI) {
    return `abi ${String(m.abi)}, expected ${NATIVE_ABI}: the binary is stale or foreign, rebuild it`;
  }
  if (typeof m.hasVerbs !== 'boolean') return 'hasVerbs is not a boolean';
  for (const fn of ['buildInfo', 'listRdmaDevices', 'crc32']) {
    if (typeof m[fn] !== 'function') return `${fn} is not a function`;
  }
  return undefined;
}

/**
 * Loads the first of `paths` that is a binding with the right ABI (no caching). When none is,
 * throws one NativeError (op "load") naming every path tried, why each failed, and the fix.
 */
export function loadNativeFrom(paths: readonly string[]): NativeBinding {
  const failures: string[] = [];
  for (const path of paths) {
    if (!existsSync(path)) {
      failures.push(`${path}: not found`);
      continue;
    }
    let mod: unknown;
    try {
      mod = requireNative(path);
    } catch (e) {
      failures.push(`${path}: ${messageOf(e)}`);
      continue;
    }
    const problem = bindingProblem(mod);
    if (problem === undefined) return mod as NativeBinding;
    failures.push(`${path}: ${problem}`);
  }
  const tried = failures.length > 0 ? failures.map((f) => `  ${f}`) : ['  (no candidate paths)'];
  throw new NativeError([`cannot load the native addon ${BINARY_NAME}; tried:`, ...tried, `fix: ${BUILD_FIX}`].join('\n'), 'load');
}

let loaded: NativeBinding | undefined;

/** The raw binding from native/build/{Release,Debug}, loaded once. Throws NativeError when absent. */
export function loadNative(): NativeBinding {
  loaded ??= loadNativeFrom(nativeCandidates());
  return loaded;
}

/**
 * Runs one native call. TypeError/RangeError (bad arguments: a bug on our side) pass through
 * unchanged; any other failure becomes a NativeError with the native op/errno/code when the
 * addon supplied them (else op = `op`), created here so its stack shows the caller.
 */
export function callNative<T>(op: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof TypeError || e instanceof RangeError) throw e;
    const fields = typeof e === 'object' && e !== null ? (e as Record<string, unknown>) : {};
    const err = new NativeError(
      messageOf(e),
      typeof fields.op === 'string' ? fields.op : op,
      typeof fields.errno === 'number' ? fields.errno : undefined,
      typeof fields.code === 'string' ? fields.code : undefined,
    );
    err.cause = e;
    throw err;
  }
}

/** Facts about the loaded binary. */
export function nativeBuildInfo(): NativeBuildInfo {
  const native = loadNative();
  return callNative('buildInfo', () => native.buildInfo());
}

/** RDMA devices libibverbs sees; [] without RDMA in the kernel or without verbs compiled in. */
export function listRdmaDevices(): RdmaDevice[] {
  const native = loadNative();
  return callNative('listRdmaDevices', () => native.listRdmaDevices());
}

/** zlib's CRC-32 of `data` continuing from `seed`: the independent reference for CRC checks. */
export function nativeCrc32(data: Uint8Array, seed = 0): number {
  if (!types.isUint8Array(data)) throw new TypeError(`nativeCrc32: data must be a Buffer or Uint8Array, got ${typeof data}`);
  if (typeof seed !== 'number') throw new TypeError(`nativeCrc32: seed must be a number, got ${typeof seed}`);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new RangeError(`nativeCrc32: seed must be an integer from 0 to 0xffffffff, got ${String(seed)}`);
  }
  const native = loadNative();
  return callNative('crc32', () => native.crc32(data, seed));
}
