/**
 * Network namespaces for the root-only TUN tests and the benchmark: created with unique names
 * (`ipl-t<pid>-<random>-<tag>`), always deleted by their owner, and swept when a killed run left
 * them behind. Commands run inside with `ip netns exec`, as argv (no shell), each with a
 * timeout. Nothing here addresses anything outside these namespaces.
 */
import { execFile, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';

const PREFIX = 'ipl-t';

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs argv to completion (never throws on a non-zero exit); kills it after `timeoutMs`. */
export function run(argv: readonly string[], timeoutMs = 20_000): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(argv[0]!, argv.slice(1), { timeout: timeoutMs, encoding: 'utf8', maxBuffer: 4 << 20 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : null;
      resolve({ code, stdout, stderr: err !== null && stderr === '' ? err.message : stderr });
    });
  });
}

/** Like run(), but a non-zero exit is an Error carrying the output. */
export async function check(argv: readonly string[], timeoutMs?: number): Promise<string> {
  const r = await run(argv, timeoutMs);
  if (r.code !== 0) throw new Error(`${argv.join(' ')} exited ${String(r.code)}: ${r.stderr.trim()}`);
  return r.stdout;
}

function has(cmd: string, args: string[]): boolean {
  const r = spawnSync(cmd, args, { stdio: 'ignore', timeout: 5000 });
  return r.error === undefined;
}

/** Why the root-only TUN tests cannot run here, or undefined when they can. */
export function tunTestsSkipReason(): string | undefined {
  if (process.platform !== 'linux') return 'TUN devices and network namespaces are Linux only';
  if (process.getuid?.() !== 0) return 'needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) for TUN devices and network namespaces';
  if (!existsSync('/dev/net/tun')) return '/dev/net/tun is missing';
  if (!has('ip', ['-V'])) return 'the ip command (iproute2) is missing';
  return undefined;
}

/** Deletes namespaces of earlier runs whose process is gone (a killed run cannot clean up). */
export async function sweepStaleNamespaces(): Promise<string[]> {
  const list = await run(['ip', 'netns', 'list']);
  const swept: string[] = [];
  for (const line of list.stdout.split('\n')) {
    const name = line.split(' ')[0] ?? '';
    const m = new RegExp(`^${PREFIX}([0-9a-z]+)-`).exec(name);
    if (!m) continue;
    const pid = parseInt(m[1]!, 36);
    if (pid === process.pid || existsSync(`/proc/${pid}`)) continue;
    await run(['ip', 'netns', 'del', name]);
    swept.push(name);
  }
  return swept;
}

export class Netns {
  private constructor(readonly name: string) {}

  /** Creates a namespace with its loopback up. */
  static async create(tag: string): Promise<Netns> {
    const name = `${PREFIX}${process.pid.toString(36)}-${randomBytes(3).toString('hex')}-${tag}`;
    await check(['ip', 'netns', 'add', name]);
    const ns = new Netns(name);
    try {
      await ns.ip('link', 'set', 'lo', 'up');
    } catch (e) {
      await ns.delete();
      throw e;
    }
    return ns;
  }

  /** `ip -n NAME ARGS...`, throwing on failure. */
  ip(...args: string[]): Promise<string> {
    return check(['ip', '-n', this.name, ...args]);
  }

  /** Runs argv inside the namespace. */
  exec(argv: readonly string[], timeoutMs?: number): Promise<RunResult> {
    return run(['ip', 'netns', 'exec', this.name, ...argv], timeoutMs);
  }

  /** Deletes the namespace (and with it every address and device left in it); idempotent. */
  async delete(): Promise<void> {
    const r = await run(['ip', 'netns', 'del', this.name]);
    if (r.code !== 0 && !/No such file|does not exist/i.test(r.stderr)) {
      throw new Error(`ip netns del ${this.name}: ${r.stderr.trim()}`);
    }
  }
}

export interface PingResult {
  transmitted: number;
  received: number;
  output: string;
  tool: 'ping' | 'python3';
}

// An ICMP echo client for machines without iputils ping: a raw socket, `count` requests of
// `size` octets, each answered within 2 s or not at all. ICMPv6 raw sockets get their
// checksum from the kernel; ICMPv4 ones need ours, and receive the IP header in front.
const PYTHON_PING = `
import os, socket, struct, sys, time
dst, count, size, v6 = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == '6'
s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_RAW,
                  socket.IPPROTO_ICMPV6 if v6 else socket.IPPROTO_ICMP)
ident, ok = os.getpid() & 0xffff, 0
def csum(b):
    b += b'\\0' * (len(b) & 1)
    t = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    t = (t >> 16) + (t & 0xffff); t += t >> 16
    return ~t & 0xffff
for seq in range(1, count + 1):
    data = bytes(i & 0xff for i in range(size))
    kind = 128 if v6 else 8
    pkt = struct.pack('!BBHHH', kind, 0, 0, ident, seq) + data
    if not v6: pkt = struct.pack('!BBHHH', kind, 0, csum(pkt), ident, seq) + data
    s.sendto(pkt, (dst, 0))
    deadline = time.time() + 2
    while time.time() < deadline:
        s.settimeout(max(deadline - time.time(), 0.01))
        try: got = s.recv(65535)
        except socket.timeout: break
        if not v6: got = got[(got[0] & 15) * 4:]
        if len(got) >= 8 and got[0] == (129 if v6 else 0) and struct.unpack('!HH', got[4:8]) == (ident, seq) and got[8:] == data:
            ok += 1; break
    time.sleep(0.2)
print('%d packets transmitted, %d received' % (count, ok))
`;

let havePing: boolean | undefined;

/** ICMP echo from `ns` to `dst`: iputils ping when installed, else the python3 client above. */
export async function ping(ns: Netns, dst: string, o: { count?: number; size?: number; v6?: boolean } = {}): Promise<PingResult> {
  const count = o.count ?? 3;
  const size = o.size ?? 56;
  havePing ??= has('ping', ['-V']);
  const argv = havePing
    ? ['ping', ...(o.v6 ? ['-6'] : ['-4']), '-c', String(count), '-i', '0.2', '-W', '2', '-s', String(size), dst]
    : ['python3', '-c', PYTHON_PING, dst, String(count), String(size), o.v6 ? '6' : '4'];
  const r = await ns.exec(argv, 10_000 + count * 2500);
  const m = /(\d+) packets transmitted, (\d+) (?:packets )?received/.exec(r.stdout);
  return {
    transmitted: m ? Number(m[1]) : 0,
    received: m ? Number(m[2]) : 0,
    output: r.stdout + r.stderr,
    tool: havePing ? 'ping' : 'python3',
  };
}

/** A TCP sink: counts and hashes what one connection sends, prints {bytes, sha256} at the end. */
const TCP_SERVER = `
const [host, port] = process.argv.slice(1);
const h = require('crypto').createHash('sha256');
let n = 0;
const srv = require('net').createServer((s) => {
  s.on('data', (d) => { h.update(d); n += d.length; });
  s.on('end', () => { console.log(JSON.stringify({ bytes: n, sha256: h.digest('hex') })); s.end(); srv.close(); });
});
srv.listen(Number(port), host, () => console.log('listening'));
`;

/** A TCP source: sends `bytes` random octets, prints {bytes, sha256, seconds}. */
const TCP_CLIENT = `
const [host, port, bytes] = process.argv.slice(1);
const data = require('crypto').randomBytes(Number(bytes));
const sha256 = require('crypto').createHash('sha256').update(data).digest('hex');
const started = process.hrtime.bigint();
const s = require('net').connect(Number(port), host, () => s.end(data));
s.on('close', () => console.log(JSON.stringify({ bytes: data.length, sha256, seconds: Number(process.hrtime.bigint() - started) / 1e9 })));
s.resume();
`;

export interface TransferResult {
  sent: { bytes: number; sha256: string; seconds: number };
  received: { bytes: number; sha256: string };
}

/** Sends `bytes` random octets over TCP from `client` to `host`:`port` served in `server`, both Node. */
export async function tcpTransfer(server: Netns, client: Netns, host: string, port: number, bytes: number, timeoutMs = 60_000): Promise<TransferResult> {
  const srv = spawn('ip', ['netns', 'exec', server.name, process.execPath, '-e', TCP_SERVER, host, String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const killer = setTimeout(() => srv.kill('SIGKILL'), timeoutMs);
  try {
    let out = '';
    let err = '';
    srv.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const exited = new Promise<number | null>((resolve) => srv.on('close', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      srv.stdout.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        if (out.includes('listening\n')) resolve();
      });
      void exited.then(() => reject(new Error(`the TCP server exited before listening: ${err}`)));
    });
    const c = await client.exec([process.execPath, '-e', TCP_CLIENT, host, String(port), String(bytes)], timeoutMs);
    if (c.code !== 0) throw new Error(`the TCP client failed (${String(c.code)}): ${c.stderr}`);
    const code = await exited;
    if (code !== 0) throw new Error(`the TCP server failed (${String(code)}): ${err}`);
    const lines = out.trim().split('\n');
    return {
      sent: JSON.parse(c.stdout.trim()) as TransferResult['sent'],
      received: JSON.parse(lines[lines.length - 1] ?? '{}') as TransferResult['received'],
    };
  } finally {
    clearTimeout(killer);
    if (srv.exitCode === null && srv.signalCode === null) srv.kill('SIGKILL');
  }
}
