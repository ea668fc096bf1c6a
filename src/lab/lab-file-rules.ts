/**
 * Lab-file rules a JSON Schema cannot say well: ones that span keys, and the refusal of
 * passwords. Each returns problems (JSON path + message) and never throws, so the validator
 * can report everything at once; each reads the parsed JSON defensively because it also runs
 * when the structure is wrong.
 */
import { isIP } from 'node:net';

export interface PathProblem {
  path: string;
  message: string;
}

/** Keys that would hold a secret typed by a person. */
const SECRET_KEYS = /^(password|passwd|passphrase)$/i;

export const PASSWORD_MESSAGE =
  'lab files never hold passwords: they are read by everyone running the suite and end up in reports. Use an SSH key (identityFile) or an agent, and passwordless sudo (NOPASSWD) for "sudo": true';

type JsonObject = Record<string, unknown>;

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `$.a.b[2]` style; keys that are not identifiers are bracketed and quoted. */
export function jsonPath(parts: readonly (string | number)[]): string {
  return parts.reduce<string>((acc, p) => {
    if (typeof p === 'number') return `${acc}[${p}]`;
    return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(p) ? `${acc}.${p}` : `${acc}[${JSON.stringify(p)}]`;
  }, '$');
}

/** Every key anywhere in the document that names a password. */
export function passwordProblems(doc: unknown): PathProblem[] {
  const found: PathProblem[] = [];
  const walk = (v: unknown, at: (string | number)[]): void => {
    if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...at, i]));
    else if (isObject(v)) {
      for (const [k, x] of Object.entries(v)) {
        if (SECRET_KEYS.test(k)) found.push({ path: jsonPath([...at, k]), message: PASSWORD_MESSAGE });
        walk(x, [...at, k]);
      }
    }
  };
  walk(doc, []);
  return found;
}

function checkAddress(text: string): string | null {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(text);
  if (!m) return `"${text}" is not an address with a prefix length, e.g. "192.0.2.1/24"`;
  const family = isIP(m[1] ?? '');
  if (family === 0) return `"${m[1]}" is not an IPv4 or IPv6 address`;
  const max = family === 4 ? 32 : 128;
  if (Number(m[2]) > max) return `prefix length /${m[2]} exceeds ${max} for an IPv${family} address`;
  return null;
}

function duplicates(values: readonly { value: unknown; path: string }[], what: string): PathProblem[] {
  const seen = new Map<string, string>();
  const out: PathProblem[] = [];
  for (const { value, path } of values) {
    if (typeof value !== 'string') continue;
    const key = value.toLowerCase();
    const first = seen.get(key);
    if (first) out.push({ path, message: `duplicate ${what} "${value}" (first at ${first})` });
    else seen.set(key, path);
  }
  return out;
}

/** Rules across keys; see the module comment. */
export function crossKeyProblems(doc: unknown): PathProblem[] {
  if (!isObject(doc)) return [];
  const out: PathProblem[] = [];
  const fabric = isObject(doc.fabric) ? doc.fabric : {};
  const kind = fabric.kind;
  const nodes = Array.isArray(doc.nodes) ? doc.nodes : [];

  nodes.forEach((n: unknown, i) => {
    if (!isObject(n)) return;
    const at = (...p: (string | number)[]) => jsonPath(['nodes', i, ...p]);
    if (n.transport === 'ssh' && n.ssh === undefined) out.push({ path: at('ssh'), message: 'transport is "ssh" but the ssh block is missing' });
    if (n.transport === 'local' && n.ssh !== undefined) out.push({ path: at('ssh'), message: 'an ssh block is only allowed with transport "ssh"' });
    if (n.transport === 'ssh' && n.netns !== undefined) out.push({ path: at('netns'), message: 'netns is only for the local transport (on an ssh node, run the namespace there yourself)' });
    if (isObject(n.ssh)) {
      const hasKey = n.ssh.identityFile !== undefined;
      const hasAgent = n.ssh.agent !== undefined && n.ssh.agent !== false;
      if (hasKey === hasAgent) {
        out.push({ path: at('ssh'), message: hasKey ? 'give identityFile or agent, not both' : 'give identityFile (a private key file) or agent: true; passwords are never used' });
      }
    }
    if (n.implementation === 'kernel' && (kind === 'sim' || kind === 'rxe')) {
      out.push({ path: at('implementation'), message: `kernel ib_ipoib binds only to InfiniBand ports, so it needs fabric kind "ib", not "${kind}"` });
    }
    if ((kind === 'rxe' || kind === 'ib') && n.hca === undefined) out.push({ path: at('hca'), message: `fabric kind "${kind}" needs the node's HCA port (hca: device, port)` });
    if (n.guid !== undefined && kind !== undefined && kind !== 'sim') {
      out.push({ path: at('guid'), message: `guid sets a simulated port's GUID; on fabric kind "${String(kind)}" the HCA has its own` });
    }
    if (typeof n.guid === 'string' && /^0x0{16}$/i.test(n.guid)) out.push({ path: at('guid'), message: 'a port GUID of zero is not a GUID' });
    if (Array.isArray(n.addresses)) {
      n.addresses.forEach((a: unknown, j) => {
        if (typeof a !== 'string') return;
        const problem = checkAddress(a);
        if (problem) out.push({ path: at('addresses', j), message: problem });
      });
    }
  });

  out.push(...duplicates(nodes.map((n: unknown, i) => ({ value: isObject(n) ? n.name : undefined, path: jsonPath(['nodes', i, 'name']) })), 'node name'));
  out.push(...duplicates(nodes.map((n: unknown, i) => ({ value: isObject(n) ? n.guid : undefined, path: jsonPath(['nodes', i, 'guid']) })), 'port GUID'));
  if (nodes.length > 0 && !nodes.some((n: unknown) => isObject(n) && n.role === 'dut')) {
    out.push({ path: '$.nodes', message: 'no node has role "dut": a lab needs a device under test' });
  }

  const partitions = Array.isArray(doc.partitions) ? doc.partitions : [];
  out.push(...duplicates(partitions.map((p: unknown, i) => ({ value: isObject(p) ? p.name : undefined, path: jsonPath(['partitions', i, 'name']) })), 'partition name'));
  // 0x7fff and 0xffff are the same partition (limited and full member): compare the base.
  const bases = partitions.map((p: unknown, i) => {
    const text = isObject(p) && typeof p.pkey === 'string' && /^0x[0-9a-f]{4}$/i.test(p.pkey) ? p.pkey : undefined;
    return { value: text === undefined ? undefined : `0x${(Number(text) & 0x7fff).toString(16).padStart(4, '0')}`, path: jsonPath(['partitions', i, 'pkey']) };
  });
  out.push(...duplicates(bases, 'partition (P_Key base)'));
  partitions.forEach((p: unknown, i) => {
    if (isObject(p) && typeof p.pkey === 'string' && /^0x[08]000$/.test(p.pkey)) {
      out.push({ path: jsonPath(['partitions', i, 'pkey']), message: `${p.pkey} is the invalid P_Key and names no partition` });
    }
  });

  const capture = isObject(doc.capture) ? doc.capture : {};
  if (capture.method === 'fabric-tap' && kind !== undefined && kind !== 'sim') {
    out.push({ path: '$.capture.method', message: `fabric-tap exists only on the sim fabric, not on "${String(kind)}"` });
  }
  if ((capture.method === 'ibdump' || capture.method === 'rdma-sniffer') && kind === 'sim') {
    out.push({ path: '$.capture.method', message: `${capture.method} needs a real HCA; use fabric-tap on the sim fabric` });
  }
  return out;
}
