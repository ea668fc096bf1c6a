/**
 * What cases make the DUT and the peer do through their adapters and transports: child
 * interfaces, listening to IP multicast groups, pinging a group or the peer, and the P_Key table
 * the SM gives a node's port. Every change queues its undo on the case right where it is made.
 */
import { CommandFailedError, IpoibControlError } from '../../src/errors.js';
import type { DutInterface, PingResult } from '../../src/lab/adapters/dut.js';
import type { LabNodeHandle } from '../../src/lab/lab-session.js';
import type { Case } from './conformance.js';
import { smPortOf } from './fabric-view.js';
import { poll, type Polled, SETTLE_TIMEOUT_MS } from './poll.js';

// ---- child interfaces ----------------------------------------------------------------------------

/**
 * Makes a child of `node`'s interface for `pkey` (sysfs create_child) and sets it up. The one
 * undo queued is the child's deletion, which takes its admin state and addresses with it (each
 * control command costs a process on the node, so undoing them one by one first would only slow
 * the case). With `upMayBeRefused`, a node that refuses to set the child up (a conforming way to
 * stay down) is not an error: the refusal is returned.
 */
export async function addChild(t: Case, node: LabNodeHandle, pkey: number, o: { upMayBeRefused?: boolean } = {}): Promise<{ ifname: string; upRefused: string | null }> {
  const a = node.adapter;
  const child = await a.createChildSysfs(pkey);
  t.defer(child.undo, `delete ${child.ifname} on ${node.node.name} (with its state and addresses)`);
  try {
    await a.setUp(true, child.ifname);
  } catch (e) {
    if (!o.upMayBeRefused || !(e instanceof CommandFailedError || e instanceof IpoibControlError)) throw e;
    return { ifname: child.ifname, upRefused: e.message };
  }
  return { ifname: child.ifname, upRefused: null };
}

/** Reads the interface until it has carrier or `timeoutMs` passes (carrier is reported, not required). */
export function waitForCarrier(node: LabNodeHandle, ifname: string, timeoutMs: number, intervalMs?: number): Promise<Polled<DutInterface>> {
  return poll(() => node.adapter.link(ifname), (l) => l.carrier, timeoutMs, intervalMs);
}

export interface UpChild {
  ifname: string;
  link: DutInterface;
  /** Milliseconds from admin-up until carrier (null: no carrier within the timeout). */
  carrierAfterMs: number | null;
}

/** addChild, then the address `cidr` (when given), then waitForCarrier; a case that needs carrier asserts on it. */
export async function upChild(t: Case, node: LabNodeHandle, pkey: number, cidr?: string, timeoutMs = SETTLE_TIMEOUT_MS): Promise<UpChild> {
  const { ifname } = await addChild(t, node, pkey);
  if (cidr !== undefined) await node.adapter.addAddress(cidr, ifname);
  const r = await waitForCarrier(node, ifname, timeoutMs);
  return { ifname, link: r.value, carrierAfterMs: r.reached ? r.waitedMs : null };
}

// ---- IP multicast and pings ----------------------------------------------------------------------

/**
 * Makes the node's IP stack listen to an IPv4 group on `ifname` (`ip addr add G/32 autojoin`:
 * the host joins the group on that device, the way an application's IP_ADD_MEMBERSHIP does).
 * Resolves with a `stop` that leaves the group once; the same is queued as the undo.
 */
export async function hostListen(t: Case, node: LabNodeHandle, group: string, ifname = node.ifname): Promise<{ stop: () => Promise<void> }> {
  const cidr = `${group}/32`;
  const r = await node.transport.run(['ip', 'addr', 'add', cidr, 'dev', ifname, 'autojoin'], { timeoutMs: 10_000 });
  if (r.code !== 0) throw new Error(`${node.node.name}: ip addr add ${cidr} dev ${ifname} autojoin failed: ${r.stderr.trim()}`);
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    const d = await node.transport.run(['ip', 'addr', 'del', cidr, 'dev', ifname], { timeoutMs: 10_000 });
    if (d.code !== 0) throw new Error(`${node.node.name}: ip addr del ${cidr} dev ${ifname} failed: ${d.stderr.trim()}`);
  };
  t.defer(stop, `${node.node.name} stops listening to ${group}`);
  return { stop };
}

/**
 * Sends `count` ICMP echoes from the node's IP stack to a multicast or broadcast address through
 * `ifname` (`broadcast`: ping -b), with IP TTL `ttl`; replies are not expected, so no reply is
 * a normal outcome.
 */
export async function pingGroup(node: LabNodeHandle, target: string, o: { ifname?: string; count?: number; ttl?: number; broadcast?: boolean } = {}): Promise<void> {
  const ifname = o.ifname ?? node.ifname;
  // -i 0.2: quick; exit 1 (no reply) is the normal outcome for a group.
  const argv = ['ping', '-n', '-c', String(o.count ?? 2), '-i', '0.2', '-W', '1', '-t', String(o.ttl ?? 1), '-I', ifname, ...(o.broadcast ? ['-b'] : []), target];
  const r = await node.transport.run(argv, { timeoutMs: 15_000 });
  if (r.code !== 0 && r.code !== 1) throw new Error(`${node.node.name}: ping ${target} via ${ifname} could not run (exit ${r.code}): ${r.stderr.trim()}`);
}

/**
 * Makes the DUT resolve the peer afresh over IPv4 and IPv6 (its neighbours flushed first, unless
 * the caller just did), so its ARP request, NS and first unicast frames go out; resolves with
 * both ping results.
 */
export async function resolvePeerAfresh(t: Case, families: ReadonlyArray<4 | 6> = [4, 6], o: { flushed?: boolean } = {}): Promise<{ v4: PingResult | null; v6: PingResult | null }> {
  if (o.flushed !== true) await t.dut.adapter.flushNeighbours();
  const v4 = families.includes(4) && t.peer.ipv4 ? await t.dut.adapter.ping(t.peer.ipv4, { count: 1, waitSeconds: 2 }) : null;
  const v6 = families.includes(6) && t.peer.ipv6 ? await t.dut.adapter.ping(t.peer.ipv6, { count: 1, waitSeconds: 2 }) : null;
  return { v4, v6 };
}

// ---- the port's P_Key table ----------------------------------------------------------------------

/**
 * Replaces a port's P_Key table through the SM and queues putting the old one back; resolves
 * with the old table. The SM pushes the change as a P_Key change event, as a real SM does.
 */
export async function setPortPkeys(t: Case, node: string, pkeys: readonly number[]): Promise<number[]> {
  const sim = t.lab.sim;
  if (!sim) return t.skip('this lab cannot change P_Key tables (no sim fabric control)');
  const before = (await smPortOf(t, node))?.pkeys;
  if (!before) return t.skip(`the sim fabric's status does not list ${node}'s P_Key table`);
  await sim.setPkeys(node, pkeys);
  t.defer(() => sim.setPkeys(node, before), `put back ${node}'s P_Key table`);
  return before;
}
