/**
 * OFA-style interoperability transfer: a 64 MiB file of random octets crosses the IPoIB link
 * over TCP, in every mode both ends support, over IPv4 and IPv6, DUT to peer and peer to DUT,
 * and arrives with the same SHA-256 (sha256sum on both nodes).
 */
import { expect } from 'chai';
import type { IpoibMode } from '../../src/lab/adapters/dut.js';
import type { LabNodeHandle } from '../../src/lab/lab-session.js';
import { conformance } from '../harness/conformance.js';
import { poll } from '../harness/poll.js';
import { enterMode, MODES } from './modes.js';

const FILE_BYTES = 64 * 1024 * 1024;
/** TCP ports for the receivers; one per case so a listener left over cannot take a later case's file. */
const FIRST_PORT = 47_410;
const LISTEN_DEADLINE_MS = 5000;

type Family = 'IPv4' | 'IPv6';
type Direction = 'DUT to peer' | 'peer to DUT';

/** Waits until `node` listens on TCP `port` (so the sender cannot connect too early). */
async function waitListening(node: LabNodeHandle, port: number): Promise<void> {
  const listening = await poll(() => node.transport.run(['ss', '-Hltn', `sport = :${port}`], { timeoutMs: 5000 }), (r) => r.code === 0 && r.stdout.trim() !== '', LISTEN_DEADLINE_MS, 50);
  if (!listening.reached) throw new Error(`${node.node.name} does not listen on TCP port ${port} after ${LISTEN_DEADLINE_MS} ms`);
}

let nextPort = FIRST_PORT;

function transferCase(mode: IpoibMode, family: Family, direction: Direction): void {
  const port = nextPort++;
  conformance(
    {
      covers: [
        ...(family === 'IPv4' ? ['RFC4391-1-a', 'RFC4391-2-b', 'RFC4391-6-a', 'RFC4391-7-e'] : ['RFC4391-1-a', 'RFC4391-2-b', 'RFC4391-6-a', 'RFC4391-7-e', 'RFC4391-9.3-a']),
        ...(mode === 'connected' ? ['RFC4755-2-d'] : []),
      ],
      title: `${mode} mode: a 64 MiB file sent ${direction} over TCP on ${family} arrives with the same SHA-256`,
      tags: ['interop', family === 'IPv4' ? 'ip' : 'ipv6'],
      requires: [family === 'IPv4' ? 'ipv4' : 'ipv6', ...(mode === 'connected' ? (['connected-mode'] as const) : [])],
      timeoutMs: 90_000,
    },
    async (t) => {
      await t.parameter('mode', mode);
      await t.parameter('family', family);
      await t.parameter('direction', direction);
      await t.parameter('size', FILE_BYTES);
      await enterMode(t, mode);
      const [from, to] = direction === 'DUT to peer' ? [t.dut, t.peer] : [t.peer, t.dut];
      const target = family === 'IPv4' ? to.ipv4 : to.ipv6;
      if (target === null) return t.skip(`the lab file gives ${to.node.name} no ${family} address`);
      const file = await from.adapter.makeFile(FILE_BYTES);
      t.defer(file.undo, `remove ${file.path} on ${from.node.name}`);
      const receiver = await to.adapter.receiveFile(port, family === 'IPv4' ? 'inet' : 'inet6');
      t.defer(receiver.undo, `stop the receiver on ${to.node.name}`);
      await waitListening(to, port);
      const started = performance.now();
      await from.adapter.sendFile(file.path, target, port);
      const got = await receiver.received;
      const seconds = (performance.now() - started) / 1000;
      await t.attachJson('transfer', { from: from.node.name, to: `${to.node.name} [${target}]:${port}`, sent: file, received: got, seconds: Number(seconds.toFixed(2)), mbitPerSecond: Math.round((FILE_BYTES * 8) / seconds / 1e6) });
      expect(got.bytes, `octets ${to.node.name} received`).to.equal(file.bytes);
      expect(got.sha256, `SHA-256 of the file on ${to.node.name} vs. on ${from.node.name}`).to.equal(file.sha256);
    },
  );
}

describe('interop: 64 MiB file transfer checked by SHA-256 @interop', function () {
  for (const mode of MODES) {
    for (const family of ['IPv4', 'IPv6'] as const) {
      for (const direction of ['DUT to peer', 'peer to DUT'] as const) transferCase(mode, family, direction);
    }
  }
});
