/**
 * How a lab file of fabric kind `sim` becomes a simulated fabric on this machine: one fabric
 * node per lab node (same name, in file order) plus the probe's port last, the lab file's
 * partitions file, and one ipoibd per `reference` node with the node's addresses. Seeded
 * defects (a test-only switch) go to the DUT nodes only, so the peer stays a clean reference.
 */
import { UsageError } from '../errors.js';
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
  /** Fabric node names in port order (GUIDs 0x0002c903000001NN, NN = 01, 02, …). */
  fabricNodes: string[];
  partitionsFile?: string;
  /** The nodes that get an ipoibd. */
  daemons: SimNodePlan[];
}

export function simLabPlan(lab: LabFile, defects: readonly string[] = []): SimLabPlan {
  if (lab.fabric.kind !== 'sim') throw new UsageError(`lab ${lab.name} is a ${lab.fabric.kind} lab; only sim labs run on the simulated fabric`);
  for (const n of lab.nodes) {
    if (RESERVED_NODE_NAMES.includes(n.name)) throw new UsageError(`lab ${lab.name}: a sim lab node cannot be named ${n.name} (reserved for the fabric's own ports)`);
    if (n.transport !== 'local') throw new UsageError(`lab ${lab.name}: node ${n.name} uses transport ${n.transport}; sim lab nodes are local network namespaces`);
    if (n.implementation !== 'reference') throw new UsageError(`lab ${lab.name}: node ${n.name} is ${n.implementation}; kernel ib_ipoib cannot bind a simulated port, so sim lab nodes run the reference stack`);
  }
  if (defects.length > 0 && !lab.nodes.some((n) => n.role === 'dut')) throw new UsageError(`lab ${lab.name} has no dut node to seed defects into`);
  return {
    fabricNodes: [...lab.nodes.map((n) => n.name), PROBE_NODE],
    ...(lab.fabric.partitionsFile !== undefined ? { partitionsFile: lab.fabric.partitionsFile } : {}),
    daemons: lab.nodes.map((n) => ({ node: n.name, addresses: n.addresses, defects: n.role === 'dut' ? defects : [] })),
  };
}
