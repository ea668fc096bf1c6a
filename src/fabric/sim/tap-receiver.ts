/**
 * The receiving end of a SimEndpoint tap (`setTap(tap.udpPort)`): a UDP socket on 127.0.0.1
 * whose every datagram is one whole IB packet (LRH .. VCRC), written as it arrives to a pcap
 * file of LINKTYPE_ERF records of ERF type 21, the form Debian's tshark decodes
 * (src/wire/pcap.ts). Several endpoints may mirror to one TapReceiver.
 */
import { createSocket, type Socket } from 'node:dgram';
import { ArgumentError } from '../../errors.js';
import { LINKTYPE_ERF } from '../../wire/constants.js';
import { PcapWriter, erfRecord, type PcapTimestamp } from '../../wire/pcap.js';

const LOOPBACK = '127.0.0.1';

export interface TapReceiverOptions {
  /** The pcap file to create (truncated when it exists). */
  path: string;
  /** ERF capture-interface number written in every record (0-3), default 0. */
  iface?: number;
}

/** The wall-clock time as a pcap timestamp, to the microsecond. */
function now(): PcapTimestamp {
  const usec = Math.floor((performance.timeOrigin + performance.now()) * 1000);
  return { tsSec: Math.floor(usec / 1_000_000), tsUsec: usec % 1_000_000 };
}

export class TapReceiver {
  private count = 0;
  private waiters: Array<{ count: number; resolve: () => void }> = [];
  private closing: Promise<void> | null = null;

  private constructor(
    private readonly socket: Socket,
    private readonly writer: PcapWriter,
    private readonly iface: number,
    /** The pcap file being written. */
    readonly path: string,
  ) {
    socket.on('message', (packet) => this.record(packet));
  }

  /** Binds the socket on 127.0.0.1 (ephemeral port) and creates the pcap file. */
  static async open(o: TapReceiverOptions): Promise<TapReceiver> {
    const op = 'TapReceiver.open';
    if (typeof o !== 'object' || o === null) throw new ArgumentError(op, 'o', o, 'an object');
    if (typeof o.path !== 'string' || o.path === '') throw new ArgumentError(op, 'o.path', o.path, 'a file path');
    const iface = o.iface ?? 0;
    if (!Number.isInteger(iface) || iface < 0 || iface > 3) throw new ArgumentError(op, 'o.iface', iface, 'an integer from 0 to 3');
    const socket = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, LOOPBACK, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    let writer: PcapWriter;
    try {
      writer = PcapWriter.toFile(o.path, { linktype: LINKTYPE_ERF });
    } catch (e) {
      socket.close();
      throw e;
    }
    return new TapReceiver(socket, writer, iface, o.path);
  }

  /** The UDP port to give SimEndpoint.setTap. */
  get udpPort(): number {
    return this.socket.address().port;
  }

  /** Packets written so far. */
  get packets(): number {
    return this.count;
  }

  /** Resolves once `count` packets in total have been written, or rejects after `timeoutMs`. */
  waitFor(count: number, timeoutMs: number): Promise<void> {
    if (this.count >= count) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.resolve !== done);
        reject(new Error(`tap: ${this.count} of ${count} packets after ${timeoutMs} ms`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.waiters.push({ count, resolve: done });
    });
  }

  /** Closes the socket and the pcap file; idempotent. */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      this.socket.close(() => {
        this.writer.close();
        resolve();
      });
    });
    return this.closing;
  }

  private record(packet: Buffer): void {
    if (this.closing !== null) return; // arrived while closing: the file is being finished
    const ts = now();
    this.writer.append({ ...ts, data: erfRecord(packet, ts, { iface: this.iface }) });
    this.count++;
    const ready = this.waiters.filter((w) => w.count <= this.count);
    this.waiters = this.waiters.filter((w) => w.count > this.count);
    for (const w of ready) w.resolve();
  }
}
