/**
 * The TUN data plane carrying real kernel traffic (root only): two network namespaces made for
 * the test, one TUN device "ib0" in each, created inside its namespace by the data plane, the
 * two joined by simulated-fabric ports in this process. The neighbour table is filled
 * statically (resolution is the control plane's job). Addresses are 192.0.2.0/24 and
 * 2001:db8::/64 inside the namespaces only; every namespace is deleted in a finally.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { TunDataPlane, type TunCounters, type TunPunt } from '../../src/ipoib/native/tun-data-plane.js';
import { NativeError } from '../../src/errors.js';
import { ETH_P_ARP } from '../../src/wire/constants.js';
import { skipWithReason } from '../helpers/skip.js';
import { BROADCAST_MGID, BROADCAST_MLID, QKEY, type Port, ipoibFrame, waitUntil, withPorts } from './fabric-ports.js';
import { Netns, ping, sweepStaleNamespaces, tcpTransfer, tunTestsSkipReason } from './netns-lab.js';

interface Lab {
  nsA: Netns;
  nsB: Netns;
  a: Port;
  b: Port;
  /** A third port with no data plane, for frames the kernel would never send. */
  probe: Port;
  A: TunDataPlane;
  B: TunDataPlane;
  puntsA: TunPunt[];
  puntsB: TunPunt[];
}

/**
 * Namespaces A and B, fabric ports 2 (A), 3 (B) and 4 (probe), a data plane with "ib0" in each
 * namespace: 192.0.2.1 and 2001:db8::1 in A, .2 and ::2 in B, each the other's neighbour.
 * Everything is undone in finally blocks, in reverse order, whatever `body` does.
 */
async function withLab(body: (lab: Lab) => Promise<void>): Promise<void> {
  await sweepStaleNamespaces();
  const namespaces: Netns[] = [];
  try {
    const nsA = await Netns.create('a');
    namespaces.push(nsA);
    const nsB = await Netns.create('b');
    namespaces.push(nsB);
    await withPorts([2, 3, 4], [{ mlid: BROADCAST_MLID, mgid: BROADCAST_MGID, members: [2, 3] }], async ([a, b, probe]) => {
      const planes: TunDataPlane[] = [];
      try {
        const common = { ifname: 'ib0', qkey: QKEY, pkeyIndex: 0, mtu: 2044, broadcastMgid: BROADCAST_MGID };
        const A = TunDataPlane.open({ ...common, netns: nsA.name, endpoint: a!.ep, qpn: a!.qpn });
        planes.push(A);
        const B = TunDataPlane.open({ ...common, netns: nsB.name, endpoint: b!.ep, qpn: b!.qpn });
        planes.push(B);
        const puntsA: TunPunt[] = [];
        const puntsB: TunPunt[] = [];
        A.onPunt((batch) => puntsA.push(...batch));
        B.onPunt((batch) => puntsB.push(...batch));
        for (const [ns, n] of [[nsA, 1], [nsB, 2]] as const) {
          await ns.ip('addr', 'add', `192.0.2.${n}/24`, 'dev', 'ib0');
          await ns.ip('addr', 'add', `2001:db8::${n}/64`, 'dev', 'ib0', 'nodad');
        }
        A.setNeighbour('192.0.2.2', { dlid: 3, dqpn: b!.qpn });
        A.setNeighbour('2001:db8::2', { dlid: 3, dqpn: b!.qpn });
        B.setNeighbour('192.0.2.1', { dlid: 2, dqpn: a!.qpn });
        B.setNeighbour('2001:db8::1', { dlid: 2, dqpn: a!.qpn });
        await body({ nsA, nsB, a: a!, b: b!, probe: probe!, A, B, puntsA, puntsB });
      } finally {
        for (const p of planes.reverse()) await p.close();
      }
    });
  } finally {
    for (const ns of namespaces.reverse()) await ns.delete();
  }
}

function delta(now: TunCounters, before: TunCounters): Record<string, number> {
  const d: Record<string, number> = {};
  for (const k of Object.keys(now) as Array<keyof TunCounters>) if (now[k] !== before[k]) d[k] = now[k] - before[k];
  return d;
}

describe('TUN data plane between two network namespaces (root) @tun @native', function () {
  this.timeout(60_000);

  beforeEach(async function () {
    const reason = tunTestsSkipReason();
    if (reason) await skipWithReason(this, reason);
  });

  it('carries ping -s 1400 both ways, and the counters move by exactly the echoes @tun @native @ip @icmp', async function () {
    await withLab(async (lab) => {
      const [a0, b0] = [lab.A.counters(), lab.B.counters()];
      const there = await ping(lab.nsA, '192.0.2.2', { count: 3, size: 1400 });
      expect(there.received, there.output).to.equal(3);
      // 4-octet IPoIB header + 20 IPv4 + 8 ICMP + 1400 data = 1432 octets per frame. A counter
      // moves just after its packet went on, so give the last one a moment.
      await waitUntil(() => lab.A.counters().rx_packets - a0.rx_packets >= 3, () => 'A counted the replies', 2000).catch(() => undefined);
      const [a1, b1] = [lab.A.counters(), lab.B.counters()];
      const da = delta(a1, a0);
      const db = delta(b1, b0);
      expect([da.tx_packets, da.tx_bytes, da.rx_packets, da.rx_bytes], `A ${JSON.stringify(da)}`).to.deep.equal([3, 3 * 1432, 3, 3 * 1432]);
      expect([db.rx_packets, db.rx_bytes, db.tx_packets, db.tx_bytes], `B ${JSON.stringify(db)}`).to.deep.equal([3, 3 * 1432, 3, 3 * 1432]);
      expect([a1.rx_dropped, a1.tx_dropped, a1.tx_errors, b1.rx_dropped, b1.tx_dropped, b1.tx_errors], 'no drops, no errors').to.deep.equal([0, 0, 0, 0, 0, 0]);

      const back = await ping(lab.nsB, '192.0.2.1', { count: 3, size: 1400 });
      expect(back.received, back.output).to.equal(3);
    });
  });

  it('carries ping6 both ways @tun @native @ipv6 @icmp', async function () {
    await withLab(async (lab) => {
      const there = await ping(lab.nsA, '2001:db8::2', { count: 3, size: 1400, v6: true });
      expect(there.received, there.output).to.equal(3);
      const back = await ping(lab.nsB, '2001:db8::1', { count: 3, size: 1400, v6: true });
      expect(back.received, back.output).to.equal(3);
    });
  });

  it('punts a packet for an unknown destination with no-neighbour, and sends nothing @tun @native @ip @icmp', async function () {
    await withLab(async (lab) => {
      const before = lab.A.counters();
      const r = await ping(lab.nsA, '192.0.2.77', { count: 1 });
      expect(r.received, 'nobody answers').to.equal(0);
      const punt = lab.puntsA.find((p) => p.direction === 'tx' && p.reason === 'no-neighbour');
      expect(punt, `punts: ${JSON.stringify(lab.puntsA.map((p) => p.reason))}`).to.not.equal(undefined);
      const packet = punt?.direction === 'tx' ? punt.packet : Buffer.alloc(0);
      expect([packet[0]! >> 4, packet[9], [...packet.subarray(16, 20)].join('.')], 'an IPv4 ICMP packet to 192.0.2.77').to.deep.equal([4, 1, '192.0.2.77']);
      await waitUntil(() => lab.A.counters().tx_punt_no_neighbour > before.tx_punt_no_neighbour, () => 'the punt counted', 2000).catch(() => undefined);
      const d = delta(lab.A.counters(), before);
      expect(d.tx_punt_no_neighbour, JSON.stringify(d)).to.be.at.least(1);
      expect(d.tx_packets ?? 0, 'nothing went on the wire').to.equal(0);
    });
  });

  it('punts an ARP frame arriving from the fabric with its source LID and QPN @tun @native @arp @fabric', async function () {
    await withLab(async (lab) => {
      const frame = ipoibFrame(ETH_P_ARP, Buffer.from('00200800140400010000000000000000000000000000000000000000c0000204', 'hex'));
      lab.probe.ep.postSendUd(lab.probe.qpn, { dlid: 2, dqpn: lab.a.qpn, qkey: QKEY, payload: frame });
      await waitUntil(() => lab.puntsA.some((p) => p.direction === 'rx'), () => `punts: ${JSON.stringify(lab.puntsA.map((p) => p.reason))}`);
      const p = lab.puntsA.find((x) => x.direction === 'rx');
      expect(p?.direction === 'rx' && [p.reason, p.slid, p.srcQpn, p.frame.equals(frame)]).to.deep.equal(['arp', 4, lab.probe.qpn, true]);
      await waitUntil(() => lab.A.counters().rx_punt_arp === 1, () => JSON.stringify(lab.A.counters()));
    });
  });

  it('carries a 16 MiB TCP transfer intact (sha256 compared) @tun @native @ip', async function () {
    await withLab(async (lab) => {
      const r = await tcpTransfer(lab.nsB, lab.nsA, '192.0.2.2', 5201, 16 << 20, 50_000);
      expect(r.received.bytes, 'octets received').to.equal(16 << 20);
      expect(r.received.sha256, 'sha256 of what arrived').to.equal(r.sent.sha256);
      expect(lab.A.counters().tx_packets, 'at least 16 MiB / 2044 frames').to.be.at.least(Math.floor((16 << 20) / 2044));
    });
  });

  it('reports a name in use, a name of another kind of device and a missing namespace as NativeError with the call and errno @tun @native', async function () {
    await withLab(async (lab) => {
      const o = { ifname: 'ib0', netns: lab.nsA.name, endpoint: lab.probe.ep, qpn: lab.probe.qpn, qkey: QKEY, pkeyIndex: 0, mtu: 2044 };
      const failures: Array<[Record<string, string>, string, string]> = [
        [{}, 'TUNSETIFF', 'EBUSY'], // A's data plane holds ib0
        [{ ifname: 'lo' }, 'TUNSETIFF', 'EINVAL'], // not a TUN device
        [{ netns: `${lab.nsA.name}-missing` }, `open /run/netns/${lab.nsA.name}-missing`, 'ENOENT'],
      ];
      for (const [extra, op, code] of failures) {
        let caught: unknown;
        try {
          await TunDataPlane.open({ ...o, ...extra }).close(); // closes it should the open wrongly succeed
        } catch (e) {
          caught = e;
        }
        expect(caught, JSON.stringify(extra)).to.be.instanceOf(NativeError);
        expect([(caught as NativeError).op, (caught as NativeError).code], JSON.stringify(extra)).to.deep.equal([op, code]);
      }
      const still = await ping(lab.nsA, '192.0.2.2', { count: 1 });
      expect(still.received, 'the first data plane is unharmed').to.equal(1);
    });
  });

  it('close() removes both TUN devices, and a process with a data plane exits once it closed @tun @native', async function () {
    let nsA: Netns | undefined;
    await withLab(async (lab) => {
      nsA = lab.nsA;
      expect(await lab.nsA.ip('-o', 'link', 'show', 'ib0'), 'ib0 exists in A').to.match(/ib0: <.*UP.*> mtu 2044/);
      await lab.A.close();
      await lab.B.close();
      for (const ns of [lab.nsA, lab.nsB]) {
        const r = await ns.exec(['ip', 'link', 'show', 'ib0']);
        expect(r.code, `ib0 still in ${ns.name}: ${r.stdout}`).to.not.equal(0);
      }
      // A separate process: open, punt, close, and exit on its own.
      const modulePath = fileURLToPath(new URL('../../src/ipoib/native/tun-data-plane.ts', import.meta.url));
      const endpointPath = fileURLToPath(new URL('../../src/fabric/sim/native-endpoint.ts', import.meta.url));
      const script = `
        const { SimEndpoint } = await import(${JSON.stringify(endpointPath)});
        const { TunDataPlane } = await import(${JSON.stringify(modulePath)});
        const ep = SimEndpoint.open({ lid: 9, gid: Buffer.alloc(16, 9), mtuCode: 4, pkeys: [0xffff] });
        const qpn = ep.createUdQp({ qkey: 0xb1b, pkeyIndex: 0 });
        const plane = TunDataPlane.open({ ifname: 'ib9', netns: ${JSON.stringify(lab.nsA.name)}, endpoint: ep, qpn, qkey: 0xb1b, pkeyIndex: 0, mtu: 2044 });
        plane.onPunt(() => undefined);
        console.log('opened');
        await plane.close();
        await ep.close();
        console.log('closed');`;
      const r = spawnSync(process.execPath, ['--import', 'tsx/esm', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
      expect(r.signal, `killed by the timeout; stderr: ${r.stderr}`).to.equal(null);
      expect([r.status, r.stdout.trim()], r.stderr).to.deep.equal([0, 'opened\nclosed']);
      const left = await lab.nsA.exec(['ip', 'link', 'show', 'ib9']);
      expect(left.code, 'ib9 is gone with its process').to.not.equal(0);
    });
    const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
    expect(r.stdout, 'the namespace was deleted').to.not.include(nsA?.name ?? '<none>');
  });
});
