/** `ipoibd`: part of the reference IPoIB stack, which arrives with the datagram-mode stack issue. */
import { type Io, processIo, runCommand } from './run-command.js';
import { notImplemented } from './not-implemented.js';

export async function main(_argv: readonly string[], io: Io = processIo): Promise<number> {
  return runCommand('ipoibd', async () => notImplemented("'ipoibd'", 'arrives with the reference datagram-mode stack'), io);
}
