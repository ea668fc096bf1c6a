/**
 * Datagram-mode MTU: group MTU - 4, the admin MTU that follows the group until set, the
 * [72, port max - 4] range of change_mtu, and the broadcast group's join backoff.
 */
import { expect } from 'chai';
import { IpoibControlError } from '../../src/errors.js';
import { backoffSchedule, nextBackoff } from '../../src/ipoib/backoff.js';
import { DatagramMtu, IPOIB_MIN_MTU, udMtu } from '../../src/ipoib/mtu.js';

function expectErrno(fn: () => unknown, code: string): IpoibControlError {
  try {
    fn();
  } catch (e) {
    expect(e).to.be.instanceOf(IpoibControlError);
    expect((e as IpoibControlError).code).to.equal(code);
    return e as IpoibControlError;
  }
  throw new Error(`expected ${code}`);
}

describe('datagram-mode MTU rules of the broadcast group @multicast @ipoib-stack @mtu', function () {
  it('leaves 4 octets of every UD message to the encapsulation header @multicast @encap @ipoib-stack', function () {
    expect(udMtu(2048)).to.equal(2044);
    expect(udMtu(4096)).to.equal(4092);
  });

  it('starts at the port maximum and takes min(group, admin) when the carrier comes on @multicast @ipoib-stack', function () {
    const m = new DatagramMtu(5);
    expect(m.mtu, 'before any join').to.equal(4092);
    m.groupJoined(4);
    expect(m.mtu, 'not applied before carrier').to.equal(4092);
    m.carrierOn();
    expect(m.mtu).to.equal(2044);
    expect(m.adminMtu, 'admin followed the group').to.equal(2044);
  });

  it('accepts 4092 on a 2048 group but keeps 2044, and applies a smaller admin MTU @multicast @ipoib-stack @mtu', function () {
    const m = new DatagramMtu(5);
    m.groupJoined(4);
    m.carrierOn();
    m.change(4092, 'ib0.mtu');
    expect(m.mtu).to.equal(2044);
    expect(m.adminMtu).to.equal(4092);
    m.change(1500, 'ib0.mtu');
    expect(m.mtu).to.equal(1500);
    m.groupJoined(5);
    m.carrierOn();
    expect(m.mtu, 'a set admin MTU does not follow the group').to.equal(1500);
  });

  it('refuses MTUs outside [72, port max - 4] with EINVAL @multicast @ipoib-stack', function () {
    const m = new DatagramMtu(4);
    for (const bad of [IPOIB_MIN_MTU - 1, 2045, 0, -1, 1500.5, Number.NaN]) {
      const e = expectErrno(() => m.change(bad, 'ib0.mtu'), 'EINVAL');
      expect(e.op).to.equal('ib0.mtu');
    }
    m.change(IPOIB_MIN_MTU, 'ib0.mtu');
    expect(m.adminMtu).to.equal(72);
    m.change(2044, 'ib0.mtu');
    expect(m.adminMtu).to.equal(2044);
  });

  it('refuses a port MTU code that names no MTU @multicast @ipoib-stack @mtu', function () {
    expect(() => new DatagramMtu(6)).to.throw(RangeError);
  });

  it('backs off 2, 4, 8, 16, 16 seconds between join attempts @multicast @sa @ipoib-stack', function () {
    expect(backoffSchedule(6)).to.deep.equal([2, 4, 8, 16, 16, 16]);
    expect(nextBackoff(16)).to.equal(16);
  });
});
