/**
 * How the stack reads text written to its sysfs-like files, as the kernel reads it:
 * sscanf("%i") for create_child/delete_child and simple_strtoul(…, 0) for umcast.
 */
import { expect } from 'chai';
import { scanInt, strtoulBase0 } from '../../src/ipoib/kernel-text.js';

describe('kernel text parsing for the child P_Key files @pkey @ipoib-stack', function () {
  it('reads decimal, 0x hex and leading-0 octal the way sscanf %i does @pkey @ipoib-stack', function () {
    expect(scanInt('0x8001')).to.equal(0x8001);
    expect(scanInt('0X7fff\n')).to.equal(0x7fff);
    expect(scanInt('32769')).to.equal(32769);
    expect(scanInt('010')).to.equal(8);
    expect(scanInt('  1\n')).to.equal(1);
    expect(scanInt('-5')).to.equal(-5);
    expect(scanInt('+7')).to.equal(7);
    expect(scanInt('12abc'), 'stops at the first non-digit').to.equal(12);
    expect(scanInt('09'), 'octal stops at 9').to.equal(0);
  });

  it('fails the conversion when no digit comes first @pkey @ipoib-stack', function () {
    for (const t of ['', '   ', 'abc', 'x10', '-', '-x', '\n']) expect(scanInt(t), JSON.stringify(t)).to.equal(undefined);
  });

  it('reads "0x" without a hex digit as octal 0, as the kernel radix fix-up does @pkey @ipoib-stack', function () {
    expect(scanInt('0x')).to.equal(0);
    expect(scanInt('0xg')).to.equal(0);
    expect(strtoulBase0('0xz')).to.equal(0);
  });

  it('reads umcast text like simple_strtoul: no white space or sign skipped, garbage is 0 @pkey @ipoib-stack', function () {
    expect(strtoulBase0('1\n')).to.equal(1);
    expect(strtoulBase0('0x10')).to.equal(16);
    expect(strtoulBase0('017')).to.equal(15);
    expect(strtoulBase0(' 1'), 'leading space is not skipped').to.equal(0);
    expect(strtoulBase0('-1'), 'no sign').to.equal(0);
    expect(strtoulBase0('yes')).to.equal(0);
    expect(strtoulBase0('')).to.equal(0);
  });

  it('saturates instead of losing precision on absurdly long numbers @pkey @ipoib-stack', function () {
    expect(scanInt('9'.repeat(40))).to.equal(Number.MAX_SAFE_INTEGER);
  });
});
