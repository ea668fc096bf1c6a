/**
 * Turns an argv into the one line a remote POSIX shell runs (sshd always hands the command to
 * the login shell). This is the only place that quotes for a shell: each argument becomes one
 * word, whatever it holds.
 */
import { checkArgv, checkEnv, envPrefix } from './transport.js';

const SAFE = /^[A-Za-z0-9_/.,:=+@%-]+$/;

/** One shell word: bare when that is safe, else in single quotes with `'` written as `'\''`. */
export function shellQuote(arg: string): string {
  if (arg === '') return "''";
  if (SAFE.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

export interface RemoteCommandOptions {
  sudo?: boolean;
  env?: Readonly<Record<string, string>> | undefined;
  cwd?: string | undefined;
}

/** First line of stdout of every remote command: the marker and the command's pid. */
export const PID_MARKER = 'ipoib-lab-pid:';

/**
 * `[cd DIR &&] exec [sudo -n --] sh -c 'echo MARKER$$; exec "$@"' sh [env K=V...] argv...`.
 * The small sh prints its pid and then becomes the command, so that pid is the command's own:
 * a timeout or stop() can signal it (and its process group) by pid. OpenSSH refuses signal
 * requests on root logins, so signalling through the channel alone is not enough. `exec`
 * replaces each shell on the way, so no shell lingers between sshd and the command.
 */
export function remoteCommand(argv: readonly string[], o: RemoteCommandOptions = {}): string {
  checkArgv('remoteCommand', argv);
  checkEnv('remoteCommand', o.env);
  const inner = ['sh', '-c', `echo ${PID_MARKER}$$; exec "$@"`, 'sh', ...envPrefix(o.env), ...argv];
  const line = `exec ${[...(o.sudo ? ['sudo', '-n', '--'] : []), ...inner].map(shellQuote).join(' ')}`;
  return o.cwd ? `cd ${shellQuote(o.cwd)} && ${line}` : line;
}

/**
 * Signals a remote process started by remoteCommand(): its whole process group when it leads
 * one (it does unless sudo put it in sudo's group), else the process alone.
 */
export function remoteKillArgv(pid: number, signal: 'TERM' | 'KILL'): string[] {
  return ['sh', '-c', 'kill -s "$2" -- "-$1" 2>/dev/null || kill -s "$2" "$1"', 'sh', String(pid), signal];
}
