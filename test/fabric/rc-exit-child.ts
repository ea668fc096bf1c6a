/**
 * Run by rc-fabric.test.ts in a child process (not a test itself): a fabric manager, two ports,
 * an RC connection carrying a few messages, then everything closed in the order an owner would.
 * It never calls process.exit(): the process must end because nothing is left running. The
 * last stdout line is a JSON report.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { RcQp } from '../../src/fabric/hca.js';
import { openManagerEndpoint, openPortEndpoint, openTapWriter } from '../../src/fabric/sim/endpoint-factory.js';
import { FabricManager } from '../../src/fabric/sim/fabric-manager.js';
import { parsePartitionsConf } from '../../src/fabric/sim/partitions-conf.js';
import { SimHcaPort } from '../../src/fabric/sim/provider.js';
import { ensurePrivateDir, fabricPaths } from '../../src/fabric/sim/run-dir.js';

const base = mkdtempSync(path.join(tmpdir(), 'ipoib-lab-rc-exit-'));
const paths = fabricPaths('t', base);
ensurePrivateDir(paths.dir);
const mgr = await FabricManager.start({
  paths,
  nodes: 2,
  partitions: parsePartitionsConf('Default=0x7fff, ipoib : ALL=full ;\n'),
  openEndpoint: openManagerEndpoint,
  openTap: openTapWriter,
});
const a = await SimHcaPort.open({ socketPath: paths.socket, node: 'node1', openEndpoint: openPortEndpoint });
const b = await SimHcaPort.open({ socketPath: paths.socket, node: 'node2', openEndpoint: openPortEndpoint });
const listener = b.listenRc(0x5150n, () => ({ accept: true }));
const passive = new Promise<RcQp>((resolve) => listener.onConnection(resolve));
const active = await a.connectRc({ serviceId: 0x5150n, dgid: b.attributes().gid, dlid: b.attributes().lid });
const received: Buffer[] = [];
(await passive).onMessage((m) => received.push(m));
await Promise.all([0, 1, 65524, 4097].map((n) => active.send(Buffer.alloc(n, 7))));
while (received.length < 4) await new Promise((r) => setTimeout(r, 5));
await active.close();
while (b.rcQpns().length > 0) await new Promise((r) => setTimeout(r, 5));
const rcQpnsAfterClose = [a.rcQpns(), b.rcQpns()];
await a.close();
await b.close();
await mgr.close();
rmSync(base, { recursive: true, force: true });
process.stdout.write(`${JSON.stringify({ received: received.length, rcQpnsAfterClose })}\n`);
