/**
 * Text forms of IP addresses: dotted-quad IPv4 and the IPv6 colon form. GIDs are written in
 * the IPv6 form too, so mgid.ts's `parseGid`/`formatGid` are these functions under GID field
 * names.
 */
import { isIPv6 } from 'node:net';
import { WireError } from '../errors.js';

export const IPV4_ADDR_LEN = 4;
export const IPV6_ADDR_LEN = 16;

/**
 * Dotted-quad IPv4 text to 4 octets. Octets with leading zeros are refused: some parsers read
 * them as octal, so they are ambiguous.
 */
export function parseIpv4(text: string, field = 'ipv4.text'): Buffer {
  const parts = typeof text === 'string' ? text.split('.') : [];
  const ok = parts.length === 4 && parts.every((p) => /^(0|[1-9][0-9]{0,2})$/.test(p) && Number(p) <= 255);
  if (!ok) throw new WireError(field, -1, `"${String(text)}" is not a dotted-quad IPv4 address`, text);
  return Buffer.from(parts.map(Number));
}

/** 4 octets to dotted-quad text. */
export function formatIpv4(b: Buffer, field = 'ipv4'): string {
  if (!Buffer.isBuffer(b) || b.length !== IPV4_ADDR_LEN) {
    throw new WireError(field, -1, `want a ${IPV4_ADDR_LEN}-octet Buffer`, b);
  }
  return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
}

/**
 * IPv6 text (`fe80::1`, `::`, or with a dotted IPv4 tail such as `::ffff:10.1.2.3`) to 16
 * octets. Zone suffixes (`%ib0`) are refused: 16 octets have nowhere to keep them.
 */
export function parseIpv6(text: string, field = 'ipv6.text'): Buffer {
  if (typeof text !== 'string' || text.includes('%') || !isIPv6(text)) {
    throw new WireError(field, -1, `"${String(text)}" is not an IPv6 address in text form`, text);
  }
  // isIPv6 has vouched for the syntax; what is left is expanding `::` and an IPv4 tail.
  const toWords = (part: string): number[] => {
    if (part === '') return [];
    const words: number[] = [];
    for (const piece of part.split(':')) {
      if (piece.includes('.')) {
        const v4 = parseIpv4(piece, field);
        words.push(v4.readUInt16BE(0), v4.readUInt16BE(2));
      } else {
        words.push(parseInt(piece, 16));
      }
    }
    return words;
  };
  const [head = '', tail] = text.split('::');
  const headWords = toWords(head);
  const tailWords = tail === undefined ? [] : toWords(tail);
  const zeros = tail === undefined ? 0 : 8 - headWords.length - tailWords.length;
  const words = [...headWords, ...new Array<number>(zeros).fill(0), ...tailWords];
  const out = Buffer.alloc(IPV6_ADDR_LEN);
  words.forEach((w, i) => out.writeUInt16BE(w, i * 2));
  return out;
}

/**
 * 16 octets to RFC 5952 text: lower case, no leading zeros, the longest run of two or more zero
 * words (the first on a tie) shown as `::`. Always all hex: the dotted tail RFC 5952 §5
 * suggests for IPv4-mapped addresses is left out, so a GID (never IPv4-mapped) and an IPv6
 * address print the same way.
 */
export function formatIpv6(b: Buffer, field = 'ipv6'): string {
  if (!Buffer.isBuffer(b) || b.length !== IPV6_ADDR_LEN) {
    throw new WireError(field, -1, `want a ${IPV6_ADDR_LEN}-octet Buffer`, b);
  }
  const words = Array.from({ length: 8 }, (_, i) => b.readUInt16BE(i * 2));
  let bestStart = -1;
  let bestLen = 1; // a single zero word is never compressed
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hexOf = (ws: number[]): string => ws.map((w) => w.toString(16)).join(':');
  if (bestStart < 0) return hexOf(words);
  return `${hexOf(words.slice(0, bestStart))}::${hexOf(words.slice(bestStart + bestLen))}`;
}
