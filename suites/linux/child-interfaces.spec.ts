/**
 * Child interfaces as Linux ib_ipoib makes them (research kernel-ipoib.md §1 and §2): sysfs
 * `create_child` names the child `<parent>.<value as written, %04x>` and ORs 0x8000 into its
 * P_Key; 0 and 0x8000 are EINVAL; a raw value equal to the parent's or a legacy child's stored
 * P_Key is ENOTUNIQ, a taken name EEXIST; `delete_child` matches the stored P_Key and answers
 * ENODEV otherwise. Netlink children (`ip link add … type ipoib`) take the caller's name (or
 * `ipoib%d`), the parent's P_Key when none is given, may share a P_Key, cannot be made under a
 * child, and once up work as any IPoIB interface in their partition. These are the kernel's
 * rules (the LINUX-CHILD, -NETLINK and -ATTR rows), checked through the DUT adapter; where a
 * case also sees an RFC row (a full-membership P_Key in the broadcast MGID, one broadcast MGID
 * per partition), it names that row too.
 *
 * Version note: kernels before the uniqueness rework ORed 0x8000 in before naming, so writing
 * 0x0001 made `ib0.8001`; current kernels name it `ib0.0001`. Both names are accepted, the
 * P_Key must be 0x8001 either way.
 */
import { expect } from 'chai';
import { type Case, conformance } from '../harness/conformance.js';
import type { CreatedChild, DutInterface } from '../../src/lab/adapters/dut.js';
import { IpoibControlError } from '../../src/errors.js';
import { IB_MTU_CODE_TO_BYTES, IPOIB_HEADER_LEN, JOIN_STATE_FULL, MCAST_QPN, PKEY_FULL_MEMBER_BIT } from '../../src/wire/constants.js';
import { broadcastMgid, formatGid } from '../../src/wire/mgid.js';
import { smPkeysOf } from '../harness/fabric-view.js';
import { hex } from '../harness/hex.js';
import { upChild, waitForCarrier } from '../harness/node-actions.js';

const CHILD_PKEY = 0x8001;
const CHILD_PKEY_LOW = 0x0001;
const OTHER_PKEY = 0x8002;
/** A P_Key no child of the DUT has (the lab's partitions stop at 0x8005). */
const UNUSED_PKEY = 0x8007;
/** Netlink child names (IFNAMSIZ: at most 15 characters). */
const NL_NAMES = ['ib0.nl1', 'ib0.nl3', 'ib0.nl5'] as const;
const NL_TRAFFIC_NAME = 'ib0.nl2';
/** The subnet a netlink child and the peer's child share in partition 0x8001 (TEST-NET-3: no other case uses it). */
const NL_DUT_IPV4 = '203.0.113.1';
const NL_PEER_IPV4 = '203.0.113.2';
const NL_PREFIX_LEN = 24;
const NL_ECHOES = 2;
/** How long a netlink child set up may take to join its broadcast group. */
const NL_CARRIER_TIMEOUT_MS = 5_000;
const CASE_TIMEOUT_MS = 60_000;

/** The errno of a refused control call, 'ok' when it succeeded (its child's undo is queued), or the unexpected error rethrown. */
async function outcome(t: Case, call: () => Promise<CreatedChild | unknown>): Promise<string> {
  try {
    const r = await call();
    if (r && typeof r === 'object' && 'undo' in r && 'ifname' in r) {
      const c = r as CreatedChild;
      t.defer(c.undo, `delete ${c.ifname}`);
    }
    return 'ok';
  } catch (e) {
    if (e instanceof IpoibControlError) return e.code;
    throw e;
  }
}

/** Deletes once: an undo that a case may already have done itself. */
function once(undo: () => Promise<void>): { run: () => Promise<void>; done: () => void } {
  let done = false;
  return {
    run: async () => {
      if (!done) await undo();
      done = true;
    },
    done: () => void (done = true),
  };
}

function summary(l: DutInterface): Record<string, unknown> {
  return {
    ifname: l.ifname,
    parent: l.parent,
    pkey: l.pkey === null ? null : hex(l.pkey, 4),
    up: l.up,
    carrier: l.carrier,
    mode: l.mode,
    umcast: l.umcast,
    qpn: hex(l.hwaddr.qpn, 6),
    gid: formatGid(l.hwaddr.gid),
    broadcast: `${hex(l.broadcast.qpn, 6)} ${formatGid(l.broadcast.gid)}`,
  };
}

describe('Linux ib_ipoib: create_child and delete_child @pkey', () => {
  conformance({
    covers: ['LINUX-CHILD-a', 'LINUX-CHILD-b', 'LINUX-CHILD-e', 'LINUX-ATTR-a', 'LINUX-ATTR-b', 'RFC4392-4.1-b', 'RFC4391-4.1-a'],
    title: 'makes <parent>.8001 for create_child 0x8001: P_Key 0x8001, parent read back, admin down, datagram, the port GID with a QPN of its own, that partition\'s broadcast address',
    tags: ['pkey', 'multicast', 'mgid'],
    requires: [],
  }, async (t: Case) => {
    const a = t.dut.adapter;
    const parent = await a.link();
    const child = await a.createChildSysfs(CHILD_PKEY);
    t.defer(child.undo, `delete ${child.ifname}`);
    const l = await a.link(child.ifname);
    const all = (await a.interfaces()).map((i) => i.ifname);
    await t.attachJson('parent and child', { parent: summary(parent), child: summary(l), interfaces: all });

    expect(child.ifname, 'name of the child made by create_child 0x8001').to.equal(`${parent.ifname}.8001`);
    expect(all, 'the child is listed among the interfaces').to.include(child.ifname);
    expect(l.pkey === null ? null : hex(l.pkey, 4), 'the child\'s pkey').to.equal(hex(CHILD_PKEY, 4));
    expect(l.parent, 'the child\'s parent').to.equal(parent.ifname);
    expect(l.up, 'a new child starts admin-down').to.equal(false);
    expect(l.mode, 'a new child\'s mode').to.equal('datagram');
    expect(l.umcast, 'a new child\'s umcast').to.equal(false);
    expect(formatGid(l.hwaddr.gid), 'the child\'s address GID (the port GID, as the parent\'s)').to.equal(formatGid(parent.hwaddr.gid));
    expect(hex(l.hwaddr.qpn, 6), `the child's QPN (a UD QP of its own; the parent's is ${hex(parent.hwaddr.qpn, 6)})`).to.not.equal(hex(parent.hwaddr.qpn, 6));
    expect(parent.parent, 'the parent\'s own parent').to.equal(null);
    expect(hex(l.broadcast.qpn, 6), 'the child\'s broadcast QPN').to.equal(hex(MCAST_QPN, 6));
    expect(formatGid(l.broadcast.gid), 'the child\'s broadcast MGID').to.equal(formatGid(broadcastMgid(CHILD_PKEY)));
  });

  conformance({
    covers: ['LINUX-CHILD-a', 'LINUX-CHILD-b', 'LINUX-CHILD-f', 'RFC4391-4.1-a', 'RFC4392-4.1-b'],
    title: 'ORs the full-membership bit into create_child 0x0001 (P_Key 0x8001 and its MGID), and deletes that child by 0x8001, not by 0x0001',
    tags: ['pkey', 'mgid'],
    requires: [],
  }, async (t: Case) => {
    const a = t.dut.adapter;
    const parent = await a.link();
    const child = await a.createChildSysfs(CHILD_PKEY_LOW);
    const cleanup = once(child.undo);
    t.defer(cleanup.run, `delete ${child.ifname}`);
    const l = await a.link(child.ifname);
    const currentNaming = child.ifname === `${parent.ifname}.0001`;
    await t.parameter('child name for 0x0001', child.ifname);
    // Current kernels: delete_child matches the stored (0x8000-ORed) P_Key, so 0x0001 finds nothing.
    const byLow = currentNaming ? await outcome(t, () => a.deleteChildSysfs(CHILD_PKEY_LOW)) : 'not tried (older naming)';
    if (byLow === 'ok') cleanup.done();
    const byFull = byLow === 'ok' ? 'not needed' : await outcome(t, () => a.deleteChildSysfs(CHILD_PKEY));
    if (byFull === 'ok') cleanup.done();
    const remaining = (await a.interfaces()).map((i) => i.ifname);
    await t.attachJson('child of 0x0001', { child: summary(l), deleteBy0x0001: byLow, deleteBy0x8001: byFull, interfacesAfter: remaining });

    expect([`${parent.ifname}.0001`, `${parent.ifname}.8001`], 'name of the child made by create_child 0x0001 (value as written, or ORed on older kernels)').to.include(child.ifname);
    expect(l.pkey === null ? null : hex(l.pkey, 4), 'the child\'s pkey (0x8000 ORed in)').to.equal(hex(CHILD_PKEY_LOW | PKEY_FULL_MEMBER_BIT, 4));
    expect(formatGid(l.broadcast.gid), 'the child\'s broadcast MGID carries the full-membership P_Key').to.equal(formatGid(broadcastMgid(CHILD_PKEY)));
    if (currentNaming) expect(byLow, 'delete_child 0x0001 (no legacy child stores 0x0001)').to.equal('ENODEV');
    expect(byFull, 'delete_child 0x8001 (the stored P_Key)').to.equal('ok');
    expect(remaining, 'interfaces after delete_child').to.not.include(child.ifname);
  });

  conformance({
    covers: ['LINUX-CHILD-c'],
    title: 'refuses create_child 0 and 0x8000 (no partition) with EINVAL and makes nothing',
    tags: ['pkey'],
    requires: [],
  }, async (t: Case) => {
    const a = t.dut.adapter;
    const before = (await a.interfaces()).map((i) => i.ifname);
    const results: Record<string, string> = {};
    for (const p of [0x0000, PKEY_FULL_MEMBER_BIT]) results[hex(p, 4)] = await outcome(t, () => a.createChildSysfs(p));
    const after = (await a.interfaces()).map((i) => i.ifname);
    await t.attachJson('create_child refusals', {
      results,
      interfacesBefore: before,
      interfacesAfter: after,
      note: 'values beyond 16 bits cannot be sent: the adapter refuses them before the DUT sees them',
    });
    for (const [p, r] of Object.entries(results)) expect(r, `create_child ${p}`).to.equal('EINVAL');
    expect(after, 'interfaces after the refused writes').to.deep.equal(before);
  });

  conformance({
    covers: ['LINUX-CHILD-d'],
    title: 'refuses a second create_child 0x8001 and one for the parent\'s own P_Key with ENOTUNIQ, allows 0x0001 beside <parent>.8001, and refuses its repeat with EEXIST',
    tags: ['pkey'],
    requires: [],
    timeoutMs: CASE_TIMEOUT_MS,
  }, async (t: Case) => {
    const a = t.dut.adapter;
    const parent = await a.link();
    const first = await a.createChildSysfs(CHILD_PKEY);
    t.defer(first.undo, `delete ${first.ifname}`);
    const again = await outcome(t, () => a.createChildSysfs(CHILD_PKEY));
    const parentsOwn = parent.pkey === null ? 'unknown parent P_Key' : await outcome(t, () => a.createChildSysfs(parent.pkey!));
    // The check compares the raw 0x0001 with stored (ORed) P_Keys: no match, so current kernels make ib0.0001.
    let low: CreatedChild | null = null;
    let lowOutcome: string;
    try {
      low = await a.createChildSysfs(CHILD_PKEY_LOW);
      const made = low;
      t.defer(made.undo, `delete ${made.ifname}`);
      lowOutcome = 'ok';
    } catch (e) {
      if (!(e instanceof IpoibControlError)) throw e;
      lowOutcome = e.code;
    }
    const lowLink = low ? await a.link(low.ifname) : null;
    const firstLink = await a.link(first.ifname);
    const lowAgain = low ? await outcome(t, () => a.createChildSysfs(CHILD_PKEY_LOW)) : 'not tried';
    await t.attachJson('uniqueness', {
      parentPkey: parent.pkey === null ? null : hex(parent.pkey, 4),
      first: summary(firstLink),
      secondCreate0x8001: again,
      createParentsOwnPkey: parentsOwn,
      create0x0001: lowOutcome,
      lowChild: lowLink ? summary(lowLink) : null,
      repeat0x0001: lowAgain,
    });

    expect(again, 'create_child 0x8001 while <parent>.8001 exists').to.equal('ENOTUNIQ');
    expect(parentsOwn, `create_child with the parent's own P_Key ${parent.pkey === null ? '' : hex(parent.pkey, 4)}`).to.equal('ENOTUNIQ');
    expect(lowOutcome, 'create_child 0x0001 beside <parent>.8001 (current kernels compare the raw value)').to.equal('ok');
    expect(low!.ifname, 'name of the second child').to.equal(`${parent.ifname}.0001`);
    expect(lowLink!.pkey === null ? null : hex(lowLink!.pkey, 4), 'the second child is in partition 0x8001 too').to.equal(hex(CHILD_PKEY, 4));
    expect(lowAgain, 'create_child 0x0001 again (the name is taken)').to.equal('EEXIST');
  });
});

describe('Linux ib_ipoib: netlink children (link add … type ipoib) @pkey', () => {
  conformance({
    covers: ['LINUX-NETLINK-a', 'LINUX-CHILD-b', 'LINUX-ATTR-b', 'RFC4391-4.1-a'],
    title: 'makes netlink children with the given name and the P_Key ORed with 0x8000, or the parent\'s P_Key and an ipoib<N> name, in datagram mode with umcast off',
    tags: ['pkey'],
    requires: [],
    timeoutMs: CASE_TIMEOUT_MS,
  }, async (t: Case) => {
    const a = t.dut.adapter;
    const parent = await a.link();
    const named = await a.createChildNetlink({ name: NL_NAMES[0], pkey: CHILD_PKEY_LOW });
    t.defer(named.undo, `delete ${named.ifname}`);
    const unnamed = await a.createChildNetlink({});
    t.defer(unnamed.undo, `delete ${unnamed.ifname}`);
    const nl = await a.link(named.ifname);
    const dflt = await a.link(unnamed.ifname);
    await t.attachJson('netlink children', { named: summary(nl), unnamed: summary(dflt) });

    expect(named.ifname, 'the netlink child takes the name given').to.equal(NL_NAMES[0]);
    expect(nl.pkey === null ? null : hex(nl.pkey, 4), 'pkey of a netlink child asked for 0x0001').to.equal(hex(CHILD_PKEY, 4));
    expect(nl.parent, 'the netlink child\'s parent').to.equal(parent.ifname);
    expect(nl.mode, 'the netlink child\'s mode').to.equal('datagram');
    expect(nl.umcast, 'the netlink child\'s umcast').to.equal(false);
    expect(formatGid(nl.broadcast.gid), 'the netlink child\'s broadcast MGID').to.equal(formatGid(broadcastMgid(CHILD_PKEY)));
    expect(unnamed.ifname, 'a netlink child without a name').to.match(/^ipoib\d+$/);
    expect(dflt.pkey === null ? null : hex(dflt.pkey, 4), 'a netlink child without a P_Key takes the parent\'s').to.equal(parent.pkey === null ? null : hex(parent.pkey, 4));
  });

  conformance({
    covers: ['LINUX-NETLINK-b', 'LINUX-CHILD-f'],
    title: 'lets netlink children share a P_Key, refuses a taken name (EEXIST), P_Key 0 or 0x8000 (EINVAL) and a child of a child (EINVAL), and never deletes them through delete_child (ENODEV)',
    tags: ['pkey'],
    requires: [],
    timeoutMs: CASE_TIMEOUT_MS,
  }, async (t: Case) => {
    const a = t.dut.adapter;
    const first = await a.createChildNetlink({ name: NL_NAMES[0], pkey: CHILD_PKEY });
    t.defer(first.undo, `delete ${first.ifname}`);
    const results = {
      samePkey: await outcome(t, () => a.createChildNetlink({ name: NL_NAMES[1], pkey: CHILD_PKEY })),
      takenName: await outcome(t, () => a.createChildNetlink({ name: NL_NAMES[0], pkey: OTHER_PKEY })),
      pkeyZero: await outcome(t, () => a.createChildNetlink({ name: NL_NAMES[2], pkey: 0x0000 })),
      pkeyFullBitOnly: await outcome(t, () => a.createChildNetlink({ name: NL_NAMES[2], pkey: PKEY_FULL_MEMBER_BIT })),
      childOfChild: await outcome(t, () => a.createChildNetlink({ name: NL_NAMES[2], pkey: OTHER_PKEY }, first.ifname)),
      deleteChildOfNetlinkPkey: await outcome(t, () => a.deleteChildSysfs(CHILD_PKEY)),
      deleteChildUnknownPkey: await outcome(t, () => a.deleteChildSysfs(UNUSED_PKEY)),
    };
    const after = (await a.interfaces()).map((i) => i.ifname);
    await t.attachJson('netlink rules', { results, interfacesAfter: after });

    expect(results.samePkey, 'a second netlink child in partition 0x8001').to.equal('ok');
    expect(results.takenName, `a netlink child named ${NL_NAMES[0]} again`).to.equal('EEXIST');
    expect(results.pkeyZero, 'a netlink child with P_Key 0').to.equal('EINVAL');
    expect(results.pkeyFullBitOnly, 'a netlink child with P_Key 0x8000').to.equal('EINVAL');
    expect(results.childOfChild, `a netlink child of ${first.ifname}`).to.equal('EINVAL');
    expect(results.deleteChildOfNetlinkPkey, 'delete_child 0x8001 when only netlink children have it').to.equal('ENODEV');
    expect(results.deleteChildUnknownPkey, `delete_child ${hex(UNUSED_PKEY, 4)} (no such child)`).to.equal('ENODEV');
    expect(after, 'the netlink children survive delete_child').to.include.members([NL_NAMES[0], NL_NAMES[1]]);
    expect(after, 'nothing was made by the refused requests').to.not.include(NL_NAMES[2]);
  });
});

describe('Linux ib_ipoib: a netlink child at work @pkey @multicast @icmp', () => {
  conformance({
    covers: ['LINUX-NETLINK-d'],
    title: 'brings a netlink child in partition 0x8001 up like any IPoIB interface: carrier, a FullMember join of its broadcast group, the group\'s MTU - 4, a QPN of its own, and pings to the peer\'s child',
    tags: ['pkey', 'multicast', 'mtu', 'icmp'],
    requires: ['probe', 'sa', 'partitions', 'ipv4'],
    timeoutMs: CASE_TIMEOUT_MS,
  }, async (t: Case) => {
    const a = t.dut.adapter;
    const parent = await a.link();
    const child = await a.createChildNetlink({ name: NL_TRAFFIC_NAME, pkey: CHILD_PKEY });
    // Deleting the child takes its admin state and address with it.
    t.defer(child.undo, `delete ${child.ifname} (with its state and address)`);
    await a.setUp(true, child.ifname);
    await a.addAddress(`${NL_DUT_IPV4}/${NL_PREFIX_LEN}`, child.ifname);
    const peerChild = await upChild(t, t.peer, CHILD_PKEY, `${NL_PEER_IPV4}/${NL_PREFIX_LEN}`);
    const up = await waitForCarrier(t.dut, child.ifname, NL_CARRIER_TIMEOUT_MS);
    const mgid = broadcastMgid(CHILD_PKEY);
    const members = await t.probe.groupMembers(mgid);
    const dutMember = members.find((m) => m.portGid.equals(parent.hwaddr.gid));
    const groupIbMtu = members[0] ? IB_MTU_CODE_TO_BYTES[members[0].mtu] ?? null : null;
    const ping = await a.ping(NL_PEER_IPV4, { count: NL_ECHOES, waitSeconds: 2, ifname: child.ifname });
    await t.attachJson('netlink child at work', {
      child: summary(up.value),
      carrierAfterMs: up.reached ? up.waitedMs : null,
      peerChild: { ifname: peerChild.ifname, carrierAfterMs: peerChild.carrierAfterMs },
      group: { mgid: formatGid(mgid), ibMtu: groupIbMtu, dutJoinState: dutMember ? hex(dutMember.joinState, 1) : null },
      ping,
    });

    expect(peerChild.carrierAfterMs, `the peer's ${peerChild.ifname} has carrier (the lab works)`).to.not.equal(null);
    expect(up.reached, `${child.ifname} gets carrier once up (it joined ${formatGid(mgid)})`).to.equal(true);
    expect(dutMember, `the SA lists the DUT's port in ${formatGid(mgid)}`).to.not.equal(undefined);
    expect(dutMember!.joinState & JOIN_STATE_FULL, `JoinState of the DUT in ${formatGid(mgid)}`).to.equal(JOIN_STATE_FULL);
    expect(groupIbMtu, `the SA's MTU of ${formatGid(mgid)}`).to.not.equal(null);
    expect(up.value.mtu, `MTU of ${child.ifname} (group IB MTU ${groupIbMtu})`).to.equal((groupIbMtu ?? 0) - IPOIB_HEADER_LEN);
    expect(hex(up.value.hwaddr.qpn, 6), `QPN of ${child.ifname} (the parent's is ${hex(parent.hwaddr.qpn, 6)})`).to.not.equal(hex(parent.hwaddr.qpn, 6));
    expect(ping.received, `echo replies from the peer's child ${NL_PEER_IPV4} through ${child.ifname}`).to.equal(NL_ECHOES);
  });
});

describe('Linux ib_ipoib: the pkey attribute of a parent @pkey', () => {
  conformance({
    covers: ['LINUX-ATTR-a'],
    title: 'reads the parent\'s pkey as entry 0 of the port\'s P_Key table, with 0x8000 set',
    tags: ['pkey'],
    requires: ['fabric-control'],
  }, async (t: Case) => {
    const table = await smPkeysOf(t, t.dut.fabricNode);
    if (!table || table.length === 0) return t.skip('the sim fabric does not show the DUT port\'s P_Key table');
    const parent = await t.dut.adapter.link();
    await t.attachJson('pkey and the port\'s table', { pkey: parent.pkey === null ? null : hex(parent.pkey, 4), table: table.map((k) => hex(k, 4)) });
    expect(parent.pkey === null ? null : hex(parent.pkey, 4), `pkey of ${parent.ifname} (table entry 0 is ${hex(table[0]!, 4)})`).to.equal(hex(table[0]! | PKEY_FULL_MEMBER_BIT, 4));
  });
});
