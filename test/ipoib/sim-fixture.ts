/**
 * A simulated fabric for the stack's end-to-end tests: a manager in this process with three
 * nodes and two IPoIB partitions, ports attached through the control socket, and helpers to
 * build packets, wait for conditions and read the tap. Not a test file itself.
 *
 *   node1  LID 2  P_Keys [0xffff, 0x8001]   node GUID port 0x0002c90300000101
 *   node2  LID 3  P_Keys [0xffff, 0x8001]
 *   node3  LID 4  P_Keys [0xffff]            (outside partition 0x8001)
 *   Default (0xffff): broadcast group MTU 2048 (code 4), Q_Key 0x0b1b
 *   lab (0x8001):     broadcast group MTU 4096 (code 5), Q_Key 0x80001234
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FabricManager } from '../../src/fabric/sim/fabric-manager.js';
import { FabricClient } from '../../src/fabric/sim/fabric-client.js';
import { SimHcaPort } from '../../src/fabric/sim/provider.js';
import { openManagerEndpoint, openPortEndpoint, openTapWriter } from '../../src/fabric/sim/endpoint-factory.js';
import { ensurePrivateDir, fabricPaths, type FabricRunPaths } from '../../src/fabric/sim/run-dir.js';
import { parsePartitionsConf } from '../../src/fabric/sim/partitions-conf.js';
import type { ControlRequest } from '../../src/fabric/sim/control-protocol.js';
import { encodeToBuffer } from '../../src/wire/codec.js';
import { ICMP_ECHO_REQUEST, IPPROTO_ICMP } from '../../src/wire/constants.js';
import { decodeIbPacket, type IbPacket } from '../../src/wire/ib-packet.js';
import { icmpv4Message, withIcmpChecksum } from '../../src/wire/icmp.js';
import { ipv4Packet, makeIpv4Packet } from '../../src/wire/ipv4.js';
import { parseErfRecord, readPcap } from '../../src/wire/pcap.js';

export const PARTITIONS = `
Default=0x7fff, ipoib : ALL=full ;
lab=0x8001, ipoib, mtu=5, Q_Key=0x80001234 : 0x0002c90300000101=full, 0x0002c90300000201=full ;
`;

/** A control request without its id (distributed over the union, so each op keeps its fields). */
export type LabRequest = ControlRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

export class SimLab {
  private readonly open: SimHcaPort[] = [];

  private constructor(
    readonly base: string,
    readonly paths: FabricRunPaths,
    readonly mgr: FabricManager,
  ) {}

  static async start(): Promise<SimLab> {
    const base = mkdtempSync(path.join(tmpdir(), 'ipoib-lab-stack-'));
    const paths = fabricPaths('t', base);
    ensurePrivateDir(paths.dir);
    const mgr = await FabricManager.start({ paths, nodes: 3, partitions: parsePartitionsConf(PARTITIONS), openEndpoint: openManagerEndpoint, openTap: openTapWriter });
    return new SimLab(base, paths, mgr);
  }

  async port(node: string): Promise<SimHcaPort> {
    const p = await SimHcaPort.open({ socketPath: this.paths.socket, node, openEndpoint: openPortEndpoint });
    this.open.push(p);
    return p;
  }

  /** One request on the manager's control socket (sa-refuse, sm, pkeys, link, tap …). */
  async control(req: LabRequest): Promise<unknown> {
    const ctl = await FabricClient.connect(this.paths.socket);
    try {
      return await ctl.request(req as never);
    } finally {
      ctl.close();
    }
  }

  /** Starts the tap into a fresh file; returns a function that stops it and decodes every packet. */
  async tap(): Promise<() => Promise<IbPacket[]>> {
    const file = path.join(this.base, `tap-${Date.now()}.pcap`);
    await this.control({ op: 'tap', file });
    await new Promise((r) => setTimeout(r, 50));
    return async () => {
      await new Promise((r) => setTimeout(r, 100));
      await this.control({ op: 'tap', file: null });
      return readPcap(readFileSync(file)).records.map((r) => decodeIbPacket(parseErfRecord(r.data).packet));
    };
  }

  async close(): Promise<void> {
    for (const p of this.open.splice(0)) await p.close();
    await this.mgr.close();
    rmSync(this.base, { recursive: true, force: true });
  }
}

/** Polls `poll` every 5 ms until it returns something other than undefined. */
export function waitFor<T>(what: string, timeoutMs: number, poll: () => T | undefined): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const tick = (): void => {
      let v: T | undefined;
      try {
        v = poll();
      } catch (e) {
        return reject(e as Error);
      }
      if (v !== undefined) return resolve(v);
      if (Date.now() > deadline) return reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      setTimeout(tick, 5);
    };
    tick();
  });
}

export const until = (what: string, cond: () => boolean, timeoutMs = 3000): Promise<true> =>
  waitFor(what, timeoutMs, () => (cond() ? true : undefined));

/** An ICMP echo request in IPv4, checksums filled in, `dataLen` octets of patterned data. */
export function icmpEcho(src: string, dst: string, sequence: number, dataLen = 56): Buffer {
  const data = Buffer.from(Array.from({ length: dataLen }, (_, i) => (i * 7 + sequence) & 0xff));
  const icmp = encodeToBuffer(icmpv4Message, withIcmpChecksum({ type: ICMP_ECHO_REQUEST, code: 0, checksum: 0, identifier: 0x1d, sequence, data }));
  return encodeToBuffer(ipv4Packet, makeIpv4Packet({ src, dst, protocol: IPPROTO_ICMP, payload: icmp, identification: sequence }));
}
