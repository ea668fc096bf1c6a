/**
 * ipoibd's connected-mode options and the lab-node settings that become them: bad values are
 * usage errors (exit 2) before anything starts, and a lab node's `cm` turns into exactly the
 * flags ipoibd takes.
 */
import { expect } from 'chai';
import { main as ipoibd } from '../../src/cli/ipoibd.js';
import { ArgumentError } from '../../src/errors.js';
import { cmConfig, IPOIB_CM_RX_DELAY_MS, IPOIB_CM_RX_TIMEOUT_MS } from '../../src/ipoib/cm/cm-config.js';
import { cmArgs } from '../../src/ipoib/daemon/lab-nodes.js';

async function run(argv: string[]): Promise<{ code: number; err: string }> {
  const err: string[] = [];
  const code = await ipoibd(argv, { out: () => undefined, err: (l) => err.push(l) });
  return { code, err: err.join('\n') };
}

describe('ipoibd connected-mode options @cm @cli @ipoib-stack', function () {
  it('refuses a bad profile, cap or interval with exit 2 before starting @cm @cli @ipoib-stack', async function () {
    const base = ['--fabric', 'cmc-none', '--node', 'node1'];
    for (const [extra, why] of [
      [['--cm-profile', 'ietf'], /--cm-profile is linux or rfc/],
      [['--cm-max-passive', '4097'], /--cm-max-passive must be a whole number from 0 to 4096/],
      [['--cm-idle-ms', '0'], /--cm-idle-ms must be a whole number from 1/],
      [['--cm-reap-interval-ms', 'soon'], /--cm-reap-interval-ms must be a whole number/],
    ] as const) {
      const r = await run([...base, ...extra]);
      expect(r.code, extra.join(' ')).to.equal(2);
      expect(r.err, extra.join(' ')).to.match(why);
    }
  });

  it('turns a lab node\'s cm settings into ipoibd flags @cm @cli @lab @ipoib-stack', function () {
    expect(cmArgs(undefined)).to.deep.equal([]);
    expect(cmArgs({ enabled: false })).to.deep.equal(['--no-connected-mode']);
    expect(cmArgs({ profile: 'rfc', maxPassive: 4, idleMs: 2000, reapIntervalMs: 500 })).to.deep.equal([
      '--cm-profile', 'rfc', '--cm-max-passive', '4', '--cm-idle-ms', '2000', '--cm-reap-interval-ms', '500',
    ]);
  });

  it('defaults to the kernel\'s values, offers connected mode only where the port has RC, and names a bad option @cm @rc @ipoib-stack', function () {
    expect(cmConfig(undefined, true)).to.deep.equal({ enabled: true, profile: 'linux', maxPassive: 128, rxIdleTimeoutMs: IPOIB_CM_RX_TIMEOUT_MS, rxReapIntervalMs: IPOIB_CM_RX_DELAY_MS });
    expect(cmConfig({ enabled: true }, false).enabled, 'a port without RC').to.equal(false);
    expect(() => cmConfig({ maxPassive: -1 }, true)).to.throw(ArgumentError, /cm\.maxPassive/);
    expect(() => cmConfig({ profile: 'x' as never }, true)).to.throw(ArgumentError, /cm\.profile/);
  });
});
