/**
 * How the kernel reads the text written to ib_ipoib's sysfs files, so the stack's control
 * surface accepts and refuses exactly what a kernel would:
 * - create_child / delete_child use sscanf("%i"): leading white space is skipped, one optional
 *   sign, then the base from the prefix (0x/0X hex, a leading 0 octal, else decimal); the
 *   number ends at the first character that is not a digit of that base; no digit at all is
 *   a failed conversion;
 * - umcast uses simple_strtoul(buf, NULL, 0): the same base rule, but no white space or sign
 *   is skipped, and anything unparsable reads as 0.
 * A "0x" not followed by a hex digit is read as octal 0 (the kernel's radix fix-up only takes
 * hex when a hex digit follows), so "0xg" is 0.
 */

/** Base and where the digits start, by the kernel's radix fix-up for base 0. */
function radixOf(s: string, at: number): { base: number; start: number } {
  if (s[at] === '0') {
    const x = s[at + 1];
    if ((x === 'x' || x === 'X') && /[0-9a-fA-F]/.test(s[at + 2] ?? '')) return { base: 16, start: at + 2 };
    return { base: 8, start: at };
  }
  return { base: 10, start: at };
}

/** Reads the run of digits of `base` from `start`; undefined when there is none. */
function digitsValue(s: string, start: number, base: number): number | undefined {
  let v = 0;
  let i = start;
  for (; i < s.length; i++) {
    const d = parseInt(s[i] ?? '', base);
    if (Number.isNaN(d)) break;
    // Saturate far above any value the callers accept instead of losing precision.
    v = Math.min(v * base + d, Number.MAX_SAFE_INTEGER);
  }
  return i === start ? undefined : v;
}

/** sscanf(text, "%i"): the number, or undefined when the conversion fails. */
export function scanInt(text: string): number | undefined {
  let i = 0;
  while (i < text.length && /\s/.test(text[i] ?? '')) i++;
  let sign = 1;
  if (text[i] === '-' || text[i] === '+') {
    if (text[i] === '-') sign = -1;
    i++;
  }
  if (!/[0-9]/.test(text[i] ?? '')) return undefined;
  const { base, start } = radixOf(text, i);
  const v = digitsValue(text, start, base);
  return v === undefined ? undefined : sign * v;
}

/** simple_strtoul(text, NULL, 0): the number, 0 when nothing parses. */
export function strtoulBase0(text: string): number {
  const { base, start } = radixOf(text, 0);
  return digitsValue(text, start, base) ?? 0;
}
