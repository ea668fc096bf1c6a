/**
 * /proc/net files of another network namespace without a child process. The node polls
 * /proc/net/igmp and igmp6 of its namespace twice a second (host-memberships.ts); reading them
 * through `nsenter … cat` forked the whole Node process for each file, which cost more CPU than
 * the rest of the poll and stalled the data plane's threads while the page tables were copied.
 * Here a short-lived native thread enters the namespace and reads them
 * (native/src/tun/netns_read.h).
 */
import { ArgumentError, ProcReadError } from '../../errors.js';
import { callNative, loadNative } from '../../native/addon.js';
import { type MembershipSource, netnsFile, parseProcIgmp, parseProcIgmp6 } from '../host-memberships.js';

const PROC_NET_NAME_RE = /^[A-Za-z0-9_]{1,64}$/;

/**
 * The text of each /proc/net file in `names` (e.g. 'igmp') as the namespace `netns` sees it
 * (an `ip netns` name, a namespace file path, or '' for ours); null for a file it lacks.
 * Failures reject with NativeError (op: the call that failed, e.g. 'setns').
 */
export async function readProcNet(netns: string, names: readonly string[]): Promise<(string | null)[]> {
  const op = 'readProcNet';
  if (typeof netns !== 'string' || netns.includes('\0')) throw new ArgumentError(op, 'netns', netns, 'an `ip netns` name, a namespace path, or ""');
  for (const name of names) {
    if (typeof name !== 'string' || !PROC_NET_NAME_RE.test(name)) throw new ArgumentError(op, 'names', name, 'file names of /proc/net, e.g. "igmp"');
  }
  const native = loadNative();
  const pending = callNative(op, () => native.readProcNet(netnsFile(netns), [...names]));
  return pending.catch((e: unknown) =>
    callNative(op, () => {
      throw e;
    }),
  );
}

/** The host's group memberships in `netns` from /proc/net/igmp and igmp6, read in-process. */
export function nativeMembershipSource(netns: string): MembershipSource {
  return async () => {
    let v4: string | null;
    let v6: string | null;
    try {
      [v4 = null, v6 = null] = await readProcNet(netns, ['igmp', 'igmp6']);
    } catch (e) {
      throw new ProcReadError(['readProcNet', netnsFile(netns) || '(own namespace)', 'igmp', 'igmp6'], (e as Error).message);
    }
    return [...(v4 === null ? [] : parseProcIgmp(v4)), ...(v6 === null ? [] : parseProcIgmp6(v6))];
  };
}
