/**
 * Per-interface settings as Linux ib_ipoib exposes them (research kernel-ipoib.md §1, §2, §6):
 * `mode` (datagram by default; connected only when the address carries the RC flag, else the
 * write is EINVAL and a netlink child asked for it is not left behind; a switch sets the MTU:
 * 65520 in connected mode, the group's MTU - 4 back in datagram mode), `umcast` (0 by default,
 * reads back what was written, through sysfs and at netlink creation), and the datagram-mode MTU
 * (broadcast group IB MTU - 4 once joined; a request is EINVAL outside [72, port MTU - 4], and
 * one above the group's is kept but not applied).
 */
import { expect } from 'chai';
import { type Case, conformance } from '../harness/conformance.js';
import { IpoibControlError, Unsupported } from '../../src/errors.js';
import type { IpAddress } from '../../src/lab/adapters/dut.js';
import { IB_MTU_CODE_TO_BYTES, IPOIB_HEADER_LEN } from '../../src/wire/constants.js';
import { hasRc } from '../../src/wire/ipoib-hwaddr.js';
import { formatGid } from '../../src/wire/mgid.js';
import { partitionBroadcastMgid, smPortOf } from '../harness/fabric-view.js';
import { upChild } from '../harness/node-actions.js';

/** The lab's 4096-octet partition (lab/partitions/sim-lab.conf: mtu=5). */
const JUMBO_PKEY = 0x8002;
const NL_CONNECTED_NAME = 'ib0.nl7';
const NL_UMCAST_NAME = 'ib0.nl8';
/** ETH_MIN_MTU (68) + the 4-octet header: the smallest MTU datagram mode accepts. */
const DATAGRAM_MIN_MTU = 72;

/**
 * Puts the DUT's addresses back as they were: re-adds what went missing and removes what the
 * host made up meanwhile (a link-local address of its own once IPv6 came back).
 */
async function restoreAddresses(t: Case, before: readonly IpAddress[]): Promise<void> {
  const key = (x: IpAddress): string => `${x.address}/${x.prefixLength}`;
  const wanted = new Set(before.map(key));
  const now = await t.dut.adapter.addresses();
  const have = new Set(now.map(key));
  for (const x of before) if (!have.has(key(x))) await t.dut.adapter.addAddress(key(x));
  for (const x of now) {
    if (!wanted.has(key(x))) await t.dut.transport.check(['ip', 'addr', 'del', key(x), 'dev', t.dut.ifname]);
  }
}
/** The connected-mode MTU Linux forces on a switch to connected mode. */
const CONNECTED_MTU = 65_520;
const SOME_SMALLER_MTU = 1_500;
const CASE_TIMEOUT_MS = 60_000;

/** 'ok', the errno of a refusal, or 'unsupported' when the adapter reports the DUT lacks the feature. */
async function outcome(call: () => Promise<unknown>): Promise<string> {
  try {
    await call();
    return 'ok';
  } catch (e) {
    if (e instanceof IpoibControlError) return e.code;
    if (e instanceof Unsupported) return 'unsupported';
    throw e;
  }
}

describe('Linux ib_ipoib: mode and umcast @cm @multicast', () => {
  conformance({
    covers: ['LINUX-MODE-a', 'LINUX-NETLINK-c'],
    title: 'runs in datagram mode, and refuses connected mode when its address does not offer it (EINVAL), leaving mode and MTU as they were and no netlink child behind',
    tags: ['cm', 'mtu'],
    requires: [],
    timeoutMs: CASE_TIMEOUT_MS,
  }, async (t: Case) => {
    // Children's modes (sysfs and netlink) are read in child-interfaces.spec.ts.
    const a = t.dut.adapter;
    const link = await a.link();
    const mode = await a.mode();
    if (hasRc(link.hwaddr)) {
      await t.attachJson('mode', { mode, rcFlag: true });
      expect(mode, 'the interface\'s mode').to.equal('datagram');
      return t.skip(`${link.ifname}'s address offers connected mode (flags ${link.hwaddr.flags}): the refusal needs an address without the RC flag; the switch itself is the next case`);
    }
    const switched = await outcome(() => a.setMode('connected'));
    if (switched === 'ok') t.defer(() => a.setMode('datagram').then(() => undefined), 'back to datagram mode');
    const after = await a.link();
    const netlinkConnected = await outcome(async () => {
      const c = await a.createChildNetlink({ name: NL_CONNECTED_NAME, mode: 'connected' });
      t.defer(c.undo, `delete ${c.ifname}`);
    });
    const leftBehind = (await a.interfaces()).some((i) => i.ifname === NL_CONNECTED_NAME);
    await t.attachJson('mode', { mode, rcFlag: false, mtuBefore: link.mtu, switchToConnected: switched, after: { mode: after.mode, mtu: after.mtu }, netlinkConnected, leftBehind });

    expect(mode, 'the interface\'s mode').to.equal('datagram');
    expect(['EINVAL', 'unsupported'], 'switching to connected mode without the RC flag in the address').to.include(switched);
    expect({ mode: after.mode, mtu: after.mtu }, 'mode and MTU after the refused switch').to.deep.equal({ mode: 'datagram', mtu: link.mtu });
    expect(['EINVAL', 'unsupported'], 'a netlink child asked for connected mode').to.include(netlinkConnected);
    expect(leftBehind, `${NL_CONNECTED_NAME} left behind by the refused netlink request`).to.equal(false);
  });

  conformance({
    covers: ['LINUX-MODE-b'],
    title: 'switches to connected mode with MTU 65520 when its address offers it, and back to datagram with the group\'s MTU - 4',
    tags: ['cm', 'mtu'],
    requires: ['probe', 'sa'],
    timeoutMs: CASE_TIMEOUT_MS,
  }, async (t: Case) => {
    const a = t.dut.adapter;
    const link = await a.link();
    if (!hasRc(link.hwaddr)) return t.skip(`${link.ifname}'s address has no RC flag (flags ${link.hwaddr.flags}): the DUT offers no connected mode to switch to`);
    const rec = (await t.probe.groupMembers(partitionBroadcastMgid(link.pkey ?? 0xffff)))[0];
    const groupMtu = rec ? IB_MTU_CODE_TO_BYTES[rec.mtu] : undefined;
    if (groupMtu === undefined) return t.skip('the SA does not tell the broadcast group\'s MTU');
    // The undo puts back the mode and then the MTU the switch changed.
    t.defer(await a.setMode('connected'), 'back to datagram mode and the MTU from before');
    const connected = { mode: await a.mode(), mtu: await a.mtu() };
    await a.setMode('datagram');
    const datagram = { mode: await a.mode(), mtu: await a.mtu() };
    await t.attachJson('mode switches', { mtuBefore: link.mtu, groupIbMtu: groupMtu, connected, datagram });

    expect(connected.mode, 'mode after switching to connected').to.equal('connected');
    expect(connected.mtu, 'MTU after switching to connected').to.equal(CONNECTED_MTU);
    expect(datagram.mode, 'mode after switching back').to.equal('datagram');
    expect(datagram.mtu, `MTU after switching back to datagram (the smaller of the group's ${groupMtu - IPOIB_HEADER_LEN} and ${CONNECTED_MTU})`).to.equal(groupMtu - IPOIB_HEADER_LEN);
  });

  conformance({
    covers: ['LINUX-UMCAST-a'],
    title: 'starts umcast at 0, reads back 1 and 0 as written on the parent, and gives a netlink child the umcast it was made with',
    tags: ['multicast'],
    requires: [],
    timeoutMs: CASE_TIMEOUT_MS,
  }, async (t: Case) => {
    // A sysfs child's default umcast is read in child-interfaces.spec.ts.
    const a = t.dut.adapter;
    const byDefault = await a.umcast();
    t.defer(await a.setUmcast(true), 'umcast back on the parent');
    const set = await a.umcast();
    await a.setUmcast(false); // the queued undo puts back the value from before the case
    const cleared = await a.umcast();
    const nl = await a.createChildNetlink({ name: NL_UMCAST_NAME, pkey: JUMBO_PKEY, umcast: true });
    t.defer(nl.undo, `delete ${nl.ifname}`);
    const netlinkChild = (await a.link(nl.ifname)).umcast;
    await t.attachJson('umcast', { byDefault, set, cleared, netlinkChild });

    expect(byDefault, 'umcast of the parent before anything was written').to.equal(false);
    expect(set, 'umcast after writing 1').to.equal(true);
    expect(cleared, 'umcast after writing 0').to.equal(false);
    expect(netlinkChild, 'umcast of a netlink child made with umcast 1').to.equal(true);
  });
});

describe('Linux ib_ipoib: datagram-mode MTU @mtu', () => {
  conformance({
    covers: ['LINUX-MTU-a', 'RFC4391-7-f', 'RFC4391-7-b', 'RFC4391-7-e'],
    title: 'sets the interface MTU to the broadcast group\'s MTU - 4: 2044 on a 2048-octet group, 4092 on a 4096-octet group',
    tags: ['mtu', 'multicast', 'pkey'],
    requires: ['probe', 'sa', 'partitions'],
    timeoutMs: CASE_TIMEOUT_MS,
  }, async (t: Case) => {
    const a = t.dut.adapter;
    const parent = await a.link();
    const jumbo = await upChild(t, t.dut, JUMBO_PKEY);
    const groups = [
      { ifname: parent.ifname, mgid: partitionBroadcastMgid(parent.pkey ?? 0xffff), mtu: parent.mtu },
      { ifname: jumbo.ifname, mgid: partitionBroadcastMgid(JUMBO_PKEY), mtu: jumbo.link.mtu },
    ];
    const seen = [];
    for (const g of groups) {
      const rec = (await t.probe.groupMembers(g.mgid))[0];
      const ibMtu = rec ? IB_MTU_CODE_TO_BYTES[rec.mtu] : undefined;
      seen.push({ ...g, mgid: formatGid(g.mgid), groupIbMtu: ibMtu ?? null });
    }
    await t.attachJson('interface and group MTUs', { jumboCarrierAfterMs: jumbo.carrierAfterMs, interfaces: seen });

    expect(jumbo.carrierAfterMs, `${jumbo.ifname} joined its broadcast group (carrier)`).to.not.equal(null);
    for (const g of seen) {
      expect(g.groupIbMtu, `the SA's MTU of ${g.mgid}`).to.not.equal(null);
      expect(g.mtu, `MTU of ${g.ifname} (group ${g.mgid}: IB MTU ${g.groupIbMtu})`).to.equal((g.groupIbMtu ?? 0) - IPOIB_HEADER_LEN);
    }
  });

  conformance({
    covers: ['LINUX-MTU-b', 'LINUX-MTU-c', 'RFC4391-7-b'],
    title: 'accepts MTUs from 72 to the port MTU - 4, applies them only up to the group\'s MTU - 4, and refuses values outside with EINVAL',
    tags: ['mtu'],
    requires: ['probe', 'sa', 'fabric-control'],
  }, async (t: Case) => {
    const a = t.dut.adapter;
    const link = await a.link();
    const rec = (await t.probe.groupMembers(partitionBroadcastMgid(link.pkey ?? 0xffff)))[0];
    const portCode = (await smPortOf(t, t.dut.fabricNode))?.mtuCode ?? null;
    const groupMtu = rec ? IB_MTU_CODE_TO_BYTES[rec.mtu] : undefined;
    const portMtu = portCode === null ? undefined : IB_MTU_CODE_TO_BYTES[portCode];
    if (groupMtu === undefined || portMtu === undefined) t.skip('the SA or the fabric does not tell the group\'s or the port\'s MTU');
    const maxMtu = portMtu - IPOIB_HEADER_LEN;
    const groupIpMtu = groupMtu - IPOIB_HEADER_LEN;

    // An MTU under 1280 makes the host's IPv6 drop every address of the interface (a kernel
    // rule, on ib_ipoib as on any netdev), so the undo puts back the MTU and then the addresses.
    const before = await a.addresses();
    await a.setMtu(SOME_SMALLER_MTU);
    // One undo for every request below: the MTU and the addresses from before the case.
    t.defer(async () => {
      await a.setMtu(link.mtu);
      await restoreAddresses(t, before);
    }, `MTU back to ${link.mtu}, addresses back`);
    const smaller = await a.mtu();
    await a.setMtu(maxMtu);
    const atPortMax = await a.mtu();
    const tooBig = await outcome(() => a.setMtu(maxMtu + 1));
    const tooSmall = await outcome(() => a.setMtu(DATAGRAM_MIN_MTU - 1));
    const smallest = await outcome(() => a.setMtu(DATAGRAM_MIN_MTU));
    const atSmallest = await a.mtu();
    await t.attachJson('MTU requests', {
      groupIbMtu: groupMtu,
      portIbMtu: portMtu,
      requested: { [SOME_SMALLER_MTU]: smaller, [maxMtu]: atPortMax, [maxMtu + 1]: tooBig, [DATAGRAM_MIN_MTU - 1]: tooSmall, [DATAGRAM_MIN_MTU]: `${smallest} → ${atSmallest}` },
    });

    expect(smaller, `MTU after asking for ${SOME_SMALLER_MTU}`).to.equal(SOME_SMALLER_MTU);
    expect(atPortMax, `MTU after asking for the port's ${maxMtu} on a group of IB MTU ${groupMtu} (accepted, applied as ${groupIpMtu})`).to.equal(Math.min(maxMtu, groupIpMtu));
    expect(tooBig, `asking for ${maxMtu + 1} (above the port MTU - 4)`).to.equal('EINVAL');
    expect(tooSmall, `asking for ${DATAGRAM_MIN_MTU - 1}`).to.equal('EINVAL');
    expect(smallest, `asking for ${DATAGRAM_MIN_MTU}`).to.equal('ok');
    expect(atSmallest, `MTU after asking for ${DATAGRAM_MIN_MTU}`).to.equal(DATAGRAM_MIN_MTU);
  });
});
