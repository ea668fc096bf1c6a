/**
 * Picking a capture apart by what the packets carry: IPoIB frames (UD sends to a data QP) and
 * management datagrams (UD to or from QP1). Pure functions over decoded packets; packets that
 * did not decode, or are neither, are left out. Nothing is judged here (a reserved field set, a
 * bad CRC): the packet is kept as it was and the suite decides.
 */
import { WireError } from '../errors.js';
import type { CapturedMad, CapturedPacket, IpoibFrame } from './capture.js';
import { IPOIB_HEADER_LEN, OP_UD_SEND_ONLY, QPN_GSI, QPN_SMI } from '../wire/constants.js';
import type { Deth } from '../wire/deth.js';
import type { IbPacket } from '../wire/ib-packet.js';
import { ipoibHeader } from '../wire/ipoib-header.js';
import { parseMad } from '../wire/mad.js';

type UdPacket = IbPacket & { deth: Deth };

/** A decoded UD SEND Only packet (the opcode IPoIB and the GSI use), else null. */
function udSendOnly(p: CapturedPacket): UdPacket | null {
  const ib = p.ib;
  if (!ib || ib.bth.opcode !== OP_UD_SEND_ONLY || !ib.deth) return null;
  return ib as UdPacket;
}

function addressing(ib: UdPacket): { slid: number; dlid: number; srcQpn: number; destQpn: number; qkey: number; pkey: number } {
  return { slid: ib.lrh.slid, dlid: ib.lrh.dlid, srcQpn: ib.deth.srcQp, destQpn: ib.bth.destQp, qkey: ib.deth.qKey, pkey: ib.bth.pKey };
}

/** The UD packets to a QP other than QP0 and QP1, with the IPoIB header taken off. */
export function ipoibFrames(packets: readonly CapturedPacket[]): IpoibFrame[] {
  const out: IpoibFrame[] = [];
  for (const packet of packets) {
    const ib = udSendOnly(packet);
    if (!ib || ib.bth.destQp === QPN_SMI || ib.bth.destQp === QPN_GSI) continue;
    const short = ib.payload.length < IPOIB_HEADER_LEN;
    out.push({
      packet,
      ib,
      ...addressing(ib),
      header: short ? null : ipoibHeader.decode(ib.payload, 0).value,
      body: short ? Buffer.alloc(0) : ib.payload.subarray(IPOIB_HEADER_LEN),
    });
  }
  return out;
}

/** The UD packets to or from QP1, each with its MAD decoded (or why it could not be). */
export function madsOf(packets: readonly CapturedPacket[]): CapturedMad[] {
  const out: CapturedMad[] = [];
  for (const packet of packets) {
    const ib = udSendOnly(packet);
    if (!ib || (ib.bth.destQp !== QPN_GSI && ib.deth.srcQp !== QPN_GSI)) continue;
    let mad: CapturedMad['mad'] = null;
    let decodeError: string | undefined;
    try {
      mad = parseMad(ib.payload);
    } catch (e) {
      if (!(e instanceof WireError)) throw e;
      decodeError = e.message;
    }
    out.push({ packet, ib, ...addressing(ib), mad, ...(decodeError !== undefined ? { decodeError } : {}) });
  }
  return out;
}
