/**
 * The daemon's control socket: a Unix socket (mode 0600) speaking the JSON-lines protocol of
 * protocol.ts. Each line is parsed and validated on its own; a bad one (not JSON, unknown
 * command, wrong arguments, too long) gets an EPROTO answer and the connection keeps serving.
 * A failing handler becomes an error answer carrying its errno name; nothing a client sends
 * can throw out of here.
 *
 * A socket file left by a daemon that died is removed at start, but only after a connection
 * attempt shows nobody listens on it: a live daemon's socket is never taken over.
 */
import { chmodSync, existsSync, lstatSync, rmSync } from 'node:fs';
import net from 'node:net';
import { IpoibControlError } from '../../errors.js';
import { LineSplitter, describeZodError, encodeLine, parseLine } from '../../fabric/sim/control-protocol.js';
import { type DaemonErrorBody, type DaemonRequest, daemonRequestSchema, idOf } from './protocol.js';

export type RequestHandler = (r: DaemonRequest) => Promise<unknown>;

/** An error as the protocol carries it: IpoibControlError keeps its errno; anything else is EIO. */
export function errorBody(e: unknown, op: string): DaemonErrorBody {
  if (e instanceof IpoibControlError) {
    const prefix = `${e.op}: ${e.code}: `;
    return { code: e.code, op: e.op, message: e.message.startsWith(prefix) ? e.message.slice(prefix.length) : e.message };
  }
  return { code: 'EIO', op, message: e instanceof Error ? e.message : String(e) };
}

/** True when something accepts connections on `socketPath`. */
export function socketAnswers(socketPath: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(socketPath);
    const done = (v: boolean): void => {
      clearTimeout(t);
      s.destroy();
      resolve(v);
    };
    const t = setTimeout(() => done(false), timeoutMs);
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

/**
 * Removes a stale socket file. Returns false (and leaves it) when a live daemon answers on it;
 * refuses to remove anything that is not a socket.
 */
export async function removeStaleSocket(socketPath: string): Promise<boolean> {
  if (!existsSync(socketPath)) return true;
  if (!lstatSync(socketPath).isSocket()) throw new Error(`${socketPath} exists and is not a socket; refusing to remove it`);
  if (await socketAnswers(socketPath)) return false;
  rmSync(socketPath, { force: true });
  return true;
}

export class ControlServer {
  private readonly sockets = new Set<net.Socket>();

  private constructor(
    readonly socketPath: string,
    private readonly server: net.Server,
  ) {}

  static async listen(socketPath: string, handler: RequestHandler, log: (line: string) => void = () => undefined): Promise<ControlServer> {
    // Half-open: a client may send its requests and close its side at once (socat, `nc -N`);
    // the answers still go out, and the connection ends after the last one.
    const server = net.createServer({ allowHalfOpen: true });
    const cs = new ControlServer(socketPath, server);
    server.on('connection', (s) => cs.serve(s, handler, log));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    });
    chmodSync(socketPath, 0o600);
    server.on('error', (e) => log(`control socket: ${e.message}`));
    return cs;
  }

  private serve(s: net.Socket, handler: RequestHandler, log: (line: string) => void): void {
    this.sockets.add(s);
    s.setEncoding('utf8');
    const send = (msg: unknown): void => {
      if (!s.destroyed) s.write(encodeLine(msg));
    };
    const fail = (id: number | null, code: string, op: string, message: string): void => send({ id, ok: false, error: { code, op, message } });
    let pending = 0;
    let clientDone = false;
    const endIfDone = (): void => {
      if (clientDone && pending === 0 && !s.destroyed) s.end();
    };
    const splitter = new LineSplitter(
      (line) => {
        const parsed = parseLine(line);
        if ('error' in parsed) return fail(null, 'EPROTO', 'request', parsed.error);
        const checked = daemonRequestSchema.safeParse(parsed.value);
        if (!checked.success) return fail(idOf(parsed.value), 'EPROTO', 'request', describeZodError(checked.error));
        const r = checked.data;
        pending++;
        handler(r)
          .then(
            (result) => send({ id: r.id, ok: true, result }),
            (e: unknown) => {
              const body = errorBody(e, r.cmd);
              if (body.code === 'EIO') log(`${r.cmd} failed: ${body.message}`);
              send({ id: r.id, ok: false, error: body });
            },
          )
          .finally(() => {
            pending--;
            endIfDone();
          });
      },
      (why) => fail(null, 'EPROTO', 'request', why),
    );
    s.on('data', (chunk: string) => splitter.push(chunk));
    s.on('end', () => {
      clientDone = true;
      endIfDone();
    });
    s.on('error', () => undefined);
    s.on('close', () => this.sockets.delete(s));
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    rmSync(this.socketPath, { force: true });
  }
}
