/**
 * tshark as an external oracle: decode a capture file to JSON and look fields up by their
 * Wireshark names. Wireshark is run as a separate program, never linked.
 */
import { runTool } from '../../src/util/run-tool.js';

export type TsharkValue = string | TsharkTree | TsharkValue[];
export interface TsharkTree {
  [key: string]: TsharkValue;
}

let cachedVersion: string | null | undefined;

/** tshark's version line, or null when it is not installed. */
export async function tsharkVersion(): Promise<string | null> {
  if (cachedVersion === undefined) {
    const r = await runTool('tshark', ['--version'], { timeoutMs: 20_000 });
    cachedVersion = r.code === 0 ? (r.stdout.split('\n')[0] ?? 'tshark') : null;
  }
  return cachedVersion;
}

/** Decodes every frame of `pcapPath`; returns each frame's `_source.layers` tree. */
export async function tsharkDecode(pcapPath: string, extraArgs: string[] = []): Promise<TsharkTree[]> {
  const r = await runTool('tshark', ['-r', pcapPath, '-T', 'json', '--no-duplicate-keys', ...extraArgs], {
    timeoutMs: 60_000,
  });
  if (r.code !== 0) throw new Error(`tshark failed on ${pcapPath} (exit ${r.code}): ${r.error ?? r.stderr}`);
  const frames = JSON.parse(r.stdout) as Array<{ _source: { layers: TsharkTree } }>;
  return frames.map((f) => f._source.layers);
}

/** Every value of the field `name` anywhere in the tree, depth first, in document order. */
export function fieldValues(tree: TsharkValue, name: string): string[] {
  const out: string[] = [];
  const walk = (v: TsharkValue, key: string | null): void => {
    if (typeof v === 'string') {
      if (key === name) out.push(v);
    } else if (Array.isArray(v)) {
      for (const x of v) walk(x, key);
    } else {
      for (const [k, x] of Object.entries(v)) walk(x, k);
    }
  };
  walk(tree, null);
  return out;
}

/** The single value of `name`; throws (with the available names) when absent. */
export function field(tree: TsharkValue, name: string): string {
  const vs = fieldValues(tree, name);
  if (vs.length === 0) {
    throw new Error(`tshark output has no field ${name}; protocols present: ${Object.keys(tree as TsharkTree).join(', ')}`);
  }
  return vs[0]!;
}

/** Whether a protocol layer (e.g. "arp", "ipv6", "infiniband") was dissected. */
export function hasLayer(tree: TsharkTree, proto: string): boolean {
  return Object.prototype.hasOwnProperty.call(tree, proto);
}

/** tshark prints numbers in decimal or 0x-hex depending on the field; normalise to a number. */
export function num(s: string): number {
  return s.startsWith('0x') ? Number.parseInt(s, 16) : Number.parseInt(s, 10);
}
