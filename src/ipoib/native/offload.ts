/**
 * The data plane's offload engine (native/src/tun/offload_*.h) on buffers. With a TUN device
 * opened with a virtio-net header (IFF_VNET_HDR), the host may hand over TCP segments of up to
 * 64 KiB and packets whose checksum it left partial; the engine cuts the former into packets
 * that fit the UD MTU (software TSO) and completes the latter. On receive it merges consecutive
 * in-order TCP segments of one flow into one packet the host takes as a GSO packet (GRO-like).
 *
 * What is supported, and what is refused with an OffloadError naming the reason:
 * - GSO types TCPV4 and TCPV6, with or without the ECN flag. UDP fragmentation (UFO), UDP_L4
 *   and unknown types are refused (`gso-type-unsupported`).
 * - IPv4 with or without options (copied into every segment); fragments are refused.
 * - IPv6 with TCP right after the fixed header, or after one hop-by-hop header (copied into
 *   every segment); other extension headers and jumbograms are refused.
 * - Segments: FIN and PSH on the last only, CWR on the first only; SYN, RST and URG refused.
 *   The payload per segment is gso_size, or less when gso_size would exceed the MTU.
 * - Checksum completion: any protocol, from csum_start to the end, at csum_start + csum_offset.
 * - Coalescing rules: see native/src/tun/offload_coalesce.h.
 *
 * This module is the TEST surface: the data plane calls the C++ directly. The virtio-net header
 * crosses as its 10 octets, little-endian, exactly as TUN reads and writes it.
 */
import { types } from 'node:util';
import { ArgumentError, NativeError, OffloadError } from '../../errors.js';
import { uint } from '../../native/arg-checks.js';
import { callNative, loadNative, type NativeBinding } from '../../native/addon.js';
import {
  IPV4_MIN_MTU,
  VNET_HDR_F_DATA_VALID,
  VNET_HDR_F_NEEDS_CSUM,
  VNET_HDR_GSO_ECN,
  VNET_HDR_GSO_NONE,
  VNET_HDR_GSO_TCPV4,
  VNET_HDR_GSO_TCPV6,
  VNET_HDR_GSO_UDP,
  VNET_HDR_LEN,
} from '../../wire/constants.js';

/** The fields of struct virtio_net_hdr. */
export interface VnetHeader {
  /** VNET_HDR_F_* bits. */
  flags: number;
  /** VNET_HDR_GSO_* type, possibly with VNET_HDR_GSO_ECN. */
  gsoType: number;
  /** Octets of headers: a hint, never used for bounds. */
  hdrLen: number;
  /** Payload octets per segment (the MSS). */
  gsoSize: number;
  /** With NEEDS_CSUM: where summing starts. */
  csumStart: number;
  /** With NEEDS_CSUM: where the checksum goes, counted from csumStart. */
  csumOffset: number;
}

/** The reasons the engine refuses a packet, in native code order (offload_vnet.h OffloadStatus). */
export const OFFLOAD_REFUSALS = [
  'vnet-header-short',
  'vnet-flags-unknown',
  'gso-type-unsupported',
  'gso-size-zero',
  'gso-family-mismatch',
  'gso-needs-segmentation',
  'not-ip',
  'ip-header-truncated',
  'ip-length-mismatch',
  'ip-fragment',
  'ipv6-extension-header',
  'ipv6-jumbogram',
  'not-tcp',
  'tcp-header-truncated',
  'gso-tcp-flags',
  'csum-not-tcp',
  'csum-start-out-of-bounds',
  'csum-offset-out-of-bounds',
  'mtu-too-small',
  'exceeds-mtu',
] as const;
export type OffloadRefusal = (typeof OFFLOAD_REFUSALS)[number];
const REFUSAL_NAMES: ReadonlySet<string> = new Set(OFFLOAD_REFUSALS);

/** The largest packet offloadCoalesce builds (the IPv4 total-length limit, for both families). */
export const MAX_COALESCED_LEN = 65535;
const MAX_MTU = 65535;

/** A header with every field zero but those given. */
export function vnetHeader(fields: Partial<VnetHeader> = {}): VnetHeader {
  return { flags: 0, gsoType: VNET_HDR_GSO_NONE, hdrLen: 0, gsoSize: 0, csumStart: 0, csumOffset: 0, ...fields };
}

/** The header's 10 octets, 16-bit fields little-endian. */
export function encodeVnetHeader(h: VnetHeader): Buffer {
  const op = 'encodeVnetHeader';
  const b = Buffer.alloc(VNET_HDR_LEN);
  b.writeUInt8(uint(op, 'flags', h.flags, 0, 0xff), 0);
  b.writeUInt8(uint(op, 'gsoType', h.gsoType, 0, 0xff), 1);
  b.writeUInt16LE(uint(op, 'hdrLen', h.hdrLen, 0, 0xffff), 2);
  b.writeUInt16LE(uint(op, 'gsoSize', h.gsoSize, 0, 0xffff), 4);
  b.writeUInt16LE(uint(op, 'csumStart', h.csumStart, 0, 0xffff), 6);
  b.writeUInt16LE(uint(op, 'csumOffset', h.csumOffset, 0, 0xffff), 8);
  return b;
}

/** Reads the 10 octets at the start of `b`. */
export function decodeVnetHeader(b: Uint8Array): VnetHeader {
  if (!types.isUint8Array(b) || b.length < VNET_HDR_LEN) {
    throw new ArgumentError('decodeVnetHeader', 'b', b, `a Buffer of at least ${VNET_HDR_LEN} octets`);
  }
  const v = Buffer.from(b.buffer, b.byteOffset, VNET_HDR_LEN);
  return {
    flags: v.readUInt8(0),
    gsoType: v.readUInt8(1),
    hdrLen: v.readUInt16LE(2),
    gsoSize: v.readUInt16LE(4),
    csumStart: v.readUInt16LE(6),
    csumOffset: v.readUInt16LE(8),
  };
}

let checkedBinding: NativeBinding | undefined;

/** The binding, once checked to agree with this file and constants.ts. */
function binding(): NativeBinding {
  if (checkedBinding) return checkedBinding;
  const native = loadNative();
  if (typeof native.offloadSegment !== 'function') {
    throw new NativeError('the native addon has no offloadSegment: rebuild it (npm run build:native)', 'load');
  }
  const l = native.offloadLayout;
  const agrees =
    native.offloadRefusals.join(',') === OFFLOAD_REFUSALS.join(',') &&
    l.vnetHdrLen === VNET_HDR_LEN &&
    l.flagNeedsCsum === VNET_HDR_F_NEEDS_CSUM &&
    l.flagDataValid === VNET_HDR_F_DATA_VALID &&
    l.gsoNone === VNET_HDR_GSO_NONE &&
    l.gsoTcpv4 === VNET_HDR_GSO_TCPV4 &&
    l.gsoUdp === VNET_HDR_GSO_UDP &&
    l.gsoTcpv6 === VNET_HDR_GSO_TCPV6 &&
    l.gsoEcn === VNET_HDR_GSO_ECN &&
    l.maxCoalescedLen === MAX_COALESCED_LEN;
  if (!agrees) throw new NativeError('the native offload engine disagrees with offload.ts on refusals or the vnet header: rebuild it', 'load');
  checkedBinding = native;
  return native;
}

/** Runs a native call; a refusal becomes OffloadError, anything else what callNative makes of it. */
function run<T>(op: string, fn: () => T): T {
  try {
    return callNative(op, fn);
  } catch (e) {
    if (e instanceof NativeError && e.code !== undefined && REFUSAL_NAMES.has(e.code)) {
      const err = new OffloadError(op, e.code, e.message);
      err.cause = e;
      throw err;
    }
    throw e;
  }
}

function bytesArg(op: string, arg: string, v: unknown): Uint8Array {
  if (!types.isUint8Array(v)) throw new ArgumentError(op, arg, v, 'a Buffer or Uint8Array');
  return v;
}

/** A header object is encoded; raw octets (up to 10; fewer are refused as `vnet-header-short`) pass as they are. */
function vnetArg(op: string, v: unknown): Uint8Array {
  if (types.isUint8Array(v)) {
    if (v.length > VNET_HDR_LEN) throw new ArgumentError(op, 'vnet', v, `at most ${VNET_HDR_LEN} octets`);
    return v;
  }
  if (typeof v !== 'object' || v === null) throw new ArgumentError(op, 'vnet', v, 'a VnetHeader or its octets');
  return encodeVnetHeader(v as VnetHeader);
}

/**
 * Cuts `packet` as its virtio-net header asks into IP packets of at most `mtu` octets each:
 * the segments of a TCPV4/TCPV6 GSO packet, or the packet itself (its checksum completed when
 * NEEDS_CSUM is set). Throws OffloadError when the engine refuses it.
 */
export function offloadSegment(vnet: VnetHeader | Uint8Array, packet: Uint8Array, mtu: number): Buffer[] {
  const op = 'offloadSegment';
  const v = vnetArg(op, vnet);
  const p = bytesArg(op, 'packet', packet);
  const m = uint(op, 'mtu', mtu, IPV4_MIN_MTU, MAX_MTU, `an integer from ${IPV4_MIN_MTU} to ${MAX_MTU}`);
  const native = binding();
  return run(op, () => native.offloadSegment(v, p, m));
}

/** A copy of `packet` with the checksum NEEDS_CSUM asks for filled in. Throws OffloadError when refused. */
export function offloadComplete(vnet: VnetHeader | Uint8Array, packet: Uint8Array): Buffer {
  const op = 'offloadComplete';
  const v = vnetArg(op, vnet);
  const p = bytesArg(op, 'packet', packet);
  const native = binding();
  return run(op, () => native.offloadComplete(v, p));
}

/** One packet for the host out of offloadCoalesce. */
export interface CoalescedPacket {
  vnet: VnetHeader;
  /** The same header as TUN takes it. */
  vnetBytes: Buffer;
  packet: Buffer;
  /** Indices of the inputs it holds, in order; one for a packet passed through unchanged. */
  members: number[];
}

export interface CoalesceOptions {
  /**
   * 'complete' (default): the merged packet carries its full TCP checksum and DATA_VALID.
   * 'partial': it carries the pseudo-header sum and NEEDS_CSUM, as Linux hands a driver.
   */
  checksum?: 'complete' | 'partial';
}

const MAX_COALESCE_BATCH = 65536;

/** Merges consecutive in-order TCP segments of each flow in `packets` (native/src/tun/offload_coalesce.h). */
export function offloadCoalesce(packets: readonly Uint8Array[], o: CoalesceOptions = {}): CoalescedPacket[] {
  const op = 'offloadCoalesce';
  if (!Array.isArray(packets) || packets.length > MAX_COALESCE_BATCH) {
    throw new ArgumentError(op, 'packets', packets, `an array of at most ${MAX_COALESCE_BATCH} Buffers`);
  }
  packets.forEach((p, i) => bytesArg(op, `packets[${i}]`, p));
  const checksum = o.checksum ?? 'complete';
  if (checksum !== 'complete' && checksum !== 'partial') throw new ArgumentError(op, 'checksum', checksum, '"complete" or "partial"');
  const native = binding();
  return run(op, () => native.offloadCoalesce(packets, checksum === 'partial')).map((r) => ({
    vnet: decodeVnetHeader(r.vnetHdr),
    vnetBytes: r.vnetHdr,
    packet: r.packet,
    members: r.members,
  }));
}
