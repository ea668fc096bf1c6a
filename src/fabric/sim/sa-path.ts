/**
 * The SA's PathRecord (0x0035) queries, SubnAdmGet and SubnAdmGetTable, on a subnet where every
 * port hangs off one switch: a path between two ports crosses their two links.
 *
 * Decisions, with where they come from:
 * - End points: SGID / DGID name a port by GID; a GID that is not an active port's (wrong
 *   prefix or unknown GUID) is ERR_REQ_INVALID_GID. SLID / DLID name a port by LID; an unknown
 *   LID is ERR_NO_RECORDS. An end point not given ranges over every active port, the requester
 *   included (a path to oneself is legitimate). All as OpenSM's pr_rcv_get_end_points.
 * - ServiceID given by only one of its two ComponentMask bits: ERR_REQ_INSUFFICIENT_COMPONENTS
 *   (OpenSM).
 * - P_Key: given, both ports' tables must admit it and their admitting entries must match each
 *   other (pkeysMatch), and it is returned as given; not given, the first entry of the source's
 *   table that matches an entry of the destination's is used. No shared partition: no path.
 *   The requester must itself belong to the path's partition (any membership).
 * - MTU = the smaller of the two link MTUs, rate = the slower link; with a selector the SA
 *   offers the best value that satisfies it (it may run a path slower than its links).
 * - PacketLifeTime: 0 on a loopback path (IBA table 205, via OpenSM), else the SM's subnet
 *   packet lifetime; SL is the partition's (partitions.conf `sl=`), 0 when unknown.
 * - TClass, FlowLabel, HopLimit and ServiceID are echoed when given, else 0: on one subnet
 *   any value works. Reversible is set and NumbPath is 1: one reversible path per port pair.
 */
import { encodeToBuffer } from '../../wire/codec.js';
import { PKEY_BASE_MASK } from '../../wire/constants.js';
import { SA_ERR_NO_RECORDS, SA_ERR_REQ_INSUFFICIENT_COMPONENTS, SA_ERR_REQ_INVALID_GID } from '../../wire/mad.js';
import { type PathRecord, type PathRecordComponent, pathRecord, pathRecordComponents } from '../../wire/path-record.js';
import { isValidPkey, pkeysMatch } from '../../wire/pkey.js';
import { SA_SELECTOR_EXACTLY } from '../../wire/sa.js';
import { type SaOutcome, saFailure } from './sa-outcome.js';
import {
  bestOffer,
  compareNumbers,
  compareRates,
  IB_MTU_CODES,
  IB_RATE_CODES,
  selectorAccepts,
  selectorRequest,
} from './sa-selectors.js';
import { admittingEntry, type SimPort } from './subnet.js';
import type { SubnetManager } from './subnet-manager.js';

export interface PathRequest {
  sm: SubnetManager;
  requester: SimPort;
  record: PathRecord;
  componentMask: bigint;
}

type Given = ReadonlySet<PathRecordComponent>;

/** The P_Key a path between `src` and `dst` uses, or undefined when they share no partition. */
function pathPkey(src: SimPort, dst: SimPort, requested: number | undefined): number | undefined {
  if (requested !== undefined) {
    if (!isValidPkey(requested)) return undefined;
    const a = admittingEntry(src.pkeyTable, requested);
    const b = admittingEntry(dst.pkeyTable, requested);
    return a !== undefined && b !== undefined && pkeysMatch(a, b) ? requested : undefined;
  }
  return src.pkeyTable.find((e) => dst.pkeyTable.some((f) => pkeysMatch(e, f)));
}

function isPartitionMember(port: SimPort, pkey: number): boolean {
  const base = pkey & PKEY_BASE_MASK;
  return port.pkeyTable.some((e) => isValidPkey(e) && (e & PKEY_BASE_MASK) === base);
}

function partitionSl(sm: SubnetManager, pkey: number): number {
  const base = pkey & PKEY_BASE_MASK;
  return sm.subnet.partitions.partitions.find((p) => (p.pkey & PKEY_BASE_MASK) === base)?.sl ?? 0;
}

/** The path from `src` to `dst` the request asks for, or undefined when its components rule it out. */
function buildPath(q: PathRequest, has: Given, src: SimPort, dst: SimPort): PathRecord | undefined {
  const r = q.record;
  if (has.has('rawTraffic') && r.rawTraffic) return undefined; // no raw (non-IBA) paths here
  const pkey = pathPkey(src, dst, has.has('pkey') ? r.pkey : undefined);
  if (pkey === undefined || !isPartitionMember(q.requester, pkey)) return undefined;
  const sl = partitionSl(q.sm, pkey);
  if (has.has('sl') && r.sl !== sl) return undefined;

  const maxMtu = Math.min(src.linkMtuCode, dst.linkMtuCode);
  const mtuWant = selectorRequest(has.has('mtu'), has.has('mtuSelector'), r.mtu, r.mtuSelector);
  const mtu = mtuWant ? bestOffer(mtuWant.selector, mtuWant.value, IB_MTU_CODES, maxMtu, compareNumbers) : maxMtu;
  const maxRate = compareRates(src.rateCode, dst.rateCode) <= 0 ? src.rateCode : dst.rateCode;
  const rateWant = selectorRequest(has.has('rate'), has.has('rateSelector'), r.rate, r.rateSelector);
  const rate = rateWant ? bestOffer(rateWant.selector, rateWant.value, IB_RATE_CODES, maxRate, compareRates) : maxRate;
  if (mtu === undefined || rate === undefined) return undefined;
  const life = src === dst ? 0 : q.sm.packetLifeTime;
  const lifeWant = selectorRequest(
    has.has('packetLifeTime'), has.has('packetLifeTimeSelector'), r.packetLifeTime, r.packetLifeTimeSelector,
  );
  if (lifeWant && !selectorAccepts(lifeWant.selector, lifeWant.value, life, compareNumbers)) return undefined;

  return {
    serviceId: has.has('serviceId') ? r.serviceId : 0n,
    dgid: Buffer.from(dst.gid),
    sgid: Buffer.from(src.gid),
    dlid: dst.lid,
    slid: src.lid,
    rawTraffic: false,
    reserved44: 0,
    flowLabel: has.has('flowLabel') ? r.flowLabel : 0,
    hopLimit: has.has('hopLimit') ? r.hopLimit : 0,
    trafficClass: has.has('trafficClass') ? r.trafficClass : 0,
    reversible: true,
    numbPath: 1,
    pkey,
    qosClass: 0,
    sl,
    mtuSelector: SA_SELECTOR_EXACTLY,
    mtu,
    rateSelector: SA_SELECTOR_EXACTLY,
    rate,
    packetLifeTimeSelector: SA_SELECTOR_EXACTLY,
    packetLifeTime: life,
    preference: 0,
    reserved58: 0,
  };
}

type EndPoints = { ports: SimPort[] } | { saError: number };

/** The ports one end of the path may be, from its GID and LID components. */
function endPoints(q: PathRequest, gidGiven: boolean, gid: Buffer, lidGiven: boolean, lid: number): EndPoints {
  const subnet = q.sm.subnet;
  if (gidGiven) {
    const p = subnet.activePortByGid(gid);
    if (!p) return { saError: SA_ERR_REQ_INVALID_GID };
    return { ports: lidGiven && p.lid !== lid ? [] : [p] };
  }
  if (lidGiven) {
    const p = subnet.portByLid(lid);
    if (!p || p.state !== 'active') return { saError: SA_ERR_NO_RECORDS };
    return { ports: [p] };
  }
  return { ports: subnet.activePorts() };
}

/** SubnAdmGet / SubnAdmGetTable(PathRecord): every path the components select. */
export function queryPaths(q: PathRequest): SaOutcome {
  const sid = q.componentMask & 0b11n;
  if (sid === 0b01n || sid === 0b10n) return saFailure(SA_ERR_REQ_INSUFFICIENT_COMPONENTS);
  const has: Given = new Set(pathRecordComponents(q.componentMask));
  const r = q.record;
  const src = endPoints(q, has.has('sgid'), r.sgid, has.has('slid'), r.slid);
  if ('saError' in src) return src;
  const dst = endPoints(q, has.has('dgid'), r.dgid, has.has('dlid'), r.dlid);
  if ('saError' in dst) return dst;
  const records: Buffer[] = [];
  for (const s of src.ports) {
    for (const d of dst.ports) {
      const path = buildPath(q, has, s, d);
      if (path) records.push(encodeToBuffer(pathRecord, path));
    }
  }
  return { records };
}
