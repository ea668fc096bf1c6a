/**
 * The whole qemu lab bring-up, in order, timed: the image (built or from the cache), two VMs
 * to SSH, rxe0 on each VM's eth1 (ACTIVE), the verbs smoke test between them (UD and RC
 * pingpong), and optionally the reference stack deployed into both over SSH with its version
 * checked there.
 *
 * It stops before ipoibd: the daemon's data plane needs the verbs provider of src/fabric/,
 * which does not exist yet (on rxe there is no simulated fabric for it to join).
 */
import { QemuLabError } from '../../errors.js';
import type { DeferStack } from '../defer-stack.js';
import { type DeployResult, deployStack, prepareLocalStack, requireInstalledVersion } from '../deploy/install.js';
import { formatStackVersion, type StackVersion } from '../deploy/version.js';
import type { LabFile } from '../lab-file.js';
import { loadLabFile } from '../lab-file-load.js';
import { openTransport } from '../node-transport.js';
import type { Transport } from '../transport.js';
import { ensureImage, type QemuImage } from './image.js';
import { bootQemuLab, QEMU_LAB_NODES, type QemuLabState, vmMemory, type VmMemory } from './lab.js';
import { qemuLabPaths, type QemuLabPaths } from './paths.js';
import { bringUpRxe, pingpong, type PingpongResult, type RxePort } from './rxe.js';

export interface QemuLabRunOptions {
  /** Undos (transports, then the lab's teardown) go here; the caller runs it, or hands the lab over. */
  stack: DeferStack;
  paths?: QemuLabPaths;
  forceImage?: boolean;
  sshPorts?: readonly [number, number];
  memoryMiB?: number;
  sshWaitMs?: number;
  /** Run the UD and RC pingpong between the VMs (default true). */
  smoke?: boolean;
  /** Deploy the reference stack into both VMs and check its version there (default false). */
  deploy?: boolean;
  progress?: (line: string) => void;
}

export interface QemuLabTimings {
  imageMs: number;
  imageCached: boolean;
  bootToSshMs: number;
  rxeMs: number;
  smokeMs: number | null;
  deployMs: number | null;
  totalMs: number;
}

export interface DeployedNode {
  node: string;
  result: DeployResult;
  /** The version of the release `current` points at on the node (its marker). */
  nodeVersion: StackVersion;
}

export interface QemuLabRun {
  paths: QemuLabPaths;
  image: QemuImage;
  state: QemuLabState;
  lab: LabFile;
  /** Open transports to the VMs by node name; closed by the stack. */
  transports: Map<string, Transport>;
  rxe: RxePort[];
  smoke: PingpongResult[];
  deployed: DeployedNode[];
  localVersion: StackVersion | null;
  memory: VmMemory[];
  timings: QemuLabTimings;
}

const node = (m: Map<string, Transport>, name: string): Transport => {
  const t = m.get(name);
  if (!t) throw new QemuLabError(`no transport for ${name}`, 'This is a bug in the qemu lab bring-up.');
  return t;
};

export async function runQemuLab(o: QemuLabRunOptions): Promise<QemuLabRun> {
  const started = performance.now();
  const say = (line: string) => o.progress?.(line);
  const paths = o.paths ?? qemuLabPaths();

  const image = await ensureImage({ cacheDir: paths.cacheDir, force: o.forceImage, progress: say });
  say(`image ${image.manifest.key} (${image.cached ? 'cached' : 'built'}, kernel ${image.manifest.kernel}, node ${image.manifest.node}) in ${(image.durationMs / 1000).toFixed(1)} s`);

  const boot = await bootQemuLab({ paths, image, sshPorts: o.sshPorts, memoryMiB: o.memoryMiB, sshWaitMs: o.sshWaitMs, stack: o.stack, progress: say });
  const lab = await loadLabFile(paths.labFile);
  const transports = new Map<string, Transport>();
  for (const n of lab.nodes) {
    const t = await openTransport(n);
    transports.set(n.name, t);
    o.stack.defer(() => t.close(), `close the ssh connection to ${n.name}`);
  }

  const rxeStarted = performance.now();
  const rxe = await Promise.all(QEMU_LAB_NODES.map((n) => bringUpRxe(node(transports, n.name), { cidr: n.eth1Cidr })));
  const rxeMs = performance.now() - rxeStarted;
  for (const r of rxe) say(`${r.node}: ${r.device} ${r.devinfo.state} on ${r.netdev} ${r.address}, ${r.devinfo.linkLayer}, active MTU ${r.devinfo.activeMtuBytes}, GIDs ${r.gids.map((g) => `${g.index}=${g.gid}`).join(' ')}`);

  const smoke: PingpongResult[] = [];
  let smokeMs: number | null = null;
  if (o.smoke !== false) {
    const smokeStarted = performance.now();
    const [dut, peer] = [node(transports, 'dut'), node(transports, 'peer')];
    const peerRxe = rxe.find((r) => r.node === 'peer') as RxePort;
    for (const kind of ['ud', 'rc'] as const) {
      const r = await pingpong(peer, dut, { kind, serverAddress: peerRxe.address, gidIndex: peerRxe.ipv4GidIndex });
      smoke.push(r);
      say(`ibv_${kind}_pingpong dut → peer: ${r.iterations} iterations, ${r.usecPerIter} µs each`);
    }
    smokeMs = performance.now() - smokeStarted;
  }

  const deployed: DeployedNode[] = [];
  let deployMs: number | null = null;
  let localVersion: StackVersion | null = null;
  if (o.deploy) {
    const deployStarted = performance.now();
    const local = await prepareLocalStack();
    localVersion = local.version;
    try {
      // deployStack has run the installed tree's own version printer on the node (`ipoib-lab
      // deploy --print-version`: the tree hash recomputed there, the addon loaded) before it
      // marked the release complete; what `current` points at now must carry this tree's version.
      deployed.push(
        ...(await Promise.all(
          lab.nodes.map(async (n) => {
            const t = node(transports, n.name);
            const result = await deployStack(t, { local, dir: n.deploy?.dir, progress: say });
            const { marker } = await requireInstalledVersion(t, result.dir, local.version);
            say(`${result.node}: ${result.outcome} (${result.addon} addon) ${formatStackVersion(marker)} at ${result.release}`);
            return { node: result.node, result, nodeVersion: { version: marker.version, commit: marker.commit, dirty: marker.dirty, treeHash: marker.treeHash } };
          }),
        )),
      );
    } finally {
      await local.dispose();
    }
    deployMs = performance.now() - deployStarted;
  }

  return {
    paths,
    image,
    state: boot.state,
    lab,
    transports,
    rxe,
    smoke,
    deployed,
    localVersion,
    memory: vmMemory(boot.state),
    timings: { imageMs: image.durationMs, imageCached: image.cached, bootToSshMs: boot.bootToSshMs, rxeMs, smokeMs, deployMs, totalMs: performance.now() - started },
  };
}
