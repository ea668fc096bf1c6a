/** Process exit codes shared by every ipoib-lab command (documented in the README). */
export const EXIT_OK = 0;
/** The command ran and found a failure (a failed verdict, a failed check). */
export const EXIT_FAILURE = 1;
/** Bad command line. */
export const EXIT_USAGE = 2;
/** The command exists but its implementation has not landed yet (sysexits EX_UNAVAILABLE). */
export const EXIT_NOT_IMPLEMENTED = 69;
/** A bug in ipoib-lab itself (sysexits EX_SOFTWARE). */
export const EXIT_INTERNAL = 70;
