/**
 * Traffic from a node's own IP stack, for checks that IPoIB carries it: ping through an
 * interface, and a file sent over TCP with socat whose SHA-256 is compared on both ends. Only
 * ordinary host tools are used (iputils ping, socat, dd, sha256sum, stat, mktemp), so both DUT
 * adapters share this.
 */
import { ArgumentError, CommandFailedError, ParseError } from '../../errors.js';
import type { Transport } from '../transport.js';
import type { FileDigest, FileReceiver, IpAddress, PingOptions, PingResult, Undo } from './dut.js';
import { parseIpAddrJson } from './ip-json-parsers.js';
import { checkErrno } from './kernel-errno.js';
import { parsePingSummary } from './ping-parser.js';

export class NodeTraffic {
  constructor(private readonly node: Transport) {}

  async ping(target: string, ifname: string, o: PingOptions = {}): Promise<PingResult> {
    const count = o.count ?? 3;
    const wait = o.waitSeconds ?? 1;
    const argv = ['ping', '-n', '-c', String(count), '-W', String(wait), '-I', ifname];
    if (o.intervalSeconds !== undefined) argv.push('-i', String(o.intervalSeconds));
    if (o.size !== undefined) argv.push('-s', String(o.size));
    if (o.dontFragment === true) argv.push('-M', 'do');
    argv.push(target);
    const r = await this.node.run(argv, { timeoutMs: (count * (wait + 1) + 10) * 1000 });
    // iputils: 0 = replies came, 1 = none came (a result), anything else = ping could not run.
    if (r.code !== 0 && r.code !== 1) throw new CommandFailedError(r.host, r.argv, r.code, r.stdout, r.stderr);
    return parsePingSummary(r.stdout);
  }

  private async digest(path: string): Promise<FileDigest> {
    const sum = (await this.node.check(['sha256sum', path])).stdout;
    const m = /^([0-9a-f]{64}) {1,2}\*?(.+)$/m.exec(sum);
    if (!m || m[1] === undefined) throw new ParseError('sha256sum', 'line 1', '"<64 hex digits>  <path>"', sum);
    const size = (await this.node.check(['stat', '-c', '%s', path])).stdout.trim();
    if (!/^\d+$/.test(size)) throw new ParseError('stat -c %s', 'line 1', 'a size in octets', size);
    return { path, bytes: Number(size), sha256: m[1] };
  }

  private async tempFile(): Promise<string> {
    const path = (await this.node.check(['mktemp', '/tmp/ipoib-lab-xfer.XXXXXX'])).stdout.trim();
    if (path === '') throw new ParseError('mktemp', 'line 1', 'a path', path);
    return path;
  }

  async makeFile(bytes: number): Promise<FileDigest & { undo: Undo }> {
    if (!Number.isSafeInteger(bytes) || bytes < 0) throw new ArgumentError('makeFile', 'bytes', bytes, 'a non-negative integer');
    const path = await this.tempFile();
    await this.node.check(['dd', 'if=/dev/urandom', `of=${path}`, 'bs=65536', `count=${bytes}`, 'iflag=count_bytes,fullblock', 'status=none']);
    const d = await this.digest(path);
    return { ...d, undo: async () => void (await this.node.check(['rm', '-f', path])) };
  }

  async receiveFile(port: number, family: 'inet' | 'inet6' = 'inet'): Promise<FileReceiver> {
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new ArgumentError('receiveFile', 'port', port, 'a TCP port from 1 to 65535');
    const path = await this.tempFile();
    const listen = `${family === 'inet' ? 'TCP4' : 'TCP6'}-LISTEN:${port},reuseaddr`;
    const proc = await this.node.spawn(['socat', '-u', listen, `CREATE:${path}`]);
    const received = proc.exited.then(async (r) => {
      if (r.code !== 0) throw new CommandFailedError(r.host, r.argv, r.code, r.stdout, r.stderr);
      return this.digest(path);
    });
    // Keep an unobserved failure (the undo ran first) from surfacing as an unhandled rejection.
    received.catch(() => undefined);
    return {
      received,
      undo: async () => {
        await proc.stop();
        await this.node.check(['rm', '-f', path]);
      },
    };
  }

  async sendFile(path: string, address: string, port: number): Promise<void> {
    const to = address.includes(':') ? `TCP6:[${address}]:${port}` : `TCP4:${address}:${port}`;
    await this.node.check(['socat', '-u', `FILE:${path}`, to]);
  }
}

/**
 * The traffic half of every DUT adapter: ping and file transfers from the node's own IP stack,
 * the same whichever IPoIB implementation carries them. Adapters extend it.
 */
export abstract class NodeStackTraffic {
  protected readonly traffic: NodeTraffic;
  abstract readonly ifname: string;

  constructor(protected readonly node: Transport) {
    this.traffic = new NodeTraffic(node);
  }

  ping(target: string, o: PingOptions & { ifname?: string } = {}): Promise<PingResult> {
    return this.traffic.ping(target, o.ifname ?? this.ifname, o);
  }

  makeFile(bytes: number): Promise<FileDigest & { undo: Undo }> {
    return this.traffic.makeFile(bytes);
  }

  receiveFile(port: number, family: 'inet' | 'inet6' = 'inet'): Promise<FileReceiver> {
    return this.traffic.receiveFile(port, family);
  }

  sendFile(path: string, address: string, port: number): Promise<void> {
    return this.traffic.sendFile(path, address, port);
  }

  /** The interface's IP addresses as the node's IP stack holds them (`ip -j addr`). */
  async addresses(ifname = this.ifname): Promise<IpAddress[]> {
    const r = checkErrno(`${ifname}.addr`, await this.node.run(['ip', '-j', 'addr', 'show', 'dev', ifname]));
    const entry = parseIpAddrJson(r.stdout).find((l) => l.ifname === ifname);
    if (entry === undefined) throw new ParseError('ip -j addr show dev', '$', `an entry for ${ifname}`, r.stdout.slice(0, 80));
    return entry.addresses.map((a) => ({
      family: a.family,
      address: a.local,
      prefixLength: a.prefixlen,
      scope: a.scope,
      tentative: a.tentative,
      dadFailed: a.dadfailed,
    }));
  }
}

/** The P_Key argument check both adapters make before they write anything. */
export function checkPkeyArg(op: string, pkey: number): void {
  if (!Number.isInteger(pkey) || pkey < 0 || pkey > 0xffff) throw new ArgumentError(op, 'pkey', pkey, 'an integer from 0 to 0xffff');
}
