import { ExitError } from '../errors.js';
import { EXIT_NOT_IMPLEMENTED } from './exit-codes.js';

/** Commands whose implementation has not landed say so plainly instead of pretending to work. */
export function notImplemented(what: string, landsWith: string): never {
  throw new ExitError(EXIT_NOT_IMPLEMENTED, `${what} is not implemented yet (${landsWith}).`);
}
