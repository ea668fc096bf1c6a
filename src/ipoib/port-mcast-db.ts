/**
 * Which multicast groups the consumers of one port hold, standing in for the kernel's SA
 * multicast database (`ib_sa_get_mcmember_rec`): every IPoIB interface of the port records
 * its joins here, and joins made outside IPoIB (RDMA CM in user space) are recorded with
 * `addExternal`. The `umcast` flag consults it: with umcast set, an interface skips a group of
 * the host's that another consumer of the port already holds.
 */

export class PortMcastDb {
  private readonly holders = new Map<string, Set<object>>();
  private readonly external = new Map<string, number>();

  add(mgid: Buffer, holder: object): void {
    const key = mgid.toString('hex');
    let set = this.holders.get(key);
    if (!set) this.holders.set(key, (set = new Set()));
    set.add(holder);
  }

  remove(mgid: Buffer, holder: object): void {
    const key = mgid.toString('hex');
    const set = this.holders.get(key);
    set?.delete(holder);
    if (set?.size === 0) this.holders.delete(key);
  }

  /** A join made outside IPoIB (an RDMA CM user, a probe); counted, so two adds need two removes. */
  addExternal(mgid: Buffer): void {
    const key = mgid.toString('hex');
    this.external.set(key, (this.external.get(key) ?? 0) + 1);
  }

  removeExternal(mgid: Buffer): void {
    const key = mgid.toString('hex');
    const n = (this.external.get(key) ?? 0) - 1;
    if (n > 0) this.external.set(key, n);
    else this.external.delete(key);
  }

  /** Does anyone but `holder` hold this group on the port? */
  heldByOther(mgid: Buffer, holder: object): boolean {
    const key = mgid.toString('hex');
    if ((this.external.get(key) ?? 0) > 0) return true;
    for (const h of this.holders.get(key) ?? []) if (h !== holder) return true;
    return false;
  }
}
