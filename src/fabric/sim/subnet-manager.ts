/**
 * The simulated subnet manager: owns the subnet (ports, LIDs, P_Key tables, port events), the
 * SA's multicast group table (with its created/deleted events) and the SA's event
 * subscriptions, pre-creates the IPoIB broadcast group of every `ipoib` partition, and offers
 * the operator controls a lab needs: port state, P_Key tables, stopping and restarting the SM,
 * and a switch that makes the SA refuse joins.
 *
 * Subscriptions go with their port when it goes down, and all of them with a restart (the
 * fresh SM asks every port to re-register, which is when clients subscribe again).
 *
 * The SA that answers MADs on top of this state is sa-engine.ts; its Reports are sa-reports.ts.
 */
import { PKEY_FULL_MEMBER_BIT } from '../../wire/constants.js';
import { SA_ERR_NO_RESOURCES } from '../../wire/mad.js';
import { joinStateNames } from '../../wire/mcmember-record.js';
import { broadcastMgid, formatGid, parseGid } from '../../wire/mgid.js';
import type { FabricDescription } from './fabric-description.js';
import { type McGroup, type McGroupEvent, type McGroupParams, McastGroups } from './mcast-groups.js';
import { InformSubscriptions } from './sa-inform.js';
import type { Partition, PartitionsConf } from './partitions-conf.js';
import {
  type PortState,
  type SimPort,
  Subnet,
  type SubnetEventType,
  type SubnetListener,
  type SubnetOptions,
} from './subnet.js';

/** OpenSM's default SM_Key (opensm.conf `sm_key 0x0000000000000001`). */
export const DEFAULT_SM_KEY = 1n;
/**
 * PacketLifeTime the SA gives groups and non-loopback paths: 0x12 (18), OpenSM's
 * OSM_DEFAULT_SUBNET_TIMEOUT, which its PathRecord code uses for the lifetime.
 */
export const DEFAULT_PACKET_LIFE_TIME = 0x12;

export interface SubnetManagerOptions extends SubnetOptions {
  /**
   * SM_Key of the SA. A request carrying this key is trusted (sees every member's PortGID and
   * JoinState); one carrying 0 is untrusted; one carrying any other key is dropped, as OpenSM
   * drops it. Use 0n to trust nobody.
   */
  smKey?: bigint;
  packetLifeTime?: number;
}

/** A group as a status display shows it. */
export interface GroupInfo {
  mgid: string;
  mlid: number;
  pkey: number;
  qkey: number;
  mtuCode: number;
  rateCode: number;
  sl: number;
  scope: number;
  trafficClass: number;
  flowLabel: number;
  hopLimit: number;
  packetLifeTime: number;
  preCreated: boolean;
  memberCount: number;
}

export interface MemberInfo {
  portGuid: bigint;
  lid: number;
  portGid: string;
  joinState: number;
  /** e.g. ['full'] or ['non', 'send-only-non']. */
  joinStateNames: string[];
  proxyJoin: boolean;
}

/** The broadcast group a partition flagged `ipoib` gets: ff1S:401b:<pkey|0x8000>::ffff:ffff. */
export function broadcastGroupParams(p: Partition, packetLifeTime: number): McGroupParams {
  const pkey = p.pkey | PKEY_FULL_MEMBER_BIT;
  return {
    mgid: broadcastMgid(pkey, p.scope),
    qkey: p.qkey,
    pkey,
    mtuCode: p.mtuCode,
    rateCode: p.rateCode,
    sl: p.sl,
    flowLabel: 0,
    trafficClass: 0,
    hopLimit: 0,
    packetLifeTime,
    scope: p.scope,
  };
}

export class SubnetManager {
  readonly subnet: Subnet;
  private readonly groupListeners = new Set<(e: McGroupEvent) => void>();
  readonly mcast = new McastGroups((e) => {
    for (const l of [...this.groupListeners]) l(e);
  });
  /** Who wants the SA's reports of which trap (SubnAdmSet(InformInfo)). */
  readonly informs = new InformSubscriptions();
  readonly smKey: bigint;
  readonly packetLifeTime: number;
  private running = true;
  private joinRefusal: number | undefined;

  constructor(fabric: FabricDescription, partitions: PartitionsConf, options: SubnetManagerOptions = {}) {
    this.subnet = new Subnet(fabric, partitions, options);
    this.smKey = options.smKey ?? DEFAULT_SM_KEY;
    this.packetLifeTime = options.packetLifeTime ?? DEFAULT_PACKET_LIFE_TIME;
    this.createBroadcastGroups();
  }

  get isRunning(): boolean {
    return this.running;
  }

  /** The SA error code every join is answered with while refuseJoins is on; undefined when off. */
  get refusedJoinStatus(): number | undefined {
    return this.joinRefusal;
  }

  // ---- operator controls -------------------------------------------------------------------

  /**
   * Brings a port up or down. A port that goes down leaves every group at once (the SM sweep
   * finds it gone), which may delete groups it was the last full member of.
   */
  setPortState(portGuid: bigint, state: PortState): void {
    if (state === 'down' && this.subnet.requirePort(portGuid).state !== 'down') {
      this.informs.dropPort(portGuid);
      this.mcast.dropPort(portGuid);
    }
    this.subnet.setPortState(portGuid, state);
  }

  /** Replaces a port's P_Key table; raises pkey-change. Existing memberships are kept, as OpenSM keeps them. */
  setPkeyTable(portGuid: bigint, table: readonly number[]): void {
    this.subnet.setPkeyTable(portGuid, table);
  }

  /** The SM (and its SA) goes away: requests get no response at all, like an unreachable SA. */
  stop(): void {
    this.running = false;
  }

  /**
   * A stopped SM comes back as a fresh one: it knows only its pre-created groups, without
   * members, and asks every active port to re-register (PortInfo ClientReregister). Does
   * nothing when the SM is running.
   */
  start(): void {
    if (this.running) return;
    this.informs.clear();
    this.mcast.forgetDynamicState();
    this.running = true;
    this.subnet.reregisterAll();
  }

  /** Fault switch: while on, every MCMemberRecord join is answered with `saError` (default ERR_NO_RESOURCES). */
  refuseJoins(on: boolean, saError: number = SA_ERR_NO_RESOURCES): void {
    if (on && (!Number.isInteger(saError) || saError < 1 || saError > 0x7f)) {
      throw new RangeError(`refuseJoins: ${String(saError)} is not an SA error code (1..127)`);
    }
    this.joinRefusal = on ? saError : undefined;
  }

  on<K extends SubnetEventType>(type: K, listener: SubnetListener<K>): () => void {
    return this.subnet.on(type, listener);
  }

  /** Hears of every multicast group created or deleted; returns the function that stops it. */
  onGroupEvent(listener: (e: McGroupEvent) => void): () => void {
    this.groupListeners.add(listener);
    return () => this.groupListeners.delete(listener);
  }

  // ---- read-backs for status displays -------------------------------------------------------

  port(portGuid: bigint): SimPort | undefined {
    return this.subnet.port(portGuid);
  }

  groups(): GroupInfo[] {
    return this.mcast.all().map((g) => ({
      mgid: formatGid(g.mgid),
      mlid: g.mlid,
      pkey: g.pkey,
      qkey: g.qkey,
      mtuCode: g.mtuCode,
      rateCode: g.rateCode,
      sl: g.sl,
      scope: g.scope,
      trafficClass: g.trafficClass,
      flowLabel: g.flowLabel,
      hopLimit: g.hopLimit,
      packetLifeTime: g.packetLifeTime,
      preCreated: g.preCreated,
      memberCount: g.members.size,
    }));
  }

  /** Members of the group with this MGID (octets or text), in join order; empty when there is no such group. */
  members(mgid: Buffer | string): MemberInfo[] {
    const g = this.mcast.get(typeof mgid === 'string' ? parseGid(mgid, 'mgid') : mgid);
    if (!g) return [];
    return [...g.members.values()].map((m) => ({
      portGuid: m.portGuid,
      lid: this.subnet.port(m.portGuid)?.lid ?? 0,
      portGid: formatGid(m.portGid),
      joinState: m.joinState,
      joinStateNames: joinStateNames(m.joinState),
      proxyJoin: m.proxyJoin,
    }));
  }

  /** The group with this MGID, for code that needs the live record (the SA, tests). */
  group(mgid: Buffer): McGroup | undefined {
    return this.mcast.get(mgid);
  }

  private createBroadcastGroups(): void {
    for (const p of this.subnet.partitions.partitions) {
      if (!p.ipoib) continue;
      const created = this.mcast.create(broadcastGroupParams(p, this.packetLifeTime), true);
      if (!created) throw new RangeError('out of multicast LIDs while pre-creating broadcast groups');
    }
  }
}
