/**
 * Parser tests (not conformance): the kernel adapter's parsers against sample outputs written by
 * hand from the formats documented in research kernel-ipoib.md (§1 sysfs, §2 iproute2, §3
 * debugfs, §4 ethtool), plus malformed variants that must each raise ParseError.
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ParseError } from '../../src/errors.js';
import {
  IPOIB_ETHTOOL_COUNTERS,
  ipoibCountersOf,
  kernelAtLeast,
  parseDebugfsGid,
  parseEthtoolCoalesce,
  parseEthtoolDriverInfo,
  parseEthtoolFeatures,
  parseEthtoolStats,
  parseIpAddrJson,
  parseIpLinkJson,
  parseIpNeighJson,
  parseKernelRelease,
  parseMcgDump,
  parsePathDump,
  parsePingSummary,
  parseSysfsDecimal,
  parseSysfsDevId,
  parseSysfsDevPort,
  parseSysfsHwAddr,
  parseSysfsMode,
  parseSysfsParent,
  parseSysfsPkey,
  parseSysfsUmcast,
} from '../../src/lab/adapters/kernel-parsers.js';
import { legacyChildName } from '../../src/lab/adapters/kernel-ipoib.js';

const FIX = path.resolve('test/lab/fixtures/kernel');
const fixture = (name: string): string => readFileSync(path.join(FIX, name), 'utf8');

/** Runs fn and returns the ParseError it throws; fails when it throws nothing or something else. */
function parseErrorOf(fn: () => unknown): ParseError {
  try {
    fn();
  } catch (e) {
    expect(e, String(e)).to.be.instanceOf(ParseError);
    return e as ParseError;
  }
  expect.fail('expected a ParseError, nothing was thrown');
}

const IB0_GID = 'fe800000000000000002c903000a1b2c';

describe('kernel-parsers: sysfs values (parser tests) @lab', function () {
  it('reads mode "datagram" and "connected" and rejects other spellings @lab', function () {
    expect(parseSysfsMode('datagram\n')).to.equal('datagram');
    expect(parseSysfsMode('connected\n')).to.equal('connected');
    for (const bad of ['Connected\n', 'ud\n', '', 'datagram\nconnected\n']) {
      const e = parseErrorOf(() => parseSysfsMode(bad));
      expect(e.command).to.equal('sysfs mode');
    }
  });

  it('reads umcast 0 and 1 and rejects anything else @lab', function () {
    expect(parseSysfsUmcast('0\n')).to.equal(false);
    expect(parseSysfsUmcast('1\n')).to.equal(true);
    for (const bad of ['2\n', 'yes\n', ' 1\n']) parseErrorOf(() => parseSysfsUmcast(bad));
  });

  it('reads the pkey file in its 0x%04x form and rejects other forms @lab @pkey', function () {
    expect(parseSysfsPkey('0x8001\n')).to.equal(0x8001);
    expect(parseSysfsPkey('0xffff\n')).to.equal(0xffff);
    for (const bad of ['8001\n', '0x801\n', '0X8001\n', '0x8001 \n', '0x18001\n']) {
      const e = parseErrorOf(() => parseSysfsPkey(bad));
      expect(e.where).to.equal('line 1');
    }
  });

  it('reads parent, dev_id (%#x) and dev_port (decimal) @lab', function () {
    expect(parseSysfsParent('ib0\n')).to.equal('ib0');
    expect(parseSysfsDevId('0x0\n')).to.equal(0);
    expect(parseSysfsDevId('0x1\n')).to.equal(1);
    expect(parseSysfsDevPort('1\n')).to.equal(1);
    parseErrorOf(() => parseSysfsParent('ib 0\n'));
    parseErrorOf(() => parseSysfsParent('\n'));
    parseErrorOf(() => parseSysfsDevId('0\n'));
    parseErrorOf(() => parseSysfsDevPort('0x1\n'));
  });

  it('reads decimal files and the 20-octet address files @lab', function () {
    expect(parseSysfsDecimal('mtu', '2044\n')).to.equal(2044);
    parseErrorOf(() => parseSysfsDecimal('mtu', '2044k\n'));
    const a = parseSysfsHwAddr('address', '80:00:00:48:fe:80:00:00:00:00:00:00:00:02:c9:03:00:0a:1b:2c\n');
    expect(a.flags).to.equal(0x80);
    expect(a.qpn).to.equal(0x48);
    expect(a.gid.toString('hex')).to.equal(IB0_GID);
    const e = parseErrorOf(() => parseSysfsHwAddr('address', '3c:ec:ef:10:20:30\n'));
    expect(e.command).to.equal('sysfs address');
  });

  it('reads uname -r releases and compares versions @lab', function () {
    const k = parseKernelRelease('6.1.0-13-amd64\n');
    expect(k).to.deep.equal({ release: '6.1.0-13-amd64', major: 6, minor: 1, patch: 0 });
    expect(parseKernelRelease('5.14.0-362.8.1.el9_3.x86_64').minor).to.equal(14);
    expect(parseKernelRelease('6.8-rc1').patch).to.equal(0);
    expect(kernelAtLeast(k, 5, 10)).to.equal(true);
    expect(kernelAtLeast(parseKernelRelease('5.4.0-150-generic'), 5, 10)).to.equal(false);
    expect(kernelAtLeast(parseKernelRelease('5.10.0'), 5, 10)).to.equal(true);
    parseErrorOf(() => parseKernelRelease('Linux\n'));
  });

  it('names legacy children "%.10s.%04x" after the value written @lab', function () {
    expect(legacyChildName('ib0', 1)).to.equal('ib0.0001');
    expect(legacyChildName('ib0', 0x8001)).to.equal('ib0.8001');
    expect(legacyChildName('ibp59s0f0abc', 0x8002)).to.equal('ibp59s0f0a.8002');
  });
});

describe('kernel-parsers: iproute2 JSON (parser tests) @lab', function () {
  it('reads link entries: addresses only for infiniband, the ipoib linkinfo, parent and flags @lab @pkey', function () {
    const links = parseIpLinkJson(fixture('ip-link-all.json'));
    expect(links.map((l) => l.ifname)).to.deep.equal(['lo', 'eno1', 'ib0', 'ib0.8001', 'lab9']);
    const [lo, , ib0, child, rtnl] = links;
    expect(lo?.address).to.equal(null);
    expect(ib0?.linkType).to.equal('infiniband');
    expect(ib0?.mtu).to.equal(2044);
    expect(ib0?.address?.flags).to.equal(0x80);
    expect(ib0?.address?.qpn).to.equal(0x48);
    expect(ib0?.address?.gid.toString('hex')).to.equal(IB0_GID);
    expect(ib0?.broadcast?.qpn).to.equal(0xffffff);
    expect(ib0?.broadcast?.gid.toString('hex')).to.equal('ff12401bffff000000000000ffffffff');
    expect(ib0?.parent).to.equal(null);
    expect(ib0?.kind).to.equal('ipoib');
    expect(ib0?.ipoib).to.deep.equal({ pkey: 0xffff, mode: 'datagram', umcast: false });
    expect(child?.parent).to.equal('ib0');
    expect(child?.ipoib).to.deep.equal({ pkey: 0x8001, mode: 'connected', umcast: true });
    expect(rtnl?.flags).to.include('NO-CARRIER');
    expect(rtnl?.flags).not.to.include('LOWER_UP');
    expect(rtnl?.ipoib?.pkey).to.equal(0x8009);
  });

  it('reads a parent without linkinfo (kernels before 5.10) as having no ipoib info @lab', function () {
    const [ib0] = parseIpLinkJson(fixture('ip-link-parent-pre510.json'));
    expect(ib0?.kind).to.equal(null);
    expect(ib0?.ipoib).to.equal(null);
    expect(ib0?.address?.flags).to.equal(0);
    expect(ib0?.address?.qpn).to.equal(0x107);
  });

  it('rejects link output that is not a JSON array of well-typed entries @lab', function () {
    const good = JSON.parse(fixture('ip-link-all.json')) as Record<string, unknown>[];
    const ib0 = good[2] as Record<string, unknown>;
    const variant = (patch: Record<string, unknown>): string => JSON.stringify([{ ...ib0, ...patch }]);
    const cases: [string, string, string][] = [
      ['not JSON', '[{"ifname":', '$'],
      ['not an array', '{"ifname":"ib0"}', '$'],
      ['entry not an object', '[3]', '$[0]'],
      ['ifname missing', variant({ ifname: undefined }), '$[0].ifname'],
      ['mtu a string', variant({ mtu: '2044' }), '$[0].mtu'],
      ['flags not strings', variant({ flags: ['UP', 1] }), '$[0].flags'],
      ['address of 19 octets', variant({ address: '80:00:00:48:fe:80:00:00:00:00:00:00:00:02:c9:03:00:0a:1b' }), '$[0].address'],
      ['ipoib without info_data', variant({ linkinfo: { info_kind: 'ipoib' } }), '$[0].linkinfo.info_data'],
      ['mode misspelt', variant({ linkinfo: { info_kind: 'ipoib', info_data: { key: '0x8001', mode: 'Datagram', umcast: '0000' } } }), '$[0].linkinfo.info_data.mode'],
      ['key without 0x', variant({ linkinfo: { info_kind: 'ipoib', info_data: { key: 'ffff', mode: 'datagram', umcast: '0000' } } }), '$[0].linkinfo.info_data.key'],
      ['umcast a word', variant({ linkinfo: { info_kind: 'ipoib', info_data: { key: '0xffff', mode: 'datagram', umcast: 'yes' } } }), '$[0].linkinfo.info_data.umcast'],
    ];
    for (const [what, text, where] of cases) {
      const e = parseErrorOf(() => parseIpLinkJson(text));
      expect(e.where, what).to.equal(where);
      expect(e.command, what).to.equal('ip -d -j link show');
    }
  });

  it('reads addr_info entries with their tentative flag, and rejects bad ones @lab', function () {
    const [ib0] = parseIpAddrJson(fixture('ip-addr.json'));
    expect(ib0?.ifname).to.equal('ib0');
    expect(ib0?.addresses).to.deep.equal([
      { family: 'inet', local: '10.20.0.1', prefixlen: 24, scope: 'global', tentative: false, dadfailed: false },
      { family: 'inet6', local: 'fd00:20::1', prefixlen: 64, scope: 'global', tentative: true, dadfailed: false },
      { family: 'inet6', local: 'fe80::202:c903:a:1b2c', prefixlen: 64, scope: 'link', tentative: false, dadfailed: false },
    ]);
    const base = { ifindex: 4, ifname: 'ib0' };
    expect(parseErrorOf(() => parseIpAddrJson(JSON.stringify([{ ...base, addr_info: [{ family: 'packet', local: 'x', prefixlen: 0, scope: 'link' }] }]))).where).to.equal('$[0].addr_info[0].family');
    expect(parseErrorOf(() => parseIpAddrJson(JSON.stringify([{ ...base, addr_info: [{ family: 'inet', local: '10.0.0.1', prefixlen: '24', scope: 'global' }] }]))).where).to.equal('$[0].addr_info[0].prefixlen');
    expect(parseErrorOf(() => parseIpAddrJson(JSON.stringify([{ ...base, addr_info: {} }]))).where).to.equal('$[0].addr_info');
  });

  it('reads neighbour entries: resolved, failed without lladdr, and the router flag @lab', function () {
    const n = parseIpNeighJson(fixture('ip-neigh.json'));
    expect(n.map((e) => e.dst)).to.deep.equal(['10.20.0.2', '10.20.0.9', 'fe80::202:c903:a:4410']);
    expect(n[0]?.lladdr?.qpn).to.equal(0x52);
    expect(n[0]?.state).to.deep.equal(['REACHABLE']);
    expect(n[0]?.router).to.equal(false);
    expect(n[1]?.lladdr).to.equal(null);
    expect(n[1]?.state).to.deep.equal(['FAILED']);
    expect(n[2]?.router).to.equal(true);
    expect(n[2]?.dev).to.equal(null);
    const e = parseErrorOf(() => parseIpNeighJson('[{"dst":"10.0.0.1","lladdr":"3c:ec:ef:10:20:30","state":["STALE"]}]'));
    expect(e.where).to.equal('$[0].lladdr');
    expect(parseErrorOf(() => parseIpNeighJson('[{"lladdr":null}]')).where).to.equal('$[0].lladdr');
    expect(parseErrorOf(() => parseIpNeighJson('[{"state":["STALE"]}]')).where).to.equal('$[0].dst');
  });
});

describe('kernel-parsers: ethtool (parser tests) @lab', function () {
  it('reads ethtool -S into the eight ipoib counters in order @lab @multicast', function () {
    const s = parseEthtoolStats(fixture('ethtool-S.txt'));
    expect(Object.keys(s)).to.deep.equal([...IPOIB_ETHTOOL_COUNTERS]);
    expect(ipoibCountersOf(s)).to.deep.equal({
      rx_packets: 1843,
      tx_packets: 1790,
      rx_bytes: 254017,
      tx_bytes: 246932,
      tx_errors: 0,
      rx_dropped: 3,
      tx_dropped: 1,
      multicast: 17,
    });
  });

  it('rejects ethtool -S output with a wrong heading, bad values, repeats or missing ipoib counters @lab', function () {
    expect(parseErrorOf(() => parseEthtoolStats('Statistics:\n     rx_packets: 1\n')).where).to.equal('line 1');
    expect(parseErrorOf(() => parseEthtoolStats('NIC statistics:\n     rx_packets: 12k\n')).where).to.equal('line 2 (rx_packets)');
    expect(parseErrorOf(() => parseEthtoolStats('NIC statistics:\nrx_packets: 1\n')).where).to.equal('line 2');
    expect(parseErrorOf(() => parseEthtoolStats('NIC statistics:\n     rx_packets: 1\n     rx_packets: 2\n')).where).to.equal('line 3');
    // An mlx5 enhanced-datapath netdev reports other names: not the ipoib set.
    const mlx = parseEthtoolStats('NIC statistics:\n     rx_packets: 5\n     tx_packets: 6\n     rx_csum_complete: 5\n');
    expect(parseErrorOf(() => ipoibCountersOf(mlx)).where).to.equal('rx_bytes');
  });

  it('reads ethtool -i: driver, version, firmware, bus-info and supports flags @lab', function () {
    expect(parseEthtoolDriverInfo(fixture('ethtool-i.txt'))).to.deep.equal({
      driver: 'ib_ipoib',
      version: '6.1.0-13-amd64',
      firmwareVersion: '16.35.2000',
      busInfo: '0000:3b:00.0',
      supports: { statistics: true, test: false, 'eeprom-access': false, 'register-dump': false, 'priv-flags': false },
    });
    expect(parseEthtoolDriverInfo('driver: ib_ipoib\nversion: \nfirmware-version: 2.42.5000\nbus-info: 0000:04:00.0\n').version).to.equal('');
  });

  it('rejects ethtool -i output missing a field, with a bad supports value or a stray line @lab', function () {
    expect(parseErrorOf(() => parseEthtoolDriverInfo('driver: ib_ipoib\nversion: \nfirmware-version: 1\n')).where).to.equal('bus-info');
    expect(parseErrorOf(() => parseEthtoolDriverInfo('driver: \nversion: \nfirmware-version: 1\nbus-info: x\n')).where).to.equal('line 1');
    expect(parseErrorOf(() => parseEthtoolDriverInfo('driver: ib_ipoib\nversion: \nfirmware-version: 1\nbus-info: x\nsupports-test: maybe\n')).where).to.equal('line 5');
    expect(parseErrorOf(() => parseEthtoolDriverInfo('driver: ib_ipoib\n???\n')).where).to.equal('line 2');
  });

  it('reads ethtool -k features with [fixed] and [requested …] notes @lab', function () {
    const f = parseEthtoolFeatures(fixture('ethtool-k-datagram.txt'));
    expect(f['tx-checksum-ipv4']).to.deep.equal({ on: true, fixed: false, requested: null });
    expect(f['tx-checksum-ipv6']).to.deep.equal({ on: false, fixed: true, requested: null });
    expect(f['vlan-challenged']).to.deep.equal({ on: true, fixed: true, requested: null });
    expect(f['tx-tcp6-segmentation']?.on).to.equal(false);
    expect(Object.keys(f)).to.have.length(21);
    const c = parseEthtoolFeatures(fixture('ethtool-k-connected.txt'));
    expect(c['tx-checksum-ipv4']).to.deep.equal({ on: false, fixed: false, requested: true });
    expect(c['tx-tcp-segmentation']).to.deep.equal({ on: false, fixed: false, requested: true });
  });

  it('rejects ethtool -k output with a wrong heading, an unknown note, a bad value or a repeat @lab', function () {
    expect(parseErrorOf(() => parseEthtoolFeatures('Offload parameters for ib0:\nrx-checksumming: on\n')).where).to.equal('line 1');
    expect(parseErrorOf(() => parseEthtoolFeatures('Features for ib0:\nhighdma: on [maybe]\n')).where).to.equal('line 2');
    expect(parseErrorOf(() => parseEthtoolFeatures('Features for ib0:\nhighdma: yes\n')).where).to.equal('line 2');
    expect(parseErrorOf(() => parseEthtoolFeatures('Features for ib0:\nhighdma: on\nhighdma: off\n')).where).to.equal('line 3');
  });

  it('reads ethtool -c in the n/a form and the old all-zero form @lab', function () {
    const c = parseEthtoolCoalesce(fixture('ethtool-c.txt'));
    expect(c.rxUsecs).to.equal(10);
    expect(c.rxFrames).to.equal(16);
    expect(c.adaptiveRx).to.equal(null);
    expect(c.params['tx-usecs']).to.equal(null);
    expect(Object.keys(c.params)).to.have.length(20);
    const old = parseEthtoolCoalesce(fixture('ethtool-c-old.txt'));
    expect(old.adaptiveRx).to.equal(false);
    expect(old.adaptiveTx).to.equal(false);
    expect(old.rxUsecs).to.equal(0);
    expect(old.params['tx-frames']).to.equal(0);
  });

  it('rejects ethtool -c output without a heading, the Adaptive line or rx-usecs, or with bad values @lab', function () {
    const head = 'Coalesce parameters for ib0:\n';
    expect(parseErrorOf(() => parseEthtoolCoalesce('rx-usecs: 1\n')).where).to.equal('line 1');
    expect(parseErrorOf(() => parseEthtoolCoalesce(`${head}rx-usecs: 1\nrx-frames: 2\n`)).where).to.equal('Adaptive');
    expect(parseErrorOf(() => parseEthtoolCoalesce(`${head}Adaptive RX: off  TX: off\nrx-frames: 2\n`)).where).to.equal('rx-usecs');
    expect(parseErrorOf(() => parseEthtoolCoalesce(`${head}Adaptive RX: maybe  TX: off\n`)).where).to.equal('line 2');
    expect(parseErrorOf(() => parseEthtoolCoalesce(`${head}Adaptive RX: off  TX: off\nrx-usecs: ten\nrx-frames: 2\n`)).where).to.equal('line 3 (rx-usecs)');
    expect(parseErrorOf(() => parseEthtoolCoalesce(`${head}Adaptive RX: off  TX: off\nrx usecs = 1\n`)).where).to.equal('line 3');
  });
});

describe('kernel-parsers: debugfs dumps (parser tests) @lab @multicast @mgid', function () {
  it('reads GIDs in format_gid form (%x groups, no compression) @lab @multicast @mgid', function () {
    expect(parseDebugfsGid('t', 'w', 'ff12:401b:ffff:0:0:0:ffff:ffff').toString('hex')).to.equal('ff12401bffff000000000000ffffffff');
    for (const bad of ['ff12:401b:ffff::ffff:ffff', 'ff12:401b:ffff:0:0:0:ffff', 'ff12:401b:ffff:0:0:0:ffff:1ffff', 'FF12:401b:ffff:0:0:0:ffff:ffff']) {
      expect(parseErrorOf(() => parseDebugfsGid('t', 'w', bad)).got).to.equal(bad);
    }
  });

  it('reads _mcg records: the broadcast group, a joined group and a send-only group still joining @lab @multicast @mgid', function () {
    const rows = parseMcgDump(fixture('ib0_mcg.txt'), 'ib0');
    expect(rows.map((r) => r.mgid.toString('hex'))).to.deep.equal([
      'ff12401bffff00000000000000000001',
      'ff12401bffff000000000000ffffffff',
      'ff12601bffff000000000001ff0a4410',
    ]);
    expect(rows[0]).to.deep.include({ created: 4295127314, queuelen: 0, complete: true, sendOnly: false });
    expect(rows[2]).to.deep.include({ created: 4295131870, queuelen: 2, complete: false, sendOnly: true });
    expect(parseMcgDump('', 'ib0')).to.deep.equal([]);
  });

  it('rejects malformed _mcg records (no blank line, wrong order, padding, values, record length) @lab @multicast @mgid', function () {
    const rec = ['GID: ff12:401b:ffff:0:0:0:ffff:ffff', '  created: 4295127296', '  queuelen:         0', '  complete:       yes', '  send_only:       no', ''];
    const text = (lines: string[]): string => `${lines.join('\n')}\n`;
    const swap = [...rec];
    [swap[2], swap[3]] = [rec[3] ?? '', rec[2] ?? ''];
    const cases: [string, string, string][] = [
      ['no blank line at the end', text(rec.slice(0, 5)), 'line 5'],
      ['labels out of order', text(swap), 'line 3'],
      ['value not right-aligned', text([rec[0] ?? '', rec[1] ?? '', '  queuelen: 0', ...rec.slice(3)]), 'line 3'],
      ['complete "maybe"', text([...rec.slice(0, 3), '  complete:     maybe', ...rec.slice(4)]), 'line 4'],
      ['queuelen negative', text([rec[0] ?? '', rec[1] ?? '', '  queuelen:        -1', ...rec.slice(3)]), 'line 3'],
      ['a record one line short', text([...rec.slice(0, 4), '']), 'line 1'],
      ['no GID line', text(rec.slice(1)), 'line 1'],
      ['a compressed GID', text(['GID: ff12:401b:ffff::ffff:ffff', ...rec.slice(1)]), 'line 1'],
    ];
    for (const [what, t, where] of cases) {
      const e = parseErrorOf(() => parseMcgDump(t, 'ib0'));
      expect(e.where, what).to.equal(where);
      expect(e.command, what).to.equal('debugfs ib0_mcg');
    }
  });

  it('reads _path records: complete ones with DLID, SL and rate in Mb/s, incomplete ones bare @lab', function () {
    const rows = parsePathDump(fixture('ib0_path.txt'), 'ib0');
    expect(rows.map((r) => r.dgid.toString('hex'))).to.deep.equal([
      'fe800000000000000002c903000a4410',
      'fe800000000000000002c903000a5520',
      'fe800000000000000002c903000a6630',
    ]);
    expect(rows[0]).to.deep.include({ complete: true, dlid: 7, sl: 0, rateMbps: 100000 });
    expect(rows[1]).to.deep.include({ complete: true, dlid: 0x12, sl: 3, rateMbps: 2500 });
    expect(rows[2]).to.deep.include({ complete: false, dlid: null, sl: null, rateMbps: null });
  });

  it('reads the unpadded rate fraction as Mb/s modulo 1000 (14062 Mb/s prints 14.62) @lab', function () {
    const t = 'GID: fe80:0:0:0:0:0:0:1\n  complete:    yes\n  DLID:     0x0001\n  SL:            0\n  rate:       14.62 Gb/sec\n\n';
    expect(parsePathDump(t)[0]?.rateMbps).to.equal(14062);
  });

  it('rejects malformed _path records (missing rate, extra lines, bad DLID, bad rate, bad widths) @lab', function () {
    const head = 'GID: fe80:0:0:0:2:c903:a:4410\n';
    const done = '  complete:    yes\n';
    const cases: [string, string, string][] = [
      ['complete without rate', `${head}${done}  DLID:     0x0007\n  SL:            0\n\n`, 'line 1'],
      ['incomplete with a DLID', `${head}  complete:     no\n  DLID:     0x0007\n\n`, 'line 1'],
      ['short DLID', `${head}${done}  DLID:       0x7\n  SL:            0\n  rate:      100.0 Gb/sec\n\n`, 'line 3'],
      ['four fraction digits', `${head}${done}  DLID:     0x0007\n  SL:            0\n  rate:      100.0000 Gb/sec\n\n`, 'line 5'],
      ['rate not in 8 columns', `${head}${done}  DLID:     0x0007\n  SL:            0\n  rate: 100.0 Gb/sec\n\n`, 'line 5'],
      ['rate in Mb/sec', `${head}${done}  DLID:     0x0007\n  SL:            0\n  rate:      100.0 Mb/sec\n\n`, 'line 5'],
      ['complete "yes" in the wrong width', `${head}  complete: yes\n\n`, 'line 2'],
    ];
    for (const [what, t, where] of cases) {
      const e = parseErrorOf(() => parsePathDump(t, 'ib0'));
      expect(e.where, what).to.equal(where);
      expect(e.command, what).to.equal('debugfs ib0_path');
    }
  });
});

describe('kernel-parsers: ping summary (parser tests) @lab', function () {
  it('reads counts and round-trip times, and a summary with no replies @lab', function () {
    expect(parsePingSummary(fixture('ping-ok.txt'))).to.deep.equal({ transmitted: 3, received: 3, rttMinMs: 0.087, rttAvgMs: 0.196, rttMaxMs: 0.412 });
    expect(parsePingSummary(fixture('ping-lost.txt'))).to.deep.equal({ transmitted: 3, received: 0, rttMinMs: null, rttAvgMs: null, rttMaxMs: null });
    expect(parseErrorOf(() => parsePingSummary('ping: connect: Network is unreachable\n')).command).to.equal('ping');
  });
});
