/**
 * The debug levels of Linux ib_ipoib at run time (research kernel-ipoib.md §5): debug_level and
 * mcast_debug_level are module parameters writable while the driver runs (present when it is
 * built with debugging); the reference stack has one level per interface (`ipoibctl debug`). The
 * case sets every level the DUT has to 0, raises them, and lowers them again, reading each back,
 * and provokes in each of the three rounds events the stack drops or handles without a word at
 * level 0 but reports when debugging: an ARP packet with an op code that is neither request nor
 * reply (the reference stack logs the drop with the op), and, where the DUT has a multicast debug
 * level, a send to a multicast group nobody uses (the kernel logs the send-only join with the
 * MGID). Every round uses fresh values, so a line about this round's op or MGID cannot come from
 * anything else: it must appear in the raised round only. Levels are put back afterwards.
 */
import { randomInt } from 'node:crypto';
import { expect } from 'chai';
import { type Case, conformance } from '../harness/conformance.js';
import { DEBUG_LEVEL_NAMES, type DebugLevelName } from '../../src/lab/adapters/dut.js';
import { Unsupported } from '../../src/errors.js';
import { ARPHRD_INFINIBAND, ETH_P_ARP, ETH_P_IP } from '../../src/wire/constants.js';
import { formatGid, mgidForIpv4Group } from '../../src/wire/mgid.js';
import { ipoibFrame, rawArpBody } from '../harness/frames.js';
import { pingGroup } from '../harness/node-actions.js';
import { poll, sleep } from '../harness/poll.js';
import { probeHwAddr, probeOnBroadcast, sendToDut, SILENCE_MS } from '../harness/probe-helpers.js';

/** The level a round raises to: any positive value turns the kernel's messages on. */
const RAISED_LEVEL = 1;
/** A sender address of the lab subnet that no node holds. */
const UNUSED_SENDER_IPV4 = '192.0.2.203';
/** How long the raised round waits for its line to reach the log. */
const LOG_WAIT_MS = 1_500;
const CASE_TIMEOUT_MS = 45_000;

/** One round's stimulus: the values that name it in a log line. */
interface RoundTokens {
  arpOp: number;
  group: string | null;
  mgidTexts: string[];
}

/** The two ways an MGID shows in text: compressed (::) and every group as four hex digits. */
function mgidTexts(mgid: Buffer): string[] {
  const full = Array.from({ length: 8 }, (_, i) => mgid.readUInt16BE(i * 2).toString(16).padStart(4, '0')).join(':');
  return [formatGid(mgid), full];
}

/** Whether a log line is about this round's stimulus. */
function mentions(line: string, r: RoundTokens): boolean {
  if (new RegExp(`\\bop ${r.arpOp}\\b`).test(line)) return true;
  const lower = line.toLowerCase();
  return r.mgidTexts.some((m) => lower.includes(m));
}

describe('Linux ib_ipoib: debug levels at run time @arp @multicast', () => {
  conformance({
    covers: ['LINUX-DEBUG-a', 'LINUX-DEBUG-b'],
    title: 'changes its debug levels at run time and reads them back, logs a malformed ARP packet or a new send-only group only while a level is raised, and goes quiet again once it is lowered',
    tags: ['arp', 'multicast'],
    requires: ['probe', 'sa', 'ipv4'],
    timeoutMs: CASE_TIMEOUT_MS,
  }, async (t: Case) => {
    const a = t.dut.adapter;
    const dutIpv4 = t.dut.ipv4;
    if (!dutIpv4) return t.skip('the lab file gives the DUT no IPv4 address');
    // Which levels the DUT has; debug_level is the one every debugging build has (Unsupported → skip).
    const levels: DebugLevelName[] = [];
    const before: Partial<Record<DebugLevelName, number | string>> = {};
    for (const name of DEBUG_LEVEL_NAMES) {
      try {
        before[name] = await a.debugLevel(name);
        levels.push(name);
      } catch (e) {
        if (!(e instanceof Unsupported)) throw e;
        if (name === 'debug_level') throw e;
        before[name] = 'absent';
      }
    }
    const hasMcastLevel = levels.includes('mcast_debug_level');
    const { dut, bcast, qp } = await probeOnBroadcast(t);
    const sha = probeHwAddr(t, qp);
    const usedOps = new Set<number>();
    const pkey = dut.pkey;

    // One undo for all three rounds: every level back to what it was before the case.
    t.defer(async () => {
      for (const name of levels) await a.setDebugLevel(name, before[name] as number);
    }, `debug levels back to ${JSON.stringify(before)}`);
    const setAll = async (level: number): Promise<Record<string, number>> => {
      for (const name of levels) await a.setDebugLevel(name, level);
      const read: Record<string, number> = {};
      for (const name of levels) read[name] = await a.debugLevel(name);
      return read;
    };
    const provoke = async (): Promise<RoundTokens> => {
      let arpOp: number;
      do arpOp = randomInt(0x1000, 0xfff0);
      while (usedOps.has(arpOp));
      usedOps.add(arpOp);
      const body = rawArpBody({ htype: ARPHRD_INFINIBAND, ptype: ETH_P_IP, hlen: 20, plen: 4, op: arpOp, sha, spa: UNUSED_SENDER_IPV4, tpa: dutIpv4 });
      sendToDut(qp, dut, ipoibFrame(ETH_P_ARP, body), bcast.qkey);
      let group: string | null = null;
      let texts: string[] = [];
      if (hasMcastLevel) {
        group = `239.${randomInt(64, 128)}.${randomInt(0, 256)}.${randomInt(1, 255)}`;
        texts = mgidTexts(mgidForIpv4Group(group, pkey));
        await pingGroup(t.dut, group, { count: 1 });
      }
      return { arpOp, group, mgidTexts: texts };
    };

    // Round 1: every level 0.
    const atZero = await setAll(0);
    const mark0 = await a.logMark();
    const quiet = await provoke();
    await sleep(SILENCE_MS);
    const quietLines = (await a.logSince(mark0)).filter((l) => mentions(l, quiet));

    // Round 2: raised.
    const raised = await setAll(RAISED_LEVEL);
    const mark1 = await a.logMark();
    const loud = await provoke();
    const heard = await poll(async () => (await a.logSince(mark1)).filter((l) => mentions(l, loud)), (lines) => lines.length > 0, LOG_WAIT_MS);

    // Round 3: lowered again.
    const lowered = await setAll(0);
    const mark2 = await a.logMark();
    const again = await provoke();
    await sleep(SILENCE_MS);
    const againLines = (await a.logSince(mark2)).filter((l) => mentions(l, again));
    // A line about round 1 or 3 anywhere since round 1 (a late one would show here too).
    const lateQuiet = (await a.logSince(mark0)).filter((l) => mentions(l, quiet) || mentions(l, again));

    await t.attachJson('debug levels', { before, atZero, raised, lowered });
    await t.attachJson('rounds', {
      level0: { stimulus: quiet, lines: quietLines },
      raised: { stimulus: loud, lines: heard.value, waitedMs: heard.waitedMs },
      loweredAgain: { stimulus: again, lines: againLines },
      roundOneOrThreeLinesSinceRoundOne: lateQuiet,
    });

    for (const name of levels) {
      expect(atZero[name], `${name} read back after writing 0`).to.equal(0);
      expect(raised[name], `${name} read back after writing ${RAISED_LEVEL}`).to.equal(RAISED_LEVEL);
      expect(lowered[name], `${name} read back after writing 0 again`).to.equal(0);
    }
    const what = (r: RoundTokens): string => `ARP op ${r.arpOp}${r.group ? ` or the group ${r.group} (${r.mgidTexts[0]})` : ''}`;
    expect(quietLines, `log lines about ${what(quiet)} at level 0`).to.deep.equal([]);
    expect(heard.value.length, `log lines about ${what(loud)} within ${LOG_WAIT_MS} ms at level ${RAISED_LEVEL}`).to.be.greaterThan(0);
    expect(againLines, `log lines about ${what(again)} after lowering the levels to 0`).to.deep.equal([]);
    expect(lateQuiet, 'lines about the level-0 rounds logged at any time since').to.deep.equal([]);
  });
});
