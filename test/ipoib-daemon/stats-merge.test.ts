import { expect } from 'chai';
import { mergeStats } from '../../src/ipoib/daemon/handlers.js';

describe('ipoibd stats with a TUN data plane @ipoib-stack @tun', function () {
  const ethtool: Array<[string, number]> = [
    ['rx_packets', 2], ['tx_packets', 3], ['rx_bytes', 100], ['tx_bytes', 150],
    ['tx_errors', 1], ['rx_dropped', 1], ['tx_dropped', 2], ['multicast', 0],
  ];
  const all = { ...Object.fromEntries(ethtool), arp_replies_sent: 1 };

  it('is the stack\'s own when no plane is bound @ipoib-stack @tun', function () {
    expect(mergeStats(ethtool, all, undefined)).to.deep.equal({ ethtool, all });
  });

  it('takes receive counts from the plane, adds sends, errors and drops, and strips the header from rx_bytes @ipoib-stack @tun', function () {
    const plane = { rx_packets: 20, tx_packets: 18, rx_bytes: 2080, tx_bytes: 1872, tx_errors: 0, rx_dropped: 4, tx_dropped: 0, multicast: 5, rx_drop_short: 4 };
    const m = mergeStats(ethtool, all, plane);
    expect(Object.fromEntries(m.ethtool)).to.deep.equal({
      rx_packets: 20, tx_packets: 21, rx_bytes: 2000, tx_bytes: 2022, tx_errors: 1, rx_dropped: 5, tx_dropped: 2, multicast: 5,
    });
    expect(m.ethtool.map(([k]) => k), 'the kernel\'s order').to.deep.equal(ethtool.map(([k]) => k));
    expect(m.all.plane_rx_drop_short).to.equal(4);
    expect(m.all.arp_replies_sent).to.equal(1);
  });
});
