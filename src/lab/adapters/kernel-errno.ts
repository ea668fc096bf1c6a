/**
 * Turns a failed command's stderr into the errno the kernel returned. Tools print strerror()
 * text ("tee: …/create_child: File exists", "RTNETLINK answers: Invalid argument"), so the
 * mapping goes by that text; the research documents which errno each ipoib call gives.
 */
import { CommandFailedError, IpoibControlError, type IpoibErrno } from '../../errors.js';
import type { RunResult } from '../transport.js';

/** glibc strerror() text of each errno the ipoib control paths return. */
const STRERROR: readonly [RegExp, IpoibErrno][] = [
  [/File exists/, 'EEXIST'],
  [/Name not unique on network/, 'ENOTUNIQ'],
  [/Invalid argument/, 'EINVAL'],
  [/No such device(?! or address)|Cannot find device|Device "[^"]*" does not exist/, 'ENODEV'],
  [/Device or resource busy/, 'EBUSY'],
  [/Operation not supported/, 'EOPNOTSUPP'],
  [/Cannot assign requested address/, 'EADDRNOTAVAIL'],
  [/No such file or directory/, 'ENOENT'],
];

/** The errno named in stderr, or null when none of the known ones is. */
export function errnoOf(stderr: string): IpoibErrno | null {
  for (const [re, code] of STRERROR) if (re.test(stderr)) return code;
  return null;
}

/**
 * Returns a zero-exit result unchanged. Otherwise throws IpoibControlError when stderr names a
 * known errno, else CommandFailedError (EPERM and anything unexpected stay lab-level failures).
 */
export function checkErrno(op: string, r: RunResult): RunResult {
  if (r.code === 0) return r;
  const code = errnoOf(r.stderr);
  if (code !== null) throw new IpoibControlError(op, code, r.stderr.trim().split('\n').slice(-1)[0] ?? '');
  throw new CommandFailedError(r.host, r.argv, r.code, r.stdout, r.stderr);
}
