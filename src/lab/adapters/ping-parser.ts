/** iputils `ping` summary lines, the only part of its output the adapter reads. */
import { ParseError } from '../../errors.js';
import type { PingResult } from './dut.js';

/**
 * Reads "N packets transmitted, M received, …" and, when present, "rtt min/avg/max/mdev =
 * a/b/c/d ms". A summary without the rtt line (nothing came back) is fine; no summary is not.
 */
export function parsePingSummary(text: string): PingResult {
  const sum = /^(\d+) packets transmitted, (\d+) (?:packets )?received,/m.exec(text);
  if (!sum || sum[1] === undefined || sum[2] === undefined) {
    throw new ParseError('ping', 'summary', '"N packets transmitted, M received, …"', text.slice(-200));
  }
  const rtt = /^(?:rtt|round-trip) min\/avg\/max(?:\/mdev)? = ([\d.]+)\/([\d.]+)\/([\d.]+)(?:\/[\d.]+)? ms$/m.exec(text);
  return {
    transmitted: Number(sum[1]),
    received: Number(sum[2]),
    rttMinMs: rtt?.[1] === undefined ? null : Number(rtt[1]),
    rttAvgMs: rtt?.[2] === undefined ? null : Number(rtt[2]),
    rttMaxMs: rtt?.[3] === undefined ? null : Number(rtt[3]),
  };
}
