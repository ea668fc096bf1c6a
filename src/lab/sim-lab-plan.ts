/**
 * How a lab file of fabric kind `sim` becomes a simulated fabric on this machine: one fabric
 * node per lab node (same name, in file order) plus the probe's port last, the lab file's
 * partitions file, the port GUIDs the file gives (others keep the fabric's by-order ones), and
 * one ipoibd per `reference` node with the node's addresses. Seeded defects (a test-only switch)
 * go to the DUT nodes only, so the peer stays a clean reference.
 */
import { UsageError } from '../errors.js';
import { DEFAULT_GUID_BASE } from '../fabric/sim/fabric-description.js';
import type { LabFile } from './lab-file.js';

/** The fabric node that carries the probe on a sim lab. */
export const PROBE_NODE = 'probe';
/** Names a lab node cannot have on a sim lab: the probe's and the SM's ports. */
const RESERVED_NODE_NAMES = [PROBE_NODE, 'sm'];

export interface SimNodePlan {
  node: string;
  addresses: readonly string[];
  defects: readonly string[];
}

export interface SimLabPlan {
  /** Fabric node names in port order (default port GUIDs 0x0002c9030000NN01, NN = 01, 02, … in hex). */
  fabricNodes: string[];
  /** Port GUIDs the lab file sets, by fabric node name; the other ports keep their default. */
  portGuids: ReadonlyMap<string, bigint>;
  partitionsFile?: string;
  /** The nodes that get an ipoibd. */
  daemons: SimNodePlan[];
}

/** The port GUID the sim fabric gives its `index`th node (0-based) when the lab file sets none. */
export function defaultPortGuid(index: number): bigint {
  return DEFAULT_GUID_BASE + (BigInt(index + 1) << 8n) + 1n;
}

/** A node GUID of the default scheme: a set port GUID must not take one (the fabric keeps node GUIDs by order). */
function defaultNodeGuid(index: number): bigint {
  return defaultPortGuid(index) - 1n;
}

const hex64 = (g: bigint): string => `0x${g.toString(16).padStart(16, '0')}`;

export function simLabPlan(lab: LabFile, defects: readonly string[] = []): SimLabPlan {
  if (lab.fabric.kind !== 'sim') throw new UsageError(`lab ${lab.name} is a ${lab.fabric.kind} lab; only sim labs run on the simulated fabric`);
  for (const n of lab.nodes) {
    if (RESERVED_NODE_NAMES.includes(n.name)) throw new UsageError(`lab ${lab.name}: a sim lab node cannot be named ${n.name} (reserved for the fabric's own ports)`);
    if (n.transport !== 'local') throw new UsageError(`lab ${lab.name}: node ${n.name} uses transport ${n.transport}; sim lab nodes are local network namespaces`);
    if (n.implementation !== 'reference') throw new UsageError(`lab ${lab.name}: node ${n.name} is ${n.implementation}; kernel ib_ipoib cannot bind a simulated port, so sim lab nodes run the reference stack`);
  }
  if (defects.length > 0 && !lab.nodes.some((n) => n.role === 'dut')) throw new UsageError(`lab ${lab.name} has no dut node to seed defects into`);
  const fabricNodes = [...lab.nodes.map((n) => n.name), PROBE_NODE];
  const portGuids = new Map<string, bigint>();
  for (const n of lab.nodes) if (n.guid !== undefined) portGuids.set(n.name, BigInt(n.guid));
  // A set GUID must not be the default GUID of another port that keeps it, nor another node's
  // node GUID (the fabric keeps node GUIDs by order); the fabric refuses both at start, this says why earlier.
  for (const [name, guid] of portGuids) {
    fabricNodes.forEach((other, i) => {
      if (other === name) return;
      let clash: string | null = null;
      if (!portGuids.has(other) && guid === defaultPortGuid(i)) clash = `the default port GUID of ${other}`;
      else if (guid === defaultNodeGuid(i)) clash = `the node GUID of ${other}`;
      if (clash) throw new UsageError(`lab ${lab.name}: node ${name}'s guid ${hex64(guid)} is ${clash} on the sim fabric; choose another`);
    });
  }
  return {
    fabricNodes,
    portGuids,
    ...(lab.fabric.partitionsFile !== undefined ? { partitionsFile: lab.fabric.partitionsFile } : {}),
    daemons: lab.nodes.map((n) => ({ node: n.name, addresses: n.addresses, defects: n.role === 'dut' ? defects : [] })),
  };
}
