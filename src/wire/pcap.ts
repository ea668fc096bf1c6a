/**
 * Capture files: classic libpcap (microsecond timestamps) with the two link types that carry
 * InfiniBand and that this platform's tshark reads (shared/research/platform-notes.md):
 *
 * - LINKTYPE_ERF (197): each record is an ERF record, a 16-octet header then the raw IB packet
 *   (LRH first, ICRC and VCRC included), ERF type 21 (InfiniBand). This is what Mellanox ibdump
 *   writes.
 * - LINKTYPE_IPOIB (242): a 40-octet pseudo-header, then the 4-octet IPoIB header and payload.
 *   The pseudo-header has two forms, told apart by its first two octets: zero means "unicast,
 *   only the destination is known" (20 zero octets, then the 20-octet destination hardware
 *   address); non-zero means a GRH-like header (IPVer/TClass/FlowLabel, source QPN in octets
 *   5-7, SGID, DGID), as Wireshark's packet-ipoib.c reads it.
 *
 * The file header and record headers are written in the host's byte order by default (so the
 * magic 0xa1b2c3d4 reads back natively), and both orders are read.
 *
 * ERF header (16 octets): timestamp, a 64-bit little-endian fixed-point number (seconds in the
 * high 32 bits, binary fraction of a second in the low 32); type (bit 7: extension headers
 * follow); flags (bits 1-0 capture interface, 0x04 varying length, 0x08 truncated, 0x10 RX
 * error, 0x20 DS error); rlen, the record's length including this header (big-endian); lctr,
 * a loss counter (big-endian); wlen, the packet's length on the wire (big-endian).
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { endianness } from 'node:os';
import { WireError } from '../errors.js';
import { type Codec, checkBytes, checkUint, copyBytes, need } from './codec.js';
import {
  ERF_FLAG_VLEN,
  ERF_HEADER_LEN,
  ERF_TYPE_EXTENSION_BIT,
  ERF_TYPE_INFINIBAND,
  GID_LEN,
  IPOIB_HEADER_LEN,
  IPOIB_HWADDR_LEN,
  IPOIB_PCAP_PSEUDO_HEADER_LEN,
  PCAP_DEFAULT_SNAPLEN,
  PCAP_FILE_HEADER_LEN,
  PCAP_MAGIC_NSEC,
  PCAP_MAGIC_USEC,
  PCAP_RECORD_HEADER_LEN,
  PCAP_VERSION_MAJOR,
  PCAP_VERSION_MINOR,
} from './constants.js';
import { type IpoibHeader, ipoibHeader } from './ipoib-header.js';

// The capture-format constants live in constants.ts; re-exported for existing importers.
export {
  ERF_FLAG_DSERR,
  ERF_FLAG_IFACE_MASK,
  ERF_FLAG_RXERR,
  ERF_FLAG_TRUNC,
  ERF_FLAG_VLEN,
  ERF_HEADER_LEN,
  ERF_TYPE_EXTENSION_BIT,
  PCAP_DEFAULT_SNAPLEN,
  PCAP_FILE_HEADER_LEN,
  PCAP_MAGIC_NSEC,
  PCAP_MAGIC_USEC,
  PCAP_RECORD_HEADER_LEN,
  PCAP_VERSION_MAJOR,
  PCAP_VERSION_MINOR,
} from './constants.js';

export type ByteOrder = 'LE' | 'BE';

/** Seconds and microseconds since the epoch, as a pcap record header holds them. */
export interface PcapTimestamp {
  tsSec: number;
  tsUsec: number;
}

export interface PcapRecord extends PcapTimestamp {
  /** The captured octets (at most the snaplen). */
  data: Buffer;
  /** The packet's length before the capture cut it. */
  origLen: number;
}

export interface PcapFile {
  linktype: number;
  snaplen: number;
  byteOrder: ByteOrder;
  versionMajor: number;
  versionMinor: number;
  /** GMT offset and timestamp accuracy fields, kept as found (writers put 0). */
  thiszone: number;
  sigfigs: number;
  records: PcapRecord[];
}

// ---- pcap file and records

function checkTimestamp(field: string, ts: PcapTimestamp): void {
  checkUint(`${field}.ts_sec`, -1, ts.tsSec, 32);
  if (!Number.isInteger(ts.tsUsec) || ts.tsUsec < 0 || ts.tsUsec >= 1_000_000) {
    throw new WireError(`${field}.ts_usec`, -1, `${String(ts.tsUsec)} is not a microsecond count below 1000000`, ts.tsUsec);
  }
}

function put32(buf: Buffer, v: number, offset: number, order: ByteOrder): void {
  if (order === 'LE') buf.writeUInt32LE(v, offset);
  else buf.writeUInt32BE(v, offset);
}

function get32(buf: Buffer, offset: number, order: ByteOrder): number {
  return order === 'LE' ? buf.readUInt32LE(offset) : buf.readUInt32BE(offset);
}

function fileHeader(linktype: number, snaplen: number, order: ByteOrder): Buffer {
  const h = Buffer.alloc(PCAP_FILE_HEADER_LEN);
  put32(h, PCAP_MAGIC_USEC, 0, order);
  const put16 = order === 'LE' ? h.writeUInt16LE.bind(h) : h.writeUInt16BE.bind(h);
  put16(PCAP_VERSION_MAJOR, 4);
  put16(PCAP_VERSION_MINOR, 6);
  // thiszone (8) and sigfigs (12) stay 0
  put32(h, snaplen, 16, order);
  put32(h, linktype, 20, order);
  return h;
}

export interface PcapWriterOptions {
  linktype: number;
  snaplen?: number;
  /** Byte order of the file and record headers; default the host's. */
  byteOrder?: ByteOrder;
}

export interface PcapAppend extends PcapTimestamp {
  data: Buffer;
  /** Length on the wire; defaults to `data.length`. */
  origLen?: number;
}

/**
 * Writes a pcap file, to a path (each record is written as it is appended) or into memory.
 * Records longer than the snaplen are cut to it, keeping their original length, as a capture
 * does.
 */
export class PcapWriter {
  private closed = false;
  private readonly chunks: Buffer[] = [];

  private constructor(
    readonly linktype: number,
    readonly snaplen: number,
    readonly byteOrder: ByteOrder,
    private readonly fd: number | null,
  ) {
    this.emit(fileHeader(linktype, snaplen, byteOrder));
  }

  private static settle(opts: PcapWriterOptions): [number, number, ByteOrder] {
    const snaplen = opts.snaplen ?? PCAP_DEFAULT_SNAPLEN;
    checkUint('pcap.linktype', 20, opts.linktype, 32);
    checkUint('pcap.snaplen', 16, snaplen, 32);
    return [opts.linktype, snaplen, opts.byteOrder ?? (endianness() === 'LE' ? 'LE' : 'BE')];
  }

  /** A writer that creates (or truncates) the file at `path` and writes the file header at once. */
  static toFile(path: string, opts: PcapWriterOptions): PcapWriter {
    const [linktype, snaplen, order] = PcapWriter.settle(opts);
    return new PcapWriter(linktype, snaplen, order, openSync(path, 'w'));
  }

  /** A writer whose file `toBuffer()` returns. */
  static inMemory(opts: PcapWriterOptions): PcapWriter {
    const [linktype, snaplen, order] = PcapWriter.settle(opts);
    return new PcapWriter(linktype, snaplen, order, null);
  }

  private emit(b: Buffer): void {
    if (this.fd === null) this.chunks.push(b);
    else writeSync(this.fd, b);
  }

  append(rec: PcapAppend): void {
    if (this.closed) throw new WireError('pcap', -1, 'append after close');
    checkTimestamp('pcap.record', rec);
    if (!Buffer.isBuffer(rec.data)) throw new WireError('pcap.record.data', -1, 'data must be a Buffer', rec.data);
    const origLen = rec.origLen ?? rec.data.length;
    checkUint('pcap.record.orig_len', -1, origLen, 32);
    if (origLen < rec.data.length) {
      throw new WireError('pcap.record.orig_len', -1, `${origLen} is shorter than the ${rec.data.length} octets given`, origLen);
    }
    const data = rec.data.subarray(0, Math.min(rec.data.length, this.snaplen));
    const h = Buffer.alloc(PCAP_RECORD_HEADER_LEN);
    put32(h, rec.tsSec, 0, this.byteOrder);
    put32(h, rec.tsUsec, 4, this.byteOrder);
    put32(h, data.length, 8, this.byteOrder);
    put32(h, origLen, 12, this.byteOrder);
    this.emit(h);
    this.emit(Buffer.from(data));
  }

  /** Closes the file (a no-op in memory); later appends throw. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.fd !== null) closeSync(this.fd);
  }

  /** The whole file so far (in-memory writers only). */
  toBuffer(): Buffer {
    if (this.fd !== null) throw new WireError('pcap', -1, 'toBuffer() is for in-memory writers; this one writes a file');
    return Buffer.concat(this.chunks);
  }
}

/**
 * Reads a classic microsecond pcap file in either byte order. Throws WireError on a bad magic
 * (`pcap.magic`), a short file header (`pcap.header`), a short record header or body
 * (`pcap.record[i].header` / `.data`), a record longer than the snaplen (`pcap.record[i].incl_len`)
 * or one whose original length is below its captured length (`pcap.record[i].orig_len`).
 */
export function readPcap(buf: Buffer): PcapFile {
  need(buf, 0, 4, 'pcap.magic');
  const magicLE = buf.readUInt32LE(0);
  const magicBE = buf.readUInt32BE(0);
  let order: ByteOrder;
  if (magicLE === PCAP_MAGIC_USEC) order = 'LE';
  else if (magicBE === PCAP_MAGIC_USEC) order = 'BE';
  else if (magicLE === PCAP_MAGIC_NSEC || magicBE === PCAP_MAGIC_NSEC) {
    throw new WireError('pcap.magic', 0, 'nanosecond-resolution pcap is not supported', magicBE);
  } else {
    throw new WireError('pcap.magic', 0, `0x${magicBE.toString(16).padStart(8, '0')} is not a pcap magic number`, magicBE);
  }
  need(buf, 0, PCAP_FILE_HEADER_LEN, 'pcap.header');
  const get16 = (o: number): number => (order === 'LE' ? buf.readUInt16LE(o) : buf.readUInt16BE(o));
  const snaplen = get32(buf, 16, order);
  const file: PcapFile = {
    linktype: get32(buf, 20, order),
    snaplen,
    byteOrder: order,
    versionMajor: get16(4),
    versionMinor: get16(6),
    thiszone: order === 'LE' ? buf.readInt32LE(8) : buf.readInt32BE(8),
    sigfigs: get32(buf, 12, order),
    records: [],
  };

  let o = PCAP_FILE_HEADER_LEN;
  for (let i = 0; o < buf.length; i++) {
    const field = `pcap.record[${i}]`;
    need(buf, o, PCAP_RECORD_HEADER_LEN, `${field}.header`);
    const inclLen = get32(buf, o + 8, order);
    const origLen = get32(buf, o + 12, order);
    if (inclLen > snaplen) {
      throw new WireError(`${field}.incl_len`, o + 8, `${inclLen} octets exceed the snaplen ${snaplen}`, inclLen);
    }
    if (origLen < inclLen) {
      throw new WireError(`${field}.orig_len`, o + 12, `original length ${origLen} is below the captured ${inclLen}`, origLen);
    }
    need(buf, o + PCAP_RECORD_HEADER_LEN, inclLen, `${field}.data`);
    file.records.push({
      tsSec: get32(buf, o, order),
      tsUsec: get32(buf, o + 4, order),
      data: copyBytes(buf, o + PCAP_RECORD_HEADER_LEN, o + PCAP_RECORD_HEADER_LEN + inclLen),
      origLen,
    });
    o += PCAP_RECORD_HEADER_LEN + inclLen;
  }
  return file;
}

// ---- ERF records (LINKTYPE_ERF)

export interface ErfHeader {
  /** Whole seconds (high 32 bits of the timestamp). */
  tsSec: number;
  /** Binary fraction of a second, in units of 2^-32 s (low 32 bits). */
  tsFrac: number;
  /** Record type; bit 7 set means extension headers follow. */
  type: number;
  flags: number;
  /** Record length, this header included. */
  rlen: number;
  lctr: number;
  /** Packet length on the wire. */
  wlen: number;
}

/** The 16-octet ERF header, taken as found; `parseErfRecord` judges it. */
export const erfHeader: Codec<ErfHeader> = {
  encodingLength: () => ERF_HEADER_LEN,
  encode(h, buf, offset) {
    checkUint('erf.ts.frac', offset, h.tsFrac, 32);
    checkUint('erf.ts.sec', offset + 4, h.tsSec, 32);
    checkUint('erf.type', offset + 8, h.type, 8);
    checkUint('erf.flags', offset + 9, h.flags, 8);
    checkUint('erf.rlen', offset + 10, h.rlen, 16);
    checkUint('erf.lctr', offset + 12, h.lctr, 16);
    checkUint('erf.wlen', offset + 14, h.wlen, 16);
    need(buf, offset, ERF_HEADER_LEN, 'erf.header');
    buf.writeUInt32LE(h.tsFrac, offset);
    buf.writeUInt32LE(h.tsSec, offset + 4);
    buf.writeUInt8(h.type, offset + 8);
    buf.writeUInt8(h.flags, offset + 9);
    buf.writeUInt16BE(h.rlen, offset + 10);
    buf.writeUInt16BE(h.lctr, offset + 12);
    buf.writeUInt16BE(h.wlen, offset + 14);
    return ERF_HEADER_LEN;
  },
  decode(buf, offset) {
    need(buf, offset, ERF_HEADER_LEN, 'erf.header');
    return {
      value: {
        tsFrac: buf.readUInt32LE(offset),
        tsSec: buf.readUInt32LE(offset + 4),
        type: buf.readUInt8(offset + 8),
        flags: buf.readUInt8(offset + 9),
        rlen: buf.readUInt16BE(offset + 10),
        lctr: buf.readUInt16BE(offset + 12),
        wlen: buf.readUInt16BE(offset + 14),
      },
      bytes: ERF_HEADER_LEN,
    };
  },
};

const TWO_POW_32 = 2 ** 32;

/** Microseconds to an ERF binary fraction; exact both ways, since 2^32 / 10^6 > 1. */
function usecToFrac(usec: number): number {
  return Math.round((usec * TWO_POW_32) / 1_000_000);
}

function fracToTimestamp(sec: number, frac: number): PcapTimestamp {
  const usec = Math.round((frac * 1_000_000) / TWO_POW_32);
  return usec === 1_000_000 ? { tsSec: sec + 1, tsUsec: 0 } : { tsSec: sec, tsUsec: usec };
}

export interface ErfRecordOptions {
  /** Capture interface number, 0-3 (flags bits 1-0). */
  iface?: number;
}

/**
 * One ERF record of type 21 holding `ibPacket` (LRH through VCRC): variable-length flag set,
 * rlen = 16 + packet length, wlen = packet length, loss counter 0.
 */
export function erfRecord(ibPacket: Buffer, ts: PcapTimestamp, opts: ErfRecordOptions = {}): Buffer {
  checkTimestamp('erf', ts);
  if (!Buffer.isBuffer(ibPacket)) throw new WireError('erf.packet', -1, 'packet must be a Buffer', ibPacket);
  const iface = opts.iface ?? 0;
  checkUint('erf.flags.iface', 9, iface, 2);
  const rlen = ERF_HEADER_LEN + ibPacket.length;
  checkUint('erf.rlen', 10, rlen, 16);
  const out = Buffer.alloc(rlen);
  erfHeader.encode(
    {
      tsSec: ts.tsSec,
      tsFrac: usecToFrac(ts.tsUsec),
      type: ERF_TYPE_INFINIBAND,
      flags: ERF_FLAG_VLEN | iface,
      rlen,
      lctr: 0,
      wlen: ibPacket.length,
    },
    out,
    0,
  );
  ibPacket.copy(out, ERF_HEADER_LEN);
  return out;
}

export interface ErfIbRecord extends PcapTimestamp {
  header: ErfHeader;
  /** The IB packet: the record's data, cut to wlen when the record is padded. */
  packet: Buffer;
  /** The record holds fewer octets than were on the wire (wlen > data). */
  truncated: boolean;
}

/**
 * Reads one ERF record that must fill `buf` exactly (as a LINKTYPE_ERF pcap record does).
 * Throws WireError on a short header (`erf.header`), a type other than 21 or extension headers
 * (`erf.type`), or an rlen that disagrees with the record (`erf.rlen`).
 */
export function parseErfRecord(buf: Buffer): ErfIbRecord {
  const header = erfHeader.decode(buf, 0).value;
  if ((header.type & ~ERF_TYPE_EXTENSION_BIT) !== ERF_TYPE_INFINIBAND) {
    throw new WireError('erf.type', 8, `type ${header.type & 0x7f} is not ${ERF_TYPE_INFINIBAND} (InfiniBand)`, header.type);
  }
  if ((header.type & ERF_TYPE_EXTENSION_BIT) !== 0) {
    throw new WireError('erf.type', 8, 'records with extension headers are not supported', header.type);
  }
  if (header.rlen < ERF_HEADER_LEN || header.rlen !== buf.length) {
    throw new WireError('erf.rlen', 10, `rlen ${header.rlen}, but the record is ${buf.length} octets`, header.rlen);
  }
  const dataLen = header.rlen - ERF_HEADER_LEN;
  const packetLen = Math.min(dataLen, header.wlen);
  return {
    header,
    ...fracToTimestamp(header.tsSec, header.tsFrac),
    packet: copyBytes(buf, ERF_HEADER_LEN, ERF_HEADER_LEN + packetLen),
    truncated: header.wlen > dataLen,
  };
}

// ---- IPoIB records (LINKTYPE_IPOIB)

export type IpoibPseudoHeader =
  | {
      form: 'unicast';
      /** Octets 0-19: zero; the first two must be, or the header reads as the GRH form. */
      leading: Buffer;
      /** Octets 20-39: the destination's 20-octet link-layer address (flags, QPN, GID). */
      destHwAddr: Buffer;
    }
  | {
      form: 'grh';
      ipVer: number;
      tClass: number;
      flowLabel: number;
      /** Octet 4, not given a meaning by the link type; kept as found. */
      resv8: number;
      srcQpn: number;
      sgid: Buffer;
      dgid: Buffer;
    };

const UNICAST_LEADING_LEN = IPOIB_PCAP_PSEUDO_HEADER_LEN - IPOIB_HWADDR_LEN;

/** The unicast-form pseudo-header for a packet sent to `destHwAddr`. */
export function unicastPseudoHeader(destHwAddr: Buffer): IpoibPseudoHeader {
  return { form: 'unicast', leading: Buffer.alloc(UNICAST_LEADING_LEN), destHwAddr };
}

export const ipoibPseudoHeader: Codec<IpoibPseudoHeader> = {
  encodingLength: () => IPOIB_PCAP_PSEUDO_HEADER_LEN,
  encode(h, buf, offset) {
    if (h.form === 'unicast') {
      checkBytes('pcap.ipoib.leading', offset, h.leading, UNICAST_LEADING_LEN);
      if (h.leading.readUInt16BE(0) !== 0) {
        throw new WireError('pcap.ipoib.leading', offset, 'the first two octets must be zero in the unicast form', h.leading);
      }
      checkBytes('pcap.ipoib.dest', offset + UNICAST_LEADING_LEN, h.destHwAddr, IPOIB_HWADDR_LEN);
      need(buf, offset, IPOIB_PCAP_PSEUDO_HEADER_LEN, 'pcap.ipoib.pseudo');
      h.leading.copy(buf, offset);
      h.destHwAddr.copy(buf, offset + UNICAST_LEADING_LEN);
      return IPOIB_PCAP_PSEUDO_HEADER_LEN;
    }
    checkUint('pcap.ipoib.ipver', offset, h.ipVer, 4);
    checkUint('pcap.ipoib.tclass', offset, h.tClass, 8);
    checkUint('pcap.ipoib.flowlabel', offset + 1, h.flowLabel, 20);
    checkUint('pcap.ipoib.resv8', offset + 4, h.resv8, 8);
    checkUint('pcap.ipoib.sqpn', offset + 5, h.srcQpn, 24);
    checkBytes('pcap.ipoib.sgid', offset + 8, h.sgid, GID_LEN);
    checkBytes('pcap.ipoib.dgid', offset + 24, h.dgid, GID_LEN);
    const word0 = ((h.ipVer << 28) | (h.tClass << 20) | h.flowLabel) >>> 0;
    if (word0 >>> 16 === 0) {
      throw new WireError('pcap.ipoib.ipver', offset, 'a GRH-form header whose first two octets are zero reads back as unicast', h.ipVer);
    }
    need(buf, offset, IPOIB_PCAP_PSEUDO_HEADER_LEN, 'pcap.ipoib.pseudo');
    buf.writeUInt32BE(word0, offset);
    buf.writeUInt8(h.resv8, offset + 4);
    buf.writeUIntBE(h.srcQpn, offset + 5, 3);
    h.sgid.copy(buf, offset + 8);
    h.dgid.copy(buf, offset + 24);
    return IPOIB_PCAP_PSEUDO_HEADER_LEN;
  },
  decode(buf, offset) {
    need(buf, offset, IPOIB_PCAP_PSEUDO_HEADER_LEN, 'pcap.ipoib.pseudo');
    const bytes = IPOIB_PCAP_PSEUDO_HEADER_LEN;
    if (buf.readUInt16BE(offset) === 0) {
      const leading = copyBytes(buf, offset, offset + UNICAST_LEADING_LEN);
      const destHwAddr = copyBytes(buf, offset + UNICAST_LEADING_LEN, offset + bytes);
      return { value: { form: 'unicast', leading, destHwAddr }, bytes };
    }
    const w0 = buf.readUInt32BE(offset);
    return {
      value: {
        form: 'grh',
        ipVer: w0 >>> 28,
        tClass: (w0 >>> 20) & 0xff,
        flowLabel: w0 & 0xfffff,
        resv8: buf.readUInt8(offset + 4),
        srcQpn: buf.readUIntBE(offset + 5, 3),
        sgid: copyBytes(buf, offset + 8, offset + 24),
        dgid: copyBytes(buf, offset + 24, offset + bytes),
      },
      bytes,
    };
  },
};

export interface IpoibPcapRecord {
  pseudo: IpoibPseudoHeader;
  /** The 4-octet IPoIB encapsulation header (RFC 4391 §6). */
  header: IpoibHeader;
  /** ARP, IPv4 or IPv6 (whatever the header's type says). */
  payload: Buffer;
}

/** One LINKTYPE_IPOIB record: pseudo-header, IPoIB header, payload. */
export function ipoibPcapRecord(pseudo: IpoibPseudoHeader, header: IpoibHeader, payload: Buffer): Buffer {
  if (!Buffer.isBuffer(payload)) throw new WireError('pcap.ipoib.payload', -1, 'payload must be a Buffer', payload);
  const out = Buffer.alloc(IPOIB_PCAP_PSEUDO_HEADER_LEN + IPOIB_HEADER_LEN + payload.length);
  let o = ipoibPseudoHeader.encode(pseudo, out, 0);
  o += ipoibHeader.encode(header, out, o);
  payload.copy(out, o);
  return out;
}

/** Reads one LINKTYPE_IPOIB record; the payload is everything after the IPoIB header. */
export function parseIpoibPcapRecord(buf: Buffer): IpoibPcapRecord {
  const pseudo = ipoibPseudoHeader.decode(buf, 0).value;
  const header = ipoibHeader.decode(buf, IPOIB_PCAP_PSEUDO_HEADER_LEN).value;
  const at = IPOIB_PCAP_PSEUDO_HEADER_LEN + IPOIB_HEADER_LEN;
  return { pseudo, header, payload: copyBytes(buf, at, buf.length) };
}
