/**
 * Connected mode through ipoibd itself (root only): two bin/ipoibd.js processes with TUN data
 * planes in network namespaces the test creates, switched with `ipoibctl mode`, their
 * connected-mode options given on the command line (--cm-profile rfc, short idle reaping,
 * --no-connected-mode), the kernel's own pings between them.
 */
import { expect } from 'chai';
import { DaemonClient, DaemonRequestError } from '../../src/ipoib/daemon/client.js';
import { skipWithReason } from '../helpers/skip.js';
import { Netns, ping, sweepStaleNamespaces, tunTestsSkipReason } from '../ipoib-native/netns-lab.js';
import { DaemonLab, exitOf, until } from './daemon-fixture.js';

const IDLE_MS = 2000;

describe('ipoibd in connected mode with TUN data planes (root) @cm @rc @tun @cli @ipoib-stack', function () {
  this.timeout(90_000);
  let lab: DaemonLab | undefined;
  let skipReason: string | undefined;
  const namespaces: Netns[] = [];
  const daemons = new Map<string, ReturnType<DaemonLab['spawnDaemon']>>();

  const cmArgs = ['--cm-profile', 'rfc', '--cm-idle-ms', String(IDLE_MS), '--cm-reap-interval-ms', '500'];
  const start = (node: 'node1' | 'node2', ns: Netns, n: number, extra: string[]): void => {
    daemons.set(node, lab!.spawnDaemon(node, ['--netns', ns.name, '--address', `192.0.2.${n}/24`, '--address', `2001:db8::${n}/64`, ...extra]));
  };
  const ctl = async (node: string, ...args: string[]): Promise<string> => {
    const r = await lab!.ctl(node, ...args);
    if (r.code !== 0) throw new Error(`ipoibctl ${args.join(' ')}: ${r.err}`);
    return r.out;
  };
  const carrier = (node: string): Promise<void> => until(`${node} carrier`, async () => (await lab!.ctl(node, 'show', 'ib0')).out.includes('LOWER_UP'), 15_000);

  before(async function () {
    skipReason = tunTestsSkipReason();
    if (skipReason) return;
    this.timeout(40_000);
    await sweepStaleNamespaces();
    lab = await DaemonLab.start();
    for (const tag of ['cmcd1', 'cmcd2']) namespaces.push(await Netns.create(tag));
    start('node1', namespaces[0]!, 1, cmArgs);
    start('node2', namespaces[1]!, 2, cmArgs);
    await lab.waitForSocket('node1');
    await lab.waitForSocket('node2');
    await carrier('node1');
    await carrier('node2');
  });

  after(async function () {
    this.timeout(30_000);
    const errors: unknown[] = [];
    await lab?.close().catch((e: unknown) => errors.push(e));
    for (const ns of namespaces.reverse()) await ns.delete().catch((e: unknown) => errors.push(e));
    if (errors.length > 0) throw errors[0];
  });

  beforeEach(async function () {
    if (skipReason) await skipWithReason(this, skipReason);
    if (!lab) throw new Error('the lab did not come up (see the before hook)');
  });

  it('switches with ipoibctl mode and takes only the kernel\'s text: "connected\\n" works, "connected" without the newline is EINVAL @cm @cli @mtu @ipoib-stack', async function () {
    const c = await DaemonClient.connect(lab!.socketOf('node1'));
    try {
      const bare = await c.request({ cmd: 'mode', ifname: 'ib0', value: 'connected' }).catch((e: unknown) => e);
      expect(bare).to.be.instanceOf(DaemonRequestError);
      expect((bare as DaemonRequestError).body.code).to.equal('EINVAL');
      expect(await c.request({ cmd: 'mode', ifname: 'ib0', value: 'connected\n' })).to.deep.include({ mode: 'connected' });
    } finally {
      c.close();
    }
    expect(await ctl('node2', 'mode', 'ib0', 'connected')).to.equal('connected');
    for (const node of ['node1', 'node2']) {
      const show = await ctl(node, 'show', 'ib0');
      expect(show, node).to.match(/ mtu 65520 /);
      expect(show, node).to.match(/mode {2}connected /);
      expect(show, node).to.match(/link\/infiniband 80:/);
      expect(show, node).to.match(/cm rfc service_id 0x1000000000[0-9a-f]{5} tx \d rx \d ud_mtu 2044/);
    }
  });

  it('pings with 65492 octets both ways, each node sending over its own connection under the rfc Service IDs @cm @rc @ip @icmp @mtu @ipoib-stack', async function () {
    const [ns1, ns2] = namespaces as [Netns, Netns];
    const a = await ping(ns1, '192.0.2.2', { count: 2, size: 65_492 });
    const b = await ping(ns2, '192.0.2.1', { count: 2, size: 65_492 });
    expect([a.received, b.received], a.output + b.output).to.deep.equal([2, 2]);
    const cm = await ctl('node1', 'cm', 'ib0');
    expect(cm).to.match(/^mode connected cm rfc service_id 0x1000000000[0-9a-f]+ tx 1 rx 1$/m);
    expect(cm).to.match(/^tx 80:.* connected mtu 65524 /m);
    expect(cm).to.match(/^rx fe80:.* connected /m);
    const stats = JSON.parse(await ctl('node1', '--json', 'stats', 'ib0')) as { stats: { all: Record<string, number> } };
    expect(stats.stats.all.cm_tx_connections).to.equal(1);
    expect(stats.stats.all.cm_rx_connections).to.equal(1);
    expect(stats.stats.all.plane_rc_tx_packets).to.be.greaterThan(2);
  });

  it('reaps the receiving side of an idle connection (--cm-idle-ms), after which the next packet connects again @cm @rc @ipoib-stack', async function () {
    await until('both connections reaped', async () => / tx 0 rx 0$/m.test(await ctl('node1', 'cm', 'ib0')), 4 * IDLE_MS + 5000);
    const stats = JSON.parse(await ctl('node2', '--json', 'stats', 'ib0')) as { stats: { all: Record<string, number> } };
    expect(stats.stats.all.cm_rx_reaped, 'node2 reaped node1\'s connection').to.equal(1);
    const again = await ping(namespaces[0]!, '192.0.2.2', { count: 1, size: 10_000 });
    expect(again.received, again.output).to.equal(1);
    expect(await ctl('node1', 'cm', 'ib0')).to.match(/ tx 1 rx 1$/m);
  });

  it('reaches a node started with --no-connected-mode over UD, and the host learns the UD MTU from ping -M do @cm @icmp @mtu @ipoib-stack', async function () {
    const [ns1, ns2] = namespaces as [Netns, Netns];
    const old = daemons.get('node2')!;
    old.kill('SIGTERM');
    expect(await exitOf(old), old.stderrText()).to.equal(0);
    start('node2', ns2, 2, ['--no-connected-mode']);
    await lab!.waitForSocket('node2');
    await carrier('node2');
    expect(await ctl('node2', 'show', 'ib0')).to.match(/link\/infiniband 00:.*\n[\s\S]*cm off ud_mtu 2044/);
    const refused = await lab!.ctl('node2', 'mode', 'ib0', 'connected');
    expect(refused.err).to.match(/^ipoibctl: mode: EINVAL: connected mode is not supported/);
    await ctl('node1', 'neigh', 'ib0', 'flush'); // node2's UD QPN changed with the restart
    const small = await ping(ns1, '192.0.2.2', { count: 2, size: 1000 });
    expect(small.received, small.output).to.equal(2);
    const df = await ns1.exec(['ping', '-4', '-c', '2', '-i', '0.3', '-W', '1', '-M', 'do', '-s', '3000', '192.0.2.2'], 15_000);
    expect(df.stdout + df.stderr).to.match(/mtu = 2044/);
    expect(await ctl('node1', 'cm', 'ib0')).to.match(/ tx 0 /m);
  });
});
