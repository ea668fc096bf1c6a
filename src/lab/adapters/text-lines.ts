/**
 * Small helpers the text parsers of command output share: splitting into numbered lines and
 * reading whole-string integers, so no parser accepts "12abc" as 12 the way parseInt would.
 */
import { ParseError } from '../../errors.js';

export interface NumberedLine {
  /** 1-based, as an editor shows it. */
  n: number;
  text: string;
}

/** The output's lines, numbered, with a final newline not counted as an extra empty line. */
export function numberedLines(text: string): NumberedLine[] {
  const body = text.endsWith('\n') ? text.slice(0, -1) : text;
  return body.split('\n').map((t, i) => ({ n: i + 1, text: t.endsWith('\r') ? t.slice(0, -1) : t }));
}

/** A non-negative decimal integer that is exactly representable, or ParseError. */
export function decimalUint(command: string, where: string, text: string): number {
  if (!/^\d+$/.test(text)) throw new ParseError(command, where, 'a non-negative decimal integer', text);
  const v = Number(text);
  if (!Number.isSafeInteger(v)) throw new ParseError(command, where, 'an integer below 2^53', text);
  return v;
}

/** A decimal integer that may be negative (jiffies print as a signed long). */
export function decimalInt(command: string, where: string, text: string): number {
  if (!/^-?\d+$/.test(text)) throw new ParseError(command, where, 'a decimal integer', text);
  const v = Number(text);
  if (!Number.isSafeInteger(v)) throw new ParseError(command, where, 'an integer of magnitude below 2^53', text);
  return v;
}
