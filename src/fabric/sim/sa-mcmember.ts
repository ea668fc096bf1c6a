/**
 * The SA's MCMemberRecord (0x0038) methods: SubnAdmSet (join, creating the group when it is
 * absent), SubnAdmDelete (leave), SubnAdmGet / SubnAdmGetTable (queries).
 *
 * Decisions, with where they come from:
 * - Join and leave need MGID, PortGID and JoinState in the ComponentMask, else
 *   ERR_REQ_INSUFFICIENT_COMPONENTS (OpenSM JOIN_MC_COMP_MASK).
 * - PortGID must be the requester's own GID, else ERR_REQ_INVALID. Proxy joins are not
 *   supported (OpenSM accepts a PortGID of another port that shares a P_Key with the requester).
 * - The requester's P_Key table must admit the group's P_Key by the IBA matching rule
 *   (`tableAdmits`: same base, at least one of the two full). So a limited member (0x7fff) may
 *   join a full-key group (0xffff), as Linux hosts of OpenSM's default partition do, but a port
 *   holding only the limited key of a partition can neither join nor create a group whose P_Key
 *   is that limited key: nothing could be exchanged in it. Refused with ERR_REQ_INVALID.
 * - Creating a group needs JoinState FullMember or SendOnlyFullMember (else ERR_REQ_INVALID,
 *   IBA o15-0.1.9 as OpenSM applies it) and the components OpenSM requires for creation:
 *   MGID, PortGID, JoinState, Q_Key, P_Key, TClass, FlowLabel, SL (REQUIRED_MC_CREATE_COMP_MASK;
 *   else ERR_REQ_INSUFFICIENT_COMPONENTS). MTU and rate may be left to the SA, which picks the
 *   best the creating port's link allows (IBA o15-0.2.3: the SA provides omitted components).
 * - An all-zero MGID asks the SA to assign one: ff1S:a01b:<GID prefix>:<counter> (S from the
 *   Scope component, else link-local). The 0xA01B signature marks SA-assigned MGIDs in IBA; the
 *   rest of the layout is ours.
 * - Joining an existing group: every component given must equal the group's (IBA o15-0.2.4
 *   lets only ProxyJoin and reserved bits differ), MTU / rate / PacketLifeTime through their selectors; the
 *   port's link MTU and rate must reach the group's (OpenSM validate_port_caps). OpenSM checks
 *   only MTU and rate; we follow the IBA text. Failures are ERR_REQ_INVALID.
 * - Leave: the group must exist, the port must be a member, and the JoinState bits must be a
 *   non-empty subset of the member's (IBA o15-0.1.14); else ERR_REQ_INVALID.
 * - Responses carry the group's record with the requester's PortGID and resulting JoinState,
 *   selectors set to "exactly" (OpenSM mcmr_rcv_respond). A leave answers with the JoinState
 *   left (0 when the port is no longer a member).
 * - Queries see only groups whose P_Key the requester's table admits. A trusted request (the
 *   SA's SM_Key) gets one record per member; an untrusted one gets one record per group with
 *   PortGID, JoinState and ProxyJoin zeroed (IBA, as OpenSM's mcmr_query_mgrp applies it),
 *   unless it names a PortGID, which selects that member's record (still zeroed).
 */
import { MGID_SCOPE_LINK } from '../../wire/constants.js';
import { encodeToBuffer } from '../../wire/codec.js';
import {
  SA_ERR_NO_RESOURCES,
  SA_ERR_REQ_INSUFFICIENT_COMPONENTS,
  SA_ERR_REQ_INVALID,
} from '../../wire/mad.js';
import {
  type McMemberComponent,
  mcMemberComponents,
  type McMemberRecord,
  mcMemberRecord,
} from '../../wire/mcmember-record.js';
import { isValidPkey } from '../../wire/pkey.js';
import { SA_SELECTOR_EXACTLY } from '../../wire/sa.js';
import { FULL_JOIN_BITS, type McGroup, type McGroupParams, type McMember } from './mcast-groups.js';
import { type SaOutcome, saFailure } from './sa-outcome.js';
import {
  bestOffer,
  compareNumbers,
  compareRates,
  IB_MTU_CODES,
  IB_RATE_CODES,
  isMtuCode,
  isRateCode,
  selectorAccepts,
  selectorRequest,
} from './sa-selectors.js';
import { type SimPort, tableAdmits } from './subnet.js';
import type { SubnetManager } from './subnet-manager.js';

export { SA_ASSIGNED_MGID_SIGNATURE } from '../../wire/constants.js';
import { SA_ASSIGNED_MGID_SIGNATURE } from '../../wire/constants.js';

const JOIN_COMPONENTS: readonly McMemberComponent[] = ['mgid', 'portGid', 'joinState'];
const CREATE_COMPONENTS: readonly McMemberComponent[] = [
  'mgid', 'portGid', 'joinState', 'qkey', 'pkey', 'trafficClass', 'flowLabel', 'sl',
];

/** Components compared for plain equality with a group (selector-governed ones are apart). */
const EXACT_GROUP_COMPONENTS = ['qkey', 'mlid', 'pkey', 'trafficClass', 'sl', 'flowLabel', 'hopLimit', 'scope'] as const;

export interface McMemberRequest {
  sm: SubnetManager;
  requester: SimPort;
  record: McMemberRecord;
  componentMask: bigint;
  /** The request carried the SA's SM_Key. */
  trusted: boolean;
}

type Given = ReadonlySet<McMemberComponent>;

function given(mask: bigint): Given {
  return new Set(mcMemberComponents(mask));
}

function allGiven(has: Given, names: readonly McMemberComponent[]): boolean {
  return names.every((n) => has.has(n));
}

/** The record the SA answers with: the group's components, one member's PortGID and JoinState. */
export function groupRecord(g: McGroup, portGid: Buffer, joinState: number, proxyJoin = false): McMemberRecord {
  return {
    mgid: Buffer.from(g.mgid),
    portGid: Buffer.from(portGid),
    qkey: g.qkey,
    mlid: g.mlid,
    mtuSelector: SA_SELECTOR_EXACTLY,
    mtu: g.mtuCode,
    trafficClass: g.trafficClass,
    pkey: g.pkey,
    rateSelector: SA_SELECTOR_EXACTLY,
    rate: g.rateCode,
    packetLifeTimeSelector: SA_SELECTOR_EXACTLY,
    packetLifeTime: g.packetLifeTime,
    sl: g.sl,
    flowLabel: g.flowLabel,
    hopLimit: g.hopLimit,
    scope: g.scope,
    joinState,
    proxyJoin,
    reserved: 0,
  };
}

function encoded(r: McMemberRecord): Buffer {
  return encodeToBuffer(mcMemberRecord, r);
}

/** Do the given components (equality ones and the three selectors) accept this group? */
function groupMatches(has: Given, r: McMemberRecord, g: McGroup): boolean {
  const groupValues: Record<(typeof EXACT_GROUP_COMPONENTS)[number], number> = {
    qkey: g.qkey, mlid: g.mlid, pkey: g.pkey, trafficClass: g.trafficClass, sl: g.sl,
    flowLabel: g.flowLabel, hopLimit: g.hopLimit, scope: g.scope,
  };
  for (const c of EXACT_GROUP_COMPONENTS) if (has.has(c) && r[c] !== groupValues[c]) return false;
  const mtu = selectorRequest(has.has('mtu'), has.has('mtuSelector'), r.mtu, r.mtuSelector);
  if (mtu && !selectorAccepts(mtu.selector, mtu.value, g.mtuCode, compareNumbers)) return false;
  const rate = selectorRequest(has.has('rate'), has.has('rateSelector'), r.rate, r.rateSelector);
  if (rate && !selectorAccepts(rate.selector, rate.value, g.rateCode, compareRates)) return false;
  const life = selectorRequest(has.has('packetLifeTime'), has.has('packetLifeTimeSelector'), r.packetLifeTime, r.packetLifeTimeSelector);
  if (life && !selectorAccepts(life.selector, life.value, g.packetLifeTime, compareNumbers)) return false;
  return true;
}

function saAssignedMgid(sm: SubnetManager, requester: SimPort, scope: number): Buffer {
  for (;;) {
    const mgid = Buffer.alloc(16);
    mgid[0] = 0xff;
    mgid[1] = 0x10 | scope;
    mgid.writeUInt16BE(SA_ASSIGNED_MGID_SIGNATURE, 2);
    mgid.writeBigUInt64BE(requester.gidPrefix, 4);
    mgid.writeUInt32BE(sm.mcast.nextAssignedId(), 12);
    if (!sm.group(mgid)) return mgid;
  }
}

/** The new group's components, or the SA error that refuses the creation. */
function newGroupParams(sm: SubnetManager, requester: SimPort, r: McMemberRecord, has: Given): McGroupParams | number {
  if (!tableAdmits(requester.pkeyTable, r.pkey)) return SA_ERR_REQ_INVALID;
  const zero = r.mgid.every((b) => b === 0);
  let mgid: Buffer;
  if (zero) {
    const scope = has.has('scope') ? r.scope : MGID_SCOPE_LINK;
    if (scope === 0 || scope === 0xf) return SA_ERR_REQ_INVALID;
    mgid = saAssignedMgid(sm, requester, scope);
  } else {
    if (r.mgid[0] !== 0xff) return SA_ERR_REQ_INVALID; // not a multicast GID
    mgid = r.mgid;
  }
  const scope = (mgid[1] ?? 0) & 0xf;
  if (has.has('scope') && r.scope !== scope) return SA_ERR_REQ_INVALID;

  const mtuWant = selectorRequest(has.has('mtu'), has.has('mtuSelector'), r.mtu, r.mtuSelector);
  const mtuCode = mtuWant
    ? bestOffer(mtuWant.selector, mtuWant.value, IB_MTU_CODES, requester.linkMtuCode, compareNumbers)
    : requester.linkMtuCode;
  const rateWant = selectorRequest(has.has('rate'), has.has('rateSelector'), r.rate, r.rateSelector);
  const rateCode = rateWant
    ? bestOffer(rateWant.selector, rateWant.value, IB_RATE_CODES, requester.rateCode, compareRates)
    : requester.rateCode;
  if (mtuCode === undefined || rateCode === undefined) return SA_ERR_REQ_INVALID;

  const lifeWant = selectorRequest(
    has.has('packetLifeTime'), has.has('packetLifeTimeSelector'), r.packetLifeTime, r.packetLifeTimeSelector,
  );
  let packetLifeTime = sm.packetLifeTime;
  if (lifeWant?.selector === SA_SELECTOR_EXACTLY) packetLifeTime = lifeWant.value;
  else if (lifeWant && !selectorAccepts(lifeWant.selector, lifeWant.value, packetLifeTime, compareNumbers)) {
    return SA_ERR_REQ_INVALID;
  }
  return {
    mgid,
    qkey: r.qkey,
    pkey: r.pkey,
    mtuCode,
    rateCode,
    sl: r.sl,
    flowLabel: r.flowLabel,
    trafficClass: r.trafficClass,
    hopLimit: has.has('hopLimit') ? r.hopLimit : 0,
    packetLifeTime,
    scope,
  };
}

/** May this port join this existing group with these components? An SA error code if not. */
function joinRefusal(requester: SimPort, r: McMemberRecord, has: Given, g: McGroup): number | undefined {
  if (!tableAdmits(requester.pkeyTable, g.pkey)) return SA_ERR_REQ_INVALID;
  if (!groupMatches(has, r, g)) return SA_ERR_REQ_INVALID;
  if (requester.linkMtuCode < g.mtuCode || compareRates(requester.rateCode, g.rateCode) < 0) return SA_ERR_REQ_INVALID;
  return undefined;
}

/** SubnAdmSet(MCMemberRecord): join, creating the group if needed. */
export function joinGroup(q: McMemberRequest): SaOutcome {
  const { sm, requester, record: r } = q;
  const has = given(q.componentMask);
  if (!allGiven(has, JOIN_COMPONENTS)) return saFailure(SA_ERR_REQ_INSUFFICIENT_COMPONENTS);
  if (!r.portGid.equals(requester.gid)) return saFailure(SA_ERR_REQ_INVALID);
  // JoinState is 4 bits and all four are defined (0x1 full, 0x2 non, 0x4 send-only non, 0x8 send-only full).
  if (r.joinState === 0) return saFailure(SA_ERR_REQ_INVALID);
  if (has.has('pkey') && !isValidPkey(r.pkey)) return saFailure(SA_ERR_REQ_INVALID);
  // OpenSM's rate_is_valid / mtu_is_valid: a code that names no MTU or rate is a bad request.
  if ((has.has('mtu') && !isMtuCode(r.mtu)) || (has.has('rate') && !isRateCode(r.rate))) {
    return saFailure(SA_ERR_REQ_INVALID);
  }
  const refused = sm.refusedJoinStatus;
  if (refused !== undefined) return saFailure(refused);

  const zero = r.mgid.every((b) => b === 0);
  let group = zero ? undefined : sm.group(r.mgid);
  if (group) {
    const why = joinRefusal(requester, r, has, group);
    if (why !== undefined) return saFailure(why);
  } else {
    if ((r.joinState & FULL_JOIN_BITS) === 0) return saFailure(SA_ERR_REQ_INVALID);
    if (!allGiven(has, CREATE_COMPONENTS)) return saFailure(SA_ERR_REQ_INSUFFICIENT_COMPONENTS);
    const params = newGroupParams(sm, requester, r, has);
    if (typeof params === 'number') return saFailure(params);
    group = sm.mcast.create(params, false);
    if (!group) return saFailure(SA_ERR_NO_RESOURCES);
  }
  const joinState = sm.mcast.join(group, requester.guid, requester.gid, r.joinState);
  return { records: [encoded(groupRecord(group, requester.gid, joinState))] };
}

/** SubnAdmDelete(MCMemberRecord): leave. */
export function leaveGroup(q: McMemberRequest): SaOutcome {
  const { sm, requester, record: r } = q;
  const has = given(q.componentMask);
  if (!allGiven(has, JOIN_COMPONENTS)) return saFailure(SA_ERR_REQ_INSUFFICIENT_COMPONENTS);
  const group = sm.group(r.mgid);
  if (!group || !r.portGid.equals(requester.gid)) return saFailure(SA_ERR_REQ_INVALID);
  const member = group.members.get(requester.guid);
  if (!member) return saFailure(SA_ERR_REQ_INVALID);
  const bits = r.joinState;
  if ((bits & member.joinState) === 0 || (bits & ~member.joinState) !== 0) return saFailure(SA_ERR_REQ_INVALID);
  const { joinState } = sm.mcast.leave(group, requester.guid, bits);
  return { records: [encoded(groupRecord(group, requester.gid, joinState))] };
}

function memberMatches(has: Given, r: McMemberRecord, m: McMember): boolean {
  if (has.has('joinState') && r.joinState !== m.joinState) return false;
  if (has.has('proxyJoin') && r.proxyJoin !== m.proxyJoin) return false;
  return true;
}

/** SubnAdmGet / SubnAdmGetTable(MCMemberRecord): every record the components select. */
export function queryGroups(q: McMemberRequest): SaOutcome {
  const { sm, requester, record: r, trusted } = q;
  const has = given(q.componentMask);
  const out: McMemberRecord[] = [];
  for (const g of sm.mcast.all()) {
    if (has.has('mgid') && !r.mgid.equals(g.mgid)) continue;
    if (!tableAdmits(requester.pkeyTable, g.pkey) || !groupMatches(has, r, g)) continue;
    const members = [...g.members.values()];
    if (has.has('portGid')) {
      const m = members.find((x) => x.portGid.equals(r.portGid));
      if (m && memberMatches(has, r, m)) out.push(groupRecord(g, m.portGid, m.joinState, m.proxyJoin));
    } else if (trusted) {
      for (const m of members) if (memberMatches(has, r, m)) out.push(groupRecord(g, m.portGid, m.joinState, m.proxyJoin));
    } else {
      // One record for the group; its JoinState, for matching only, is what its members hold together.
      const union = members.reduce((acc, m) => acc | m.joinState, 0);
      if (!has.has('joinState') || r.joinState === union) out.push(groupRecord(g, Buffer.alloc(16), 0));
    }
  }
  if (!trusted) {
    for (const rec of out) {
      rec.portGid = Buffer.alloc(16);
      rec.joinState = 0;
      rec.proxyJoin = false;
    }
  }
  return { records: out.map(encoded) };
}
