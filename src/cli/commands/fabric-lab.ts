/** `fabric up --lab FILE`: the fabric and nodes a sim lab file describes (src/lab/sim-lab-plan.ts). */
import { ExitError } from '../../errors.js';
import { loadLabFile } from '../../lab/lab-file-load.js';
import { simLabPlan } from '../../lab/sim-lab-plan.js';
import { EXIT_FAILURE } from '../exit-codes.js';
import type { FabricUpOptions } from './fabric.js';

export async function fabricUpOptionsForLab(name: string, labPath: string, defects: readonly string[]): Promise<FabricUpOptions> {
  let lab;
  try {
    lab = await loadLabFile(labPath);
  } catch (e) {
    throw new ExitError(EXIT_FAILURE, (e as Error).message);
  }
  const plan = simLabPlan(lab, defects);
  return {
    name,
    nodes: plan.fabricNodes.length,
    nodeNames: plan.fabricNodes,
    ...(plan.portGuids.size > 0 ? { portGuids: plan.portGuids } : {}),
    ...(plan.partitionsFile !== undefined ? { partitions: plan.partitionsFile } : {}),
    ipoib: true,
    daemons: plan.daemons.map((d) => ({ node: d.node, addresses: d.addresses, defects: d.defects })),
  };
}
