/**
 * The Base Transport Header (IBA vol. 1 §9.2), 12 octets:
 *
 *   octet 0     OpCode (transport in bits 7-5, operation in bits 4-0)
 *   octet 1     SE(1) | M(1) | PadCnt(2) | TVer(4)
 *   octets 2-3  P_Key
 *   octet 4     resv8a (its top bits are FECN 0x80 and BECN 0x40 in the congestion-control
 *               annex; switches may set them, so the ICRC treats the octet as variant)
 *   octets 5-7  DestQP
 *   octet 8     A(1) | reserved(7)
 *   octets 9-11 PSN
 *
 * Decoding is faithful: TVer and the reserved bits are kept; `bthProblems` judges them.
 * The OpCode names and which extended headers each OpCode carries live here too, because they
 * are what the OpCode field means.
 */
import { WireError } from '../errors.js';
import { type Codec, checkUint, need } from './codec.js';
import {
  BTH_LEN,
  BTH_RESV8A_BECN,
  BTH_RESV8A_FECN,
  BTH_TRANSPORT_CNP,
  BTH_TRANSPORT_RC,
  BTH_TRANSPORT_RD,
  BTH_TRANSPORT_UC,
  BTH_TRANSPORT_UD,
  BTH_TRANSPORT_XRC,
} from './constants.js';

export { BTH_RESV8A_BECN, BTH_RESV8A_FECN } from './constants.js';

export interface Bth {
  opcode: number;
  /** Solicited event. */
  se: boolean;
  /** Migration request (M). */
  migReq: boolean;
  /** Pad octets (0-3) after the payload that bring it to a 4-octet multiple. */
  padCnt: number;
  /** Transport header version, 4 bits; 0 is the only version defined. */
  tVer: number;
  pKey: number;
  /** Octet 4: FECN, BECN and 6 reserved bits, kept as found. */
  resv8a: number;
  destQp: number;
  /** Acknowledge request (A). */
  ackReq: boolean;
  /** The 7 reserved bits after A, kept as found. */
  resv7: number;
  psn: number;
}

function checkBool(field: string, offset: number, v: boolean): void {
  if (typeof v !== 'boolean') throw new WireError(field, offset, `want a boolean, got ${typeof v}`, v);
}

export const bth: Codec<Bth> = {
  encodingLength: () => BTH_LEN,
  encode(h, buf, offset) {
    checkUint('bth.opcode', offset, h.opcode, 8);
    checkBool('bth.se', offset + 1, h.se);
    checkBool('bth.m', offset + 1, h.migReq);
    checkUint('bth.padcnt', offset + 1, h.padCnt, 2);
    checkUint('bth.tver', offset + 1, h.tVer, 4);
    checkUint('bth.pkey', offset + 2, h.pKey, 16);
    checkUint('bth.resv8a', offset + 4, h.resv8a, 8);
    checkUint('bth.destqp', offset + 5, h.destQp, 24);
    checkBool('bth.a', offset + 8, h.ackReq);
    checkUint('bth.resv7', offset + 8, h.resv7, 7);
    checkUint('bth.psn', offset + 9, h.psn, 24);
    need(buf, offset, BTH_LEN, 'bth');
    buf.writeUInt8(h.opcode, offset);
    buf.writeUInt8((h.se ? 0x80 : 0) | (h.migReq ? 0x40 : 0) | (h.padCnt << 4) | h.tVer, offset + 1);
    buf.writeUInt16BE(h.pKey, offset + 2);
    buf.writeUInt8(h.resv8a, offset + 4);
    buf.writeUIntBE(h.destQp, offset + 5, 3);
    buf.writeUInt8((h.ackReq ? 0x80 : 0) | h.resv7, offset + 8);
    buf.writeUIntBE(h.psn, offset + 9, 3);
    return BTH_LEN;
  },
  decode(buf, offset) {
    need(buf, offset, BTH_LEN, 'bth');
    const o1 = buf.readUInt8(offset + 1);
    const o8 = buf.readUInt8(offset + 8);
    return {
      value: {
        opcode: buf.readUInt8(offset),
        se: (o1 & 0x80) !== 0,
        migReq: (o1 & 0x40) !== 0,
        padCnt: (o1 >> 4) & 0x03,
        tVer: o1 & 0x0f,
        pKey: buf.readUInt16BE(offset + 2),
        resv8a: buf.readUInt8(offset + 4),
        destQp: buf.readUIntBE(offset + 5, 3),
        ackReq: (o8 & 0x80) !== 0,
        resv7: o8 & 0x7f,
        psn: buf.readUIntBE(offset + 9, 3),
      },
      bytes: BTH_LEN,
    };
  },
};

/** What a sender got wrong in this BTH (empty when nothing). FECN/BECN are not judged: switches set them. */
export function bthProblems(h: Bth): string[] {
  const out: string[] = [];
  if (h.tVer !== 0) out.push(`bth.tver is ${h.tVer}, only version 0 is defined`);
  const resv6 = h.resv8a & ~(BTH_RESV8A_FECN | BTH_RESV8A_BECN) & 0xff;
  if (resv6 !== 0) out.push(`bth.resv8a has reserved bits 0x${resv6.toString(16)} set`);
  if (h.resv7 !== 0) out.push(`bth.resv7 is 0x${h.resv7.toString(16)}, must be sent as 0`);
  return out;
}

// ---- OpCodes

/** Transport service named by the top 3 bits of the OpCode. */
export type Transport = 'RC' | 'UC' | 'RD' | 'UD' | 'CNP' | 'XRC' | 'vendor';

export function transportOf(opcode: number): Transport {
  switch (opcode & 0xe0) {
    case BTH_TRANSPORT_RC:
      return 'RC';
    case BTH_TRANSPORT_UC:
      return 'UC';
    case BTH_TRANSPORT_RD:
      return 'RD';
    case BTH_TRANSPORT_UD:
      return 'UD';
    case BTH_TRANSPORT_CNP:
      return 'CNP';
    case BTH_TRANSPORT_XRC:
      return 'XRC';
    default:
      return 'vendor'; // 0xC0-0xFF: manufacturer-specific
  }
}

/**
 * The operation codes (low 5 bits) with what follows the BTH for each: whether a DETH or an
 * AETH comes first, and how many octets of the other extended headers (RETH 16, ImmDt 4,
 * IETH 4, AtomicETH 28, AtomicAckETH 8) come after them. `on` lists the transports that define
 * the operation (RD's RDETH-first layouts are not modelled here).
 */
interface Operation {
  name: string;
  on: readonly Transport[];
  aeth?: true;
  otherEthLen: number;
}
/** Transports with SEND and RDMA WRITE, and the reliable ones that add READ, ACK and atomics. */
const CONNECTED: readonly Transport[] = ['RC', 'UC', 'RD', 'XRC'];
const RELIABLE: readonly Transport[] = ['RC', 'RD', 'XRC'];
const OPERATIONS: Readonly<Record<number, Operation>> = {
  0x00: { name: 'SEND_FIRST', on: CONNECTED, otherEthLen: 0 },
  0x01: { name: 'SEND_MIDDLE', on: CONNECTED, otherEthLen: 0 },
  0x02: { name: 'SEND_LAST', on: CONNECTED, otherEthLen: 0 },
  0x03: { name: 'SEND_LAST_WITH_IMMEDIATE', on: CONNECTED, otherEthLen: 4 },
  0x04: { name: 'SEND_ONLY', on: [...CONNECTED, 'UD'], otherEthLen: 0 },
  0x05: { name: 'SEND_ONLY_WITH_IMMEDIATE', on: [...CONNECTED, 'UD'], otherEthLen: 4 },
  0x06: { name: 'RDMA_WRITE_FIRST', on: CONNECTED, otherEthLen: 16 },
  0x07: { name: 'RDMA_WRITE_MIDDLE', on: CONNECTED, otherEthLen: 0 },
  0x08: { name: 'RDMA_WRITE_LAST', on: CONNECTED, otherEthLen: 0 },
  0x09: { name: 'RDMA_WRITE_LAST_WITH_IMMEDIATE', on: CONNECTED, otherEthLen: 4 },
  0x0a: { name: 'RDMA_WRITE_ONLY', on: CONNECTED, otherEthLen: 16 },
  0x0b: { name: 'RDMA_WRITE_ONLY_WITH_IMMEDIATE', on: CONNECTED, otherEthLen: 20 },
  0x0c: { name: 'RDMA_READ_REQUEST', on: RELIABLE, otherEthLen: 16 },
  0x0d: { name: 'RDMA_READ_RESPONSE_FIRST', on: RELIABLE, aeth: true, otherEthLen: 0 },
  0x0e: { name: 'RDMA_READ_RESPONSE_MIDDLE', on: RELIABLE, otherEthLen: 0 },
  0x0f: { name: 'RDMA_READ_RESPONSE_LAST', on: RELIABLE, aeth: true, otherEthLen: 0 },
  0x10: { name: 'RDMA_READ_RESPONSE_ONLY', on: RELIABLE, aeth: true, otherEthLen: 0 },
  0x11: { name: 'ACKNOWLEDGE', on: RELIABLE, aeth: true, otherEthLen: 0 },
  0x12: { name: 'ATOMIC_ACKNOWLEDGE', on: RELIABLE, aeth: true, otherEthLen: 8 },
  0x13: { name: 'COMPARE_SWAP', on: RELIABLE, otherEthLen: 28 },
  0x14: { name: 'FETCH_ADD', on: RELIABLE, otherEthLen: 28 },
  0x15: { name: 'RESYNC', on: ['RD'], otherEthLen: 0 },
  0x16: { name: 'SEND_LAST_WITH_INVALIDATE', on: ['RC', 'XRC'], otherEthLen: 4 },
  0x17: { name: 'SEND_ONLY_WITH_INVALIDATE', on: ['RC', 'XRC'], otherEthLen: 4 },
};

/** Every defined OpCode by name, e.g. 0x04 'RC_SEND_ONLY', 0x64 'UD_SEND_ONLY', 0x81 'CNP'. */
export const OPCODE_NAMES: Readonly<Record<number, string>> = (() => {
  const bases: Array<[Transport, number]> = [
    ['RC', BTH_TRANSPORT_RC],
    ['UC', BTH_TRANSPORT_UC],
    ['RD', BTH_TRANSPORT_RD],
    ['UD', BTH_TRANSPORT_UD],
    ['XRC', BTH_TRANSPORT_XRC],
  ];
  const names: Record<number, string> = {};
  for (const [transport, base] of bases) {
    for (const [code, op] of Object.entries(OPERATIONS)) {
      if (op.on.includes(transport)) names[base | Number(code)] = `${transport}_${op.name}`;
    }
  }
  names[BTH_TRANSPORT_CNP | 0x01] = 'CNP'; // RoCE v2 congestion notification packet
  return Object.freeze(names);
})();

/** `RC_SEND_ONLY`, ... or `0xNN` for an OpCode without a name. */
export function opcodeName(opcode: number): string {
  return OPCODE_NAMES[opcode] ?? `0x${opcode.toString(16).padStart(2, '0')}`;
}

/** What follows the BTH for one OpCode, in wire order: DETH, then AETH, then the other ETHs. */
export interface EthLayout {
  deth: boolean;
  aeth: boolean;
  /** Octets of the extended headers this project keeps raw (RETH, ImmDt, IETH, AtomicETH, AtomicAckETH). */
  otherEthLen: number;
}

/**
 * The extended-header layout of an RC, UC or UD OpCode; undefined for RD (RDETH first), XRC
 * (XRCETH first), CNP, manufacturer-specific and undefined OpCodes, which this project does not
 * take apart.
 */
export function ethLayoutOf(opcode: number): EthLayout | undefined {
  const transport = transportOf(opcode);
  if (transport !== 'RC' && transport !== 'UC' && transport !== 'UD') return undefined;
  const op = OPERATIONS[opcode & 0x1f];
  if (op === undefined || !op.on.includes(transport)) return undefined;
  return { deth: transport === 'UD', aeth: op.aeth === true, otherEthLen: op.otherEthLen };
}
