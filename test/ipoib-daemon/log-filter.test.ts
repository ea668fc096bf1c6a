import { expect } from 'chai';
import { daemonShows } from '../../src/ipoib/daemon/daemon.js';

describe('ipoibd log filter @ipoib-stack', function () {
  it('shows state changes and failed multicast operations at debug level 0, the rest only above it @ipoib-stack @multicast @sa', function () {
    const always = [
      'ib0: up',
      'ib0.8001: no-pkey',
      'ib0: P_Key 0x8005 is not found; no carrier until it appears',
      'ib0: multicast join failed for ff12:401b:ffff::ef2a:9: SA refused join ff12401bffff00000000000ef2a0009: ERR_NO_RESOURCES (status 0x0100)',
      'ib0: sendonly multicast join failed for ff12:401b:ffff::ef01:203: SA did not answer join after 3 attempts of 1000 ms',
      'ib0: multicast leave failed for ff12:401b:ffff::1: SA refused leave: ERR_REQ_INVALID (status 0x0200)',
      'ib0: multicast subscription to trap 66 (multicast group created) failed for ff12:401b:ffff::1: SA refused subscription',
      'ib0: multicast unsubscription from trap 67 failed for ff12:401b:ffff::1: SA did not answer',
      'ib0: multicast attach to ff12:401b:ffff::1 failed: no such QP',
    ];
    const debugOnly = [
      'ib0: ff12:401b:ffff::ef01:203 was created: joining it now',
      'ib0: ff12:401b:ffff::ef01:203 was deleted: forgetting MLID 0xc004',
      'ib0: umcast: ff12:401b:ffff::1 is held by another consumer of the port; not joining it',
      'ib0: path query for fe80::2 failed: no records',
      'ib0: upgrading',
    ];
    for (const line of always) expect(daemonShows(line, 0), line).to.equal(true);
    for (const line of debugOnly) {
      expect(daemonShows(line, 0), `level 0: ${line}`).to.equal(false);
      expect(daemonShows(line, 1), `level 1: ${line}`).to.equal(true);
    }
  });
});
