/**
 * MCMemberRecord, SA attribute 0x0038 (IBA vol. 1 ch. 15): 52 octets.
 *
 *   0-15  MGID                16-31 PortGID             32-35 Q_Key
 *   36-37 MLID                38    MTUSelector(2) MTU(6)   39 TClass
 *   40-41 P_Key               42    RateSelector(2) Rate(6)
 *   43    PacketLifeTimeSelector(2) PacketLifeTime(6)
 *   44-47 SL(4) FlowLabel(20) HopLimit(8)
 *   48    Scope(4) JoinState(4)
 *   49-51 ProxyJoin(1) reserved(23)
 *
 * Layout and ComponentMask bits checked against Linux drivers/infiniband/core/sa_query.c
 * `mcmember_rec_table` (word/bit offsets) and include/rdma/ib_sa.h IB_SA_MCMEMBER_REC_*
 * (bits 0..17). Every field is kept as received, the 23 reserved bits included.
 */
import { WireError } from '../errors.js';
import { type Codec, checkBytes, checkUint, copyBytes, need } from './codec.js';
import {
  GID_LEN,
  JOIN_STATE_FULL,
  JOIN_STATE_NON,
  JOIN_STATE_SEND_ONLY_FULL,
  JOIN_STATE_SEND_ONLY_NON,
  MCMEMBER_RECORD_LEN,
} from './constants.js';
import { checkBoolean, checkUint64, reservedProblems } from './mad.js';

export { MCMEMBER_RECORD_LEN } from './constants.js';

export interface McMemberRecord {
  mgid: Buffer;
  portGid: Buffer;
  qkey: number;
  mlid: number;
  /** SA_SELECTOR_* (2 bits). */
  mtuSelector: number;
  /** IB MTU code (6 bits): 1 = 256 … 5 = 4096. */
  mtu: number;
  trafficClass: number;
  pkey: number;
  rateSelector: number;
  /** IB static-rate code (6 bits). */
  rate: number;
  packetLifeTimeSelector: number;
  packetLifeTime: number;
  sl: number;
  flowLabel: number;
  hopLimit: number;
  scope: number;
  /** JOIN_STATE_* bits (4 bits). */
  joinState: number;
  proxyJoin: boolean;
  /** The 23 bits after ProxyJoin. */
  reserved: number;
}

export const mcMemberRecord: Codec<McMemberRecord> = {
  encodingLength: () => MCMEMBER_RECORD_LEN,
  encode(r, buf, offset) {
    checkBytes('mcmember.mgid', offset, r.mgid, GID_LEN);
    checkBytes('mcmember.portGid', offset + 16, r.portGid, GID_LEN);
    checkUint('mcmember.qkey', offset + 32, r.qkey, 32);
    checkUint('mcmember.mlid', offset + 36, r.mlid, 16);
    checkUint('mcmember.mtuSelector', offset + 38, r.mtuSelector, 2);
    checkUint('mcmember.mtu', offset + 38, r.mtu, 6);
    checkUint('mcmember.trafficClass', offset + 39, r.trafficClass, 8);
    checkUint('mcmember.pkey', offset + 40, r.pkey, 16);
    checkUint('mcmember.rateSelector', offset + 42, r.rateSelector, 2);
    checkUint('mcmember.rate', offset + 42, r.rate, 6);
    checkUint('mcmember.packetLifeTimeSelector', offset + 43, r.packetLifeTimeSelector, 2);
    checkUint('mcmember.packetLifeTime', offset + 43, r.packetLifeTime, 6);
    checkUint('mcmember.sl', offset + 44, r.sl, 4);
    checkUint('mcmember.flowLabel', offset + 44, r.flowLabel, 20);
    checkUint('mcmember.hopLimit', offset + 47, r.hopLimit, 8);
    checkUint('mcmember.scope', offset + 48, r.scope, 4);
    checkUint('mcmember.joinState', offset + 48, r.joinState, 4);
    checkBoolean('mcmember.proxyJoin', offset + 49, r.proxyJoin);
    checkUint('mcmember.reserved', offset + 49, r.reserved, 23);
    need(buf, offset, MCMEMBER_RECORD_LEN, 'mcmember');
    r.mgid.copy(buf, offset);
    r.portGid.copy(buf, offset + 16);
    buf.writeUInt32BE(r.qkey, offset + 32);
    buf.writeUInt16BE(r.mlid, offset + 36);
    buf.writeUInt8((r.mtuSelector << 6) | r.mtu, offset + 38);
    buf.writeUInt8(r.trafficClass, offset + 39);
    buf.writeUInt16BE(r.pkey, offset + 40);
    buf.writeUInt8((r.rateSelector << 6) | r.rate, offset + 42);
    buf.writeUInt8((r.packetLifeTimeSelector << 6) | r.packetLifeTime, offset + 43);
    // SL sits in the top nibble, so build the word without the sign-prone `<< 28`.
    buf.writeUInt32BE(r.sl * 0x10000000 + r.flowLabel * 0x100 + r.hopLimit, offset + 44);
    buf.writeUInt8((r.scope << 4) | r.joinState, offset + 48);
    buf.writeUIntBE((r.proxyJoin ? 0x800000 : 0) | r.reserved, offset + 49, 3);
    return MCMEMBER_RECORD_LEN;
  },
  decode(buf, offset) {
    need(buf, offset, MCMEMBER_RECORD_LEN, 'mcmember');
    const mtu = buf.readUInt8(offset + 38);
    const rate = buf.readUInt8(offset + 42);
    const life = buf.readUInt8(offset + 43);
    const slFlowHop = buf.readUInt32BE(offset + 44);
    const scopeJoin = buf.readUInt8(offset + 48);
    const proxy = buf.readUIntBE(offset + 49, 3);
    return {
      value: {
        mgid: copyBytes(buf, offset, offset + 16),
        portGid: copyBytes(buf, offset + 16, offset + 32),
        qkey: buf.readUInt32BE(offset + 32),
        mlid: buf.readUInt16BE(offset + 36),
        mtuSelector: mtu >> 6,
        mtu: mtu & 0x3f,
        trafficClass: buf.readUInt8(offset + 39),
        pkey: buf.readUInt16BE(offset + 40),
        rateSelector: rate >> 6,
        rate: rate & 0x3f,
        packetLifeTimeSelector: life >> 6,
        packetLifeTime: life & 0x3f,
        sl: slFlowHop >>> 28,
        flowLabel: (slFlowHop >>> 8) & 0xfffff,
        hopLimit: slFlowHop & 0xff,
        scope: scopeJoin >> 4,
        joinState: scopeJoin & 0xf,
        proxyJoin: (proxy & 0x800000) !== 0,
        reserved: proxy & 0x7fffff,
      },
      bytes: MCMEMBER_RECORD_LEN,
    };
  },
};

/** ComponentMask bit of each MCMemberRecord component; the names are the record's field names. */
export const MCMEMBER_COMPONENT_BITS = {
  mgid: 0,
  portGid: 1,
  qkey: 2,
  mlid: 3,
  mtuSelector: 4,
  mtu: 5,
  trafficClass: 6,
  pkey: 7,
  rateSelector: 8,
  rate: 9,
  packetLifeTimeSelector: 10,
  packetLifeTime: 11,
  sl: 12,
  flowLabel: 13,
  hopLimit: 14,
  scope: 15,
  joinState: 16,
  proxyJoin: 17,
} as const satisfies Record<string, number>;

export type McMemberComponent = keyof typeof MCMEMBER_COMPONENT_BITS;

const MCMEMBER_COMPONENT_NAMES = Object.keys(MCMEMBER_COMPONENT_BITS) as McMemberComponent[];

/** The ComponentMask selecting `names` (e.g. a join: mgid, portGid, pkey, joinState -> 0x10083n). */
export function mcMemberComponentMask(names: readonly McMemberComponent[]): bigint {
  let mask = 0n;
  for (const name of names) {
    const bit: number | undefined = (MCMEMBER_COMPONENT_BITS as Record<string, number>)[name];
    if (bit === undefined) {
      throw new WireError('sa.componentMask', -1, `no MCMemberRecord component "${String(name)}"`, name);
    }
    mask |= 1n << BigInt(bit);
  }
  return mask;
}

/** The components a ComponentMask selects, in bit order; bits 18..63 have no component. */
export function mcMemberComponents(mask: bigint): McMemberComponent[] {
  checkUint64('sa.componentMask', -1, mask);
  return MCMEMBER_COMPONENT_NAMES.filter((n) => ((mask >> BigInt(MCMEMBER_COMPONENT_BITS[n])) & 1n) === 1n);
}

const JOIN_STATE_BIT_NAMES: ReadonlyArray<[number, string]> = [
  [JOIN_STATE_FULL, 'full'],
  [JOIN_STATE_NON, 'non'],
  [JOIN_STATE_SEND_ONLY_NON, 'send-only-non'],
  [JOIN_STATE_SEND_ONLY_FULL, 'send-only-full'],
];

/** Names of the JoinState bits set, e.g. 0x9 -> ['full', 'send-only-full']. */
export function joinStateNames(joinState: number): string[] {
  checkUint('mcmember.joinState', -1, joinState, 4);
  return JOIN_STATE_BIT_NAMES.filter(([bit]) => (joinState & bit) !== 0).map(([, name]) => name);
}

/** Reserved bits set after ProxyJoin. */
export function mcMemberRecordProblems(r: McMemberRecord): string[] {
  return reservedProblems('mcmember', r);
}
