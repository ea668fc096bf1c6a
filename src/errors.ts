/**
 * Every error class of ipoib-lab lives here, so a caller can narrow with `instanceof`
 * and a reader finds the whole taxonomy in one place.
 */
// Type-only imports: errors.ts must not load runtime code from the layers above it.
import type { FabricProblem } from './fabric/sim/fabric-description.js';
import type { CmKind } from './wire/cm.js';

/** A wire structure could not be encoded or decoded: names the field, the offset and the value. */
export class WireError extends Error {
  override readonly name = 'WireError';
  constructor(
    /** Dotted path of the field, e.g. `arp.hlen` or `lrh.pktlen`. */
    readonly field: string,
    /** Byte offset in the buffer where the problem was found (or -1 when not about a buffer). */
    readonly offset: number,
    message: string,
    /** The offending value, when there is one. */
    readonly value?: unknown,
  ) {
    super(`${field}${offset >= 0 ? ` @${offset}` : ''}: ${message}`);
  }
}

/** The native addon could not be loaded or a native call failed. */
export class NativeError extends Error {
  override readonly name = 'NativeError';
  constructor(
    message: string,
    readonly op?: string,
    readonly errno?: number,
    readonly code?: string,
  ) {
    super(message);
  }
}

/** A command-line usage error: printed without a stack, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** An expected stop of a CLI command with a given exit code and message. */
export class ExitError extends Error {
  override readonly name = 'ExitError';
  constructor(
    readonly exitCode: number,
    message: string,
  ) {
    super(message);
  }
}

/** A simulated-fabric run directory or manager problem (already running, stale, not ours). */
export class FabricRunError extends Error {
  override readonly name = 'FabricRunError';
}

/** The SA refused a request (status set) or never answered (status null). */
export class SaError extends Error {
  override readonly name = 'SaError';
  constructor(
    message: string,
    /** The MAD status of the response; null when the SA did not answer. */
    readonly status: number | null,
    /** The SA-specific error code (bits 8..14 of the status); null when there was no answer. */
    readonly saError: number | null,
  ) {
    super(message);
  }
}

/** Renders a rejected value for an error message: strings quoted, Buffers by length, the rest as JSON-ish text. */
function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (Buffer.isBuffer(value)) return `a ${value.length}-octet Buffer`;
  if (typeof value === 'bigint') return `${value}n`;
  if (value === null || typeof value !== 'object') return String(value);
  return Array.isArray(value) ? `an array of ${value.length}` : 'an object';
}

/** A call got an argument it cannot use: names the call, the argument, what it wants and what came. */
export class ArgumentError extends Error {
  override readonly name = 'ArgumentError';
  constructor(
    /** The call, e.g. `SimEndpoint.postSendUd`. */
    readonly op: string,
    /** The argument's path, e.g. `sends[3].dlid`. */
    readonly argument: string,
    readonly value: unknown,
    /** What a good value is, e.g. "an integer from 1 to 0xbfff". */
    readonly expected: string,
  ) {
    super(`${op}: ${argument} must be ${expected}, got ${describeValue(value)}`);
  }
}

/** A send larger than the path MTU was refused before anything went on the wire. */
export class MtuExceededError extends Error {
  override readonly name = 'MtuExceededError';
  constructor(
    readonly op: string,
    readonly payloadBytes: number,
    readonly mtuBytes: number,
  ) {
    super(`${op}: a ${payloadBytes}-octet payload exceeds the ${mtuBytes}-octet MTU`);
  }
}

/** An object was used in a state that does not allow the call (e.g. after close()). */
export class StateError extends Error {
  override readonly name = 'StateError';
  constructor(
    readonly op: string,
    readonly state: string,
  ) {
    super(`${op}() called in state "${state}"`);
  }
}

/** The errno names a control operation of the reference IPoIB stack can fail with (as the kernel's would). */
export type IpoibErrno = 'EINVAL' | 'ENOTUNIQ' | 'EEXIST' | 'ENODEV' | 'ENOENT' | 'EBUSY' | 'EOPNOTSUPP' | 'EADDRNOTAVAIL';

/**
 * A control operation on the reference IPoIB stack (create_child, delete_child, mtu, mode, link
 * add/del) was refused with the errno Linux ib_ipoib returns in the same situation.
 */
export class IpoibControlError extends Error {
  override readonly name = 'IpoibControlError';
  constructor(
    /** The operation, e.g. `create_child` or `ib0.mtu`. */
    readonly op: string,
    /** The errno name, e.g. `ENOTUNIQ`. */
    readonly code: IpoibErrno,
    message: string,
  ) {
    super(`${op}: ${code}: ${message}`);
  }
}

/** Renders an argv for a message the way a reader would type it (quoted only where needed). */
function argvText(argv: readonly string[]): string {
  return argv.map((a) => (/^[A-Za-z0-9_/.,:=+@%-]+$/.test(a) ? a : JSON.stringify(a))).join(' ');
}

/**
 * A lab node could not be reached or a command could not be carried to it (connection refused or
 * lost, channel refused, file transfer failed). Says which host, which command and what to do.
 * Lab and infrastructure failures are all of this class, so a report can keep them apart from
 * product defects.
 */
export class TransportError extends Error {
  override readonly name: string = 'TransportError';
  constructor(
    /** The node's name in the lab file (or host:port when there is none). */
    readonly host: string,
    /** The command that was being run, or null for a connection-level problem. */
    readonly argv: readonly string[] | null,
    readonly problem: string,
    /** What the user can do about it. */
    readonly hint: string,
    options?: { cause?: unknown },
  ) {
    super(`${host}: ${problem}${argv ? ` (command: ${argvText(argv)})` : ''}. ${hint}`, options);
  }
}

/** A command on a lab node outlived its timeout; it was killed and its channel closed. */
export class CommandTimeout extends TransportError {
  override readonly name = 'CommandTimeout';
  constructor(
    host: string,
    argv: readonly string[],
    readonly timeoutMs: number,
    /** What the command had written before it was killed. */
    readonly stdout = '',
    readonly stderr = '',
  ) {
    super(host, argv, `no exit within ${timeoutMs} ms; the command was killed`, 'Raise timeoutMs if the command is slow by nature, or look at the node: it may hang.');
  }
}

/**
 * A node presented a host key other than the one(s) known_hosts holds for it: possibly a
 * reinstalled node, possibly someone in between. Never accepted automatically.
 */
export class HostKeyMismatchError extends TransportError {
  override readonly name = 'HostKeyMismatchError';
  constructor(
    host: string,
    readonly knownHostsFile: string,
    /** SHA256 fingerprints known_hosts holds for the host. */
    readonly expected: readonly string[],
    /** SHA256 fingerprint of the key the host presented. */
    readonly presented: string,
  ) {
    super(
      host,
      null,
      `host key mismatch: known_hosts ${knownHostsFile} expects ${expected.join(' or ')}, the host presented ${presented}`,
      'If the node was reinstalled, verify the new key out of band and replace its line (ssh-keygen -R, then add the verified key); otherwise do not connect.',
    );
  }
}

/** A node's host key is not in known_hosts and the lab file's policy is `strict`. */
export class UnknownHostKeyError extends TransportError {
  override readonly name = 'UnknownHostKeyError';
  constructor(
    host: string,
    readonly knownHostsFile: string,
    /** SHA256 fingerprint of the key the host presented. */
    readonly presented: string,
  ) {
    super(
      host,
      null,
      `host key ${presented} is not in known_hosts ${knownHostsFile}`,
      'Verify the fingerprint on the node (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub) and add its line, or set knownHosts.policy to "accept-new" for a first contact.',
    );
  }
}

/** A node refused every authentication method offered (key or agent; passwords are never used). */
export class AuthError extends TransportError {
  override readonly name = 'AuthError';
  constructor(
    host: string,
    readonly user: string,
    /** The methods that were tried, e.g. ['publickey'] or ['agent']. */
    readonly methods: readonly string[],
  ) {
    super(
      host,
      null,
      `authentication as "${user}" refused (tried: ${methods.join(', ') || 'nothing'})`,
      "Check that the node's authorized_keys holds the public half of identityFile (or of a key in the agent) and that the user is right.",
    );
  }
}

/** check() found a command that exited non-zero (run() never throws for that; check() does). */
export class CommandFailedError extends Error {
  override readonly name = 'CommandFailedError';
  constructor(
    readonly host: string,
    readonly argv: readonly string[],
    readonly code: number,
    readonly stdout: string,
    readonly stderr: string,
  ) {
    const tail = stderr.trim().split('\n').slice(-3).join(' | ');
    super(`${host}: ${argvText(argv)} exited with ${code}${tail ? `: ${tail}` : ''}`);
  }
}

/** One problem found in a lab file: which file, where in it (a JSON path like `$.nodes[1].ssh.port`) and what. */
export interface LabFileProblem {
  file: string;
  path: string;
  message: string;
}

/**
 * Control flow, not a failure: the case cannot run on this lab (a capability it requires is
 * missing, the lab cannot start here). Always carries the reason, which the report shows.
 */
export class Skip extends Error {
  override readonly name = 'Skip';
  constructor(readonly reason: string) {
    super(reason);
  }
}

/**
 * The lab could not be brought up, attached to or used as a whole (as opposed to one command on
 * one node failing): a lab or infrastructure failure, never a verdict on the DUT.
 */
export class LabError extends Error {
  override readonly name = 'LabError';
  constructor(message: string) {
    super(message);
  }
}

/**
 * Installing the reference stack on a node, or starting or stopping its ipoibd there, failed
 * for a reason the user can act on (node lacks Node.js 20 or a build tool, a daemon did not
 * answer in time, ...). `hint` says what to do, naming Debian packages where one is missing.
 */
export class DeployError extends Error {
  override readonly name: string = 'DeployError';
  constructor(
    readonly problem: string,
    readonly hint: string,
    /** The node's name, when the problem is on one. */
    readonly node?: string,
    options?: { cause?: unknown },
  ) {
    super(`${node ? `${node}: ` : ''}${problem}. ${hint}`, options);
  }
}

/** The stack installed (or running) on a node is not the version of this controller's tree. */
export class DeployVersionMismatchError extends DeployError {
  override readonly name = 'DeployVersionMismatchError';
  constructor(
    node: string,
    /** What is on the node, e.g. "0.1.0 (commit 3de52a2c91f0; tree 1a2b3c4d5e6f)". */
    readonly nodeVersion: string,
    /** What this controller's tree is. */
    readonly localVersion: string,
    what = 'the installed stack',
  ) {
    super(`${what} is version ${nodeVersion}, this controller's tree is ${localVersion}`, 'Run `ipoib-lab deploy` for this node first (and restart its ipoibd).', node);
  }
}

/**
 * The qemu Soft-RoCE lab (lab/qemu/) could not be built, booted, reached or torn down on this
 * controller: a lab failure, never a verdict on the DUT. `hint` says what to do.
 */
export class QemuLabError extends Error {
  override readonly name = 'QemuLabError';
  constructor(
    readonly problem: string,
    readonly hint: string,
    /** The VM concerned, when the problem is one VM's. */
    readonly vm?: string,
    options?: { cause?: unknown },
  ) {
    super(`${vm ? `${vm}: ` : ''}${problem}. ${hint}`, options);
  }
}

/** A lab file could not be used; lists every problem found, not just the first. */
export class LabFileError extends Error {
  override readonly name = 'LabFileError';
  constructor(
    readonly file: string,
    readonly problems: readonly LabFileProblem[],
  ) {
    const n = problems.length;
    super(`${file}: ${n} problem${n === 1 ? '' : 's'}:\n${problems.map((p) => `  ${p.path}: ${p.message}`).join('\n')}`);
  }
}

/** One or more undo steps failed while a cleanup stack ran; every step was still attempted. */
export class CleanupError extends Error {
  override readonly name = 'CleanupError';
  constructor(readonly failures: readonly { description: string; error: unknown }[]) {
    const lines = failures.map((f) => `  ${f.description}: ${f.error instanceof Error ? f.error.message : String(f.error)}`);
    super(`${failures.length} cleanup step${failures.length === 1 ? '' : 's'} failed:\n${lines.join('\n')}`);
  }
}

/** A probe waited for a frame or MAD that did not come: says what it waited for, how long, and what it saw instead. */
export class ProbeTimeoutError extends Error {
  override readonly name = 'ProbeTimeoutError';
  constructor(
    /** What was awaited, e.g. `a frame on QP 0x000012`. */
    readonly what: string,
    readonly timeoutMs: number,
    /** How many frames (or MADs) arrived meanwhile without matching. */
    readonly seen: number,
  ) {
    super(`probe: no ${what} within ${timeoutMs} ms (${seen} other${seen === 1 ? '' : 's'} received)`);
  }
}

/** A wire capture could not be started or read (e.g. the fabric's one tap is already in use). */
export class CaptureError extends Error {
  override readonly name = 'CaptureError';
}

/** An RC connection could not be made (base of the two causes below; alone: the port closed, or another failure). */
export class RcConnectError extends Error {
  override readonly name: string = 'RcConnectError';
}

/** The peer answered an RC connection request with a REJ. */
export class RcRejectedError extends RcConnectError {
  override readonly name = 'RcRejectedError';
  constructor(
    message: string,
    /** The REJ reason code (IBA CM; CM_REJ_REASONS in src/wire/cm.ts). */
    readonly reason: number,
    /** The reason's name, e.g. `invalidServiceId`. */
    readonly reasonName: string,
    /** The REJ's private data, as received. */
    readonly privateData: Buffer,
  ) {
    super(message);
  }
}

/** A CM message of an RC connection went unanswered through all its retries. */
export class RcConnectTimeoutError extends RcConnectError {
  override readonly name = 'RcConnectTimeoutError';
  constructor(
    message: string,
    /** The message that got no answer, e.g. `REQ`. */
    readonly unanswered: string,
    /** How many times it was sent. */
    readonly attempts: number,
  ) {
    super(message);
  }
}

/** An RC send did not complete successfully; `status` says how it ended (`flushed`, `retry-exceeded`, …). */
export class RcSendError extends Error {
  override readonly name = 'RcSendError';
  constructor(
    readonly qpn: number,
    readonly status: string,
  ) {
    super(`RC QP 0x${qpn.toString(16)}: send completed with ${status}`);
  }
}

/** An RC send was refused because the QP's send queue is full; nothing was queued. */
export class RcSendQueueFullError extends Error {
  override readonly name = 'RcSendQueueFullError';
  constructor(readonly qpn: number) {
    super(`RC QP 0x${qpn.toString(16)}: the send queue is full`);
  }
}

/** An RC QP went to the ERROR state by itself; `reason` is the transport's (`retry-exceeded`, …). */
export class RcQpError extends Error {
  override readonly name = 'RcQpError';
  constructor(
    readonly qpn: number,
    readonly reason: string,
    /** What happened, in words (e.g. which PSN went unacknowledged). */
    readonly detail: string,
  ) {
    super(`RC QP 0x${qpn.toString(16)} went to ERROR: ${reason}${detail ? ` (${detail})` : ''}`);
  }
}

/**
 * A command's output on a lab node was not in the documented format: names the command, where in
 * the output (a line number or a JSON path) and what was expected there. Parsers throw this rather
 * than return half-parsed data.
 */
export class ParseError extends Error {
  override readonly name = 'ParseError';
  constructor(
    /** The command (or file) whose output was read, e.g. `ethtool -S` or `debugfs ib0_mcg`. */
    readonly command: string,
    /** Where: `line 3`, `$[0].linkinfo.info_data.key`, … */
    readonly where: string,
    /** What a good value looks like there. */
    readonly expected: string,
    /** What was found, when there is something to show. */
    readonly got?: unknown,
  ) {
    super(`${command}: ${where}: expected ${expected}${got === undefined ? '' : `, got ${describeValue(got)}`}`);
  }
}

/**
 * The device under test lacks a capability a call needs (connected mode not built, no debugfs, no
 * ethtool, …). The harness turns it into a skip unless the lab file claims the capability.
 */
export class Unsupported extends Error {
  override readonly name = 'Unsupported';
  constructor(
    /** The capability's name, e.g. `connected-mode`, `debugfs`, `ethtool`. */
    readonly capability: string,
    /** What showed it (the command and its error), for the report. */
    readonly detail = '',
  ) {
    super(`unsupported on this DUT: ${capability}${detail ? ` (${detail})` : ''}`);
  }
}

/** The body of an ipoibd error answer: the errno name, the operation and the reason. */
export interface DaemonErrorBody {
  code: string;
  op: string;
  message: string;
}

/** ipoibd refused a control request (ipoibctl's client side): carries the errno name and operation. */
export class DaemonRequestError extends Error {
  override readonly name = 'DaemonRequestError';
  constructor(readonly body: DaemonErrorBody) {
    super(`${body.op}: ${body.code}: ${body.message}`);
  }
}

// ---- simulated fabric: descriptions, partitions.conf ----------------------------------------

/** A fabric description was rejected; `problems` lists every fault found, `path` the first. */
export class FabricDescriptionError extends Error {
  override readonly name = 'FabricDescriptionError';
  readonly path: string;
  constructor(readonly problems: readonly FabricProblem[]) {
    super(problems.map((p) => `${p.path}: ${p.message}`).join('; '));
    this.path = problems[0]?.path ?? '$';
  }
}

/**
 * A partitions.conf could not be read. `line` and `column` are 1-based (a tab counts as one
 * column); both are 0 when the problem is in a value handed to formatPartitionsConf.
 */
export class PartitionsConfError extends Error {
  override readonly name = 'PartitionsConfError';
  constructor(
    readonly file: string,
    readonly line: number,
    readonly column: number,
    /** What was expected and what was found, without the location. */
    readonly reason: string,
  ) {
    super(line > 0 ? `${file}: line ${line}, column ${column}: ${reason}` : `${file}: ${reason}`);
  }
}

// ---- simulated fabric: connection manager (CmRejectError stays in src/fabric/sim/cm-errors.ts) ----

/** Base of every CM failure, so a caller can narrow with one `instanceof`. */
export class CmError extends Error {
  override readonly name: string = 'CmError';
}

/** A message went unanswered through all its retries. */
export class CmTimeoutError extends CmError {
  override readonly name = 'CmTimeoutError';
  constructor(
    /** The message that got no answer (REQ, REP or DREQ). */
    readonly unanswered: CmKind,
    /** How many times it was sent (1 + retries). */
    readonly attempts: number,
    /** The wait after each attempt, in ms. */
    readonly waitMs: number,
  ) {
    super(`cm: no answer to ${unanswered} after ${attempts} sends, ${waitMs} ms apart`);
  }
}

/** The CM service was closed while the operation was pending. */
export class CmClosedError extends CmError {
  override readonly name = 'CmClosedError';
}

/** An operation that the connection's or service's state does not allow (accept twice, listen twice, …). */
export class CmStateError extends CmError {
  override readonly name = 'CmStateError';
}

/** The active side answered the peer's REP with a REJ (its owner refused the REP's contents). */
export class CmReplyRefusedError extends CmError {
  override readonly name = 'CmReplyRefusedError';
  constructor(
    /** The REJ reason sent (CM_REJ_REASONS). */
    readonly reason: number,
  ) {
    super(`cm: the REP was refused with REJ reason ${reason}`);
  }
}

// ---- node host side: network namespaces, /proc ---------------------------------------------

/** An `ip -n NS ...` call exited non-zero or timed out. */
export class NodeNetnsError extends Error {
  override readonly name = 'NodeNetnsError';
  constructor(
    readonly argv: readonly string[],
    readonly stderr: string,
  ) {
    super(`${argv.join(' ')} failed: ${stderr.trim()}`);
  }
}

/** A /proc file (igmp, igmp6) could not be read, directly or through nsenter. */
export class ProcReadError extends Error {
  override readonly name = 'ProcReadError';
  constructor(
    readonly argv: readonly string[],
    readonly detail: string,
  ) {
    super(`${argv.join(' ')} failed: ${detail.trim()}`);
  }
}

// ---- offload engine (native/src/tun/offload_*.h) --------------------------------------------

/**
 * The offload engine refused a packet: its virtio-net header and contents ask for something it
 * does not do or that does not fit the packet. `reason` is the native refusal's name (see
 * OFFLOAD_REFUSALS in src/ipoib/native/offload.ts), e.g. "csum-offset-out-of-bounds".
 */
export class OffloadError extends Error {
  override readonly name = 'OffloadError';
  constructor(
    /** The call, e.g. `offloadSegment`. */
    readonly op: string,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}
