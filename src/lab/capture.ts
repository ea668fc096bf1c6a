/**
 * Per-test wire captures: start before the stimulus, stop after it, get every packet with its
 * decoding, and the pcap file the test attaches to its report. On the sim fabric the capture is
 * the fabric tap (src/lab/captures/fabric-tap.ts); on real fabrics a node's sniffer.
 *
 * Decoding is faithful (reserved bits kept, CRC results reported, not thrown): judging is the
 * suite's job. A packet the codecs cannot take apart is kept with the reason.
 */
import type { IbPacket } from '../wire/ib-packet.js';
import type { IpoibHeader } from '../wire/ipoib-header.js';
import type { Mad } from '../wire/mad.js';

export interface CapturedPacket {
  /** Capture timestamp in microseconds since the epoch. */
  tsUs: number;
  /** The whole wire packet, LRH..VCRC. */
  raw: Buffer;
  /** Null when the packet could not be decoded; see decodeError. */
  ib: IbPacket | null;
  decodeError?: string;
}

/** A UD packet whose payload is an IPoIB frame (4-octet header, then the EtherType's payload). */
export interface IpoibFrame {
  packet: CapturedPacket;
  ib: IbPacket;
  slid: number;
  dlid: number;
  srcQpn: number;
  destQpn: number;
  qkey: number;
  pkey: number;
  /** Null when the payload is shorter than the header. */
  header: IpoibHeader | null;
  /** What follows the IPoIB header. */
  body: Buffer;
}

/** A UD packet to or from QP1 (a GSI MAD: SA, CM, ...). */
export interface CapturedMad {
  packet: CapturedPacket;
  ib: IbPacket;
  slid: number;
  dlid: number;
  srcQpn: number;
  destQpn: number;
  qkey: number;
  pkey: number;
  /** Null when the payload is not one 256-octet MAD with BaseVersion 1; see decodeError. */
  mad: Mad | null;
  decodeError?: string;
}

export interface Capture {
  /** The pcap file being written. */
  readonly pcapPath: string;
  /** Ends the capture and returns every packet in arrival order. Idempotent. */
  stop(): Promise<CapturedPacket[]>;
}

export interface Capturer {
  /** Whether this capturer sees every packet of the fabric (the sim tap) or one node's (a sniffer). */
  readonly scope: 'fabric' | 'node';
  /** Starts a capture into `pcapPath` (created, owner-only); `nodes` limits it to those fabric nodes' ports. */
  start(o: { pcapPath: string; nodes?: readonly string[] }): Promise<Capture>;
}
