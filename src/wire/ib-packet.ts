/**
 * A whole InfiniBand wire packet, as a sniffer or an ERF record holds it:
 *
 *   LRH | [GRH] | BTH | [DETH] | [AETH] | [other ETHs] | payload | pad | ICRC | VCRC
 *
 * `encodeIbPacket` fills in what follows from the rest (LNH, PadCnt, GRH PayLen, LRH PktLen,
 * ICRC, VCRC), ignoring any such values in the headers it is given (so a decoded packet with a
 * new payload re-encodes correctly); `pin` overrides them to craft a malformed packet. `decodeIbPacket`
 * takes a packet apart and checks, in this order: the LNH names an IBA packet, PktLen matches
 * the length, GRH NxtHdr and PayLen, the OpCode's header layout, PadCnt fits the payload, then
 * the VCRC (the link layer's check) and the ICRC (the transport's). Each failure is a WireError
 * naming the field (`lrh.lnh`, `lrh.pktlen`, `grh.nxthdr`, `grh.paylen`, `bth.opcode`,
 * `bth.padcnt`, `vcrc`, `icrc`); with `verifyCrcs: false` the CRC checks are returned instead
 * of thrown, so a receiver model can count drops.
 *
 * Extended headers other than DETH and AETH (RETH, ImmDt, IETH, AtomicETH, AtomicAckETH) are
 * carried raw in `otherEth`; RD, XRC, CNP and vendor OpCodes are not taken apart.
 */
import { WireError } from '../errors.js';
import { copyBytes, need } from './codec.js';
import {
  AETH_LEN,
  BTH_LEN,
  DETH_LEN,
  GRH_IPVER,
  GRH_LEN,
  GRH_NEXT_HEADER_IBA,
  ICRC_LEN,
  LNH_IBA_GLOBAL,
  LNH_IBA_LOCAL,
  LRH_LEN,
  VCRC_LEN,
} from './constants.js';
import { type Aeth, aeth } from './aeth.js';
import { type Bth, type EthLayout, bth, ethLayoutOf, opcodeName } from './bth.js';
import { type Deth, deth } from './deth.js';
import { type Grh, grh } from './grh.js';
import { type CrcCheck, computeIcrc, readIcrc, writeIcrc } from './icrc.js';
import { type Lrh, lrh, requireIbaLnh, wireLengthOfPktLen } from './lrh.js';
import { computeVcrc, readVcrc, writeVcrc } from './vcrc.js';

export { OPCODE_NAMES, opcodeName, transportOf, ethLayoutOf, type Transport, type EthLayout } from './bth.js';

/** Makes the keys K optional: the encoder computes or defaults them. */
type Computed<T, K extends keyof T> = Omit<T, K> & Partial<Pick<T, K>>;

/** LRH input: LNH and PktLen are computed (values given are ignored); LVer and the reserved bits default to 0. */
export type LrhFields = Computed<Lrh, 'lnh' | 'pktLen' | 'lver' | 'resv2' | 'resv5'>;
/** GRH input: PayLen is computed (a value given is ignored); IPVer defaults to 6 and NxtHdr to 0x1B. */
export type GrhFields = Computed<Grh, 'payLen' | 'ipVer' | 'nxtHdr'>;
/** BTH input: PadCnt is computed (a value given is ignored); TVer and the reserved fields default to 0. */
export type BthFields = Computed<Bth, 'padCnt' | 'tVer' | 'resv8a' | 'resv7'>;

/** Values written instead of the computed ones, to craft a malformed packet for a probe. */
export interface PinnedFields {
  lnh?: number;
  pktLen?: number;
  payLen?: number;
  padCnt?: number;
  icrc?: number;
  vcrc?: number;
}

export interface IbPacketFields {
  lrh: LrhFields;
  /** Present: LNH 0b11 and a GRH; absent: LNH 0b10. */
  grh?: GrhFields;
  bth: BthFields;
  /** Required exactly for UD OpCodes. */
  deth?: Deth;
  /** Required exactly for ACK-bearing OpCodes (ACKNOWLEDGE, READ RESPONSE first/last/only, ATOMIC ACKNOWLEDGE). */
  aeth?: Aeth;
  /** Raw octets of the remaining extended headers, as long as the OpCode needs (default empty). */
  otherEth?: Buffer;
  payload: Buffer;
  pin?: PinnedFields;
}

export interface IbPacket {
  lrh: Lrh;
  grh?: Grh;
  bth: Bth;
  deth?: Deth;
  aeth?: Aeth;
  otherEth: Buffer;
  payload: Buffer;
  /** The PadCnt octets after the payload, as found (senders should send zeros). */
  pad: Buffer;
  icrc: CrcCheck;
  vcrc: CrcCheck;
}

export interface DecodeIbPacketOptions {
  /** Throw on a bad ICRC or VCRC (default true); when false, read `icrc.ok` / `vcrc.ok`. */
  verifyCrcs?: boolean;
}

/** Throws unless the extended headers given are the ones `opcode` carries. */
function checkEthLayout(f: IbPacketFields, layout: EthLayout | undefined, otherEth: Buffer): asserts layout is EthLayout {
  const op = f.bth.opcode;
  if (layout === undefined) {
    throw new WireError('bth.opcode', -1, `OpCode ${opcodeName(op)} is not one this encoder lays out (RC, UC, UD only)`, op);
  }
  if ((f.deth !== undefined) !== layout.deth) {
    throw new WireError('deth', -1, `OpCode ${opcodeName(op)} ${layout.deth ? 'needs' : 'has no'} DETH`, f.deth);
  }
  if ((f.aeth !== undefined) !== layout.aeth) {
    throw new WireError('aeth', -1, `OpCode ${opcodeName(op)} ${layout.aeth ? 'needs' : 'has no'} AETH`, f.aeth);
  }
  if (!Buffer.isBuffer(otherEth) || otherEth.length !== layout.otherEthLen) {
    throw new WireError('otherEth', -1, `OpCode ${opcodeName(op)} needs ${layout.otherEthLen} octets of other ETHs`, otherEth);
  }
}

/** Encodes a whole wire packet, LRH through VCRC. */
export function encodeIbPacket(f: IbPacketFields): Buffer {
  const otherEth = f.otherEth ?? Buffer.alloc(0);
  const layout = ethLayoutOf(f.bth.opcode);
  checkEthLayout(f, layout, otherEth);
  if (!Buffer.isBuffer(f.payload)) throw new WireError('payload', -1, 'payload must be a Buffer', f.payload);

  const padLen = (4 - (f.payload.length % 4)) % 4;
  const grhLen = f.grh ? GRH_LEN : 0;
  const headersLen =
    LRH_LEN + grhLen + BTH_LEN + (f.deth ? DETH_LEN : 0) + (f.aeth ? AETH_LEN : 0) + otherEth.length;
  const total = headersLen + f.payload.length + padLen + ICRC_LEN + VCRC_LEN;
  const buf = Buffer.alloc(total);

  const pin = f.pin ?? {};
  let o = lrh.encode(
    {
      lver: 0,
      resv2: 0,
      resv5: 0,
      ...f.lrh,
      lnh: pin.lnh ?? (f.grh ? LNH_IBA_GLOBAL : LNH_IBA_LOCAL),
      pktLen: pin.pktLen ?? (total - VCRC_LEN) / 4,
    },
    buf,
    0,
  );
  if (f.grh) {
    const payLen = pin.payLen ?? total - LRH_LEN - GRH_LEN - VCRC_LEN;
    o += grh.encode({ ipVer: GRH_IPVER, nxtHdr: GRH_NEXT_HEADER_IBA, ...f.grh, payLen }, buf, o);
  }
  o += bth.encode({ tVer: 0, resv8a: 0, resv7: 0, ...f.bth, padCnt: pin.padCnt ?? padLen }, buf, o);
  if (f.deth) o += deth.encode(f.deth, buf, o);
  if (f.aeth) o += aeth.encode(f.aeth, buf, o);
  o += otherEth.copy(buf, o);
  o += f.payload.copy(buf, o);
  o += padLen; // pad octets stay zero

  writeIcrc(pin.icrc ?? computeIcrc(buf.subarray(0, o), { global: f.grh !== undefined }), buf, o);
  o += ICRC_LEN;
  writeVcrc(pin.vcrc ?? computeVcrc(buf.subarray(0, o)), buf, o);
  return buf;
}

/** Takes a whole wire packet (LRH..VCRC) apart; see the module comment for the checks and their order. */
export function decodeIbPacket(buf: Buffer, opts: DecodeIbPacketOptions = {}): IbPacket {
  const l = lrh.decode(buf, 0).value;
  requireIbaLnh(l.lnh, 0);
  const wireLen = wireLengthOfPktLen(l.pktLen);
  if (wireLen !== buf.length) {
    throw new WireError('lrh.pktlen', 4, `PktLen ${l.pktLen} words means ${wireLen} octets with the VCRC, the packet has ${buf.length}`, l.pktLen);
  }
  let o = LRH_LEN;

  let g: Grh | undefined;
  if (l.lnh === LNH_IBA_GLOBAL) {
    g = grh.decode(buf, o).value;
    if (g.nxtHdr !== GRH_NEXT_HEADER_IBA) {
      throw new WireError('grh.nxthdr', o + 6, `NxtHdr 0x${g.nxtHdr.toString(16)} under LNH 0b11 is not an IBA transport header`, g.nxtHdr);
    }
    const payLen = buf.length - LRH_LEN - GRH_LEN - VCRC_LEN;
    if (g.payLen !== payLen) {
      throw new WireError('grh.paylen', o + 4, `PayLen ${g.payLen}, but ${payLen} octets follow the GRH through the ICRC`, g.payLen);
    }
    o += GRH_LEN;
  }

  const b = bth.decode(buf, o).value;
  const layout = ethLayoutOf(b.opcode);
  if (layout === undefined) {
    throw new WireError('bth.opcode', o, `OpCode ${opcodeName(b.opcode)} is not one this decoder takes apart (RC, UC, UD only)`, b.opcode);
  }
  o += BTH_LEN;
  let d: Deth | undefined;
  let a: Aeth | undefined;
  if (layout.deth) {
    d = deth.decode(buf, o).value;
    o += DETH_LEN;
  }
  if (layout.aeth) {
    a = aeth.decode(buf, o).value;
    o += AETH_LEN;
  }
  need(buf, o, layout.otherEthLen, 'otherEth');
  const otherEth = copyBytes(buf, o, o + layout.otherEthLen);
  o += layout.otherEthLen;

  const icrcAt = buf.length - VCRC_LEN - ICRC_LEN;
  need(buf, o, ICRC_LEN + VCRC_LEN, 'icrc');
  const bodyLen = icrcAt - o;
  if (b.padCnt > bodyLen) {
    throw new WireError('bth.padcnt', LRH_LEN + (g ? GRH_LEN : 0) + 1, `PadCnt ${b.padCnt} exceeds the ${bodyLen} octets after the headers`, b.padCnt);
  }
  const payload = copyBytes(buf, o, icrcAt - b.padCnt);
  const pad = copyBytes(buf, icrcAt - b.padCnt, icrcAt);

  const vcrcCarried = readVcrc(buf, buf.length - VCRC_LEN);
  const vcrcComputed = computeVcrc(buf.subarray(0, buf.length - VCRC_LEN));
  const vcrcCheck = { ok: vcrcCarried === vcrcComputed, carried: vcrcCarried, computed: vcrcComputed };
  const icrcCarried = readIcrc(buf, icrcAt);
  const icrcComputed = computeIcrc(buf.subarray(0, icrcAt));
  const icrcCheck = { ok: icrcCarried === icrcComputed, carried: icrcCarried, computed: icrcComputed };
  if (opts.verifyCrcs !== false) {
    if (!vcrcCheck.ok) throw crcError('vcrc', buf.length - VCRC_LEN, vcrcCheck, 4);
    if (!icrcCheck.ok) throw crcError('icrc', icrcAt, icrcCheck, 8);
  }

  const out: IbPacket = { lrh: l, bth: b, otherEth, payload, pad, icrc: icrcCheck, vcrc: vcrcCheck };
  if (g) out.grh = g;
  if (d) out.deth = d;
  if (a) out.aeth = a;
  return out;
}

function crcError(field: 'icrc' | 'vcrc', offset: number, c: CrcCheck, digits: number): WireError {
  const h = (v: number): string => `0x${v.toString(16).padStart(digits, '0')}`;
  return new WireError(field, offset, `carried ${h(c.carried)}, computed ${h(c.computed)}`, c.carried);
}
