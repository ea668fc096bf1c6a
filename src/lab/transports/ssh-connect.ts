/**
 * Making one SSH connection to a node, and retrying while the node is down: host key checked
 * against known_hosts (known-hosts.ts), key file or agent authentication (never a password),
 * keepalives, a handshake deadline. Failures become the typed errors of src/errors.ts with
 * what to do about them.
 */
import { readFileSync } from 'node:fs';
import { Client, type ConnectConfig } from 'ssh2';
import { AuthError, TransportError } from '../../errors.js';
import type { SshSettings } from '../lab-file.js';
import { type HostKeyCheck, hostKeyCheck } from './known-hosts.js';

const RETRY_FIRST_DELAY_MS = 200;
const RETRY_MAX_DELAY_MS = 3_000;

/** Errors worth another connection attempt: the node is (still) down or restarting. */
const RETRYABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'EPIPE', 'ECONNABORTED']);

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface SshConnection {
  client: Client;
  /** The known_hosts line accept-new appended for this connection, if it did. */
  addedHostKey: string | null;
}

export interface ConnectHooks {
  /** Called when an established connection closes (the peer went away, keepalives failed). */
  onClose: (c: Client) => void;
  /** Stop retrying (the transport was closed). */
  cancelled: () => boolean;
}

class ConnectFailure extends Error {
  constructor(
    readonly error: TransportError,
    readonly retryable: boolean,
  ) {
    super(error.message);
  }
}

function authConfig(name: string, s: SshSettings): Pick<ConnectConfig, 'privateKey' | 'agent'> {
  if (s.identityFile) {
    try {
      return { privateKey: readFileSync(s.identityFile) };
    } catch (e) {
      throw new ConnectFailure(
        new TransportError(name, null, `cannot read identityFile ${s.identityFile}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, 'Fix the path in the lab file or create the key (ssh-keygen -t ed25519).'),
        false,
      );
    }
  }
  const agent = s.agent === true ? process.env.SSH_AUTH_SOCK : s.agent;
  if (typeof agent !== 'string' || agent === '') {
    throw new ConnectFailure(new TransportError(name, null, 'agent authentication asked for, but SSH_AUTH_SOCK is not set', 'Start an agent (eval $(ssh-agent); ssh-add KEY) or give identityFile.'), false);
  }
  return { agent };
}

function mapConnectError(name: string, s: SshSettings, err: Error & { level?: string; code?: string }, hk: HostKeyCheck): ConnectFailure {
  const where = `${s.host}:${s.port}`;
  if (hk.failure) return new ConnectFailure(hk.failure, false);
  if (err.level === 'client-authentication') return new ConnectFailure(new AuthError(name, s.user, [s.identityFile ? 'publickey' : 'agent']), false);
  if (err.level === 'client-timeout') {
    return new ConnectFailure(new TransportError(name, null, `no SSH handshake with ${where} within ${s.connectTimeoutMs} ms`, 'Check that the node is up and sshd answers on that port.', { cause: err }), true);
  }
  const retryable = (err.code !== undefined && RETRYABLE_CODES.has(err.code)) || err.level === 'client-socket';
  const encrypted = /encrypted private key/i.test(err.message);
  return new ConnectFailure(
    new TransportError(
      name,
      null,
      `cannot connect to ${where}: ${err.message}`,
      encrypted ? 'The key is passphrase-protected: load it into an agent (ssh-add) and set agent: true.' : 'Check host, port and that sshd runs on the node.',
      { cause: err },
    ),
    retryable,
  );
}

function connectOnce(name: string, s: SshSettings, onClose: (c: Client) => void): Promise<SshConnection> {
  const hk = hostKeyCheck({ label: name, host: s.host, port: s.port, file: s.knownHosts.file, policy: s.knownHosts.policy });
  const auth = authConfig(name, s);
  const client = new Client();
  return new Promise<SshConnection>((resolve, rejectWith) => {
    let ready = false;
    const reject = (f: ConnectFailure) => {
      rejectWith(f);
      client.end(); // never leave a half-open socket behind a failed attempt
    };
    client.once('ready', () => {
      ready = true;
      resolve({ client, addedHostKey: hk.added });
    });
    client.on('error', (err: Error) => {
      if (!ready) reject(mapConnectError(name, s, err, hk));
      // After 'ready', an error is followed by 'close', which marks the connection dead.
    });
    client.once('close', () => {
      if (!ready) reject(mapConnectError(name, s, new Error('connection closed during setup'), hk));
      if (ready) onClose(client);
    });
    try {
      client.connect({
        host: s.host,
        port: s.port,
        username: s.user,
        ...auth,
        hostVerifier: (key: Buffer) => hk.verify(key),
        algorithms: { serverHostKey: hk.algorithms as NonNullable<NonNullable<ConnectConfig['algorithms']>['serverHostKey']> },
        keepaliveInterval: s.keepaliveIntervalMs,
        keepaliveCountMax: s.keepaliveCountMax,
        readyTimeout: s.connectTimeoutMs,
        tryKeyboard: false,
      });
    } catch (e) {
      reject(mapConnectError(name, s, e as Error, hk));
    }
  });
}

/**
 * Connects, retrying attempts that failed for reasons a node coming back would cure (refused,
 * reset, unreachable, handshake timeout) until `budgetMs` is spent; host-key and
 * authentication failures are final at once.
 */
export async function connectWithRetry(name: string, s: SshSettings, budgetMs: number, o: ConnectHooks): Promise<SshConnection> {
  const deadline = Date.now() + budgetMs;
  let delay = RETRY_FIRST_DELAY_MS;
  for (let attempt = 1; ; attempt++) {
    try {
      return await connectOnce(name, s, o.onClose);
    } catch (e) {
      if (!(e instanceof ConnectFailure)) throw e;
      if (!e.retryable || Date.now() + delay > deadline || o.cancelled()) {
        if (attempt === 1 || !e.retryable) throw e.error;
        throw new TransportError(name, null, `gave up after ${attempt} connection attempts in ${budgetMs} ms: ${e.error.problem}`, e.error.hint, { cause: e.error });
      }
      await sleep(delay);
      delay = Math.min(delay * 2, RETRY_MAX_DELAY_MS);
    }
  }
}
