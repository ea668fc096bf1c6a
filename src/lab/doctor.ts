/**
 * `ipoib-lab doctor` without the printing: which capabilities each node's role needs on this
 * lab, and a check of every node in parallel, each within its own time bound, that judges the
 * node's discovery against those needs.
 */
import { TransportError } from '../errors.js';
import { type Capability, CAPABILITY_NAMES, type DiscoverOptions, type Discovery, discoverCapabilities, unreachableDiscovery } from './capabilities.js';
import type { FabricKind, LabFile, LabNode } from './lab-file.js';
import { openTransport } from './node-transport.js';
import type { Transport } from './transport.js';

/** Time one node gets for connecting and every probe together. */
export const DEFAULT_NODE_TIMEOUT_MS = 60_000;

/**
 * What a node must have for the suites to run on it; everything else doctor reports is
 * optional (tests that need it skip with the reason).
 */
export function neededCapabilities(node: LabNode, lab: LabFile): Capability[] {
  const need = new Set<Capability>(['reachable', 'suite-tools']);
  const fabric = lab.fabric.kind;
  if (fabric === 'sim') {
    // The reference stack's data plane is a TUN device in the node's namespace: root, TUN, netns.
    for (const c of ['root', 'tun', 'netns'] as const) need.add(c);
    if (node.transport === 'local') need.add('native-addon');
  } else {
    for (const c of ['root', 'rdma-device', 'port-active', 'partition-pkeys'] as const) need.add(c);
    if (fabric === 'ib') {
      need.add('ib-link-layer');
      need.add('sm-reachable');
    }
    if (node.implementation === 'kernel') {
      need.add('ib-ipoib');
      need.add('ipoib-interface');
    }
  }
  return CAPABILITY_NAMES.filter((c) => need.has(c));
}

export type CheckResult = 'ok' | 'fail' | 'missing';

export interface DoctorCheck {
  check: Capability;
  /** ok: present; fail: missing and needed; missing: missing, not needed by this node. */
  result: CheckResult;
  needed: boolean;
  detail: string;
  fix: string;
}

export interface DoctorNode {
  node: string;
  role: LabNode['role'];
  implementation: LabNode['implementation'];
  transport: LabNode['transport'];
  /** Every needed capability is present. */
  ok: boolean;
  needed: Capability[];
  caps: Capability[];
  facts: Record<string, unknown>;
  checks: DoctorCheck[];
}

export interface DoctorSummary {
  nodes: number;
  checks: number;
  ok: number;
  failed: number;
  missing: number;
}

export interface DoctorReport {
  labFile: string;
  lab: string;
  fabric: FabricKind;
  ok: boolean;
  nodes: DoctorNode[];
  summary: DoctorSummary;
}

export interface DoctorOptions {
  /** Bound on each node (connect and probes), default 60 s. */
  nodeTimeoutMs?: number;
  /** How a node is reached (default openTransport); tests script their own. */
  open?: (node: LabNode) => Promise<Transport>;
  loadAddon?: DiscoverOptions['loadAddon'];
}

/** `work` within `ms`, or a TransportError naming the node. */
function bounded<T>(node: string, ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TransportError(node, null, `no answer within ${ms} ms`, 'Check that the node is up and its transport settings are right.')), ms);
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

async function discoverNode(node: LabNode, lab: LabFile, o: DoctorOptions): Promise<Discovery> {
  const ms = o.nodeTimeoutMs ?? DEFAULT_NODE_TIMEOUT_MS;
  const opening = (o.open ?? openTransport)(node);
  let t: Transport;
  try {
    t = await bounded(node.name, ms, opening);
  } catch (e) {
    // A connection that succeeds after we gave up must not stay open.
    void opening.then((late) => late.close()).catch(() => undefined);
    return unreachableDiscovery(node, e);
  }
  try {
    return await bounded(node.name, ms, discoverCapabilities(t, node, { fabric: lab.fabric.kind, partitions: lab.partitions, loadAddon: o.loadAddon }));
  } catch (e) {
    return unreachableDiscovery(node, e);
  } finally {
    await t.close().catch(() => undefined);
  }
}

export function judgeNode(node: LabNode, lab: LabFile, d: Discovery): DoctorNode {
  const needed = neededCapabilities(node, lab);
  const checks: DoctorCheck[] = d.checks.map((c) => {
    const isNeeded = needed.includes(c.check);
    return { check: c.check, result: c.ok ? 'ok' : isNeeded ? 'fail' : 'missing', needed: isNeeded, detail: c.detail, fix: c.fix };
  });
  return {
    node: node.name,
    role: node.role,
    implementation: node.implementation,
    transport: node.transport,
    ok: needed.every((c) => d.caps.has(c)),
    needed,
    caps: [...d.caps],
    facts: d.facts,
    checks,
  };
}

export async function runDoctor(lab: LabFile, labFile: string, o: DoctorOptions = {}): Promise<DoctorReport> {
  const nodes = await Promise.all(lab.nodes.map(async (n) => judgeNode(n, lab, await discoverNode(n, lab, o))));
  const all = nodes.flatMap((n) => n.checks);
  return {
    labFile,
    lab: lab.name,
    fabric: lab.fabric.kind,
    ok: nodes.every((n) => n.ok),
    nodes,
    summary: {
      nodes: nodes.length,
      checks: all.length,
      ok: all.filter((c) => c.result === 'ok').length,
      failed: all.filter((c) => c.result === 'fail').length,
      missing: all.filter((c) => c.result === 'missing').length,
    },
  };
}
