/**
 * The one lab session of a suite run: opened on first use by the first conformance case,
 * closed by the root hook after the last one. Which lab: $IPOIB_LAB_FILE (else lab/sim.json).
 * `ipoib-lab certify` brings the lab up itself, so it can report progress and tear down even
 * when the test process dies; it passes the running fabric's name in $IPOIB_LAB_FABRIC and any
 * seeded defects in $IPOIB_LAB_DEFECTS, and this module then only attaches.
 */
import { LabError, Skip } from '../../src/errors.js';
import { loadLabFile, resolveLabFile } from '../../src/lab/lab-file-load.js';
import type { LabSession } from '../../src/lab/lab-session.js';
import { trackOpenStack, untrackOpenStack } from '../../src/lab/open-stacks.js';
import { installSignalCleanup } from '../../src/lab/signal-cleanup.js';
import { openSimLab, simLabUnavailable } from '../../src/lab/sim-lab.js';

export const LAB_FABRIC_ENV = 'IPOIB_LAB_FABRIC';
export const LAB_DEFECTS_ENV = 'IPOIB_LAB_DEFECTS';

let opening: Promise<LabSession> | null = null;
let session: LabSession | null = null;

export function defectsFromEnv(env: NodeJS.ProcessEnv = process.env): string[] {
  return (env[LAB_DEFECTS_ENV] ?? '').split(',').map((s) => s.trim()).filter(Boolean);
}

async function open(): Promise<LabSession> {
  const choice = resolveLabFile({});
  const lab = await loadLabFile(choice.file);
  if (lab.fabric.kind !== 'sim') {
    throw new Skip(`lab ${lab.name} is a ${lab.fabric.kind} lab; suites run on sim labs only so far (hardware labs need the deployment and verbs-probe work of later issues)`);
  }
  const why = simLabUnavailable();
  if (why) throw new Skip(why);
  const attachTo = process.env[LAB_FABRIC_ENV];
  const fabricName = attachTo ?? `s${process.pid}`;
  const log = (line: string) => process.stderr.write(`  [lab] ${line}\n`);
  return openSimLab({ lab, labPath: choice.file, fabricName, bringUp: attachTo === undefined, defects: defectsFromEnv(), log });
}

/** The session, opening it on first call. Rejects with Skip (lab cannot run here) or LabError. */
export function suiteLab(): Promise<LabSession> {
  if (!opening) {
    opening = open().then((s) => {
      session = s;
      // Ctrl-C or SIGTERM mid-run: the open cases' undos run first (newer stacks), then the lab goes down.
      trackOpenStack(labStack);
      installSignalCleanup();
      return s;
    });
    // A failed start is remembered: every case reports the same reason instead of retrying.
    opening.catch(() => undefined);
  }
  return opening;
}

const labStack = { label: 'suite lab', run: () => closeSuiteLab() };

/** The session's outcome if a case opened one (never opens it): for the report written after the run. */
export function openedLab(): Promise<LabSession> | null {
  return opening;
}

/** Closes the session if one was opened; safe to call more than once. */
export async function closeSuiteLab(): Promise<void> {
  const s = session;
  session = null;
  untrackOpenStack(labStack);
  if (s) {
    try {
      await s.close();
    } catch (e) {
      throw new LabError(`closing the lab: ${(e as Error).message}`);
    }
  }
}
