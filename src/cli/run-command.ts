/**
 * The one place that turns a command's outcome into an exit code and a message: commands
 * return data or throw typed errors; nothing else in the CLI calls process.exit.
 */
import { CommanderError } from 'commander';
import { ExitError, UsageError } from '../errors.js';
import { EXIT_INTERNAL, EXIT_OK, EXIT_USAGE } from './exit-codes.js';

export interface Io {
  out: (line: string) => void;
  err: (line: string) => void;
}

export const processIo: Io = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

export async function runCommand(prog: string, fn: () => Promise<number | void>, io: Io = processIo): Promise<number> {
  try {
    return (await fn()) ?? EXIT_OK;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    if (e instanceof UsageError) {
      io.err(`${prog}: ${e.message}`);
      io.err(`Try '${prog} --help'.`);
      return EXIT_USAGE;
    }
    if (e instanceof ExitError) {
      io.err(`${prog}: ${e.message}`);
      return e.exitCode;
    }
    io.err(`${prog}: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    io.err('This is a bug in ipoib-lab; please report it with the command line above.');
    return EXIT_INTERNAL;
  }
}
