/**
 * The Datagram Extended Transport Header (IBA vol. 1 §9.3.3), 8 octets, after the BTH of every
 * UD packet (IPoIB's datagram mode):
 *
 *   octets 0-3  Q_Key
 *   octet 4     reserved
 *   octets 5-7  SrcQP
 *
 * Decoding keeps the reserved octet as found; `dethProblems` judges it.
 */
import { type Codec, checkUint, need } from './codec.js';
import { DETH_LEN } from './constants.js';

export interface Deth {
  qKey: number;
  /** Octet 4, sent as 0. */
  resv8: number;
  srcQp: number;
}

export const deth: Codec<Deth> = {
  encodingLength: () => DETH_LEN,
  encode(h, buf, offset) {
    checkUint('deth.qkey', offset, h.qKey, 32);
    checkUint('deth.resv8', offset + 4, h.resv8, 8);
    checkUint('deth.srcqp', offset + 5, h.srcQp, 24);
    need(buf, offset, DETH_LEN, 'deth');
    buf.writeUInt32BE(h.qKey, offset);
    buf.writeUInt8(h.resv8, offset + 4);
    buf.writeUIntBE(h.srcQp, offset + 5, 3);
    return DETH_LEN;
  },
  decode(buf, offset) {
    need(buf, offset, DETH_LEN, 'deth');
    return {
      value: {
        qKey: buf.readUInt32BE(offset),
        resv8: buf.readUInt8(offset + 4),
        srcQp: buf.readUIntBE(offset + 5, 3),
      },
      bytes: DETH_LEN,
    };
  },
};

/** What a sender got wrong in this DETH (empty when nothing). */
export function dethProblems(h: Deth): string[] {
  return h.resv8 === 0 ? [] : [`deth.resv8 is 0x${h.resv8.toString(16)}, must be sent as 0`];
}
