/**
 * The General Services Interface of one port: QP1, which carries the management datagrams of
 * every class except SMPs (SA, CM, performance, …). This is the narrow interface the CM and
 * the SA client build on; the sim's native UD endpoint implements it, and the verbs provider
 * will (over umad). Nothing here knows which provider it has.
 *
 * Every MAD on QP1 is sent with the GSI Q_Key (0x80010000, GSI_QKEY in wire/constants.ts) and
 * is 256 octets. A provider delivers every MAD QP1 receives to every subscriber: each user
 * filters by management class itself, as the MAD layer's agents do.
 */
import type { QPN_GSI } from '../wire/constants.js';

/** Where a MAD goes to, or where it came from: the remote port's QP1. */
export interface GsiAddress {
  /** Destination (or, on receipt, source) LID. */
  lid: number;
  /** Remote port GID, when the datagram carries (or must carry) a GRH. */
  gid?: Buffer;
  /** Always QP1: MADs of the GSI classes go from QP1 to QP1. */
  qpn: typeof QPN_GSI;
  /** Index in the local P_Key table used to send, or on which the MAD arrived (default 0). */
  pkeyIndex?: number;
}

/** QP1 of one port. */
export interface GsiPort {
  readonly lid: number;
  /** GID index 0 of the port. */
  readonly gid: Buffer;
  /** The channel adapter's node GUID (what CM messages carry as the local CA GUID). */
  readonly caGuid: bigint;
  /** Sends one 256-octet MAD to `to`; never throws for a lost datagram (UD is unreliable). */
  sendMad(to: GsiAddress, mad: Buffer): void;
  /** Subscribes to every MAD this QP1 receives; returns the unsubscribe function. */
  onMad(cb: (mad: Buffer, from: GsiAddress) => void): () => void;
}
