/**
 * ipoibd as a process: starts the daemon on the real simulated-fabric port, stamps its log
 * lines, keeps serving through errors no request should be able to cause (logged, not fatal),
 * and resolves with exit code 0 once SIGTERM or SIGINT has stopped it cleanly.
 */
import { SimHcaPort } from '../../fabric/sim/provider.js';
import { openPortEndpoint } from '../../fabric/sim/endpoint-factory.js';
import { IpoibDaemon, type IpoibDaemonOptions } from './daemon.js';
import { tunDataPlane } from './data-plane.js';

export type DaemonProcessOptions = Omit<IpoibDaemonOptions, 'openPort' | 'log' | 'bindDataPlane'>;

export async function startDaemonProcess(o: DaemonProcessOptions, write: (line: string) => void): Promise<number> {
  const log = (line: string): void => write(`${new Date().toISOString()} ipoibd[${o.node}]: ${line}`);
  const onAsyncError = (e: unknown): void => log(`internal error (kept running): ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.on('unhandledRejection', onAsyncError);
  process.on('uncaughtException', onAsyncError);
  const daemon = await IpoibDaemon.start({
    ...o,
    log,
    openPort: (socketPath, node) => SimHcaPort.open({ socketPath, node, openEndpoint: openPortEndpoint }),
    bindDataPlane: tunDataPlane,
  });
  log(`ready (pid ${process.pid})${o.netns === undefined ? '; no --netns: no TUN data plane, the stack runs on the fabric only' : ''}`);
  await new Promise<void>((resolve) => {
    const stop = (sig: string): void => {
      log(`${sig}: leaving groups and stopping`);
      daemon.stop().then(resolve, (e: unknown) => {
        log(`stop failed: ${(e as Error).message}`);
        resolve();
      });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  process.off('unhandledRejection', onAsyncError);
  process.off('uncaughtException', onAsyncError);
  return 0;
}
