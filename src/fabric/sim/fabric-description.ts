/**
 * What the simulated subnet is made of: nodes, their ports and GUIDs, validated before the
 * simulator builds anything; and the P_Key table a port gets from a parsed partitions.conf.
 *
 * Node names become network namespace names, hence /^[a-z][a-z0-9-]{0,14}$/ (15 characters
 * leaves room under the kernel's 16-byte IFNAMSIZ for names derived from them).
 */
import { FabricDescriptionError, WireError } from '../../errors.js';
import { PKEY_BASE_MASK, PKEY_FULL_MEMBER_BIT } from '../../wire/constants.js';
import { parseGid } from '../../wire/mgid.js';
import {
  DEFAULT_PARTITION_BASE,
  type Membership,
  type Partition,
  type PartitionMember,
  type PartitionsConf,
} from './partitions-conf.js';

export type NodeType = 'ca' | 'switch';

export interface FabricPort {
  guid: bigint;
  /** Upper 64 bits of the port's GIDs; default fe80::/64. */
  gidPrefix: bigint;
  /** IB MTU code of the link, 1..5 (256..4096 bytes); default 5. */
  linkMtuCode: number;
}

export interface FabricNode {
  name: string;
  type: NodeType;
  nodeGuid: bigint;
  ports: FabricPort[];
}

export interface FabricDescription {
  nodes: FabricNode[];
  /** The port the subnet manager runs on: what `SELF` names in partitions.conf. */
  smPortGuid?: bigint;
}

/** GUIDs may be given as bigint or as `0x` hex text (JSON has no bigint). */
export type GuidInput = bigint | string;

export interface FabricPortInput {
  guid: GuidInput;
  /** bigint, or IPv6 text such as `fe80::` or `fec0::/64`. */
  gidPrefix?: bigint | string;
  linkMtuCode?: number;
}

export interface FabricNodeInput {
  name: string;
  type?: NodeType;
  nodeGuid: GuidInput;
  ports: FabricPortInput[];
}

export interface FabricDescriptionInput {
  nodes: FabricNodeInput[];
  smPortGuid?: GuidInput;
}

export const DEFAULT_GID_PREFIX = 0xfe80000000000000n;
export const DEFAULT_LINK_MTU_CODE = 5;
export const NODE_NAME_PATTERN = /^[a-z][a-z0-9-]{0,14}$/;

/** One thing wrong with a description, at a JSON-path-like location such as `$.nodes[1].ports[0].guid`. */
export interface FabricProblem {
  path: string;
  message: string;
}

export { FabricDescriptionError } from '../../errors.js';

// ---- validation -----------------------------------------------------------------------------

const MAX_U64 = 0xffffffffffffffffn;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Reads and checks a description, collecting every problem instead of stopping at the first. */
class Checker {
  readonly problems: FabricProblem[] = [];

  problem(path: string, message: string): void {
    this.problems.push({ path, message });
  }

  unknownKeys(v: Record<string, unknown>, allowed: readonly string[], path: string): void {
    for (const k of Object.keys(v)) {
      if (!allowed.includes(k)) this.problem(`${path}.${k}`, `unknown key (expected ${allowed.join(', ')})`);
    }
  }

  guid(v: unknown, path: string): bigint | undefined {
    let g: bigint | undefined;
    if (typeof v === 'bigint') g = v;
    else if (typeof v === 'string' && /^0[xX][0-9a-fA-F]{1,16}$/.test(v)) g = BigInt(v);
    else {
      this.problem(path, `expected a GUID as bigint or 0x hex text (at most 16 digits), found ${show(v)}`);
      return undefined;
    }
    if (g <= 0n || g > MAX_U64) {
      this.problem(path, `GUID ${show(v)} is not in 1..0xffffffffffffffff`);
      return undefined;
    }
    return g;
  }

  gidPrefix(v: unknown, path: string): bigint | undefined {
    if (v === undefined) return DEFAULT_GID_PREFIX;
    if (typeof v === 'bigint') {
      if (v >= 0n && v <= MAX_U64) return v;
      this.problem(path, `GID prefix ${show(v)} does not fit 64 bits`);
      return undefined;
    }
    if (typeof v === 'string') {
      const [addr = '', len, ...rest] = v.split('/');
      let gid: Buffer | undefined;
      try {
        gid = parseGid(addr, path);
      } catch (e) {
        if (!(e instanceof WireError)) throw e;
      }
      if (!gid || rest.length > 0 || (len !== undefined && len !== '64')) {
        this.problem(path, `expected a /64 GID prefix such as 'fe80::' or 'fe80::/64', found ${show(v)}`);
        return undefined;
      }
      if (gid.readBigUInt64BE(8) !== 0n) {
        this.problem(path, `GID prefix ${show(v)} has bits set in its lower 64 bits (the interface ID comes from the port GUID)`);
        return undefined;
      }
      return gid.readBigUInt64BE(0);
    }
    this.problem(path, `expected a GID prefix as bigint or IPv6 text, found ${show(v)}`);
    return undefined;
  }

  port(v: unknown, path: string): FabricPort | undefined {
    if (!isRecord(v)) {
      this.problem(path, `expected a port object, found ${show(v)}`);
      return undefined;
    }
    this.unknownKeys(v, ['guid', 'gidPrefix', 'linkMtuCode'], path);
    const guid = this.guid(v.guid, `${path}.guid`);
    const gidPrefix = this.gidPrefix(v.gidPrefix, `${path}.gidPrefix`);
    const mtu = v.linkMtuCode ?? DEFAULT_LINK_MTU_CODE;
    if (typeof mtu !== 'number' || !Number.isInteger(mtu) || mtu < 1 || mtu > 5) {
      this.problem(`${path}.linkMtuCode`, `expected an IB MTU code 1..5 (256..4096 bytes), found ${show(mtu)}`);
      return undefined;
    }
    if (guid === undefined || gidPrefix === undefined) return undefined;
    return { guid, gidPrefix, linkMtuCode: mtu };
  }

  node(v: unknown, path: string): FabricNode | undefined {
    if (!isRecord(v)) {
      this.problem(path, `expected a node object, found ${show(v)}`);
      return undefined;
    }
    this.unknownKeys(v, ['name', 'type', 'nodeGuid', 'ports'], path);
    const name = v.name;
    const nameOk = typeof name === 'string' && NODE_NAME_PATTERN.test(name);
    if (!nameOk) {
      const rule = `a name matching ${NODE_NAME_PATTERN.source} (it becomes a network namespace name)`;
      this.problem(`${path}.name`, `expected ${rule}, found ${show(name)}`);
    }
    const type = v.type ?? 'ca';
    if (type !== 'ca' && type !== 'switch') this.problem(`${path}.type`, `expected 'ca' or 'switch', found ${show(type)}`);
    const nodeGuid = this.guid(v.nodeGuid, `${path}.nodeGuid`);
    const ports: FabricPort[] = [];
    if (!Array.isArray(v.ports) || v.ports.length === 0) {
      this.problem(`${path}.ports`, `expected a non-empty array of ports, found ${show(v.ports)}`);
    } else {
      v.ports.forEach((p: unknown, i) => {
        const port = this.port(p, `${path}.ports[${i}]`);
        if (port) ports.push(port);
      });
    }
    if (typeof name !== 'string' || !nameOk || (type !== 'ca' && type !== 'switch') || nodeGuid === undefined) return undefined;
    return { name, type, nodeGuid, ports };
  }

  description(input: unknown): FabricDescription | undefined {
    if (!isRecord(input)) {
      this.problem('$', `expected a fabric description object, found ${show(input)}`);
      return undefined;
    }
    this.unknownKeys(input, ['nodes', 'smPortGuid'], '$');
    if (!Array.isArray(input.nodes) || input.nodes.length === 0) {
      this.problem('$.nodes', `expected a non-empty array of nodes, found ${show(input.nodes)}`);
      return undefined;
    }
    const nodes: FabricNode[] = [];
    input.nodes.forEach((n: unknown, i) => {
      const node = this.node(n, `$.nodes[${i}]`);
      if (node) nodes.push(node);
    });
    const smPortGuid = input.smPortGuid === undefined ? undefined : this.guid(input.smPortGuid, '$.smPortGuid');
    if (this.problems.length > 0) return undefined;
    this.uniqueness(nodes);
    if (smPortGuid !== undefined && !nodes.some((n) => n.ports.some((p) => p.guid === smPortGuid))) {
      this.problem('$.smPortGuid', `${hex64(smPortGuid)} is not the GUID of any port of the fabric`);
    }
    if (this.problems.length > 0) return undefined;
    return smPortGuid === undefined ? { nodes } : { nodes, smPortGuid };
  }

  /** Names and node GUIDs unique among nodes, port GUIDs unique among ports. */
  private uniqueness(nodes: FabricNode[]): void {
    const names = new Map<string, number>();
    const nodeGuids = new Map<bigint, number>();
    const portGuids = new Map<bigint, string>();
    nodes.forEach((n, i) => {
      const at = `$.nodes[${i}]`;
      const sameName = names.get(n.name);
      if (sameName !== undefined) this.problem(`${at}.name`, `'${n.name}' is already the name of $.nodes[${sameName}]`);
      names.set(n.name, i);
      const sameGuid = nodeGuids.get(n.nodeGuid);
      if (sameGuid !== undefined) {
        this.problem(`${at}.nodeGuid`, `${hex64(n.nodeGuid)} is already the node GUID of $.nodes[${sameGuid}]`);
      }
      nodeGuids.set(n.nodeGuid, i);
    });
    nodes.forEach((n, i) => {
      n.ports.forEach((p, j) => {
        const at = `$.nodes[${i}].ports[${j}].guid`;
        const samePort = portGuids.get(p.guid);
        if (samePort !== undefined) this.problem(at, `${hex64(p.guid)} is already the GUID of ${samePort}`);
        portGuids.set(p.guid, `$.nodes[${i}].ports[${j}]`);
        // A switch's port 0 may share its own node's GUID; another node's GUID is a clash.
        const owner = nodeGuids.get(p.guid);
        if (owner !== undefined && owner !== i) this.problem(at, `${hex64(p.guid)} is the node GUID of $.nodes[${owner}]`);
      });
    });
  }
}

function show(v: unknown): string {
  if (typeof v === 'bigint') return `0x${v.toString(16)}`;
  if (typeof v === 'string') return `'${v}'`;
  if (v === undefined) return 'nothing';
  return JSON.stringify(v) ?? String(v);
}

function hex64(g: bigint): string {
  return `0x${g.toString(16).padStart(16, '0')}`;
}

/** Every problem of `input` (empty when it is a valid description). A judge: never throws. */
export function fabricDescriptionProblems(input: unknown): FabricProblem[] {
  const c = new Checker();
  c.description(input);
  return c.problems;
}

/**
 * Validates `input` (a FabricDescriptionInput, or anything read from JSON) and fills in the
 * defaults; throws FabricDescriptionError listing every problem.
 */
export function makeFabricDescription(input: unknown): FabricDescription {
  const c = new Checker();
  const d = c.description(input);
  if (!d) throw new FabricDescriptionError(c.problems);
  return d;
}

// ---- a default fabric -----------------------------------------------------------------------

/**
 * GUID scheme of defaultFabric: OUI 00:02:c9 (the one ConnectX HCAs carry), so dissectors and
 * tools show familiar values. Node i (1-based) has node GUID 0x0002c903_0000_ii00 and its one
 * port has node GUID + 1: node 1 is 0x0002c90300000100, its port 0x0002c90300000101.
 * Octet 0 is 0x00: as an EUI-64 the u/l bit (0x02) is clear, a universally administered
 * identifier like a real HCA's. The IPv6 interface ID built from it (modified EUI-64, RFC 4291
 * appendix A; RFC 4391 §8) therefore shows 0x02 there: fe80::202:c903:0:101. See ipv6-iid.ts
 * for the two ways RFC 4391 and Linux derive it.
 */
export const DEFAULT_GUID_BASE = 0x0002c90300000000n;
export const MAX_DEFAULT_FABRIC_NODES = 1024;

/** `nodeCount` channel adapters `node1`..`nodeN`, one port each, deterministic GUIDs, no SM port. */
export function defaultFabric(nodeCount: number): FabricDescription {
  if (!Number.isInteger(nodeCount) || nodeCount < 1 || nodeCount > MAX_DEFAULT_FABRIC_NODES) {
    throw new FabricDescriptionError([
      { path: 'nodeCount', message: `expected an integer 1..${MAX_DEFAULT_FABRIC_NODES}, found ${show(nodeCount)}` },
    ]);
  }
  const nodes: FabricNodeInput[] = Array.from({ length: nodeCount }, (_, i) => {
    const nodeGuid = DEFAULT_GUID_BASE + (BigInt(i + 1) << 8n);
    return { name: `node${i + 1}`, type: 'ca', nodeGuid, ports: [{ guid: nodeGuid + 1n }] };
  });
  return makeFabricDescription({ nodes });
}

// ---- P_Key tables ---------------------------------------------------------------------------

export interface PkeyTableOptions {
  /** The port's node type, for ALL_CAS and ALL_SWITCHES; default 'ca'. */
  nodeType?: NodeType;
  /** The subnet manager's port (what SELF names); when absent SELF matches no port. */
  smPortGuid?: bigint;
  /** OpenSM --allow_both_pkeys: a `both` member gets the limited and the full P_Key. Default false. */
  allowBothPkeys?: boolean;
}

function memberMatches(m: PartitionMember, guid: bigint, o: PkeyTableOptions): boolean {
  switch (m.guid) {
    case 'ALL':
      return true;
    case 'ALL_CAS':
      return (o.nodeType ?? 'ca') === 'ca';
    case 'ALL_SWITCHES':
      return o.nodeType === 'switch';
    case 'ALL_ROUTERS':
      return false; // the simulator has no routers
    case 'SELF':
      return o.smPortGuid !== undefined && o.smPortGuid === guid;
    default:
      return m.guid === guid;
  }
}

/** The port's membership in `p`: the last member entry naming it wins, as in OpenSM. */
function membershipIn(p: Partition, guid: bigint, o: PkeyTableOptions, start?: Membership): Membership | undefined {
  let m = start;
  for (const member of p.members) if (memberMatches(member, guid, o)) m = member.membership;
  return m;
}

function entriesFor(base: number, m: Membership | undefined, allowBoth: boolean): number[] {
  const full = base | PKEY_FULL_MEMBER_BIT;
  if (m === 'full') return [full];
  if (m === 'limited') return [base];
  if (m === 'both') return allowBoth ? [base, full] : [full];
  return [];
}

/**
 * OpenSM keeps partitions in a map keyed by the P_Key in network byte order; on a little-endian
 * host that orders them by the low octet first (0x0100 before 0x0002). Seen with OpenSM 3.3.23
 * on x86-64 under ibsim: partitions 0x0002, 0x0201, 0x0100, 0x0003, 0x7ffe, 0x1001 gave tables
 * 0xffff 0x8100 0x8201 0x9001 0x8002 0x8003 0xfffe.
 */
function opensmOrder(base: number): number {
  return ((base & 0xff) << 8) | (base >> 8);
}

/**
 * The P_Key table OpenSM 3.3.23 gives `port` for `conf`, as observed on ibsim (smpquery pkeys):
 * - index 0 is the default partition: every port is at least a limited member of it and the SM's
 *   own port a full member, before the file's `Default` entry (if any) is applied; so 0xffff for
 *   a full member, 0x7fff for a limited one;
 * - then every other partition the port belongs to, in OpenSM's map order (see opensmOrder),
 *   not file order; a port that no member entry names gets nothing for that partition;
 * - within a partition the last member entry that names the port decides its membership;
 * - a partition flagged `indx0` that the port belongs to swaps places with index 0.
 * No table capacity is applied.
 */
export function pkeyTableFor(port: { guid: bigint }, conf: PartitionsConf, options: PkeyTableOptions = {}): number[] {
  const allowBoth = options.allowBothPkeys ?? false;
  const isSm = options.smPortGuid !== undefined && options.smPortGuid === port.guid;
  const baseOf = (p: Partition): number => p.pkey & PKEY_BASE_MASK;

  const def = conf.partitions.find((p) => baseOf(p) === DEFAULT_PARTITION_BASE);
  const implicit: Membership = isSm ? 'full' : 'limited';
  const defMembership = def ? membershipIn(def, port.guid, options, implicit) : implicit;
  const table = entriesFor(DEFAULT_PARTITION_BASE, defMembership, allowBoth);

  const others = conf.partitions
    .filter((p) => baseOf(p) !== DEFAULT_PARTITION_BASE)
    .sort((a, b) => opensmOrder(baseOf(a)) - opensmOrder(baseOf(b)));
  let indx0At: number | undefined;
  for (const p of others) {
    const entries = entriesFor(baseOf(p), membershipIn(p, port.guid, options), allowBoth);
    if (p.indx0 && entries.length > 0) indx0At = table.length;
    table.push(...entries);
  }
  if (indx0At !== undefined) {
    const [first, moved] = [table[0], table[indx0At]];
    if (first !== undefined && moved !== undefined) {
      table[0] = moved;
      table[indx0At] = first;
    }
  }
  return table;
}

/** pkeyTableFor for every port of `fabric`, keyed by port GUID, with node types and SM port from it. */
export function fabricPkeyTables(
  fabric: FabricDescription,
  conf: PartitionsConf,
  options: Pick<PkeyTableOptions, 'allowBothPkeys'> = {},
): Map<bigint, number[]> {
  const tables = new Map<bigint, number[]>();
  for (const node of fabric.nodes) {
    for (const port of node.ports) {
      const sm = fabric.smPortGuid === undefined ? {} : { smPortGuid: fabric.smPortGuid };
      tables.set(port.guid, pkeyTableFor(port, conf, { ...options, nodeType: node.type, ...sm }));
    }
  }
  return tables;
}
