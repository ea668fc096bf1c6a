/**
 * The debugfs dumps of Linux ib_ipoib, `/sys/kernel/debug/ipoib/<if>_mcg` and `<if>_path`,
 * laid out exactly as the kernel prints them, so tools and tests that read the kernel's files
 * read the reference stack's too:
 *
 *   GID: ff12:401b:ffff:0:0:0:ffff:ffff      (eight 16-bit groups in %x, no :: compression)
 *     created: %10d                           (_mcg: when the entry was made, jiffies)
 *     queuelen: %9d
 *     complete: %9s                           ("yes" once joined)
 *     send_only: %8s
 *   <blank line>
 *
 *   GID: <dgid>                                (_path)
 *     complete: %6s                            ("yes" when the path record has a DLID)
 *     DLID:     0x%04x                         (these three only when complete)
 *     SL: %12d
 *     rate: %8d.%d Gb/sec                      (Mb/s / 1000 "." Mb/s % 1000, the fraction unpadded)
 *   <blank line>
 *
 * Records come sorted by the raw GID octets, as the kernel's rb-trees keep them.
 */

/** One multicast group as `_mcg` shows it. */
export interface McgRow {
  mgid: Buffer;
  /** Creation time in jiffies (the stack's clock in ms, i.e. HZ = 1000). */
  created: number;
  queueLen: number;
  complete: boolean;
  sendOnly: boolean;
}

/** One path as `_path` shows it; `dlid` 0 means not complete. */
export interface PathRow {
  dgid: Buffer;
  dlid: number;
  sl: number;
  /** IB rate code of the path record. */
  rate: number;
}

/** The kernel's format_gid: eight big-endian 16-bit groups in lower-case hex, no padding, no `::`. */
export function formatGidKernel(gid: Buffer): string {
  const groups: string[] = [];
  for (let i = 0; i + 1 < gid.length && groups.length < 8; i += 2) groups.push(gid.readUInt16BE(i).toString(16));
  return groups.join(':');
}

/**
 * ib_rate_to_mbps: IB rate code to Mb/s; -1 for a code with no rate (the kernel's answer).
 * The FDR and EDR-class rates are the data rates after 64b/66b coding, hence the odd values.
 */
const RATE_MBPS: Readonly<Record<number, number>> = {
  2: 2500,
  3: 10000,
  4: 30000,
  5: 5000,
  6: 20000,
  7: 40000,
  8: 60000,
  9: 80000,
  10: 120000,
  11: 14062,
  12: 56250,
  13: 112500,
  14: 168750,
  15: 25781,
  16: 103125,
  17: 206250,
  18: 309375,
  19: 28125,
  20: 53125,
  21: 425000,
  22: 637500,
};

export function rateToMbps(rate: number): number {
  return RATE_MBPS[rate] ?? -1;
}

const padStart = (v: string | number, width: number): string => String(v).padStart(width, ' ');
const yesNo = (b: boolean): string => (b ? 'yes' : 'no');
const byGid = <T>(gid: (r: T) => Buffer) => (a: T, b: T): number => Buffer.compare(gid(a), gid(b));

export function formatMcgDump(rows: readonly McgRow[]): string {
  return [...rows]
    .sort(byGid((r) => r.mgid))
    .map(
      (r) =>
        `GID: ${formatGidKernel(r.mgid)}\n` +
        `  created: ${padStart(Math.trunc(r.created), 10)}\n` +
        `  queuelen: ${padStart(r.queueLen, 9)}\n` +
        `  complete: ${padStart(yesNo(r.complete), 9)}\n` +
        `  send_only: ${padStart(yesNo(r.sendOnly), 8)}\n` +
        '\n',
    )
    .join('');
}

export function formatPathDump(rows: readonly PathRow[]): string {
  return [...rows]
    .sort(byGid((r) => r.dgid))
    .map((r) => {
      let text = `GID: ${formatGidKernel(r.dgid)}\n  complete: ${padStart(yesNo(r.dlid !== 0), 6)}\n`;
      if (r.dlid !== 0) {
        const mbps = rateToMbps(r.rate);
        // C integer division and remainder truncate toward zero, also for the -1 of an unknown rate.
        const whole = Math.trunc(mbps / 1000);
        const frac = mbps % 1000;
        text +=
          `  DLID:     0x${r.dlid.toString(16).padStart(4, '0')}\n` +
          `  SL: ${padStart(r.sl, 12)}\n` +
          `  rate: ${padStart(whole, 8)}.${frac} Gb/sec\n`;
      }
      return `${text}\n`;
    })
    .join('');
}
