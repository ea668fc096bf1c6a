/**
 * The Invariant CRC (IBA vol. 1 §7.8.1): CRC-32 with the Ethernet polynomial, exactly as
 * `zlib.crc32` computes it (reflected, initial value and final XOR all ones), over the packet
 * from the first octet of the LRH through the last pad octet, with the fields that switches and
 * routers may change replaced by ones:
 *
 *   local packet (LNH 0b10):  LRH VL (the high nibble of octet 0); BTH resv8a (octet 4 of BTH).
 *   global packet (LNH 0b11): the whole LRH (routers rebuild it); GRH TClass, FlowLabel and
 *                             HopLmt; BTH resv8a.
 *
 * Sources: the masked-field lists of IBA §7.8.1 as summarised in MindShare's "InfiniBand Network
 * Architecture" ch. 25 (local: LRH except VL; global: GRH IPVer/PayLen/NxtHdr/SGID/DGID, no LRH);
 * Linux rxe (drivers/infiniband/sw/rxe/rxe_icrc.c), which for RoCE seeds the CRC with 0xdebb20e3,
 * the CRC state after eight 0xFF octets, i.e. an all-ones LRH, and sets the TClass, FlowLabel,
 * HopLmt and BTH resv8a bits to ones; scapy's contrib/roce.py does the same with zlib.crc32.
 *
 * Byte order on the wire: the CRC value is stored least significant octet first (rxe stores the
 * CRC word as computed on a little-endian host; scapy packs it big-endian and reverses the
 * octets). `readIcrc`/`writeIcrc` are the one place that knows this.
 */
import { crc32 } from 'node:zlib';
import { WireError } from '../errors.js';
import { need } from './codec.js';
import { BTH_LEN, GRH_LEN, ICRC_LEN, LNH_IBA_GLOBAL, LRH_LEN, VCRC_LEN } from './constants.js';
import { requireIbaLnh } from './lrh.js';

export interface IcrcOptions {
  /**
   * Where the covered octets start: 'lrh' (native InfiniBand, the default) or 'grh' (RoCE v1,
   * where an all-ones pseudo-LRH stands in for the absent LRH).
   */
  startsAt?: 'lrh' | 'grh';
  /**
   * Whether a GRH follows the LRH. Defaults to what the LRH's LNH says; give it to compute the
   * ICRC of a packet whose LNH is deliberately wrong.
   */
  global?: boolean;
}

/** Result of checking one CRC: the value carried on the wire and the one computed here. */
export interface CrcCheck {
  ok: boolean;
  carried: number;
  computed: number;
}

const ALL_ONES_LRH = Buffer.alloc(LRH_LEN, 0xff);
const BTH_RESV8A_OFFSET = 4; // octet of BTH that holds resv8a

/** A copy of the covered headers (LRH..BTH) with the variant fields set to ones; the rest is never masked. */
function maskedHeaders(covered: Buffer, opts: IcrcOptions): Buffer {
  if (opts.startsAt === 'grh') {
    need(covered, 0, GRH_LEN + BTH_LEN, 'icrc.headers');
    const h = Buffer.concat([ALL_ONES_LRH, covered.subarray(0, GRH_LEN + BTH_LEN)]);
    maskGrhAndBth(h, LRH_LEN);
    return h;
  }
  need(covered, 0, LRH_LEN, 'icrc.headers');
  const global = opts.global ?? (covered.readUInt8(1) & 0x03) === LNH_IBA_GLOBAL;
  if (opts.global === undefined) requireIbaLnh(covered.readUInt8(1) & 0x03, 0);
  const len = LRH_LEN + (global ? GRH_LEN : 0) + BTH_LEN;
  need(covered, 0, len, 'icrc.headers');
  const h = Buffer.from(covered.subarray(0, len));
  if (global) {
    h.fill(0xff, 0, LRH_LEN);
    maskGrhAndBth(h, LRH_LEN);
  } else {
    h[0] = (h[0] ?? 0) | 0xf0; // VL
    h[LRH_LEN + BTH_RESV8A_OFFSET] = 0xff;
  }
  return h;
}

/** Sets GRH TClass, FlowLabel and HopLmt, and the following BTH's resv8a, to ones. */
function maskGrhAndBth(h: Buffer, grhAt: number): void {
  h[grhAt] = (h[grhAt] ?? 0) | 0x0f; // TClass high nibble (IPVer stays)
  h.fill(0xff, grhAt + 1, grhAt + 4); // TClass low nibble + FlowLabel
  h[grhAt + 7] = 0xff; // HopLmt
  h[grhAt + GRH_LEN + BTH_RESV8A_OFFSET] = 0xff;
}

/**
 * The ICRC of `covered`: the packet from the LRH (or, with `startsAt: 'grh'`, the GRH) through
 * the last pad octet, with neither CRC. Returns the CRC as `zlib.crc32` reports it.
 */
export function computeIcrc(covered: Buffer, opts: IcrcOptions = {}): number {
  const headers = maskedHeaders(covered, opts);
  const maskedLen = headers.length - (opts.startsAt === 'grh' ? LRH_LEN : 0);
  return crc32(covered.subarray(maskedLen), crc32(headers));
}

/** The ICRC stored at `offset` (least significant octet first). */
export function readIcrc(buf: Buffer, offset: number): number {
  need(buf, offset, ICRC_LEN, 'icrc');
  return buf.readUInt32LE(offset);
}

/** Stores `value` as the ICRC at `offset` (least significant octet first). */
export function writeIcrc(value: number, buf: Buffer, offset: number): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new WireError('icrc', offset, `${String(value)} does not fit 32 unsigned bits`, value);
  }
  need(buf, offset, ICRC_LEN, 'icrc');
  buf.writeUInt32LE(value, offset);
}

export interface VerifyIcrcOptions extends IcrcOptions {
  /** Whether `packet` still ends with the 2-octet VCRC after the ICRC (default true: a whole wire packet). */
  vcrcPresent?: boolean;
}

/** Checks the ICRC of a packet that ends with its ICRC (and, by default, its VCRC after that). */
export function verifyIcrc(packet: Buffer, opts: VerifyIcrcOptions = {}): CrcCheck {
  const icrcAt = packet.length - ICRC_LEN - (opts.vcrcPresent === false ? 0 : VCRC_LEN);
  if (icrcAt < 0) throw new WireError('icrc', 0, `a ${packet.length}-octet packet has no room for its CRCs`, packet.length);
  const carried = readIcrc(packet, icrcAt);
  const computed = computeIcrc(packet.subarray(0, icrcAt), opts);
  return { ok: carried === computed, carried, computed };
}

/** Recomputes the ICRC of a whole wire packet (LRH..VCRC) and stores it in place; the VCRC is left as it was. */
export function stampIcrc(packet: Buffer, opts: IcrcOptions = {}): void {
  const icrcAt = packet.length - ICRC_LEN - VCRC_LEN;
  if (icrcAt < 0) throw new WireError('icrc', 0, `a ${packet.length}-octet packet has no room for its CRCs`, packet.length);
  writeIcrc(computeIcrc(packet.subarray(0, icrcAt), opts), packet, icrcAt);
}
