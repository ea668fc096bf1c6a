/**
 * The IPoIB interfaces of one host: a parent per port (`ib0`, `ib1`, …) and its children by
 * P_Key, created and deleted with the rules and errno values of Linux ib_ipoib:
 *
 * sysfs `create_child` (legacy children):
 * - the text is read as sscanf("%i") (decimal, 0x hex, 0 octal): no number → EINVAL; a value
 *   ≤ 0, > 0xffff or equal to 0x8000 → EINVAL;
 * - the name is `<parent cut to 10 chars>.<value as written, 4 hex digits>`: `1` → ib0.0001;
 * - the child's P_Key is the value with 0x8000 ORed in (ib0.0001 lives in partition 0x8001);
 * - uniqueness compares the value as written with the parent's P_Key and the legacy children's
 *   (which carry 0x8000): a match → ENOTUNIQ; so `0x8001` twice → ENOTUNIQ, `1` twice →
 *   EEXIST (the name is taken), `1` next to ib0.8001 → a second child in partition 0x8001;
 * - the child starts admin down.
 * sysfs `delete_child`: `%i`; < 0 or > 0xffff → EINVAL; a legacy child whose P_Key (0x8000
 * included) equals the value is deleted, none → ENODEV (so ib0.0001 is deleted with 0x8001).
 * netlink (`ip link add link ib0 name N type ipoib [pkey P] [mode M] [umcast U]`):
 * - no link → EINVAL; no such link → ENODEV; the link is a child → EINVAL;
 * - no pkey → the parent's; 0 or 0x8000 → EINVAL; duplicates allowed;
 * - the name is the caller's, else the first free `ipoib%d`; taken → EEXIST;
 * - mode connected as the interface's `mode` takes it (EINVAL where connected mode is not
 *   offered, and the new device is removed again); each child switches on its own.
 * `ip link del`: children of either kind go; a parent "deletes" without error and stays.
 */
import type { HcaPort } from '../fabric/hca.js';
import { IpoibControlError } from '../errors.js';
import { PKEY_FULL_MEMBER_BIT } from '../wire/constants.js';
import { type IpoibClock, systemClock } from './clock.js';
import { IpoibInterface, type IpoibInterfaceOptions } from './interface.js';
import { scanInt } from './kernel-text.js';
import { PortMcastDb } from './port-mcast-db.js';

/** IFNAMSIZ - 1: the longest interface name. TODO(constants) */
export const IFNAME_MAX_LEN = 15;
/** The parent name is cut to this many characters in a legacy child's name. */
const CHILD_NAME_PARENT_CHARS = 10;

export interface IpoibHostOptions {
  clock?: IpoibClock;
  log?: (line: string) => void;
  /** Passed to every interface (IPv6 IID profile, scope, timeouts, default groups). */
  interfaceDefaults?: Omit<IpoibInterfaceOptions, 'name' | 'port' | 'pkey' | 'parent' | 'childType' | 'clock' | 'log' | 'mcastDb'>;
}

export interface LinkAddRequest {
  /** The parent (`link ib0`); required. */
  link?: string;
  /** The new interface's name; default the first free `ipoib%d`. */
  name?: string;
  /** P_Key as given (0x8000 is ORed in); default the parent's. */
  pkey?: number;
  /** IFLA_IPOIB_MODE: `datagram`/0 or `connected`/1. */
  mode?: 'datagram' | 'connected' | number;
  /** IFLA_IPOIB_UMCAST: > 0 sets it. */
  umcast?: number;
}

interface PortEntry {
  port: HcaPort;
  db: PortMcastDb;
  parent: IpoibInterface;
}

export class IpoibHost {
  private readonly ports: PortEntry[] = [];
  private readonly byName = new Map<string, IpoibInterface>();
  private readonly clock: IpoibClock;
  private readonly log: (line: string) => void;

  constructor(private readonly o: IpoibHostOptions = {}) {
    this.clock = o.clock ?? systemClock;
    this.log = o.log ?? (() => undefined);
  }

  /** Adds a port and its parent interface (`ib<N>` by default, N counting ports from 0). Admin down. */
  addPort(port: HcaPort, name = `ib${this.ports.length}`): IpoibInterface {
    if (this.byName.has(name)) throw new IpoibControlError('addPort', 'EEXIST', `${name} exists`);
    const db = new PortMcastDb();
    const parent = this.make({ name, port }, db);
    this.ports.push({ port, db, parent });
    return parent;
  }

  get(name: string): IpoibInterface | undefined {
    return this.byName.get(name);
  }

  list(): IpoibInterface[] {
    return [...this.byName.values()];
  }

  /** The port's multicast database (to record joins made outside IPoIB, for umcast). */
  mcastDb(ifname: string): PortMcastDb | undefined {
    const i = this.byName.get(ifname);
    return i ? this.entryOf(i)?.db : undefined;
  }

  /** `echo <text> > /sys/class/net/<parent>/create_child`. */
  createChild(parentName: string, text: string): IpoibInterface {
    const op = `${parentName}/create_child`;
    const entry = this.parentEntry(parentName, op);
    const pkey = scanInt(text);
    if (pkey === undefined) throw new IpoibControlError(op, 'EINVAL', `"${text}" is not a number`);
    if (pkey <= 0 || pkey > 0xffff || pkey === PKEY_FULL_MEMBER_BIT) {
      throw new IpoibControlError(op, 'EINVAL', `P_Key ${pkey} is outside 0x0001..0xffff or is 0x8000`);
    }
    const taken = entry.parent.pkey === pkey || this.childrenOf(parentName).some((c) => c.childType === 'legacy' && c.pkey === pkey);
    if (taken) throw new IpoibControlError(op, 'ENOTUNIQ', `P_Key 0x${pkey.toString(16)} is already used by ${parentName} or a child`);
    const name = `${parentName.slice(0, CHILD_NAME_PARENT_CHARS)}.${pkey.toString(16).padStart(4, '0')}`;
    if (this.byName.has(name)) throw new IpoibControlError(op, 'EEXIST', `${name} exists`);
    return this.make({ name, port: entry.port, pkey, parent: parentName, childType: 'legacy' }, entry.db);
  }

  /** `echo <text> > /sys/class/net/<parent>/delete_child`. */
  async deleteChild(parentName: string, text: string): Promise<void> {
    const op = `${parentName}/delete_child`;
    this.parentEntry(parentName, op);
    const pkey = scanInt(text);
    if (pkey === undefined) throw new IpoibControlError(op, 'EINVAL', `"${text}" is not a number`);
    if (pkey < 0 || pkey > 0xffff) throw new IpoibControlError(op, 'EINVAL', `P_Key ${pkey} is outside 0..0xffff`);
    const child = this.childrenOf(parentName).find((c) => c.childType === 'legacy' && c.pkey === pkey);
    if (!child) throw new IpoibControlError(op, 'ENODEV', `no child of ${parentName} with P_Key 0x${pkey.toString(16).padStart(4, '0')}`);
    await this.remove(child);
  }

  /** `ip link add link <link> [name N] type ipoib [pkey P] [mode M] [umcast U]`. */
  async addLink(r: LinkAddRequest): Promise<IpoibInterface> {
    const op = 'link add';
    if (r.link === undefined) throw new IpoibControlError(op, 'EINVAL', 'no parent link given');
    const link = this.byName.get(r.link);
    if (!link) throw new IpoibControlError(op, 'ENODEV', `no IPoIB device ${r.link}`);
    if (link.childType !== 'parent') throw new IpoibControlError(op, 'EINVAL', `child creation disallowed for child devices (${r.link})`);
    const entry = this.entryOf(link);
    if (!entry) throw new IpoibControlError(op, 'ENODEV', `${r.link} has no port`);
    const pkey = r.pkey ?? link.pkey;
    if (!Number.isInteger(pkey) || pkey < 0 || pkey > 0xffff) throw new IpoibControlError(op, 'EINVAL', `P_Key ${String(pkey)} is not 16 bits`);
    if (pkey === 0 || pkey === PKEY_FULL_MEMBER_BIT) throw new IpoibControlError(op, 'EINVAL', `P_Key 0x${pkey.toString(16)} is invalid`);
    const name = r.name ?? this.freeName('ipoib');
    if (name.length === 0 || name.length > IFNAME_MAX_LEN || /[\s/:]/.test(name)) throw new IpoibControlError(op, 'EINVAL', `"${name}" is not a valid interface name`);
    if (this.byName.has(name)) throw new IpoibControlError(op, 'EEXIST', `${name} exists`);
    const child = this.make({ name, port: entry.port, pkey, parent: r.link, childType: 'rtnl' }, entry.db);
    try {
      if (r.mode !== undefined) child.setMode(modeOf(r.mode, op));
    } catch (e) {
      await this.remove(child);
      throw e;
    }
    if (r.umcast !== undefined) child.setUmcast(r.umcast);
    return child;
  }

  /** `ip link del <name>`: a child goes; a parent stays and the call still succeeds (as the kernel's dellink). */
  async deleteLink(name: string): Promise<void> {
    const i = this.byName.get(name);
    if (!i) throw new IpoibControlError('link del', 'ENODEV', `no device ${name}`);
    if (i.childType === 'parent') return;
    await this.remove(i);
  }

  /** Destroys every interface, children first. */
  async close(): Promise<void> {
    const all = this.list();
    for (const i of all.filter((x) => x.childType !== 'parent')) await this.remove(i);
    for (const i of all.filter((x) => x.childType === 'parent')) await this.remove(i);
    this.ports.length = 0;
  }

  private make(o: IpoibInterfaceOptions, db: PortMcastDb): IpoibInterface {
    const i = new IpoibInterface({ ...this.o.interfaceDefaults, ...o, clock: this.clock, log: this.log, mcastDb: db });
    this.byName.set(o.name, i);
    return i;
  }

  private async remove(i: IpoibInterface): Promise<void> {
    this.byName.delete(i.name);
    await i.destroy();
  }

  private childrenOf(parentName: string): IpoibInterface[] {
    return this.list().filter((i) => i.parent === parentName);
  }

  private entryOf(i: IpoibInterface): PortEntry | undefined {
    const parentName = i.parent ?? i.name;
    return this.ports.find((p) => p.parent.name === parentName);
  }

  /** The port entry of a parent; ENODEV for no such interface, ENOENT for a child (it has no such file). */
  private parentEntry(name: string, op: string): PortEntry {
    const i = this.byName.get(name);
    if (!i) throw new IpoibControlError(op, 'ENODEV', `no IPoIB device ${name}`);
    if (i.childType !== 'parent') throw new IpoibControlError(op, 'ENOENT', `${name} is a child: it has no create_child or delete_child`);
    const entry = this.entryOf(i);
    if (!entry) throw new IpoibControlError(op, 'ENODEV', `${name} has no port`);
    return entry;
  }

  private freeName(prefix: string): string {
    for (let n = 0; ; n++) if (!this.byName.has(`${prefix}${n}`)) return `${prefix}${n}`;
  }
}

function modeOf(mode: 'datagram' | 'connected' | number, op: string): 'datagram' | 'connected' {
  if (mode === 'datagram' || mode === 0) return 'datagram';
  if (mode === 'connected' || mode === 1) return 'connected';
  throw new IpoibControlError(op, 'EINVAL', `mode ${String(mode)} is neither datagram (0) nor connected (1)`);
}
