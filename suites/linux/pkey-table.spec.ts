/**
 * A child for a P_Key the port's P_Key table lacks (research kernel-ipoib.md §6, "P_Key is not
 * found"): Linux makes the interface and lets it be set up, but it gets no carrier and joins
 * nothing until a P_Key change event brings the P_Key; then it joins and carrier comes on. The
 * lab's 0x8004 partition has only the probe as a member, so the DUT's table lacks it until the
 * case has the SM add it. The first case judges what RFC 4391 §5 and the kernel agree on (no
 * joins, no frames, no carrier until the P_Key is there; then the join); the second the kernel's
 * own answer to setting such a child up, which is success.
 */
import { expect } from 'chai';
import { type Case, conformance } from '../harness/conformance.js';
import { IpoibControlError } from '../../src/errors.js';
import { MAD_METHOD_SET, PKEY_BASE_MASK } from '../../src/wire/constants.js';
import { broadcastMgid, formatGid } from '../../src/wire/mgid.js';
import { frameSummary, saMadSummary, saMcMemberMads } from '../harness/capture-views.js';
import { lidOf, smPkeysOf } from '../harness/fabric-view.js';
import { hex } from '../harness/hex.js';
import { setPortPkeys, waitForCarrier } from '../harness/node-actions.js';
import { sleep } from '../harness/poll.js';
import { listenOn } from '../harness/probe-helpers.js';

/** The lab's probe-only partition (lab/partitions/sim-lab.conf). */
const ABSENT_PKEY = 0x8004;
/** How long the child is watched for joins and frames while its P_Key is absent. */
const WATCH_MS = 1_000;
const CARRIER_TIMEOUT_MS = 6_000;
const CASE_TIMEOUT_MS = 60_000;

describe('Linux ib_ipoib: a child whose P_Key the port lacks @pkey', () => {
  conformance({
    covers: ['RFC4391-5-f', 'LINUX-PKEY-b'],
    title: 'keeps a child for a P_Key missing from the port\'s table without carrier and without joins until the SM adds the P_Key, then joins and gets carrier',
    tags: ['pkey', 'multicast', 'sa'],
    requires: ['wire-capture', 'probe', 'sa', 'partitions', 'fabric-control'],
    timeoutMs: CASE_TIMEOUT_MS,
  }, async (t: Case) => {
    const table = await smPkeysOf(t, t.dut.fabricNode);
    if (!table) t.skip('the sim fabric does not show the DUT port\'s P_Key table');
    if (table.some((k) => (k & PKEY_BASE_MASK) === (ABSENT_PKEY & PKEY_BASE_MASK))) t.skip(`the DUT port already holds ${hex(ABSENT_PKEY, 4)}`);
    const a = t.dut.adapter;
    const parent = await a.link();
    const dutLid = await lidOf(t, parent.hwaddr.gid, parent.pkey ?? 0xffff);
    const mgid = broadcastMgid(ABSENT_PKEY);
    // A receiver in the partition's broadcast group, so anything the DUT broadcasts there has a
    // route (the sim drops unrouted multicast before its tap) and shows in the capture.
    await listenOn(t, mgid, { pkey: ABSENT_PKEY });

    let upWhileAbsent = 'not tried';
    let ifname = '';
    const { result: absent, packets, frames } = await t.capture(async () => {
      const child = await a.createChildSysfs(ABSENT_PKEY);
      // Deleting the child undoes its admin state too.
      t.defer(child.undo, `delete ${child.ifname} (with its state)`);
      ifname = child.ifname;
      try {
        await a.setUp(true, child.ifname);
        upWhileAbsent = 'ok';
      } catch (e) {
        // Linux accepts it (ndo_open returns 0 and waits); a refusal is recorded, not judged here.
        upWhileAbsent = (e as Error).message;
      }
      await sleep(WATCH_MS);
      return a.link(child.ifname);
    }, { nodes: [t.dut.fabricNode] });
    const joinsWhileAbsent = saMcMemberMads(packets).filter((m) => m.slid === dutLid && m.method === MAD_METHOD_SET && m.mcMember.mgid.equals(mgid));
    const framesWhileAbsent = frames.filter((f) => f.slid === dutLid && ((f.pkey & PKEY_BASE_MASK) === (ABSENT_PKEY & PKEY_BASE_MASK) || (f.ib.grh?.dgid.equals(mgid) ?? false)));

    await setPortPkeys(t, t.dut.fabricNode, [...table, ABSENT_PKEY]);
    if (upWhileAbsent !== 'ok') await a.setUp(true, ifname);
    const present = await waitForCarrier(t.dut, ifname, CARRIER_TIMEOUT_MS);
    const member = (await t.probe.groupMembers(mgid)).find((m) => m.portGid.equals(parent.hwaddr.gid));
    await t.attachJson('while the P_Key was absent', {
      ifname,
      upAccepted: upWhileAbsent,
      link: { up: absent.up, carrier: absent.carrier, operstate: absent.operstate, pkey: absent.pkey === null ? null : hex(absent.pkey, 4) },
      joins: joinsWhileAbsent.map(saMadSummary),
      frames: framesWhileAbsent.map(frameSummary),
    });
    await t.attachJson('after the SM added it', { carrierAfterMs: present.reached ? present.waitedMs : null, saJoinState: member ? hex(member.joinState, 1) : null });

    expect(absent.carrier, `carrier of ${ifname} while ${hex(ABSENT_PKEY, 4)} is not in the port's table`).to.equal(false);
    expect(joinsWhileAbsent.length, `SA joins of ${formatGid(mgid)} while the P_Key is absent`).to.equal(0);
    expect(framesWhileAbsent.length, `frames from the DUT in partition ${hex(ABSENT_PKEY, 4)} or to its broadcast group while the P_Key is absent`).to.equal(0);
    expect(present.reached, `${ifname} gets carrier within ${CARRIER_TIMEOUT_MS} ms of the SM adding ${hex(ABSENT_PKEY, 4)}`).to.equal(true);
    expect(member, `the SA lists the DUT in ${formatGid(mgid)} once the P_Key is there`).to.not.equal(undefined);
  });
});

describe('Linux ib_ipoib: setting up a child whose P_Key the port lacks @pkey', () => {
  conformance({
    covers: ['LINUX-PKEY-a'],
    title: 'accepts up on a child for a P_Key missing from the port\'s table and keeps it admin up without carrier and out of the partition\'s broadcast group',
    tags: ['pkey', 'multicast'],
    requires: ['probe', 'sa', 'partitions', 'fabric-control'],
    timeoutMs: CASE_TIMEOUT_MS,
  }, async (t: Case) => {
    const table = await smPkeysOf(t, t.dut.fabricNode);
    if (!table) t.skip('the sim fabric does not show the DUT port\'s P_Key table');
    if (table.some((k) => (k & PKEY_BASE_MASK) === (ABSENT_PKEY & PKEY_BASE_MASK))) t.skip(`the DUT port already holds ${hex(ABSENT_PKEY, 4)}`);
    const a = t.dut.adapter;
    const parent = await a.link();
    const child = await a.createChildSysfs(ABSENT_PKEY);
    t.defer(child.undo, `delete ${child.ifname} (with its state)`);
    let upAnswer = 'ok';
    try {
      await a.setUp(true, child.ifname);
    } catch (e) {
      // A refusal is the verdict here (Linux's ndo_open returns 0 and waits), whatever its errno.
      upAnswer = e instanceof IpoibControlError ? `${e.code}: ${e.message}` : (e as Error).message;
    }
    await sleep(WATCH_MS / 2);
    const l = await a.link(child.ifname);
    const mgid = broadcastMgid(ABSENT_PKEY);
    const member = (await t.probe.groupMembers(mgid)).find((m) => m.portGid.equals(parent.hwaddr.gid));
    await t.attachJson('up while the P_Key is absent', {
      ifname: child.ifname,
      portTable: table.map((k) => hex(k, 4)),
      up: upAnswer,
      link: { up: l.up, carrier: l.carrier, operstate: l.operstate },
      saMember: member ? hex(member.joinState, 1) : null,
    });

    expect(upAnswer, `setting ${child.ifname} up while ${hex(ABSENT_PKEY, 4)} is not in the port's table (Linux accepts it; the DUT answered: ${upAnswer})`).to.equal('ok');
    expect(l.up, `${child.ifname} admin up`).to.equal(true);
    expect(l.carrier, `carrier of ${child.ifname}`).to.equal(false);
    expect(member, `the DUT in ${formatGid(mgid)} while its P_Key is absent`).to.equal(undefined);
  });
});
