/**
 * OpenSSH known_hosts, read the way ssh reads it: plain host patterns (`*`, `?`, `!negation`,
 * `[host]:port` for ports other than 22) and hashed names (`|1|salt|HMAC-SHA1(salt, name)`),
 * `@revoked` lines refused, `@cert-authority` lines ignored (host certificates are not
 * supported). A host whose listed keys all differ from the presented one is a hard error; an
 * unlisted host is refused under `strict` and appended under `accept-new`.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { appendFileSync, chmodSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { HostKeyMismatchError, TransportError, UnknownHostKeyError } from '../../errors.js';
import type { KnownHostsPolicy } from '../lab-file.js';

export interface KnownHostEntry {
  marker: '@revoked' | '@cert-authority' | null;
  /** The host field as written: a comma-separated pattern list or one hashed name. */
  hosts: string;
  keyType: string;
  key: Buffer;
  /** 1-based line number, for messages. */
  line: number;
}

export function parseKnownHosts(text: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const fields = line.split(/\s+/);
    let marker: KnownHostEntry['marker'] = null;
    if (fields[0] === '@revoked' || fields[0] === '@cert-authority') marker = fields.shift() as KnownHostEntry['marker'];
    const [hosts, keyType, b64] = fields;
    if (!hosts || !keyType || !b64 || !/^[A-Za-z0-9+/]+=*$/.test(b64)) return; // malformed lines are skipped, as ssh does
    entries.push({ marker, hosts, keyType, key: Buffer.from(b64, 'base64'), line: i + 1 });
  });
  return entries;
}

/** The name ssh looks up: `host` on port 22, `[host]:port` otherwise. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

function wildcardMatch(pattern: string, name: string): boolean {
  const re = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${re}$`, 'i').test(name);
}

/** Whether an entry's host field covers `name` (already in known_hosts form). */
export function hostFieldMatches(field: string, name: string): boolean {
  if (field.startsWith('|1|')) {
    const [, , salt, hash] = field.split('|');
    if (!salt || !hash) return false;
    const want = Buffer.from(hash, 'base64');
    const have = createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest();
    return want.length === have.length && timingSafeEqual(want, have);
  }
  let matched = false;
  for (const p of field.split(',')) {
    if (p.startsWith('!')) {
      if (wildcardMatch(p.slice(1), name)) return false; // a matching negation rules the entry out
    } else if (wildcardMatch(p, name)) matched = true;
  }
  return matched;
}

/** OpenSSH's fingerprint form: `SHA256:` + unpadded base64 of the SHA-256 of the key blob. */
export function fingerprint(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

/** The key type named inside an SSH public key blob (its first string). */
export function keyTypeOf(keyBlob: Buffer): string {
  if (keyBlob.length < 4) return 'unknown';
  const n = keyBlob.readUInt32BE(0);
  return n > 0 && 4 + n <= keyBlob.length ? keyBlob.subarray(4, 4 + n).toString('latin1') : 'unknown';
}

/** Host key algorithms that can verify a key of each type (what to offer first in key exchange). */
const ALGORITHMS_FOR_TYPE: Readonly<Record<string, readonly string[]>> = {
  'ssh-ed25519': ['ssh-ed25519'],
  'ecdsa-sha2-nistp256': ['ecdsa-sha2-nistp256'],
  'ecdsa-sha2-nistp384': ['ecdsa-sha2-nistp384'],
  'ecdsa-sha2-nistp521': ['ecdsa-sha2-nistp521'],
  'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256'],
};
const ALL_HOST_KEY_ALGORITHMS = Object.values(ALGORITHMS_FOR_TYPE).flat();

export interface HostKeyCheck {
  /** Host key algorithms in preference order: the types known_hosts lists for this host first. */
  algorithms: string[];
  /** Called with the presented key blob; true to go on. On false, `failure` says why. */
  verify(keyBlob: Buffer): boolean;
  /** Why verify() refused, as the error to throw. */
  failure: TransportError | null;
  /** Set when accept-new appended the host: the line written. */
  added: string | null;
}

export interface HostKeyCheckOptions {
  /** Node name, for messages. */
  label: string;
  host: string;
  port: number;
  file: string;
  policy: KnownHostsPolicy;
}

function readEntries(file: string): KnownHostEntry[] {
  try {
    return parseKnownHosts(readFileSync(file, 'utf8'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new TransportError('known_hosts', null, `cannot read ${file}: ${(e as Error).message}`, 'Check the path and permissions of knownHosts.file.');
  }
}

/** Appends a plain line for `name`, creating the file (0600) and its folder (0700) when missing. */
export function appendKnownHost(file: string, name: string, keyBlob: Buffer): string {
  const line = `${name} ${keyTypeOf(keyBlob)} ${keyBlob.toString('base64')}`;
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const existed = existsSync(file);
  appendFileSync(file, `${line}\n`, { mode: 0o600 });
  if (!existed) chmodSync(file, 0o600);
  return line;
}

/**
 * Prepares the check of one connection attempt: reads known_hosts now (so an edit between
 * reconnects counts) and returns the algorithm order and the verifier for ssh2.
 */
export function hostKeyCheck(o: HostKeyCheckOptions): HostKeyCheck {
  const name = knownHostsName(o.host, o.port);
  const all = readEntries(o.file);
  const known = all.filter((e) => e.marker === null && hostFieldMatches(e.hosts, name));
  // A revoked key is refused for every host, as ssh does.
  const revoked = all.filter((e) => e.marker === '@revoked');
  const preferred = [...new Set(known.flatMap((e) => ALGORITHMS_FOR_TYPE[e.keyType] ?? []))];
  const check: HostKeyCheck = {
    algorithms: [...preferred, ...ALL_HOST_KEY_ALGORITHMS.filter((a) => !preferred.includes(a))],
    failure: null,
    added: null,
    verify(keyBlob: Buffer): boolean {
      const presented = fingerprint(keyBlob);
      if (revoked.some((e) => e.key.equals(keyBlob))) {
        check.failure = new TransportError(o.label, null, `host key ${presented} is marked @revoked in ${o.file}`, 'Do not connect; find out why the node presents a revoked key.');
        return false;
      }
      if (known.some((e) => e.key.equals(keyBlob))) return true;
      if (known.length > 0) {
        check.failure = new HostKeyMismatchError(`${o.label} (${name})`, o.file, known.map((e) => fingerprint(e.key)), presented);
        return false;
      }
      if (o.policy === 'accept-new') {
        check.added = appendKnownHost(o.file, name, keyBlob);
        return true;
      }
      check.failure = new UnknownHostKeyError(`${o.label} (${name})`, o.file, presented);
      return false;
    },
  };
  return check;
}
