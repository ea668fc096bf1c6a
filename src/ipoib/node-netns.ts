/**
 * The host-side configuration of a node's TUN device inside its network namespace, done with
 * iproute2 (`ip -n NS ...`, argv, no shell, every call bounded): the IPv6 address generation
 * mode, addresses, link up. Every change is recorded with its inverse, and undo() reverts them
 * newest first, whatever failed before.
 */
import { execFile } from 'node:child_process';
import { NodeNetnsError } from '../errors.js';

/** Bound on one `ip` call. */
const IP_TIMEOUT_MS = 10_000;

export { NodeNetnsError } from '../errors.js';

/** Runs `ip -n <netns> ...args`; rejects with NodeNetnsError on a non-zero exit or a timeout. */
export function ipIn(netns: string, args: readonly string[]): Promise<void> {
  const argv = ['ip', '-n', netns, ...args];
  return new Promise((resolve, reject) => {
    execFile(argv[0] ?? 'ip', argv.slice(1), { timeout: IP_TIMEOUT_MS, encoding: 'utf8' }, (err, _stdout, stderr) => {
      if (err === null) resolve();
      else reject(new NodeNetnsError(argv, stderr === '' ? err.message : stderr));
    });
  });
}

/** What `ip` says when the thing to undo is already gone (the device, the namespace, an address). */
const GONE_RE = /Cannot find device|does not exist|No such device|Cannot open network namespace|address not found|Cannot assign requested address/i;

export class NetnsLinkConfig {
  private readonly undoSteps: string[][] = [];

  constructor(
    readonly netns: string,
    readonly ifname: string,
  ) {}

  /**
   * `addrgenmode none`: the kernel would give a TUN device (ARPHRD_NONE) a random link-local
   * address; the stack's own, derived from the port GUID, is added instead. Not undone: the
   * device goes away with the node.
   */
  async noKernelLinkLocal(): Promise<void> {
    await ipIn(this.netns, ['link', 'set', 'dev', this.ifname, 'addrgenmode', 'none']);
  }

  /** `ip addr add CIDR dev IF` (IPv6 with `nodad`: the stack does not run DAD on the fabric). */
  async addAddress(cidr: string): Promise<void> {
    const v6 = cidr.includes(':');
    await ipIn(this.netns, ['addr', 'add', cidr, 'dev', this.ifname, ...(v6 ? ['nodad'] : [])]);
    this.undoSteps.push(['addr', 'del', cidr, 'dev', this.ifname]);
  }

  async up(): Promise<void> {
    await ipIn(this.netns, ['link', 'set', 'dev', this.ifname, 'up']);
    // Undone last: a device going down drops its IPv6 addresses (keep_addr_on_down 0) itself.
    this.undoSteps.unshift(['link', 'set', 'dev', this.ifname, 'down']);
  }

  /** Reverts every recorded change, newest first; returns the failures (a device already gone is not one). */
  async undo(): Promise<Error[]> {
    const failures: Error[] = [];
    for (const step of this.undoSteps.splice(0).reverse()) {
      try {
        await ipIn(this.netns, step);
      } catch (e) {
        if (e instanceof NodeNetnsError && GONE_RE.test(e.stderr)) continue;
        failures.push(e as Error);
      }
    }
    return failures;
  }
}
