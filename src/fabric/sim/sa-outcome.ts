/**
 * What an SA attribute handler decides: an SA error code, or the records to answer with (each
 * already encoded, in the order they are to be sent). The engine turns it into MADs. An error
 * may name the record its response carries; without one the request's record is echoed.
 */
export type SaOutcome = { saError: number; record?: Buffer } | { records: Buffer[] };

export function saFailure(saError: number): SaOutcome {
  return { saError };
}
