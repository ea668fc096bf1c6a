/**
 * The ib_ipoib debugfs dumps `/sys/kernel/debug/ipoib/<if>_mcg` and `<if>_path` (research
 * kernel-ipoib.md §3), read record by record. Each record starts with `GID: ` and ends with a
 * blank line; its other lines are indented by two spaces, a label, then the value right-aligned
 * in a fixed width (so one or more spaces sit between label and value).
 */
import { ParseError } from '../../errors.js';
import { decimalInt, decimalUint, type NumberedLine, numberedLines } from './text-lines.js';

/** One multicast group of `<if>_mcg`. */
export interface McgDumpRow {
  mgid: Buffer;
  /** jiffies when the kernel made the entry. */
  created: number;
  queuelen: number;
  /** "yes" once joined (an address handle exists). */
  complete: boolean;
  sendOnly: boolean;
}

/** One unicast path of `<if>_path`. DLID, SL and rate exist only on complete paths. */
export interface PathDumpRow {
  dgid: Buffer;
  complete: boolean;
  dlid: number | null;
  sl: number | null;
  /** Rate in Mb/s: the kernel prints Mb/s / 1000 "." Mb/s % 1000 with the fraction unpadded. */
  rateMbps: number | null;
}

/** format_gid: eight big-endian 16-bit groups in %x, no padding, no "::" compression. */
export function parseDebugfsGid(command: string, where: string, text: string): Buffer {
  const groups = text.split(':');
  if (groups.length !== 8 || !groups.every((g) => /^[0-9a-f]{1,4}$/.test(g))) {
    throw new ParseError(command, where, 'a GID of eight ":"-separated hex groups (e.g. ff12:401b:ffff:0:0:0:ffff:ffff)', text);
  }
  const b = Buffer.alloc(16);
  groups.forEach((g, i) => b.writeUInt16BE(parseInt(g, 16), i * 2));
  return b;
}

/** Splits into records of lines; checks the blank-line terminator and the `GID: ` first line. */
function records(command: string, text: string): { gidLine: NumberedLine; gid: Buffer; body: NumberedLine[] }[] {
  if (text === '') return [];
  const lines = numberedLines(text);
  const out: { gidLine: NumberedLine; gid: Buffer; body: NumberedLine[] }[] = [];
  let cur: { gidLine: NumberedLine; gid: Buffer; body: NumberedLine[] } | null = null;
  for (const line of lines) {
    if (cur === null) {
      const m = /^GID: (\S+)$/.exec(line.text);
      if (!m || m[1] === undefined) throw new ParseError(command, `line ${line.n}`, 'a record starting "GID: <gid>"', line.text);
      cur = { gidLine: line, gid: parseDebugfsGid(command, `line ${line.n}`, m[1]), body: [] };
    } else if (line.text === '') {
      out.push(cur);
      cur = null;
    } else {
      cur.body.push(line);
    }
  }
  if (cur !== null) throw new ParseError(command, `line ${lines.length}`, 'a blank line ending the last record', lines[lines.length - 1]?.text ?? '');
  return out;
}

/**
 * Reads `  label: <value right-aligned in width>` lines in the given order. The padding is
 * checked too, so a changed layout shows up as an error instead of a quiet misread.
 */
function labelled(command: string, body: NumberedLine[], fields: readonly (readonly [string, number])[], after: NumberedLine): string[] {
  return fields.map(([label, width], i) => {
    const line = body[i];
    const where = line ? `line ${line.n}` : `line ${after.n + i + 1}`;
    if (line === undefined) throw new ParseError(command, where, `"  ${label}: <value>"`, '(end of record)');
    const prefix = `  ${label}: `;
    if (!line.text.startsWith(prefix)) throw new ParseError(command, where, `"  ${label}: <value>"`, line.text);
    const rest = line.text.slice(prefix.length);
    const value = rest.trimStart();
    if (value === '' || /\s/.test(value)) throw new ParseError(command, where, `one value after "${label}:"`, line.text);
    if (rest !== value.padStart(width)) throw new ParseError(command, where, `the value right-aligned in ${width} columns`, line.text);
    return value;
  });
}

function yesNo(command: string, where: string, v: string): boolean {
  if (v === 'yes' || v === 'no') return v === 'yes';
  throw new ParseError(command, where, '"yes" or "no"', v);
}

/** Labels and print widths of an `_mcg` record's lines after the GID. */
const MCG_FIELDS = [
  ['created', 10],
  ['queuelen', 9],
  ['complete', 9],
  ['send_only', 8],
] as const;

/** `<if>_mcg`: five-line records (GID, created, queuelen, complete, send_only) and a blank line. */
export function parseMcgDump(text: string, ifname = '<if>'): McgDumpRow[] {
  const cmd = `debugfs ${ifname}_mcg`;
  return records(cmd, text).map(({ gidLine, gid, body }) => {
    if (body.length !== MCG_FIELDS.length) {
      throw new ParseError(cmd, `line ${gidLine.n}`, `a record of ${MCG_FIELDS.length + 1} lines`, `${body.length + 1} lines`);
    }
    const [created, queuelen, complete, sendOnly] = labelled(cmd, body, MCG_FIELDS, gidLine);
    const at = (i: number): string => `line ${gidLine.n + i + 1}`;
    return {
      mgid: gid,
      created: decimalInt(cmd, at(0), created ?? ''),
      queuelen: decimalUint(cmd, at(1), queuelen ?? ''),
      complete: yesNo(cmd, at(2), complete ?? ''),
      sendOnly: yesNo(cmd, at(3), sendOnly ?? ''),
    };
  });
}

/** "  rate: %8d.%d Gb/sec": whole Gb/s in 8 columns, then Mb/s modulo 1000 printed without zero padding. */
function parseRate(cmd: string, where: string, line: string): number {
  const m = /^ {2}rate: ( *)(\d+)\.(\d{1,3}) Gb\/sec$/.exec(line);
  if (!m || m[1] === undefined || m[2] === undefined || m[3] === undefined) {
    throw new ParseError(cmd, where, '"  rate: <Gb>.<Mb mod 1000> Gb/sec"', line);
  }
  if (m[1].length + m[2].length !== Math.max(8, m[2].length)) throw new ParseError(cmd, where, 'the whole Gb/s right-aligned in 8 columns', line);
  return decimalUint(cmd, where, m[2]) * 1000 + Number(m[3]);
}

/** `<if>_path`: "complete: no" records have two lines; complete ones add DLID, SL and rate. */
export function parsePathDump(text: string, ifname = '<if>'): PathDumpRow[] {
  const cmd = `debugfs ${ifname}_path`;
  return records(cmd, text).map(({ gidLine, gid, body }) => {
    const [completeText] = labelled(cmd, body, [['complete', 6]], gidLine);
    const complete = yesNo(cmd, `line ${gidLine.n + 1}`, completeText ?? '');
    const want = complete ? 4 : 1;
    if (body.length !== want) {
      throw new ParseError(cmd, `line ${gidLine.n}`, `a ${complete ? 'complete' : 'incomplete'} path record of ${want + 1} lines`, `${body.length + 1} lines`);
    }
    if (!complete) return { dgid: gid, complete, dlid: null, sl: null, rateMbps: null };
    const [dlidText, slText] = labelled(cmd, body.slice(1, 3), [['DLID', 10], ['SL', 12]], { n: gidLine.n + 1, text: '' });
    const dlidWhere = `line ${gidLine.n + 2}`;
    if (!/^0x[0-9a-f]{4}$/.test(dlidText ?? '')) throw new ParseError(cmd, dlidWhere, 'a DLID printed as 0x%04x', dlidText);
    const rateLine = body[3];
    return {
      dgid: gid,
      complete,
      dlid: parseInt((dlidText ?? '').slice(2), 16),
      sl: decimalUint(cmd, `line ${gidLine.n + 3}`, slText ?? ''),
      rateMbps: parseRate(cmd, `line ${gidLine.n + 4}`, rateLine?.text ?? ''),
    };
  });
}
