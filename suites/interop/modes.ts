/**
 * The IPoIB mode an interop case runs in, on both ends. Datagram mode is what every IPoIB
 * implementation has; connected mode (RFC 4755) only some. When a node refuses connected mode
 * (the adapter's Unsupported, or the errno its control surface answers), every connected case
 * skips with that reason; the refusal is asked once per run, not once per case.
 */
import { IpoibControlError, Unsupported } from '../../src/errors.js';
import type { IpoibMode } from '../../src/lab/adapters/dut.js';
import type { LabNodeHandle } from '../../src/lab/lab-session.js';
import type { Case } from '../harness/conformance.js';
import { oncePerLab } from '../harness/once-per-lab.js';

export const MODES: readonly IpoibMode[] = ['datagram', 'connected'];

/** Per node and mode: why the node refused it. */
const refused = new Map<string, string>();

function nodeKey(t: Case, node: LabNodeHandle, what: string): string {
  return `${t.lab.sim?.name ?? t.lab.lab.name}/${node.node.name}/${node.ifname}/${what}`;
}

/**
 * Puts the DUT and the peer in `mode` for the case (their old mode comes back after it), or
 * skips the case when either refuses it.
 */
export async function enterMode(t: Case, mode: IpoibMode): Promise<void> {
  for (const node of [t.dut, t.peer]) {
    const why = refused.get(nodeKey(t, node, mode));
    if (why !== undefined) t.skip(why);
  }
  for (const node of [t.dut, t.peer]) {
    // The mode a node was found in, asked once per lab session: every case puts it back.
    const found = await oncePerLab(t, `mode/${node.node.name}/${node.ifname}`, () => node.adapter.mode());
    if (found === mode) continue;
    try {
      t.defer(await node.adapter.setMode(mode), `${node.node.name} back to its mode`);
    } catch (e) {
      if (!(e instanceof Unsupported) && !(e instanceof IpoibControlError)) throw e;
      const why =
        e instanceof Unsupported
          ? `${node.node.name} does not offer ${mode} mode${e.detail ? ` (${e.detail})` : ''}`
          : `${node.node.name} refused ${mode} mode: ${e.code}`;
      refused.set(nodeKey(t, node, mode), why);
      t.skip(why);
    }
  }
}
