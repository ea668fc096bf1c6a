/**
 * Opens a session on a sim lab: brings the fabric and its nodes up with the project's own
 * `ipoib-lab fabric up --lab FILE` (so a run and a person at a shell get the very same lab), or
 * attaches to one that is already up, then connects a transport, a DUT adapter, the probe and
 * the tap to it. Closing takes down only what this session brought up.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LabError } from '../errors.js';
import { FabricClient } from '../fabric/sim/fabric-client.js';
import { fabricPaths } from '../fabric/sim/run-dir.js';
import { runTool } from '../util/run-tool.js';
import { hasRc } from '../wire/ipoib-hwaddr.js';
import { ReferenceIpoibAdapter } from './adapters/reference-ipoib.js';
import { FabricTapCapturer } from './captures/fabric-tap.js';
import type { LabFile, LabNode } from './lab-file.js';
import { type LabCapability, type LabNodeHandle, type LabSession, type SimFabricControl, addressOf } from './lab-session.js';
import { SimProbe } from './probes/sim-probe.js';
import { RecordingTransport } from './recording-transport.js';
import { PROBE_NODE } from './sim-lab-plan.js';
import { LocalTransport } from './transports/local.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const IPOIB_LAB_BIN = path.join(ROOT, 'bin/ipoib-lab.js');
const UP_TIMEOUT_MS = 90_000;
const DOWN_TIMEOUT_MS = 30_000;

export interface OpenSimLabOptions {
  lab: LabFile;
  labPath: string;
  /** The fabric's name; namespaces are `ipl-<name>-<node>`. */
  fabricName: string;
  /** false: the fabric is already up under this name (certify brought it up); attach only. */
  bringUp: boolean;
  defects?: readonly string[];
  log?: (line: string) => void;
}

/** Why a sim lab cannot run here, or undefined. */
export function simLabUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'the simulated lab needs Linux (network namespaces and TUN devices)';
  if (process.getuid?.() !== 0) return 'the simulated lab needs root: its nodes are network namespaces with TUN devices (run as root, e.g. in CI or a VM)';
  if (!existsSync('/dev/net/tun')) return '/dev/net/tun is missing: the simulated lab\'s nodes need TUN devices';
  return undefined;
}

async function cli(args: readonly string[], timeoutMs: number): Promise<string> {
  const r = await runTool(process.execPath, [IPOIB_LAB_BIN, ...args], { timeoutMs });
  if (r.code !== 0) throw new LabError(`ipoib-lab ${args.join(' ')} failed (exit ${r.code}):\n${(r.error ?? `${r.stdout}${r.stderr}`).trim()}`);
  return r.stdout;
}

export async function bringUpSimLab(o: { labPath: string; fabricName: string; defects?: readonly string[]; log?: (line: string) => void }): Promise<void> {
  const args = ['fabric', 'up', '--name', o.fabricName, '--lab', o.labPath];
  for (const d of o.defects ?? []) args.push('--defect', d);
  const out = await cli(args, UP_TIMEOUT_MS);
  for (const line of out.trimEnd().split('\n')) o.log?.(line);
}

export async function takeDownSimLab(o: { fabricName: string; log?: (line: string) => void }): Promise<void> {
  const out = await cli(['fabric', 'down', '--name', o.fabricName], DOWN_TIMEOUT_MS);
  for (const line of out.trimEnd().split('\n')) if (line) o.log?.(line);
}

function simControl(name: string, socket: string): SimFabricControl {
  const ask = async (body: Parameters<FabricClient['request']>[0]): Promise<unknown> => {
    const c = await FabricClient.connect(socket);
    try {
      return await c.request(body);
    } finally {
      c.close();
    }
  };
  return {
    name,
    setLoss: async (node, lossRate) => void (await ask({ op: 'fault', node, lossRate })),
    setLink: async (node, up) => void (await ask({ op: 'link', node, up })),
    setSmRunning: async (running) => void (await ask({ op: 'sm', running })),
    setPkeys: async (node, pkeys) => void (await ask({ op: 'pkeys', node, pkeys: [...pkeys] })),
    refuseJoins: async (on, saError) => void (await ask({ op: 'sa-refuse', on, ...(saError !== undefined ? { saError } : {}) })),
    status: () => ask({ op: 'status' }),
  };
}

function handle(node: LabNode, fabricName: string, socketDir: string): LabNodeHandle {
  const netns = `ipl-${fabricName}-${node.name}`;
  const transport = new RecordingTransport(new LocalTransport({ name: node.name, netns, sudo: false }));
  // The control socket is a file on this machine, reachable from every namespace: socat speaks
  // ipoibctl's protocol to it without starting Node.js per call (see ReferenceIpoibOptions).
  const socket = path.join(socketDir, `ipoibd-${node.name}.sock`);
  // ipoibd's output, beside its socket (src/ipoib/daemon/daemon-paths.ts): what the debug-level cases read.
  const logFile = path.join(socketDir, `ipoibd-${node.name}.log`);
  return {
    node,
    transport,
    adapter: new ReferenceIpoibAdapter(transport, { ifname: node.interface, socket, logFile }),
    ifname: node.interface,
    ipv4: addressOf(node.addresses.find((a) => !a.includes(':'))),
    ipv6: addressOf(node.addresses.find((a) => a.includes(':'))),
    fabricNode: node.name,
  };
}

export async function openSimLab(o: OpenSimLabOptions): Promise<LabSession> {
  const why = simLabUnavailable();
  if (why) throw new LabError(why);
  const dutNode = o.lab.nodes.find((n) => n.role === 'dut');
  const peerNode = o.lab.nodes.find((n) => n.role === 'peer');
  if (!dutNode || !peerNode) throw new LabError(`lab ${o.lab.name} needs one node with role dut and one with role peer`);
  if (o.bringUp) await bringUpSimLab({ labPath: o.labPath, fabricName: o.fabricName, ...(o.defects ? { defects: o.defects } : {}), ...(o.log ? { log: o.log } : {}) });
  const paths = fabricPaths(o.fabricName);
  let probe: SimProbe | null = null;
  try {
    probe = await SimProbe.open({ socketPath: paths.socket, node: PROBE_NODE });
    const dut = handle(dutNode, o.fabricName, paths.dir);
    const peer = handle(peerNode, o.fabricName, paths.dir);
    const caps = new Set<LabCapability>(['probe', 'wire-capture', 'fabric-control', 'sa', 'reference-dut']);
    if (o.lab.partitions.some((p) => p.pkey.toLowerCase() !== '0xffff')) caps.add('partitions');
    if (dut.ipv4 && peer.ipv4) caps.add('ipv4');
    if (dut.ipv6 && peer.ipv6) caps.add('ipv6');
    if (hasRc((await dut.adapter.link()).hwaddr)) caps.add('connected-mode');
    // That read is the lab's, not the first case's: keep it out of the case's transcript.
    if (dut.transport instanceof RecordingTransport) dut.transport.drain();
    const kernel = (await runTool('uname', ['-sr'], { timeoutMs: 5_000 })).stdout.trim();
    const openedProbe = probe;
    return {
      lab: o.lab,
      labPath: o.labPath,
      fabric: 'sim',
      dut,
      peer,
      probe,
      capturer: new FabricTapCapturer({ socketPath: paths.socket }),
      sim: simControl(o.fabricName, paths.socket),
      capabilities: caps,
      defects: o.defects ?? [],
      environment: {
        lab: o.lab.name,
        fabric: `sim (${o.fabricName})`,
        dut: `${dutNode.name}: reference stack (ipoibd), ${dutNode.interface}`,
        peer: `${peerNode.name}: reference stack (ipoibd), ${peerNode.interface}`,
        host_kernel: kernel,
        node: process.version,
        seeded_defects: (o.defects ?? []).join(',') || 'none',
      },
      async close() {
        await openedProbe.close().catch(() => undefined);
        await dut.transport.close().catch(() => undefined);
        await peer.transport.close().catch(() => undefined);
        if (o.bringUp) await takeDownSimLab({ fabricName: o.fabricName, ...(o.log ? { log: o.log } : {}) });
      },
    };
  } catch (e) {
    await probe?.close().catch(() => undefined);
    if (o.bringUp) await takeDownSimLab({ fabricName: o.fabricName }).catch(() => undefined);
    throw e;
  }
}
