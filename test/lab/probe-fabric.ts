/**
 * A simulated fabric in this process for the probe and capture tests: a manager with three
 * nodes, tap support, and probes opened on its nodes, all removed by close(). Not a test file.
 *
 *   node1  LID 2  P_Keys [0xffff, 0x8001]
 *   node2  LID 3  P_Keys [0xffff, 0x8001]
 *   node3  LID 4  P_Keys [0xffff, 0x0001]   (a limited member of 0x8001)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openManagerEndpoint, openTapWriter } from '../../src/fabric/sim/endpoint-factory.js';
import { FabricManager } from '../../src/fabric/sim/fabric-manager.js';
import { parsePartitionsConf } from '../../src/fabric/sim/partitions-conf.js';
import { ensurePrivateDir, fabricPaths, type FabricRunPaths } from '../../src/fabric/sim/run-dir.js';
import { SimProbe } from '../../src/lab/probes/sim-probe.js';

export const PARTITIONS = `
Default=0x7fff, ipoib : ALL=full ;
lab=0x8001, ipoib, Q_Key=0x80001234 :
  0x0002c90300000101=full, 0x0002c90300000201=full, 0x0002c90300000301=limited ;
`;

export class ProbeFabric {
  private readonly probes: SimProbe[] = [];

  private constructor(
    /** Scratch directory (run directory, captures), removed by close(). */
    readonly base: string,
    readonly paths: FabricRunPaths,
    readonly mgr: FabricManager,
  ) {}

  /** `name` must be unique to the caller (it names the run directory). */
  static async start(name: string): Promise<ProbeFabric> {
    const base = mkdtempSync(path.join(tmpdir(), `${name}-`));
    try {
      const paths = fabricPaths(name, base);
      ensurePrivateDir(paths.dir);
      const mgr = await FabricManager.start({ paths, nodes: 3, partitions: parsePartitionsConf(PARTITIONS), openEndpoint: openManagerEndpoint, openTap: openTapWriter });
      return new ProbeFabric(base, paths, mgr);
    } catch (e) {
      rmSync(base, { recursive: true, force: true });
      throw e;
    }
  }

  async probe(node: string): Promise<SimProbe> {
    const p = await SimProbe.open({ socketPath: this.paths.socket, node });
    this.probes.push(p);
    return p;
  }

  /** Closes every probe, then the manager, then removes the scratch directory; each step runs even if one before failed. */
  async close(): Promise<void> {
    const failures: unknown[] = [];
    for (const p of this.probes.splice(0).reverse()) await p.close().catch((e: unknown) => failures.push(e));
    await this.mgr.close().catch((e: unknown) => failures.push(e));
    rmSync(this.base, { recursive: true, force: true });
    if (failures.length > 0) throw failures[0];
  }
}
