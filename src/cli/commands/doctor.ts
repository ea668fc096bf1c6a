/** `ipoib-lab doctor`: checks every node of a lab and prints what is missing and how to fix it. */
import { ExitError, LabFileError } from '../../errors.js';
import { type DoctorOptions as RunDoctorOptions, runDoctor } from '../../lab/doctor.js';
import { renderDoctorTable } from '../../lab/doctor-table.js';
import type { LabFile } from '../../lab/lab-file.js';
import { loadLabFile, resolveLabFile } from '../../lab/lab-file-load.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from '../exit-codes.js';
import type { Io } from '../run-command.js';

export interface DoctorOptions {
  /** --lab FILE; else $IPOIB_LAB_FILE; else lab/sim.json. */
  lab?: string | undefined;
  json: boolean;
  /** Bound on each node, connect and probes together. */
  nodeTimeoutMs?: number | undefined;
}

/** Loads the chosen lab file; a bad one stops the command with its problems and exit 2. */
export async function loadChosenLab(lab: string | undefined): Promise<{ file: string; lab: LabFile }> {
  const choice = resolveLabFile({ lab });
  try {
    return { file: choice.file, lab: await loadLabFile(choice.file) };
  } catch (e) {
    if (e instanceof LabFileError) {
      const from = choice.source === 'env' ? ' (from $IPOIB_LAB_FILE)' : '';
      throw new ExitError(EXIT_USAGE, `lab file${from} ${e.message}`);
    }
    throw e;
  }
}

export async function doctor(o: DoctorOptions, io: Io, deps: Omit<RunDoctorOptions, 'nodeTimeoutMs'> = {}): Promise<number> {
  const { file, lab } = await loadChosenLab(o.lab);
  const report = await runDoctor(lab, file, { ...deps, ...(o.nodeTimeoutMs !== undefined ? { nodeTimeoutMs: o.nodeTimeoutMs } : {}) });
  if (o.json) io.out(JSON.stringify(report, null, 2));
  else for (const line of renderDoctorTable(report)) io.out(line);
  return report.ok ? EXIT_OK : EXIT_FAILURE;
}
