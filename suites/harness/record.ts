/**
 * One line per conformance case in the file $IPOIB_LAB_RECORD names (JSON lines): what ran,
 * what it covers and how it ended. `ipoib-lab certify` joins these to the requirement catalogue
 * for reports/conformance.{json,md}; without the variable nothing is written.
 */
import { appendFileSync } from 'node:fs';

export const LAB_RECORD_ENV = 'IPOIB_LAB_RECORD';

/**
 * `failed`: the DUT did not behave as required (an assertion, or an answer it should not give).
 * `broken`: the lab or the test itself failed, no verdict on the DUT. `skipped`: with a reason.
 */
export type CaseState = 'passed' | 'failed' | 'broken' | 'skipped';

export interface CaseRecord {
  title: string;
  file: string;
  covers: string[];
  /** Robustness probe IDs the case carried out. */
  probes: string[];
  tags: string[];
  state: CaseState;
  /** Why it was skipped, or the failure's message. */
  reason?: string;
  durationMs: number;
  dut: string;
  defects: string[];
}

export function writeRecord(r: CaseRecord, env: NodeJS.ProcessEnv = process.env): void {
  const file = env[LAB_RECORD_ENV];
  if (!file) return;
  appendFileSync(file, `${JSON.stringify(r)}\n`, { mode: 0o600 });
}
