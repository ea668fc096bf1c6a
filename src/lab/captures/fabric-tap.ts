/**
 * Wire captures on a simulated fabric: the fabric manager's tap (the control socket's `tap`
 * op), which mirrors every packet the tapped ports send and every packet they accept into one
 * pcap file of ERF InfiniBand records, written by the manager.
 *
 * What a fabric-wide capture holds: a packet from one tapped port to another appears twice,
 * once as sent and once as accepted (the same octets); a packet the receiver dropped (wrong
 * Q_Key, P_Key, QPN, CRC...) appears once, as sent. Limit `nodes` to the sender to see each
 * packet once. The SM's port is tapped too unless `nodes` leaves out `sm`.
 *
 * The fabric has one tap. A start while another capture runs fails with CaptureError, whether
 * that capture is this process's or another's (seen in the manager's status).
 */
import { closeSync, openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { CaptureError, WireError } from '../../errors.js';
import { FabricClient } from '../../fabric/sim/fabric-client.js';
import { decodeIbPacket } from '../../wire/ib-packet.js';
import { parseErfRecord, type PcapRecord, readPcap } from '../../wire/pcap.js';
import type { Capture, CapturedPacket, Capturer } from '../capture.js';

export interface FabricTapCapturerOptions {
  /** The fabric manager's control socket. */
  socketPath: string;
  /**
   * After the manager answers, how long until every port owner has applied the tap: the
   * manager pushes the change to owners without waiting for them. Default 50 ms.
   */
  settleMs?: number;
  /** Before the tap is turned off, how long mirrored packets still in flight get to arrive. Default 50 ms. */
  drainMs?: number;
  /** Deadline of each control request. */
  requestTimeoutMs?: number;
}

/** Sockets of fabrics with a capture running in this process (the manager cannot say who owns its tap). */
const activeTaps = new Set<string>();

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** One pcap record as a CapturedPacket: ERF unwrapped, the IB packet decoded, CRCs reported not thrown. */
export function capturedPacketOf(r: PcapRecord): CapturedPacket {
  const tsUs = r.tsSec * 1_000_000 + r.tsUsec;
  let raw = r.data;
  try {
    raw = parseErfRecord(r.data).packet;
    return { tsUs, raw, ib: decodeIbPacket(raw, { verifyCrcs: false }) };
  } catch (e) {
    if (!(e instanceof WireError)) throw e;
    return { tsUs, raw, ib: null, decodeError: e.message };
  }
}

/** Every record of an ERF pcap file, decoded. */
export function readCapturedPackets(pcapPath: string): CapturedPacket[] {
  return readPcap(readFileSync(pcapPath)).records.map(capturedPacketOf);
}

export class FabricTapCapturer implements Capturer {
  readonly scope = 'fabric' as const;

  constructor(private readonly o: FabricTapCapturerOptions) {}

  async start(o: { pcapPath: string; nodes?: readonly string[] }): Promise<Capture> {
    const socket = this.o.socketPath;
    if (activeTaps.has(socket)) throw new CaptureError(`a capture is already running on the fabric at ${socket}; stop it first (a fabric has one tap)`);
    activeTaps.add(socket);
    let client: FabricClient | undefined;
    try {
      client = await FabricClient.connect(socket);
      const timeoutMs = this.o.requestTimeoutMs;
      const status = await client.request<{ tap: { udpPort: number; nodes: string[] | null } | null }>({ op: 'status' }, timeoutMs);
      if (status.tap) {
        const on = status.tap.nodes ? `nodes ${status.tap.nodes.join(', ')}` : 'every node';
        throw new CaptureError(`the fabric at ${socket} is already tapped (${on}) by another client; stop that capture first (a fabric has one tap)`);
      }
      // The manager writes the file (it may run elsewhere): an absolute path, created owner-only
      // here so the manager's truncating open keeps that mode.
      const pcapPath = path.resolve(o.pcapPath);
      closeSync(openSync(pcapPath, 'w', 0o600));
      await client.request({ op: 'tap', file: pcapPath, ...(o.nodes ? { nodes: [...o.nodes] } : {}) }, timeoutMs);
      await sleep(this.o.settleMs ?? 50);
      // A manager that goes away takes its tap with it: the fabric is free for the next capture.
      client.onClose(() => activeTaps.delete(socket));
      return new FabricTapCapture(client, socket, pcapPath, this.o.drainMs ?? 50, timeoutMs);
    } catch (e) {
      client?.close();
      activeTaps.delete(socket);
      throw e;
    }
  }
}

class FabricTapCapture implements Capture {
  private stopping: Promise<CapturedPacket[]> | null = null;

  constructor(
    private readonly client: FabricClient,
    private readonly socket: string,
    readonly pcapPath: string,
    private readonly drainMs: number,
    private readonly timeoutMs: number | undefined,
  ) {}

  stop(): Promise<CapturedPacket[]> {
    this.stopping ??= (async () => {
      try {
        await sleep(this.drainMs);
        // The manager closes (and so flushes) the file before it answers.
        await this.client.request({ op: 'tap', file: null }, this.timeoutMs);
      } finally {
        this.client.close();
        activeTaps.delete(this.socket);
      }
      return readCapturedPackets(this.pcapPath);
    })();
    return this.stopping;
  }
}
