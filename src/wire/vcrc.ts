/**
 * The Variant CRC (IBA vol. 1 §7.8.2): CRC-16 over every octet of the packet from the LRH
 * through the ICRC, recomputed by every switch hop. Parameters, in the Rocksoft/pycrc model:
 * width 16, poly 0x100B (x^16 + x^12 + x^3 + x + 1), init 0xFFFF, input and output reflected
 * (octets enter least significant bit first, as for the ICRC), final XOR 0xFFFF.
 *
 * Source for the bit order and inversion: Endace's dagcrc.c (DAG capture cards for InfiniBand)
 * builds its VCRC table LSB-first from 0xD008, the bit reversal of 0x100B, starts from 0xFFFF
 * and XORs the result with 0xFFFF. The check value for the ASCII octets "123456789" is 0x0A3D
 * (js-crc agrees with an independent bitwise computation of the same definition).
 *
 * The arithmetic comes from the js-crc package (a maintained, dependency-free CRC library with
 * arbitrary models), not from a table of our own.
 *
 * Byte order on the wire: least significant octet first, by the same convention as the ICRC
 * (both CRCs are defined LSB-first); no public packet dump with a VCRC was found to confirm it,
 * so `readVcrc`/`writeVcrc` are the one place to change if a capture shows otherwise.
 */
import jsCrc from 'js-crc';
import { WireError } from '../errors.js';
import { need } from './codec.js';
import { VCRC_LEN, VCRC_MODEL } from './constants.js';
import type { CrcCheck } from './icrc.js';

export { VCRC_MODEL } from './constants.js';

const vcrcModel = jsCrc.createModel({ ...VCRC_MODEL });

/** The VCRC of `covered`: the packet from the LRH through the ICRC. */
export function computeVcrc(covered: Buffer): number {
  const [hi = 0, lo = 0] = vcrcModel.array(covered);
  return (hi << 8) | lo;
}

/** The VCRC stored at `offset` (least significant octet first). */
export function readVcrc(buf: Buffer, offset: number): number {
  need(buf, offset, VCRC_LEN, 'vcrc');
  return buf.readUInt16LE(offset);
}

/** Stores `value` as the VCRC at `offset` (least significant octet first). */
export function writeVcrc(value: number, buf: Buffer, offset: number): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff) {
    throw new WireError('vcrc', offset, `${String(value)} does not fit 16 unsigned bits`, value);
  }
  need(buf, offset, VCRC_LEN, 'vcrc');
  buf.writeUInt16LE(value, offset);
}

/** Checks the VCRC of a whole wire packet (LRH..VCRC). */
export function verifyVcrc(packet: Buffer): CrcCheck {
  const at = packet.length - VCRC_LEN;
  if (at < 0) throw new WireError('vcrc', 0, `a ${packet.length}-octet packet has no room for a VCRC`, packet.length);
  const carried = readVcrc(packet, at);
  const computed = computeVcrc(packet.subarray(0, at));
  return { ok: carried === computed, carried, computed };
}

/** Recomputes the VCRC of a whole wire packet and stores it in place, as a switch does on every hop. */
export function stampVcrc(packet: Buffer): void {
  const at = packet.length - VCRC_LEN;
  if (at < 0) throw new WireError('vcrc', 0, `a ${packet.length}-octet packet has no room for a VCRC`, packet.length);
  writeVcrc(computeVcrc(packet.subarray(0, at)), packet, at);
}
