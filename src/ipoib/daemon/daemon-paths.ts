/** Where a node's ipoibd keeps its socket, pid file and log: inside the fabric's run directory. */
import path from 'node:path';
import type { FabricRunPaths } from '../../fabric/sim/run-dir.js';

export interface DaemonPaths {
  socket: string;
  pidFile: string;
  logFile: string;
}

export function daemonPaths(fabric: FabricRunPaths, node: string): DaemonPaths {
  return {
    socket: path.join(fabric.dir, `ipoibd-${node}.sock`),
    pidFile: path.join(fabric.dir, `ipoibd-${node}.pid`),
    logFile: path.join(fabric.dir, `ipoibd-${node}.log`),
  };
}
