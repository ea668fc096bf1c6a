/**
 * The fabric for the IpoibNode tests: a manager in this process with four nodes and three
 * partitions, ports attached through its control socket, the tap, and small process helpers
 * for multicast. Not a test file itself.
 *
 *   node1 (LID 2)  Default full, lab 0x8001 full, bare 0x8002 full
 *   node2 (LID 3)  Default full, bare 0x8002 full
 *   node3 (LID 4)  lab 0x8001 full (and Default limited, as every port)
 *   node4 (LID 5)  Default full
 *   Default: broadcast group MTU 2048, Q_Key 0x0b1b; lab: MTU 2048, Q_Key 0x80001234;
 *   bare: no `ipoib` flag, so no broadcast group and no IPoIB carrier.
 */
import { spawn } from 'node:child_process';
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
import { decodeIbPacket, type IbPacket } from '../../src/wire/ib-packet.js';
import { parseErfRecord, readPcap } from '../../src/wire/pcap.js';
import type { Netns } from '../ipoib-native/netns-lab.js';

export const PARTITIONS = `
Default=0x7fff, ipoib : 0x0002c90300000101=full, 0x0002c90300000201=full, 0x0002c90300000401=full ;
lab=0x8001, ipoib, Q_Key=0x80001234 : 0x0002c90300000101=full, 0x0002c90300000301=full ;
bare=0x8002 : 0x0002c90300000101=full, 0x0002c90300000201=full ;
`;

export type LabRequest = ControlRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

export class NodeFabric {
  private readonly ports: SimHcaPort[] = [];

  private constructor(
    readonly base: string,
    readonly paths: FabricRunPaths,
    readonly mgr: FabricManager,
  ) {}

  static async start(): Promise<NodeFabric> {
    const base = mkdtempSync(path.join(tmpdir(), 'ipoib-lab-node-'));
    try {
      const paths = fabricPaths('n', base);
      ensurePrivateDir(paths.dir);
      const mgr = await FabricManager.start({ paths, nodes: 4, partitions: parsePartitionsConf(PARTITIONS), openEndpoint: openManagerEndpoint, openTap: openTapWriter });
      return new NodeFabric(base, paths, mgr);
    } catch (e) {
      rmSync(base, { recursive: true, force: true });
      throw e;
    }
  }

  async port(node: string): Promise<SimHcaPort> {
    const p = await SimHcaPort.open({ socketPath: this.paths.socket, node, openEndpoint: openPortEndpoint });
    this.ports.push(p);
    return p;
  }

  async control(req: LabRequest): Promise<unknown> {
    const ctl = await FabricClient.connect(this.paths.socket);
    try {
      return await ctl.request(req as never);
    } finally {
      ctl.close();
    }
  }

  /** Starts the tap into a fresh file; the returned function stops it and decodes every packet. */
  async tap(): Promise<() => Promise<IbPacket[]>> {
    const file = path.join(this.base, `tap-${Date.now()}.pcap`);
    await this.control({ op: 'tap', file });
    await new Promise((r) => setTimeout(r, 50));
    return async () => {
      await new Promise((r) => setTimeout(r, 100));
      await this.control({ op: 'tap', file: null });
      return readPcap(readFileSync(file)).records.map((r) => decodeIbPacket(parseErfRecord(r.data).packet, { verifyCrcs: false }));
    };
  }

  async close(): Promise<void> {
    for (const p of this.ports.splice(0)) await p.close();
    await this.mgr.close();
    rmSync(this.base, { recursive: true, force: true });
  }
}

/** Polls `cond` every 10 ms until it holds; fails naming `what` after `timeoutMs`. */
export async function until(what: string, cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A UDP receiver: joins `group` on the interface with address `local` (IP_ADD_MEMBERSHIP), counts datagrams for `ms`. */
const MCAST_RECEIVER = `
const [group, local, port, ms] = process.argv.slice(1);
const s = require('dgram').createSocket({ type: 'udp4', reuseAddr: true });
let n = 0;
s.on('message', () => n++);
s.bind(Number(port), () => {
  s.addMembership(group, local);
  console.log('ready');
  setTimeout(() => { console.log(JSON.stringify({ received: n })); s.close(); }, Number(ms));
});
`;

/** A UDP sender: `count` datagrams to `group`:`port` out of the interface with address `local`, 50 ms apart. */
const MCAST_SENDER = `
const [group, local, port, count] = process.argv.slice(1);
const s = require('dgram').createSocket('udp4');
s.bind(0, local, () => {
  s.setMulticastInterface(local);
  let i = 0;
  const t = setInterval(() => {
    s.send(Buffer.from('ipoib-node multicast ' + i), Number(port), group);
    if (++i === Number(count)) { clearInterval(t); setTimeout(() => s.close(), 100); }
  }, 50);
});
`;

export interface McastReceiver {
  /** How many datagrams arrived; resolves when the receiver ends. */
  result: Promise<number>;
}

/** Starts a receiver in `ns` and resolves once it has joined the group. */
export async function startMcastReceiver(ns: Netns, group: string, local: string, port: number, ms: number): Promise<McastReceiver> {
  const child = spawn('ip', ['netns', 'exec', ns.name, process.execPath, '-e', MCAST_RECEIVER, group, local, String(port), String(ms)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const killer = setTimeout(() => child.kill('SIGKILL'), ms + 10_000);
  let out = '';
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (out.includes('ready\n')) resolve();
    });
    void exited.then(() => reject(new Error(`the multicast receiver in ${ns.name} exited early: ${err}`)));
  });
  const result = exited.then(() => {
    clearTimeout(killer);
    const m = /\{"received":(\d+)\}/.exec(out);
    if (!m) throw new Error(`the multicast receiver in ${ns.name} printed no count: ${out} ${err}`);
    return Number(m[1]);
  });
  return { result };
}

export async function sendMcast(ns: Netns, group: string, local: string, port: number, count: number): Promise<void> {
  const r = await ns.exec([process.execPath, '-e', MCAST_SENDER, group, local, String(port), String(count)], 10_000);
  if (r.code !== 0) throw new Error(`the multicast sender failed (${String(r.code)}): ${r.stderr}`);
}
