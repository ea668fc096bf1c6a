/**
 * The simulated subnet's end ports as the SM sees them: LIDs, GIDs, link MTU and rate, P_Key
 * tables and port state, plus the typed port events a host stack reacts to (the ones Linux
 * ib_ipoib flushes on: port active/down, P_Key change, client reregister).
 *
 * Input is the colleague modules' shapes: a FabricDescription (nodes, ports, GUIDs, GID prefix,
 * link MTU) and a PartitionsConf; P_Key tables come from `pkeyTableFor`, as OpenSM would build
 * them. LIDs are given 1, 2, 3 … in port order (nodes in order, each node's ports in order) and
 * never change, like OpenSM's guid2lid cache keeps them across sweeps.
 */
import { checkUint } from '../../wire/codec.js';
import { isFullMember, pkeysMatch } from '../../wire/pkey.js';
import { type FabricDescription, type NodeType, pkeyTableFor } from './fabric-description.js';
import type { PartitionsConf } from './partitions-conf.js';
import { isRateCode } from './sa-selectors.js';

/** IB rate code every port gets unless told otherwise: 7 = 40 Gb/s (4x QDR). */
export const DEFAULT_PORT_RATE_CODE = 7;

export type PortState = 'active' | 'down';

/** One end port of the subnet. `pkeyTable` and `state` change; the rest is fixed. */
export interface SimPort {
  readonly guid: bigint;
  readonly lid: number;
  /** GID index 0: the GID prefix followed by the port GUID. */
  readonly gid: Buffer;
  readonly gidPrefix: bigint;
  readonly nodeName: string;
  readonly nodeType: NodeType;
  /** IB MTU code of the port's link, 1..5. */
  readonly linkMtuCode: number;
  /** IB static-rate code of the port's link (see sa-selectors IB_RATE_GBPS). */
  readonly rateCode: number;
  pkeyTable: number[];
  state: PortState;
}

export interface SubnetOptions {
  /** Rate code of every port not in `portRateCodes`; default DEFAULT_PORT_RATE_CODE. */
  rateCode?: number;
  /** Per-port rate codes (the fabric description has no rate field yet). */
  portRateCodes?: ReadonlyMap<bigint, number>;
  /** OpenSM --allow_both_pkeys, passed on to pkeyTableFor. */
  allowBothPkeys?: boolean;
  /** Ports that start down (the rest start active). */
  downPorts?: readonly bigint[];
}

export interface PortEventBase {
  portGuid: bigint;
  lid: number;
}

export interface SubnetEventMap {
  'port-active': PortEventBase;
  'port-down': PortEventBase;
  'pkey-change': PortEventBase & { pkeyTable: readonly number[] };
  'client-reregister': PortEventBase;
}

export type SubnetEventType = keyof SubnetEventMap;
export type SubnetListener<K extends SubnetEventType> = (event: SubnetEventMap[K]) => void;

/** The GID of a port: 8 octets of prefix, 8 of GUID. */
export function portGid(gidPrefix: bigint, guid: bigint): Buffer {
  const gid = Buffer.alloc(16);
  gid.writeBigUInt64BE(gidPrefix, 0);
  gid.writeBigUInt64BE(guid, 8);
  return gid;
}

/**
 * True when a port holding `table` may take part in traffic keyed by `pkey`: some entry of its
 * table matches it by the IBA rule (same base, at least one full member). So a limited member
 * (0x7fff) may use a full-member group (0xffff), but two limited keys never match.
 */
export function tableAdmits(table: readonly number[], pkey: number): boolean {
  return table.some((entry) => pkeysMatch(entry, pkey));
}

/** The table entry that admits `pkey`, preferring a full-member one; undefined when none does. */
export function admittingEntry(table: readonly number[], pkey: number): number | undefined {
  const matching = table.filter((entry) => pkeysMatch(entry, pkey));
  return matching.find(isFullMember) ?? matching[0];
}

function checkPkeyTable(table: readonly number[]): number[] {
  for (const [i, p] of table.entries()) checkUint(`pkeyTable[${i}]`, -1, p, 16);
  return [...table];
}

export class Subnet {
  private readonly byGuid = new Map<bigint, SimPort>();
  private readonly byLid = new Map<number, SimPort>();
  private readonly listeners: { [K in SubnetEventType]: Array<SubnetListener<K>> } = {
    'port-active': [],
    'port-down': [],
    'pkey-change': [],
    'client-reregister': [],
  };

  constructor(
    readonly fabric: FabricDescription,
    readonly partitions: PartitionsConf,
    options: SubnetOptions = {},
  ) {
    const down = new Set(options.downPorts ?? []);
    let lid = 1;
    for (const node of fabric.nodes) {
      for (const p of node.ports) {
        const rateCode = options.portRateCodes?.get(p.guid) ?? options.rateCode ?? DEFAULT_PORT_RATE_CODE;
        if (!isRateCode(rateCode)) throw new RangeError(`port 0x${p.guid.toString(16)}: ${rateCode} is not an IB rate code`);
        const port: SimPort = {
          guid: p.guid,
          lid,
          gid: portGid(p.gidPrefix, p.guid),
          gidPrefix: p.gidPrefix,
          nodeName: node.name,
          nodeType: node.type,
          linkMtuCode: p.linkMtuCode,
          rateCode,
          pkeyTable: pkeyTableFor(p, partitions, {
            nodeType: node.type,
            ...(fabric.smPortGuid === undefined ? {} : { smPortGuid: fabric.smPortGuid }),
            ...(options.allowBothPkeys === undefined ? {} : { allowBothPkeys: options.allowBothPkeys }),
          }),
          state: down.has(p.guid) ? 'down' : 'active',
        };
        this.byGuid.set(p.guid, port);
        this.byLid.set(lid, port);
        lid++;
      }
    }
  }

  /** Every port, in LID order. */
  ports(): SimPort[] {
    return [...this.byGuid.values()];
  }

  activePorts(): SimPort[] {
    return this.ports().filter((p) => p.state === 'active');
  }

  port(guid: bigint): SimPort | undefined {
    return this.byGuid.get(guid);
  }

  portByLid(lid: number): SimPort | undefined {
    return this.byLid.get(lid);
  }

  /** The active port whose GID is `gid` (prefix and GUID both), if any. */
  activePortByGid(gid: Buffer): SimPort | undefined {
    if (gid.length !== 16) return undefined;
    const p = this.byGuid.get(gid.readBigUInt64BE(8));
    return p && p.state === 'active' && p.gid.equals(gid) ? p : undefined;
  }

  /** The port by GUID, or throws naming the GUID: for the operator-facing mutators. */
  requirePort(guid: bigint): SimPort {
    const p = this.byGuid.get(guid);
    if (!p) throw new RangeError(`no port with GUID 0x${guid.toString(16).padStart(16, '0')} in the subnet`);
    return p;
  }

  /** Changes the port state; raises port-active or port-down. Returns false when nothing changed. */
  setPortState(guid: bigint, state: PortState): boolean {
    const p = this.requirePort(guid);
    if (p.state === state) return false;
    p.state = state;
    this.emit(state === 'active' ? 'port-active' : 'port-down', { portGuid: p.guid, lid: p.lid });
    return true;
  }

  /** Replaces the port's P_Key table (as the SM's SubnSet(P_KeyTable) would); raises pkey-change. */
  setPkeyTable(guid: bigint, table: readonly number[]): void {
    const p = this.requirePort(guid);
    p.pkeyTable = checkPkeyTable(table);
    this.emit('pkey-change', { portGuid: p.guid, lid: p.lid, pkeyTable: [...p.pkeyTable] });
  }

  /** Raises client-reregister on every active port (what a restarted SM sets in PortInfo). */
  reregisterAll(): void {
    for (const p of this.activePorts()) this.emit('client-reregister', { portGuid: p.guid, lid: p.lid });
  }

  /** Subscribes to one event type; returns the function that unsubscribes. */
  on<K extends SubnetEventType>(type: K, listener: SubnetListener<K>): () => void {
    const list = this.listeners[type] as Array<SubnetListener<K>>;
    list.push(listener);
    return () => {
      const i = list.indexOf(listener);
      if (i >= 0) list.splice(i, 1);
    };
  }

  private emit<K extends SubnetEventType>(type: K, event: SubnetEventMap[K]): void {
    // Copy first: a listener may unsubscribe while we iterate.
    for (const l of [...(this.listeners[type] as Array<SubnetListener<K>>)]) l(event);
  }
}
