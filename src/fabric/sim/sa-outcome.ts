/**
 * What an SA attribute handler decides: an SA error code, or the records to answer with (each
 * already encoded, in the order they are to be sent). The engine turns it into MADs.
 */
export type SaOutcome = { saError: number } | { records: Buffer[] };

export function saFailure(saError: number): SaOutcome {
  return { saError };
}
