/** `ipoib-lab info`: what this installation has, so a user can tell what will run and what will skip. */
import { PRODUCT_VERSION } from '../../version.js';
import { runTool } from '../../util/run-tool.js';
import type { Io } from '../run-command.js';
import { EXIT_FAILURE, EXIT_OK } from '../exit-codes.js';

export interface InfoOptions {
  json: boolean;
}

export interface InstallationInfo {
  version: string;
  node: string;
  native: { loaded: true; buildInfo: unknown; rdmaDevices: unknown[] } | { loaded: false; error: string };
  tools: Record<string, string | null>;
}

async function toolVersion(file: string, args: string[], pick: (out: string) => string): Promise<string | null> {
  const r = await runTool(file, args, { timeoutMs: 15_000 });
  if (r.code !== 0) return null;
  return pick(`${r.stdout}${r.stderr}`);
}

export async function gatherInfo(): Promise<InstallationInfo> {
  let native: InstallationInfo['native'];
  try {
    const addon = await import('../../native/addon.js');
    native = { loaded: true, buildInfo: addon.nativeBuildInfo(), rdmaDevices: addon.listRdmaDevices() };
  } catch (e) {
    native = { loaded: false, error: e instanceof Error ? e.message : String(e) };
  }
  const firstLine = (s: string): string => s.split('\n')[0]?.trim() ?? '';
  const [tshark, java] = await Promise.all([
    toolVersion('tshark', ['--version'], firstLine),
    toolVersion('java', ['-version'], firstLine),
  ]);
  return { version: PRODUCT_VERSION, node: process.version, native, tools: { tshark, java } };
}

export async function info(o: InfoOptions, io: Io): Promise<number> {
  const i = await gatherInfo();
  if (o.json) {
    io.out(JSON.stringify(i, null, 2));
  } else {
    io.out(`ipoib-lab ${i.version} on Node ${i.node}`);
    if (i.native.loaded) {
      io.out(`native addon: ${JSON.stringify(i.native.buildInfo)}`);
      io.out(`RDMA devices: ${i.native.rdmaDevices.length === 0 ? 'none' : JSON.stringify(i.native.rdmaDevices)}`);
    } else {
      io.out(`native addon: NOT LOADED: ${i.native.error}`);
    }
    for (const [name, v] of Object.entries(i.tools)) {
      io.out(`${name}: ${v ?? 'not found (tests that need it skip with that reason)'}`);
    }
  }
  return i.native.loaded ? EXIT_OK : EXIT_FAILURE;
}
