/**
 * The `_mcg` and `_path` dumps in the kernel's debugfs layout. Expected text written by hand
 * from the format: `  created: %10ld`, `  queuelen: %9d`, `  complete: %9s`, `  send_only: %8s`
 * and `  complete: %6s`, `  DLID:     0x%04x`, `  SL: %12d`, `  rate: %8d.%d Gb/sec`.
 */
import { expect } from 'chai';
import { formatGidKernel, formatMcgDump, formatPathDump, rateToMbps } from '../../src/ipoib/debugfs.js';
import { broadcastMgid, parseGid } from '../../src/wire/mgid.js';

describe('debugfs dumps of the reference stack @multicast @sa @ipoib-stack', function () {
  it('formats GIDs as eight unpadded hex groups without :: compression @mgid @ipoib-stack', function () {
    expect(formatGidKernel(broadcastMgid(0xffff))).to.equal('ff12:401b:ffff:0:0:0:ffff:ffff');
    expect(formatGidKernel(parseGid('fe80::2:c903:0:101'))).to.equal('fe80:0:0:0:2:c903:0:101');
  });

  it('lays out _mcg records sorted by MGID, five lines and a blank line each @multicast @mgid @ipoib-stack', function () {
    const text = formatMcgDump([
      { mgid: parseGid('ff12:601b:ffff::1'), created: 99, queueLen: 3, complete: false, sendOnly: true },
      { mgid: broadcastMgid(0xffff), created: 1234, queueLen: 0, complete: true, sendOnly: false },
    ]);
    expect(text).to.equal(
      'GID: ff12:401b:ffff:0:0:0:ffff:ffff\n' +
        '  created:       1234\n' +
        '  queuelen:         0\n' +
        '  complete:       yes\n' +
        '  send_only:       no\n' +
        '\n' +
        'GID: ff12:601b:ffff:0:0:0:0:1\n' +
        '  created:         99\n' +
        '  queuelen:         3\n' +
        '  complete:        no\n' +
        '  send_only:      yes\n' +
        '\n',
    );
  });

  it('lays out _path records with DLID, SL and rate only when complete @sa @ipoib-stack', function () {
    const text = formatPathDump([
      { dgid: parseGid('fe80::2:c903:0:301'), dlid: 0, sl: 0, rate: 0 },
      { dgid: parseGid('fe80::2:c903:0:201'), dlid: 3, sl: 0, rate: 3 },
    ]);
    expect(text).to.equal(
      'GID: fe80:0:0:0:2:c903:0:201\n' +
        '  complete:    yes\n' +
        '  DLID:     0x0003\n' +
        '  SL:            0\n' +
        '  rate:       10.0 Gb/sec\n' +
        '\n' +
        'GID: fe80:0:0:0:2:c903:0:301\n' +
        '  complete:     no\n' +
        '\n',
    );
  });

  it('prints the rate fraction unpadded, and -1 Mb/s for an unknown rate code, as the kernel does @sa @ipoib-stack', function () {
    expect(rateToMbps(2)).to.equal(2500);
    expect(rateToMbps(16)).to.equal(103125);
    expect(rateToMbps(0)).to.equal(-1);
    const sdr = formatPathDump([{ dgid: parseGid('fe80::1'), dlid: 0x10, sl: 5, rate: 2 }]);
    expect(sdr).to.contain('  rate:        2.500 Gb/sec\n');
    expect(sdr).to.contain('  SL:            5\n');
    const edr = formatPathDump([{ dgid: parseGid('fe80::1'), dlid: 0x10, sl: 0, rate: 16 }]);
    expect(edr).to.contain('  rate:      103.125 Gb/sec\n');
    const unknown = formatPathDump([{ dgid: parseGid('fe80::1'), dlid: 0x10, sl: 0, rate: 0 }]);
    expect(unknown).to.contain('  rate:        0.-1 Gb/sec\n');
  });

  it('prints nothing for empty tables @multicast @sa @ipoib-stack', function () {
    expect(formatMcgDump([])).to.equal('');
    expect(formatPathDump([])).to.equal('');
  });
});
