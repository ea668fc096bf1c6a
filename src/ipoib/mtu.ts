/**
 * MTU rules of Linux ib_ipoib. Datagram mode (DatagramMtu):
 * - an IB MTU of N octets carries an IP MTU of N - 4 (the IPoIB header): 2044 on 2048, 4092 on 4096;
 * - the interface starts at the port's maximum (port MTU - 4), before any group is joined;
 * - joining the broadcast group sets mcast_mtu = group MTU - 4; an admin MTU that still equals
 *   the old mcast_mtu (nobody set one) follows it;
 * - carrier-on and every MTU change set the effective MTU to min(mcast_mtu, admin_mtu);
 * - a requested MTU must lie in [72, port maximum - 4] (72 = the Ethernet minimum 68 + 4),
 *   else EINVAL; a value above mcast_mtu is accepted and stored but not applied.
 * Connected mode (checkConnectedMtu, and the interface's mode switch): the MTU becomes 65520
 * on the switch and takes any value up to that; back in datagram mode it is min(mcast_mtu,
 * the MTU it had), applied by the datagram rule (so it is the admin MTU from then on).
 */
import { IpoibControlError } from '../errors.js';
import { IB_MTU_CODE_TO_BYTES, IPOIB_CM_MTU, IPOIB_HEADER_LEN, IPV4_MIN_MTU } from '../wire/constants.js';
import { Defects } from './defects.js';

/** The smallest MTU `change_mtu` accepts in datagram mode: ETH_MIN_MTU (68) + 4. TODO(constants) */
export const IPOIB_MIN_MTU = 72;

/** Octets of an IB MTU code (1..5), or undefined for a code that names no MTU. */
export function ibMtuBytes(code: number): number | undefined {
  return IB_MTU_CODE_TO_BYTES[code];
}

/** The IP MTU a UD message of `ibMtu` octets carries. */
export function udMtu(ibMtu: number): number {
  return ibMtu - IPOIB_HEADER_LEN;
}

/**
 * Connected mode's rule (ipoib_change_mtu with ADMIN_CM set): any MTU up to the connected-mode
 * maximum 65520 is taken as it is, neither stored as the admin MTU nor capped by the group's.
 * The kernel adds no lower bound; this stack keeps IPv4's 68, the least its data plane and
 * the host's TUN device take.
 */
export function checkConnectedMtu(requested: number, op: string): number {
  if (!Number.isInteger(requested) || requested < IPV4_MIN_MTU || requested > IPOIB_CM_MTU) {
    throw new IpoibControlError(op, 'EINVAL', `MTU ${String(requested)} is outside [${IPV4_MIN_MTU}, ${IPOIB_CM_MTU}] (connected mode)`);
  }
  return requested;
}

export class DatagramMtu {
  /** Largest IP MTU the port allows (port MTU - 4). */
  readonly maxMtu: number;
  private mcast: number;
  private admin: number;
  private current: number;

  constructor(
    portMtuCode: number,
    private readonly defects: Defects = Defects.NONE,
  ) {
    const bytes = ibMtuBytes(portMtuCode);
    if (bytes === undefined) throw new RangeError(`port MTU code ${portMtuCode} names no IB MTU`);
    this.maxMtu = udMtu(bytes);
    this.mcast = this.maxMtu;
    this.admin = this.maxMtu;
    this.current = this.maxMtu;
  }

  /** The interface MTU (what `ip link` shows). */
  get mtu(): number {
    return this.current;
  }

  get mcastMtu(): number {
    return this.mcast;
  }

  get adminMtu(): number {
    return this.admin;
  }

  /** The broadcast group was joined with MTU code `groupMtuCode`. */
  groupJoined(groupMtuCode: number): void {
    const bytes = ibMtuBytes(groupMtuCode);
    if (bytes === undefined) return; // a bad record leaves the MTU alone
    // Seeded defect mtu-plus-4: the group's IB MTU taken as the IP MTU, the header forgotten.
    const next = this.defects.has('mtu-plus-4') ? bytes : udMtu(bytes);
    if (this.admin === this.mcast) this.admin = next;
    this.mcast = next;
  }

  /** Carrier came on: the effective MTU becomes min(mcast, admin). */
  carrierOn(): void {
    this.current = Math.min(this.mcast, this.admin);
  }

  /** `ip link set mtu N`: EINVAL outside [72, max]; otherwise stored as admin and applied as min(mcast, admin). */
  change(requested: number, op: string): void {
    if (!Number.isInteger(requested) || requested < IPOIB_MIN_MTU || requested > this.maxMtu) {
      throw new IpoibControlError(op, 'EINVAL', `MTU ${String(requested)} is outside [${IPOIB_MIN_MTU}, ${this.maxMtu}]`);
    }
    this.admin = requested;
    this.current = Math.min(this.mcast, this.admin);
  }
}
