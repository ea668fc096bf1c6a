/**
 * The host's IP multicast memberships on one interface (its IPv4 and IPv6 "mc list"), counted
 * per group, and the IB groups they map to. Several IP groups can share one MGID (the mapping
 * keeps only the low bits and uses the link's scope), so the multicast manager gets one
 * hostJoin per IP group and counts them itself.
 */
import { IpoibControlError } from '../errors.js';
import { mgidForIpv4Group, mgidForIpv6Group } from '../wire/mgid.js';
import { parseCidr } from './addresses.js';
import type { McastManager } from './mcast-manager.js';
import type { IpFamily } from './neighbours.js';

interface Membership {
  family: IpFamily;
  mgid: Buffer;
  refs: number;
}

export class HostGroups {
  private readonly groups = new Map<string, Membership>();

  constructor(
    private readonly mcast: McastManager,
    /** The link's P_Key and scope now (a parent's P_Key can change). */
    private readonly link: () => { pkey: number; scope: number },
  ) {}

  /** Canonical text of a multicast group address; EINVAL for anything else. */
  static groupText(ip: string, op: string): string {
    let bytes: Buffer;
    let family: IpFamily;
    let text: string;
    try {
      ({ bytes, family, ip: text } = parseCidr(ip, op));
    } catch {
      throw new IpoibControlError(op, 'EINVAL', `"${ip}" is not an IP address`);
    }
    const first = bytes[0] ?? 0;
    const multicast = family === 4 ? first >= 224 && first <= 239 : first === 0xff;
    if (!multicast || ip.includes('/')) throw new IpoibControlError(op, 'EINVAL', `${ip} is not a multicast group address`);
    return text;
  }

  has(text: string): boolean {
    return this.groups.has(text);
  }

  /** Joins an IP group given in canonical text (see groupText). */
  join(text: string): void {
    const g = this.groups.get(text);
    if (g) {
      g.refs++;
      return;
    }
    const family: IpFamily = text.includes(':') ? 6 : 4;
    const mgid = this.mgidOf(family, text);
    this.groups.set(text, { family, mgid, refs: 1 });
    this.mcast.hostJoin(mgid);
  }

  leave(text: string): void {
    const g = this.groups.get(text);
    if (!g) return;
    if (--g.refs > 0) return;
    this.groups.delete(text);
    this.mcast.hostLeave(g.mgid);
  }

  /**
   * After a P_Key change, every group mapped again with the new P_Key. (Linux keeps the MGIDs
   * it mapped before, so its IPv4/IPv6 groups stay in the old partition: a known problem.)
   */
  remap(): void {
    for (const [text, g] of this.groups) {
      const mgid = this.mgidOf(g.family, text);
      if (mgid.equals(g.mgid)) continue;
      this.mcast.hostLeave(g.mgid);
      this.mcast.hostJoin(mgid);
      g.mgid = mgid;
    }
  }

  private mgidOf(family: IpFamily, text: string): Buffer {
    const { pkey, scope } = this.link();
    return family === 4 ? mgidForIpv4Group(text, pkey, scope) : mgidForIpv6Group(text, pkey, scope);
  }
}
