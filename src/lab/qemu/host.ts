/**
 * What the controller needs for the qemu lab, checked before anything starts: root (debootstrap,
 * chroot, the sysctl), an x86_64 host (the image is amd64 and runs under TCG: KVM does not work
 * on these machines), and the tools below, each with the Debian package that has it.
 */
import { accessSync, constants } from 'node:fs';
import { arch } from 'node:os';
import path from 'node:path';

export interface HostTool {
  command: string;
  debianPackage: string;
  why: string;
}

export const QEMU_HOST_TOOLS: readonly HostTool[] = [
  { command: 'qemu-system-x86_64', debianPackage: 'qemu-system-x86', why: 'runs the VMs' },
  { command: 'qemu-img', debianPackage: 'qemu-utils', why: 'writes the compressed qcow2 image' },
  { command: 'debootstrap', debianPackage: 'debootstrap', why: 'builds the Debian root file system' },
  { command: 'mke2fs', debianPackage: 'e2fsprogs', why: 'makes the ext4 image from that tree' },
  { command: 'ssh-keygen', debianPackage: 'openssh-client', why: 'makes the lab\'s SSH keys' },
  { command: 'flock', debianPackage: 'util-linux', why: 'keeps two image builds apart' },
];

/** Whether `command` is an executable on PATH (plus the sbin folders, which a non-login root shell may lack). */
export function onPath(command: string, env: NodeJS.ProcessEnv = process.env): boolean {
  const dirs = [...(env.PATH ?? '').split(':'), '/usr/sbin', '/sbin'].filter(Boolean);
  return dirs.some((d) => {
    try {
      accessSync(path.join(d, command), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

export function missingHostTools(env: NodeJS.ProcessEnv = process.env): HostTool[] {
  return QEMU_HOST_TOOLS.filter((t) => !onPath(t.command, env));
}

/** Everything that stops the lab on this controller, in words; [] when it can run. */
export function qemuHostProblems(env: NodeJS.ProcessEnv = process.env): string[] {
  const out: string[] = [];
  if (process.getuid?.() !== 0) out.push('the qemu lab needs root (debootstrap, chroot, net.core.rmem_default)');
  if (arch() !== 'x64') out.push(`the lab's image is amd64 and this host is ${arch()}`);
  const missing = missingHostTools(env);
  if (missing.length) {
    out.push(
      `missing ${missing.map((t) => `${t.command} (${t.why})`).join(', ')}: apt-get install --no-install-recommends ${[...new Set(missing.map((t) => t.debianPackage))].join(' ')}`,
    );
  }
  return out;
}
