/**
 * One VM of the qemu lab as a qemu command line (pure), and the self-contained shell command
 * that stops it (what the host journal replays).
 *
 * - TCG, not KVM: KVM does not work on these machines. The translation cache is capped
 *   (`tb-size`), which keeps a VM near 0.35 GB of host memory instead of 1.4 GB.
 * - The disk is the cached image with `snapshot=on`: both VMs boot the same file and every
 *   write goes to a temporary overlay qemu drops on exit.
 * - eth0 is qemu's user-mode network, `restrict=on` (no traffic leaves it) with one forward:
 *   127.0.0.1:sshPort → the VM's sshd. eth1 is the lab link: a UDP socket pair on loopback
 *   (a TCP socket netdev would hold every RC message back ~40 ms by Nagle).
 * - No firmware devices beyond what the lab uses (-nodefaults), the console to a file.
 */
import type { QemuImage } from './image.js';

export interface VmSpec {
  name: string;
  image: QemuImage;
  memoryMiB: number;
  tbSizeMiB: number;
  sshPort: number;
  /** UDP ports on 127.0.0.1 of the eth1 link: this VM's and the other VM's. */
  link: { localPort: number; remotePort: number };
  /** eth1's MAC: the two VMs must differ (rxe derives the node GUID and GIDs from it). */
  eth1Mac: string;
  pidFile: string;
  consoleLog: string;
}

export function qemuArgv(v: VmSpec): string[] {
  const dgram = [
    'dgram,id=link',
    'local.type=inet,local.host=127.0.0.1',
    `local.port=${v.link.localPort}`,
    'remote.type=inet,remote.host=127.0.0.1',
    `remote.port=${v.link.remotePort}`,
  ].join(',');
  return [
    'qemu-system-x86_64',
    '-name', `ipoib-lab-${v.name}`,
    '-nodefaults', '-no-user-config', '-no-reboot',
    '-machine', 'pc',
    '-accel', `tcg,tb-size=${v.tbSizeMiB}`,
    '-cpu', 'max',
    '-smp', '1',
    '-m', String(v.memoryMiB),
    '-display', 'none',
    '-monitor', 'none',
    '-serial', `file:${v.consoleLog}`,
    '-kernel', v.image.kernel,
    '-initrd', v.image.initrd,
    '-append', `console=ttyS0 root=/dev/vda rw panic=-1 ipoib_lab.hostname=${v.name}`,
    '-drive', `file=${v.image.disk},if=none,id=disk,format=qcow2,snapshot=on`,
    '-device', 'virtio-blk-pci,drive=disk',
    '-netdev', `user,id=mgmt,restrict=on,hostfwd=tcp:127.0.0.1:${v.sshPort}-:22`,
    '-device', 'virtio-net-pci,netdev=mgmt',
    '-netdev', dgram,
    '-device', `virtio-net-pci,netdev=link,mac=${v.eth1Mac}`,
    '-pidfile', v.pidFile,
    '-daemonize',
  ];
}

/**
 * $1 pid file, $2 grace in tenths of a second. The pid is signalled only while its command
 * line still names that pid file (a recycled pid is never hit). Prints "stopped PID TERM|KILL"
 * or "not-running"; idempotent.
 */
const STOP_VM_SCRIPT = `f=$1; grace=$2
p=$(cat -- "$f" 2>/dev/null || true)
alive() { [ -n "$p" ] && grep -qsaF -- "$f" "/proc/$p/cmdline"; }
if ! alive; then rm -f -- "$f"; echo "not-running $p"; exit 0; fi
kill -TERM "$p" 2>/dev/null || true
i=0; while alive && [ "$i" -lt "$grace" ]; do sleep 0.1; i=$((i+1)); done
sig=TERM
if alive; then
  sig=KILL; kill -KILL "$p" 2>/dev/null || true
  i=0; while alive && [ "$i" -lt 50 ]; do sleep 0.1; i=$((i+1)); done
fi
if alive; then echo "still-running $p"; exit 1; fi
rm -f -- "$f"
echo "stopped $p $sig"`;

export function vmStopArgv(pidFile: string, graceMs = 5_000): string[] {
  return ['sh', '-c', STOP_VM_SCRIPT, 'qemu-vm-stop', pidFile, String(Math.max(1, Math.round(graceMs / 100)))];
}

/** $1 pid file: exit 0 when the VM of that pid file runs. */
export function vmAliveArgv(pidFile: string): string[] {
  return ['sh', '-c', 'p=$(cat -- "$1" 2>/dev/null) && [ -n "$p" ] && grep -qsaF -- "$1" "/proc/$p/cmdline"', 'qemu-vm-alive', pidFile];
}
