/** `ipoibctl`: part of the reference IPoIB stack, which arrives with the datagram-mode stack issue. */
import { type Io, processIo, runCommand } from './run-command.js';
import { notImplemented } from './not-implemented.js';

export async function main(_argv: readonly string[], io: Io = processIo): Promise<number> {
  return runCommand('ipoibctl', async () => notImplemented("'ipoibctl'", 'arrives with the reference datagram-mode stack'), io);
}
