/**
 * Booting and tearing down the two VMs of the qemu Soft-RoCE lab on this controller, and the
 * lab file that describes them.
 *
 * Every change to the host is journalled before it is made, in the host journal of the run
 * directory (journal.ts format, through a local transport): the raised
 * net.core.rmem_default (restored), each VM (stopped). Teardown replays that journal, newest
 * first, and removes the run directory, so it works the same after a clean run, after a
 * failure, after a SIGINT (the caller's DeferStack runs it) and after a SIGKILL (the next
 * `up` or an explicit `down` finds the journal). The lab is meant to outlive the command that
 * booted it (`npm run lab:qemu:up` returns with the VMs running), which is why its undo lives
 * in the run directory and not only on a stack.
 */
import { createSocket } from 'node:dgram';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { hostname } from 'node:os';
import path from 'node:path';
import { QemuLabError } from '../../errors.js';
import type { DeferStack } from '../defer-stack.js';
import { NodeJournal, newRunId } from '../journal.js';
import { cleanupJournal, parseJournal, type UndoOutcome } from '../journal-cleanup.js';
import { processAlive } from '../../fabric/sim/run-dir.js';
import { LocalTransport } from '../transports/local.js';
import type { QemuImage } from './image.js';
import { DEFAULT_QEMU_CACHE, QEMU_LAB_NAME, type QemuLabPaths, vmFiles } from './paths.js';
import { RXE_DEVICE, RXE_PORT } from './rxe.js';
import { qemuArgv, vmAliveArgv, vmStopArgv } from './vm.js';

export interface QemuLabNodeSpec {
  name: 'dut' | 'peer';
  role: 'dut' | 'peer';
  /** eth1, the link rxe0 runs on (TEST-NET-2). */
  eth1Cidr: string;
  eth1Mac: string;
  /** The IPoIB interface's addresses (as on the sim lab). */
  addresses: string[];
}

export const QEMU_LAB_NODES: readonly QemuLabNodeSpec[] = [
  { name: 'dut', role: 'dut', eth1Cidr: '198.51.100.1/24', eth1Mac: '52:54:00:1b:00:01', addresses: ['192.0.2.1/24', '2001:db8:1b::1/64'] },
  { name: 'peer', role: 'peer', eth1Cidr: '198.51.100.2/24', eth1Mac: '52:54:00:1b:00:02', addresses: ['192.0.2.2/24', '2001:db8:1b::2/64'] },
];
export const DEFAULT_SSH_PORTS: readonly [number, number] = [47221, 47222];
export const DEFAULT_MEMORY_MIB = 512;
export const DEFAULT_TB_SIZE_MIB = 128;
/** rxe's GID table on eth1: index 0 is the link-local GID, 1 the IPv4-mapped one (both RoCE v2). */
export const RXE_GID_INDEX = 1;
/** What the UDP link needs so bursts are not dropped (a UD bandwidth test hangs otherwise). */
export const RMEM_DEFAULT_BYTES = 4 * 1024 * 1024;
const RMEM_DEFAULT_FILE = '/proc/sys/net/core/rmem_default';
const HOST_NODE = 'qemu-host';
const QEMU_START_TIMEOUT_MS = 60_000;
export const DEFAULT_SSH_WAIT_MS = 180_000;

/** What a run started, in its run directory. */
export interface QemuLabState {
  v: 1;
  runId: string;
  startedAt: string;
  /**
   * The lab was handed over to outlive the process that booted it (`npm run lab:qemu:up`):
   * a later run refuses to touch it while its VMs run. A lab not handed over whose booting
   * process is gone (killed) is torn down by the next run.
   */
  kept: boolean;
  image: string;
  labFile: string;
  /** net.core.rmem_default before the run and while it runs; null when it was left as it was. */
  rmemDefault: { before: number; during: number } | null;
  vms: { name: string; pid: number; sshPort: number; pidFile: string; consoleLog: string; eth1Cidr: string }[];
}

/** The lab file for these ports and key files (JSON as written to disk). */
export function qemuLabFile(o: { sshPorts: readonly [number, number]; identityFile: string; knownHostsFile: string }): Record<string, unknown> {
  return {
    $schema: './schema/lab.schema.json',
    name: QEMU_LAB_NAME,
    description:
      `Two qemu VMs (Debian bookworm, TCG) on this machine, booted by npm run lab:qemu:up (lab/qemu/README.md): Soft-RoCE ${RXE_DEVICE} on each VM's eth1 (dut 198.51.100.1, peer 198.51.100.2), the VMs linked by a UDP socket pair on loopback, sshd forwarded to 127.0.0.1. The reference stack on both nodes; rxe has no SM/SA and one P_Key.`,
    fabric: { kind: 'rxe' },
    nodes: QEMU_LAB_NODES.map((n, i) => ({
      name: n.name,
      role: n.role,
      implementation: 'reference',
      transport: 'ssh',
      ssh: {
        host: '127.0.0.1',
        port: o.sshPorts[i],
        user: 'root',
        identityFile: o.identityFile,
        knownHosts: { file: o.knownHostsFile, policy: 'strict' },
        connectTimeoutMs: 20_000,
      },
      sudo: false,
      hca: { device: RXE_DEVICE, port: RXE_PORT, gidIndex: RXE_GID_INDEX },
      interface: 'ib0',
      addresses: n.addresses,
      deploy: { dir: '/root/.ipoib-lab' },
    })),
    partitions: [{ name: 'default', pkey: '0xffff', ipoib: true }],
    capture: { method: 'none' },
  };
}

/** The checked-in lab/qemu-rxe.json: default ports, keys in the default cache. */
export function defaultQemuLabFile(): Record<string, unknown> {
  return qemuLabFile({ sshPorts: DEFAULT_SSH_PORTS, identityFile: `${DEFAULT_QEMU_CACHE}/ssh/id_ed25519`, knownHostsFile: `${DEFAULT_QEMU_CACHE}/ssh/known_hosts` });
}

export function readQemuLabState(paths: QemuLabPaths): QemuLabState | null {
  try {
    const s = JSON.parse(readFileSync(paths.stateFile, 'utf8')) as QemuLabState;
    return s.v === 1 && Array.isArray(s.vms) ? s : null;
  } catch {
    return null;
  }
}

/** The VMs of the run directory's state that still run. */
export async function runningVms(paths: QemuLabPaths): Promise<string[]> {
  const state = readQemuLabState(paths);
  if (!state) return [];
  const host = new LocalTransport({ name: HOST_NODE });
  try {
    const alive = await Promise.all(state.vms.map(async (v) => ((await host.run(vmAliveArgv(v.pidFile), { timeoutMs: 10_000 })).code === 0 ? v.name : null)));
    return alive.filter((n): n is string => n !== null);
  } finally {
    await host.close();
  }
}

/** Marks the lab as meant to outlive this process (see QemuLabState.kept). */
export function handOverQemuLab(paths: QemuLabPaths): void {
  const state = readQemuLabState(paths);
  if (!state) throw new QemuLabError(`${paths.stateFile} is missing`, 'The lab did not boot: npm run lab:qemu:down, then up again.');
  writeFileSync(paths.stateFile, `${JSON.stringify({ ...state, kept: true }, null, 2)}\n`);
}

/** The pid of another live process on this host whose journal is in the run directory, or null. */
function liveController(paths: QemuLabPaths): number | null {
  let files: string[] = [];
  try {
    files = readdirSync(paths.journalDir).filter((f) => f.endsWith('.jsonl'));
  } catch {
    return null;
  }
  for (const f of files) {
    const { header } = parseJournal(readFileSync(path.join(paths.journalDir, f), 'utf8'));
    const pid = header?.controller.pid;
    if (!header || header.controller.host !== hostname() || pid === undefined || pid === process.pid) continue;
    if (processAlive(pid)) return pid;
  }
  return null;
}

/**
 * Makes the run directory free for a new run: refuses while another process is booting or
 * using a lab there, or while a handed-over lab's VMs run; tears down anything else (what a
 * killed run left).
 */
async function clearPreviousRun(paths: QemuLabPaths, say: (line: string) => void): Promise<void> {
  if (!existsSync(paths.runDir)) return;
  const owner = liveController(paths);
  if (owner !== null) throw new QemuLabError(`process ${owner} is bringing up or using a qemu lab in ${paths.runDir}`, 'Wait for it to finish, or stop it (its teardown runs on SIGINT/SIGTERM).');
  const alive = await runningVms(paths);
  if (alive.length && readQemuLabState(paths)?.kept) {
    throw new QemuLabError(`the qemu lab already runs from ${paths.runDir} (VMs ${alive.join(', ')})`, `Use it (lab file ${paths.labFile}) or stop it: npm run lab:qemu:down.`);
  }
  say(`tearing down what a previous run left in ${paths.runDir}`);
  await teardownQemuLab(paths);
}

export interface TeardownReport {
  /** There was a run directory to tear down. */
  found: boolean;
  undone: UndoOutcome[];
  durationMs: number;
}

/** Replays the host journal (VM stops, sysctl restore), then removes the run directory. Idempotent. */
export async function teardownQemuLab(paths: QemuLabPaths): Promise<TeardownReport> {
  const started = performance.now();
  if (!existsSync(paths.runDir)) return { found: false, undone: [], durationMs: 0 };
  const host = new LocalTransport({ name: HOST_NODE });
  try {
    // force: the journal's controller may be this very process (a test) or long gone (`up`).
    const r = await cleanupJournal(host, { dir: paths.journalDir, force: true });
    const undone = r.journals.flatMap((j) => j.undone);
    if (r.failures.length) {
      throw new QemuLabError(
        `teardown left ${r.failures.length} undo(s) failing: ${r.failures.map((f) => `${f.description}: ${f.error ?? `exit ${f.code} ${f.stderr.trim()}`}`).join('; ')}`,
        `The run directory ${paths.runDir} is kept; run npm run lab:qemu:down again.`,
      );
    }
    rmSync(paths.runDir, { recursive: true, force: true });
    return { found: true, undone, durationMs: performance.now() - started };
  } finally {
    await host.close();
  }
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** Two UDP ports on 127.0.0.1 that were free a moment ago (the kernel picks them). */
async function freeUdpPorts(): Promise<[number, number]> {
  const one = () =>
    new Promise<{ port: number; close: () => void }>((resolve, reject) => {
      const s = createSocket('udp4');
      s.once('error', reject);
      s.bind(0, '127.0.0.1', () => resolve({ port: s.address().port, close: () => s.close() }));
    });
  const a = await one();
  const b = await one();
  a.close();
  b.close();
  return [a.port, b.port];
}

/** Resolves once the port answers with an SSH banner (qemu's forward accepts before the guest's sshd is up). */
function sshBanner(port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('error', () => done(false));
    sock.once('close', () => resolve(false));
    sock.once('data', (d: Buffer) => done(d.toString('latin1').startsWith('SSH-')));
  });
}

function consoleTail(file: string, lines = 12): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no console log)';
  }
}

async function waitForSsh(host: LocalTransport, vm: QemuLabState['vms'][number], deadline: number): Promise<void> {
  for (;;) {
    if (await sshBanner(vm.sshPort, 3_000)) return;
    if ((await host.run(vmAliveArgv(vm.pidFile), { timeoutMs: 10_000 })).code !== 0) {
      throw new QemuLabError(`the VM exited before its sshd answered; console:\n${consoleTail(vm.consoleLog)}`, `Its console log is ${vm.consoleLog}.`, vm.name);
    }
    if (Date.now() > deadline) {
      throw new QemuLabError(`no SSH banner on 127.0.0.1:${vm.sshPort} in time; console:\n${consoleTail(vm.consoleLog)}`, 'TCG is slow on a busy machine: retry, or raise the SSH wait.', vm.name);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

export interface BootOptions {
  paths: QemuLabPaths;
  image: QemuImage;
  sshPorts?: readonly [number, number];
  memoryMiB?: number;
  tbSizeMiB?: number;
  sshWaitMs?: number;
  /** Teardown goes on this stack as soon as the run directory exists. */
  stack?: DeferStack;
  progress?: (line: string) => void;
}

export interface BootResult {
  state: QemuLabState;
  /** From the first VM's start to both sshds answering. */
  bootToSshMs: number;
}

/** Boots the two VMs and waits for both sshds, after clearPreviousRun. */
export async function bootQemuLab(o: BootOptions): Promise<BootResult> {
  const { paths } = o;
  const say = (line: string) => o.progress?.(line);
  const sshPorts = o.sshPorts ?? DEFAULT_SSH_PORTS;
  await clearPreviousRun(paths, say);
  for (const port of sshPorts) {
    if (!(await portFree(port))) throw new QemuLabError(`TCP port 127.0.0.1:${port} is taken`, 'Choose other SSH ports (--ssh-ports A,B).');
  }
  mkdirSync(paths.journalDir, { recursive: true, mode: 0o700 });
  o.stack?.defer(() => teardownQemuLab(paths), 'tear the qemu lab down');
  const host = new LocalTransport({ name: HOST_NODE });
  try {
    const runId = newRunId();
    const journal = await NodeJournal.open(host, { runId, dir: paths.journalDir });

    let rmemDefault: QemuLabState['rmemDefault'] = null;
    const before = Number(readFileSync(RMEM_DEFAULT_FILE, 'utf8').trim());
    if (before < RMEM_DEFAULT_BYTES) {
      await journal.record(['sh', '-c', 'echo "$1" > /proc/sys/net/core/rmem_default', 'restore-rmem-default', String(before)], `restore net.core.rmem_default to ${before}`);
      writeFileSync(RMEM_DEFAULT_FILE, String(RMEM_DEFAULT_BYTES));
      rmemDefault = { before, during: RMEM_DEFAULT_BYTES };
      say(`net.core.rmem_default ${before} → ${RMEM_DEFAULT_BYTES} while the lab runs`);
    }

    const [portA, portB] = await freeUdpPorts();
    const linkPorts = [portA, portB];
    const state: QemuLabState = { v: 1, runId, startedAt: new Date().toISOString(), kept: false, image: o.image.manifest.key, labFile: paths.labFile, rmemDefault, vms: [] };
    const started = performance.now();
    for (const [i, n] of QEMU_LAB_NODES.entries()) {
      const { pidFile, consoleLog } = vmFiles(paths.runDir, n.name);
      const sshPort = sshPorts[i] as number;
      const argv = qemuArgv({
        name: n.name,
        image: o.image,
        memoryMiB: o.memoryMiB ?? DEFAULT_MEMORY_MIB,
        tbSizeMiB: o.tbSizeMiB ?? DEFAULT_TB_SIZE_MIB,
        sshPort,
        link: { localPort: linkPorts[i] as number, remotePort: linkPorts[1 - i] as number },
        eth1Mac: n.eth1Mac,
        pidFile,
        consoleLog,
      });
      await journal.record(vmStopArgv(pidFile), `stop VM ${n.name}`);
      // TMPDIR: where qemu puts the snapshot overlay (unlinked at once; a crash leaves nothing elsewhere).
      const r = await host.run(argv, { timeoutMs: QEMU_START_TIMEOUT_MS, env: { TMPDIR: paths.runDir } });
      if (r.code !== 0) throw new QemuLabError(`qemu did not start (exit ${r.code}): ${r.stderr.trim()}`, 'The message above is qemu\'s.', n.name);
      const pid = Number(readFileSync(pidFile, 'utf8').trim());
      state.vms.push({ name: n.name, pid, sshPort, pidFile, consoleLog, eth1Cidr: n.eth1Cidr });
      say(`${n.name}: qemu pid ${pid}, ssh 127.0.0.1:${sshPort}, eth1 over UDP ${linkPorts[i]} → ${linkPorts[1 - i]}`);
    }
    writeFileSync(paths.stateFile, `${JSON.stringify(state, null, 2)}\n`);
    writeFileSync(paths.labFile, `${JSON.stringify(qemuLabFile({ sshPorts, identityFile: paths.identityFile, knownHostsFile: paths.knownHostsFile }), null, 2)}\n`);
    const deadline = Date.now() + (o.sshWaitMs ?? DEFAULT_SSH_WAIT_MS);
    await Promise.all(state.vms.map((vm) => waitForSsh(host, vm, deadline)));
    const bootToSshMs = performance.now() - started;
    say(`both VMs answer SSH after ${(bootToSshMs / 1000).toFixed(1)} s`);
    return { state, bootToSshMs };
  } finally {
    await host.close();
  }
}

export interface VmMemory {
  name: string;
  /** Resident set now and its peak, of the qemu process (guest RAM touched + translation cache + qemu). */
  rssBytes: number;
  peakRssBytes: number;
}

/** Host memory of each running VM (from /proc/PID/status). */
export function vmMemory(state: QemuLabState): VmMemory[] {
  return state.vms.map((v) => {
    let status = '';
    try {
      status = readFileSync(`/proc/${v.pid}/status`, 'utf8');
    } catch {
      status = '';
    }
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
    return { name: v.name, rssBytes: kb('VmRSS'), peakRssBytes: kb('VmHWM') };
  });
}
