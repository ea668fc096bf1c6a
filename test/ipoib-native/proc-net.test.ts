/**
 * /proc/net files of a network namespace read in-process (src/ipoib/native/proc-net.ts): the
 * same text a process inside the namespace reads, with no child process of ours.
 */
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { ArgumentError, NativeError, ProcReadError } from '../../src/errors.js';
import { procMembershipSource } from '../../src/ipoib/host-memberships.js';
import { nativeMembershipSource, readProcNet } from '../../src/ipoib/native/proc-net.js';
import { skipWithReason } from '../helpers/skip.js';
import { Netns, sweepStaleNamespaces, tunTestsSkipReason } from './netns-lab.js';

describe('readProcNet: /proc/net of a namespace without a child process @tun @native @multicast', function () {
  it('reads our own namespace\'s files, and gives null for a file that does not exist @tun @native @multicast', async function () {
    const [igmp, missing] = await readProcNet('', ['igmp', 'no_such_file']);
    expect(igmp).to.equal(readFileSync('/proc/net/igmp', 'utf8'));
    expect(missing).to.equal(null);
  });

  it('refuses names with a path in them, and reports a missing namespace as NativeError @tun @native', async function () {
    for (const bad of ['../igmp', 'igmp/x', '', 'a'.repeat(65)]) {
      let thrown: unknown;
      try {
        await readProcNet('', [bad]);
      } catch (e) {
        thrown = e;
      }
      expect(thrown, JSON.stringify(bad)).to.be.instanceOf(ArgumentError);
    }
    let thrown: unknown;
    try {
      await readProcNet('/run/netns/ipoib-lab-no-such-namespace', ['igmp']);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).to.be.instanceOf(NativeError);
    expect((thrown as NativeError).code).to.equal('ENOENT');
    let fromSource: unknown;
    try {
      await nativeMembershipSource('/run/netns/ipoib-lab-no-such-namespace')();
    } catch (e) {
      fromSource = e;
    }
    expect(fromSource, 'the membership source reports it as a failed read').to.be.instanceOf(ProcReadError);
  });

  describe('in a namespace of its own (root) @tun @native @multicast', function () {
    let ns: Netns | undefined;
    before(async function () {
      const reason = tunTestsSkipReason();
      if (reason) await skipWithReason(this, reason);
      await sweepStaleNamespaces();
      ns = await Netns.create('pn');
      await ns.ip('link', 'add', 'd0', 'type', 'veth', 'peer', 'name', 'd1'); // both ends inside: gone with it
      await ns.ip('link', 'set', 'd0', 'up');
      await ns.ip('addr', 'add', '192.0.2.1/24', 'dev', 'd0');
    });
    after(async function () {
      await ns?.delete();
    });

    it('returns what cat inside the namespace prints, and the same memberships as the nsenter source @tun @native @multicast', async function () {
      const [igmp, igmp6] = await readProcNet(ns!.name, ['igmp', 'igmp6']);
      for (const [name, text] of [['igmp', igmp], ['igmp6', igmp6]] as const) {
        const r = await ns!.exec(['cat', `/proc/net/${name}`], 5000);
        expect(r.code, r.stderr).to.equal(0);
        expect(text, name).to.equal(r.stdout);
      }
      expect(igmp, 'the namespace\'s own devices, not ours').to.contain('d0');
      const inProcess = await nativeMembershipSource(ns!.name)();
      const viaNsenter = await procMembershipSource(ns!.name)();
      expect(inProcess).to.deep.equal(viaNsenter);
      expect(inProcess.some((m) => m.ifname === 'd0' && m.group === '224.0.0.1'), 'all-hosts on d0').to.equal(true);
    });
  });
});
