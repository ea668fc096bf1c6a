/**
 * The few node reads that capability discovery is made of, each one command with a fixed
 * script and the paths or names as arguments (so nothing is ever pasted into shell text):
 * which of these paths exist, the one-line files matching these globs, which of these tools
 * are on PATH. Plus the parser for the RDMA port attributes under /sys/class/infiniband.
 */
import type { RunOptions, Transport } from './transport.js';

/** Each probe is quick by nature; a slow one means a sick node, not a slow command. */
export const PROBE_TIMEOUT_MS = 10_000;
const opts: RunOptions = { timeoutMs: PROBE_TIMEOUT_MS };

/** Prints every existing path that an argument (a glob; unquoted on purpose) expands to. */
export const EXISTING_PATHS_SCRIPT = 'for g in "$@"; do for f in $g; do [ -e "$f" ] && printf "%s\\n" "$f"; done; done; exit 0';
/** Prints `path:line` for every non-empty line of every regular file an argument expands to. */
export const READ_FILES_SCRIPT = 'for g in "$@"; do for f in $g; do [ -f "$f" ] && grep -H . -- "$f" 2>/dev/null; done; done; exit 0';
/** Prints the name of every argument that is a command on PATH. */
export const TOOLS_SCRIPT = 'for t in "$@"; do command -v "$t" >/dev/null 2>&1 && printf "%s\\n" "$t"; done; exit 0';

function lines(text: string): string[] {
  return text.split('\n').filter((l) => l.length > 0);
}

export async function existingPaths(t: Transport, globs: readonly string[]): Promise<Set<string>> {
  const r = await t.check(['sh', '-c', EXISTING_PATHS_SCRIPT, 'sh', ...globs], opts);
  return new Set(lines(r.stdout));
}

/** File path → its lines (sysfs files have one). */
export async function readFiles(t: Transport, globs: readonly string[]): Promise<Map<string, string[]>> {
  const r = await t.check(['sh', '-c', READ_FILES_SCRIPT, 'sh', ...globs], opts);
  const files = new Map<string, string[]>();
  for (const l of lines(r.stdout)) {
    const colon = l.indexOf(':');
    if (colon <= 0) continue;
    const file = l.slice(0, colon);
    const list = files.get(file) ?? [];
    list.push(l.slice(colon + 1));
    files.set(file, list);
  }
  return files;
}

export async function toolsOnPath(t: Transport, tools: readonly string[]): Promise<Set<string>> {
  const r = await t.check(['sh', '-c', TOOLS_SCRIPT, 'sh', ...tools], opts);
  return new Set(lines(r.stdout));
}

/** The sysfs files of an RDMA port that discovery reads. */
export const RDMA_PORT_GLOBS = ['state', 'link_layer', 'lid', 'sm_lid', 'pkeys/*'].map((f) => `/sys/class/infiniband/*/ports/*/${f}`);

export interface RdmaPort {
  device: string;
  port: number;
  /** The state's name, e.g. "ACTIVE" (the file reads "4: ACTIVE"); null when unreadable. */
  state: string | null;
  /** "InfiniBand" or "Ethernet" (RoCE, rxe). */
  linkLayer: string | null;
  lid: number | null;
  smLid: number | null;
  /** Non-zero entries of the P_Key table, in index order. */
  pkeys: number[];
}

const PORT_FILE = /^\/sys\/class\/infiniband\/([^/]+)\/ports\/(\d+)\/(state|link_layer|lid|sm_lid|pkeys\/(\d+))$/;

function hexOrNull(text: string | undefined): number | null {
  if (text === undefined || !/^0x[0-9a-fA-F]+$/.test(text.trim())) return null;
  return parseInt(text.trim().slice(2), 16);
}

/** Ports found in a readFiles() result of RDMA_PORT_GLOBS, sorted by device and port. */
export function parseRdmaPorts(files: ReadonlyMap<string, readonly string[]>): RdmaPort[] {
  const ports = new Map<string, RdmaPort & { pkeyAt: Map<number, number> }>();
  for (const [file, content] of files) {
    const m = PORT_FILE.exec(file);
    if (!m) continue;
    const [, device = '', portText = '', attr = '', pkeyIndex] = m;
    const key = `${device}/${portText}`;
    let p = ports.get(key);
    if (!p) {
      p = { device, port: Number(portText), state: null, linkLayer: null, lid: null, smLid: null, pkeys: [], pkeyAt: new Map() };
      ports.set(key, p);
    }
    const value = content[0]?.trim();
    if (attr === 'state') p.state = value === undefined ? null : (/^\d+:\s*(\S+)/.exec(value)?.[1] ?? value);
    else if (attr === 'link_layer') p.linkLayer = value ?? null;
    else if (attr === 'lid') p.lid = hexOrNull(value);
    else if (attr === 'sm_lid') p.smLid = hexOrNull(value);
    else if (pkeyIndex !== undefined) {
      const pk = hexOrNull(value);
      if (pk !== null && pk !== 0) p.pkeyAt.set(Number(pkeyIndex), pk);
    }
  }
  return [...ports.values()]
    .map(({ pkeyAt, ...p }) => ({ ...p, pkeys: [...pkeyAt.entries()].sort((a, b) => a[0] - b[0]).map(([, v]) => v) }))
    .sort((a, b) => (a.device === b.device ? a.port - b.port : a.device < b.device ? -1 : 1));
}
