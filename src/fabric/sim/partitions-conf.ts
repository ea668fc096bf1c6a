/**
 * OpenSM `partitions.conf`: the subset ipoib-lab's simulated subnet understands, so that a lab
 * file that works on the simulator can be handed unchanged to a real OpenSM (`opensm -P FILE`).
 *
 * Accepted, one entry per `;`:
 *   [Name][=PKey][,flag[=value]]... : [member[=full|limited|both]][,member...] ;
 * flags: ipoib, indx0, mtu=, rate=, scope=, sl=, Q_Key=, defmember=full|limited|both;
 * members: ALL, ALL_CAS, ALL_SWITCHES, ALL_ROUTERS, SELF, or a port GUID (0x hex or decimal).
 * `#` starts a comment that runs to the end of the line.
 *
 * Facts, from the opensm(8) man page of OpenSM 3.3.23 (Debian 12) and checked by running that
 * opensm on ibsim and reading back P_Key tables (smpquery pkeys) and groups (saquery -g):
 * - The partition definition, up to its ':', must sit on one line (OpenSM reads it line by line
 *   and reports "no partition definition found" otherwise); so must each member. Members may be
 *   spread over several lines, but a line must not start with the closing ';' (OpenSM 3.3.23
 *   then reports a parse error and loses every partition of the file). We enforce the same.
 * - Only the low 15 bits of a written P_Key count: `lab=0x8001` and `lab=0x0001` are the same
 *   partition. Whether a port gets base|0x8000 or base comes from its membership, not the file.
 * - Defaults: mtu 4 (2048), rate 3 (10 Gb/s), scope 2 (link local), sl 0, Q_Key 0x0b1b for the
 *   IPoIB broadcast group, defmember limited (man page "mgroup_flag" and "Partition Definition";
 *   saquery -g shows Mtu 0x84 and Rate 0x83 for a group created without flags).
 * - `Default` is the partition with P_Key 0x7fff. OpenSM makes every end port at least a limited
 *   member of it, and its own port a full member, before it reads the file (see pkeyTableFor).
 * - OpenSM itself is lenient where we are strict: it matches flag and keyword prefixes
 *   (`limi` = limited), treats an unknown member flag as limited, ignores unknown flags (so a
 *   misspelt `qkey=` silently does nothing; the flag is `Q_Key`), reads numbers with a leading 0
 *   as octal, merges entries that repeat a P_Key and invents a P_Key when none is written. Each of
 *   those is an error here, so a lab never depends on a silent guess.
 * Not supported by the simulator, rejected with an error naming line and column: `mgid=` group
 * lines, the TClass and FlowLabel flags, repeated `scope=` (OpenSM: one group per scope).
 */
import { readFile } from 'node:fs/promises';
import { PartitionsConfError } from '../../errors.js';
import { PKEY_BASE_MASK, PKEY_DEFAULT } from '../../wire/constants.js';

export type Membership = 'full' | 'limited' | 'both';

/** Who a member entry names: one port GUID, or a keyword that OpenSM expands. */
export type MemberSelector = bigint | 'ALL' | 'ALL_CAS' | 'ALL_SWITCHES' | 'ALL_ROUTERS' | 'SELF';

export interface PartitionMember {
  guid: MemberSelector;
  /** As written, or the partition's `defmember` when the member has no `=...`. */
  membership: Membership;
}

export interface Partition {
  /** May be empty (OpenSM allows `=0x8001 : ...`); names need not be unique, P_Keys must. */
  name: string;
  /**
   * The P_Key as written, 16 bits. Only its base (low 15 bits) identifies the partition; the
   * 0x8000 bit written here has no effect. A full member's table gets base|0x8000, a limited
   * member's gets the base. `Default` written without a P_Key gets 0x7fff.
   */
  pkey: number;
  /** OpenSM creates the IPoIB broadcast group ff12:401b:<pkey|0x8000>::ffff:ffff. */
  ipoib: boolean;
  /** Put this partition's P_Key at index 0 of its members' tables (OpenSM 3.3.23 `indx0`). */
  indx0: boolean;
  /** IB MTU code of the broadcast group, 1..5 (256..4096 bytes). */
  mtuCode: number;
  /** IB static rate code of the broadcast group (3 = 10 Gb/s). */
  rateCode: number;
  /**
   * MGID scope nibble. Beware: OpenSM 3.3.23, run on ibsim, still created the broadcast group
   * as ff12:... with `scope=5` on the partition; its scope only reached `mgid=` groups.
   */
  scope: number;
  /** Service level of the broadcast group; OpenSM applies a non-zero one only with QoS on. */
  sl: number;
  /** Q_Key of the broadcast group. */
  qkey: number;
  /** Membership of members written without `=full|limited|both`. */
  defmember: Membership;
  members: PartitionMember[];
}

export interface PartitionsConf {
  partitions: Partition[];
}

/** OpenSM's values for flags that are not written (opensm(8), "mgroup_flag"). */
export const PARTITION_DEFAULTS = {
  mtuCode: 4,
  rateCode: 3,
  scope: 2,
  sl: 0,
  qkey: 0x0b1b,
  defmember: 'limited',
} as const satisfies Partial<Partition>;

export const DEFAULT_PARTITION_NAME = 'Default';
/** The default partition: base 0x7fff, so 0xffff for full members and 0x7fff for limited ones. */
export const DEFAULT_PARTITION_BASE = PKEY_DEFAULT & PKEY_BASE_MASK;

export { PartitionsConfError } from '../../errors.js';

// ---- value rules, shared by the parser and the formatter --------------------------------------

const MEMBERSHIPS: readonly Membership[] = ['full', 'limited', 'both'];
const KEYWORDS = ['ALL', 'ALL_CAS', 'ALL_SWITCHES', 'ALL_ROUTERS', 'SELF'] as const;

/** Numeric flags: the file's spelling, the Partition field it fills, and its allowed range. */
const NUMERIC_FLAGS = {
  mtu: { field: 'mtuCode', min: 1, max: 5, what: 'an IB MTU code 1..5 (256..4096 bytes)' },
  // Codes 2..24 are the ibv_rate values of rdma-core 44 (2.5 to 1200 Gb/s).
  // IB static rate codes 2..24 (IB_RATE_CODE_TO_GBPS in src/wire/constants.ts).
  rate: { field: 'rateCode', min: 2, max: 24, what: 'an IB rate code 2..24 (3 = 10 Gb/s)' },
  // Scopes 0 and 15 are reserved, as in IPv6 (RFC 4291 §2.7), whose scope values IB MGIDs
  // reuse; OpenSM itself accepts 1..15.
  scope: { field: 'scope', min: 1, max: 14, what: 'a multicast scope 1..14 (2 link, 5 site, 8 organisation, 14 global)' },
  sl: { field: 'sl', min: 0, max: 15, what: 'a service level 0..15' },
  // OpenSM reads Q_Key=0 as "not given" and uses 0x0b1b: refuse it rather than guess.
  Q_Key: { field: 'qkey', min: 1, max: 0xffffffff, what: 'a non-zero 32-bit Q_Key' },
} as const;

type NumericFlag = keyof typeof NUMERIC_FLAGS;
type NumericField = (typeof NUMERIC_FLAGS)[NumericFlag]['field'];

function isNumericFlag(word: string): word is NumericFlag {
  return Object.hasOwn(NUMERIC_FLAGS, word);
}

function rangeProblem(flag: NumericFlag, v: bigint | number): string | undefined {
  const r = NUMERIC_FLAGS[flag];
  if (typeof v === 'number' && !Number.isInteger(v)) return `${flag} must be ${r.what}, found ${v}`;
  const n = BigInt(v);
  if (flag === 'Q_Key' && n > 0xffffffffn) return `Q_Key ${hex(n)} does not fit 32 bits`;
  if (n < BigInt(r.min) || n > BigInt(r.max)) return `${flag} must be ${r.what}, found ${String(v)}`;
  return undefined;
}

/** Why `p` cannot be a partition P_Key, or undefined when it can. */
function pkeyProblem(p: bigint | number): string | undefined {
  if (typeof p === 'number' && !Number.isInteger(p)) return `P_Key ${p} is not an integer`;
  const n = BigInt(p);
  if (n < 0n || n > 0xffffn) return `P_Key ${hex(n)} does not fit 16 bits`;
  if ((n & BigInt(PKEY_BASE_MASK)) === 0n) return `P_Key ${hex(n, 4)} is invalid: partition base 0 is reserved`;
  return undefined;
}

function guidProblem(g: bigint): string | undefined {
  if (g <= 0n) return 'port GUID 0 is not a valid GUID';
  if (g > 0xffffffffffffffffn) return `port GUID ${hex(g)} does not fit 64 bits`;
  return undefined;
}

function hex(n: bigint | number, digits = 1): string {
  const sign = n < 0 ? '-' : '';
  const abs = n < 0 ? -n : n;
  return `${sign}0x${abs.toString(16).padStart(digits, '0')}`;
}

// ---- tokens ---------------------------------------------------------------------------------

type Punct = '=' | ',' | ':' | ';';
interface Token {
  kind: 'word' | Punct | 'eof';
  text: string;
  line: number;
  column: number;
  /** A line break lies between this token and the one before it. */
  newlineBefore: boolean;
}

const PUNCT = new Set(['=', ',', ':', ';']);

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let line = 1;
  let column = 1;
  let newlineBefore = false;
  let i = 0;
  while (i < text.length) {
    const c = text[i] ?? '';
    if (c === '\n') {
      line++;
      column = 1;
      newlineBefore = true;
      i++;
    } else if (/\s/.test(c)) {
      column++; // blanks, '\r' of CRLF, and any other white space
      i++;
    } else if (c === '#') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (PUNCT.has(c)) {
      tokens.push({ kind: c as Punct, text: c, line, column, newlineBefore });
      newlineBefore = false;
      column++;
      i++;
    } else {
      let j = i;
      while (j < text.length && !/[\s=,:;#]/.test(text[j] ?? ' ')) j++;
      tokens.push({ kind: 'word', text: text.slice(i, j), line, column, newlineBefore });
      newlineBefore = false;
      column += j - i;
      i = j;
    }
  }
  tokens.push({ kind: 'eof', text: '', line, column, newlineBefore });
  return tokens;
}

function shown(t: Token): string {
  if (t.kind === 'eof') return 'end of file';
  if (t.newlineBefore) return `end of line (the next line starts with '${t.text}')`;
  return `'${t.text}'`;
}

// ---- parser ---------------------------------------------------------------------------------

/** Reads number text as OpenSM writes it: 0x hex or plain decimal. `noun` names the value. */
function readNumber(t: Token, noun: string, fail: (t: Token, reason: string) => never): bigint {
  if (/^0[xX][0-9a-fA-F]+$/.test(t.text)) return BigInt(t.text);
  if (/^(0|[1-9][0-9]*)$/.test(t.text)) return BigInt(t.text);
  if (/^0[0-9]+$/.test(t.text)) {
    fail(t, `${noun} '${t.text}' has a leading 0, which OpenSM reads as octal; write it in decimal or as 0x hex`);
  }
  return fail(t, `expected a ${noun} (0x hex or decimal), found '${t.text}'`);
}

class Parser {
  private pos = 0;
  private readonly partitions: Partition[] = [];
  /** Base of every P_Key seen, with where it was defined, to report duplicates. */
  private readonly bases = new Map<number, { name: string; line: number }>();
  private indx0At: { name: string; line: number } | undefined;

  constructor(
    private readonly file: string,
    private readonly tokens: Token[],
  ) {}

  parse(): PartitionsConf {
    while (this.peek().kind !== 'eof') this.partitions.push(this.entry());
    return { partitions: this.partitions };
  }

  private peek(): Token {
    const t = this.tokens[this.pos] ?? this.tokens[this.tokens.length - 1];
    if (!t) throw new Error('tokenize() always ends with an eof token');
    return t;
  }

  private next(): Token {
    const t = this.peek();
    if (t.kind !== 'eof') this.pos++;
    return t;
  }

  private fail(t: Token, reason: string): never {
    throw new PartitionsConfError(this.file, t.line, t.column, reason);
  }

  /** The previous token's end: where "end of line" problems are reported. */
  private endOfPrevious(): { line: number; column: number } {
    const prev = this.tokens[this.pos - 1];
    return prev ? { line: prev.line, column: prev.column + prev.text.length } : { line: 1, column: 1 };
  }

  /** Fails when the next token starts a new line; `what` is what should have followed. */
  private sameLine(what: string, why: string): void {
    const t = this.peek();
    if (t.newlineBefore && t.kind !== 'eof') {
      const at = this.endOfPrevious();
      const reason = `expected ${what} on the same line (${why}), found end of line`;
      throw new PartitionsConfError(this.file, at.line, at.column, reason);
    }
  }

  private entry(): Partition {
    const start = this.peek();
    const header = 'OpenSM reads a partition definition up to its \':\' as one line';
    let name = '';
    let pkeyToken: Token | undefined;
    let pkeyFollows = false;
    if (start.kind === 'word') {
      this.next();
      this.sameLine("'=', ',' or ':'", header);
      if (this.peek().kind === '=') {
        this.next();
        name = start.text;
        pkeyFollows = true;
      } else if (/^[0-9]/.test(start.text)) {
        pkeyToken = start; // OpenSM: a leading word that starts with a digit is the P_Key itself
      } else {
        name = start.text;
      }
    } else if (start.kind === '=') {
      this.next();
      pkeyFollows = true;
    } else {
      this.fail(start, `expected a partition name or P_Key to start an entry, found ${shown(start)}`);
    }
    if (pkeyFollows) {
      this.sameLine("a P_Key after '='", header);
      const t = this.next();
      if (t.kind !== 'word') this.fail(t, `expected a P_Key after '=', found ${shown(t)}`);
      pkeyToken = t;
    }
    const pkey = this.resolvePkey(name, pkeyToken, start);

    const p: Partition = {
      name,
      pkey,
      ipoib: false,
      indx0: false,
      mtuCode: PARTITION_DEFAULTS.mtuCode,
      rateCode: PARTITION_DEFAULTS.rateCode,
      scope: PARTITION_DEFAULTS.scope,
      sl: PARTITION_DEFAULTS.sl,
      qkey: PARTITION_DEFAULTS.qkey,
      defmember: PARTITION_DEFAULTS.defmember,
      members: [],
    };
    const seen = new Set<string>();
    for (;;) {
      this.sameLine("',' or ':'", header);
      if (this.peek().kind !== ',') break;
      this.next();
      this.flag(p, seen, header);
    }
    const colon = this.peek();
    if (colon.kind !== ':') {
      const where = seen.size > 0 ? 'after the partition flags' : 'after the partition name and P_Key';
      this.fail(colon, `expected ':' ${where}, found ${shown(colon)}`);
    }
    this.next();
    this.members(p, start);
    return p;
  }

  private resolvePkey(name: string, pkeyToken: Token | undefined, start: Token): number {
    let pkey: number;
    let at = start;
    if (pkeyToken) {
      at = pkeyToken;
      const n = readNumber(pkeyToken, 'P_Key', (t, r) => this.fail(t, r));
      const problem = pkeyProblem(n);
      if (problem) this.fail(pkeyToken, problem);
      pkey = Number(n);
    } else if (name === DEFAULT_PARTITION_NAME) {
      pkey = DEFAULT_PARTITION_BASE;
    } else {
      this.fail(
        start,
        `partition '${name}' has no P_Key: OpenSM would invent one at run time, ` +
          `ipoib-lab's simulator needs it written (e.g. ${name}=0x8001)`,
      );
    }
    const base = pkey & PKEY_BASE_MASK;
    if (name === DEFAULT_PARTITION_NAME && base !== DEFAULT_PARTITION_BASE) {
      this.fail(at, `the Default partition has P_Key 0x7fff, found ${hex(pkey, 4)}`);
    }
    const earlier = this.bases.get(base);
    if (earlier) {
      this.fail(
        at,
        `duplicate P_Key ${hex(pkey, 4)} (base ${hex(base, 4)}), ` +
          `already used by partition '${earlier.name}' on line ${earlier.line}: ` +
          'OpenSM would merge the two entries, ipoib-lab\'s simulator wants one entry per partition',
      );
    }
    this.bases.set(base, { name, line: at.line });
    return pkey;
  }

  private flag(p: Partition, seen: Set<string>, header: string): void {
    this.sameLine('a flag after \',\'', header);
    const t = this.next();
    if (t.kind !== 'word') this.fail(t, `expected a partition flag after ',', found ${shown(t)}`);
    const flag = t.text;
    let value: Token | undefined;
    this.sameLine("',' or ':'", header);
    if (this.peek().kind === '=') {
      this.next();
      this.sameLine(`a value for flag '${flag}'`, header);
      const v = this.next();
      if (v.kind !== 'word') this.fail(v, `expected a value for flag '${flag}', found ${shown(v)}`);
      value = v;
    }
    if (seen.has(flag)) {
      this.fail(
        t,
        flag === 'scope'
          ? "a second 'scope' flag: OpenSM then creates one group per scope, which ipoib-lab's simulator does not support"
          : `flag '${flag}' is given twice`,
      );
    }
    seen.add(flag);

    if (flag === 'ipoib' || flag === 'indx0') {
      if (value) this.fail(value, `flag '${flag}' takes no value, found '=${value.text}'`);
      if (flag === 'ipoib') p.ipoib = true;
      else this.indx0(p, t);
      return;
    }
    if (flag === 'defmember') {
      if (!value) this.fail(t, "flag 'defmember' needs a value: defmember=full, defmember=limited or defmember=both");
      p.defmember = this.membership(value, "'defmember'");
      return;
    }
    if (isNumericFlag(flag)) {
      if (!value) this.fail(t, `flag '${flag}' needs a value, e.g. ${flag}=${PARTITION_DEFAULTS[NUMERIC_FLAGS[flag].field]}`);
      const n = readNumber(value, `value for '${flag}'`, (tok, r) => this.fail(tok, r));
      const problem = rangeProblem(flag, n);
      if (problem) this.fail(value, problem);
      p[NUMERIC_FLAGS[flag].field] = Number(n);
      return;
    }
    if (flag === 'TClass' || flag === 'FlowLabel') {
      this.fail(t, `flag '${flag}' is not supported by ipoib-lab's simulator`);
    }
    if (flag.toLowerCase().replace('_', '') === 'qkey') {
      this.fail(t, `unknown flag '${flag}': OpenSM spells the Q_Key flag 'Q_Key' and silently ignores any other spelling`);
    }
    this.fail(t, `unknown partition flag '${flag}'; expected ipoib, indx0, mtu, rate, scope, sl, Q_Key or defmember`);
  }

  private indx0(p: Partition, t: Token): void {
    if (this.indx0At) {
      this.fail(
        t,
        `only one partition may carry indx0, and '${this.indx0At.name}' on line ${this.indx0At.line} already does ` +
          '(OpenSM honours just one of them)',
      );
    }
    this.indx0At = { name: p.name, line: t.line };
    p.indx0 = true;
  }

  private membership(t: Token, of: string): Membership {
    const m = MEMBERSHIPS.find((x) => x === t.text);
    if (!m) this.fail(t, `expected full, limited or both for ${of}, found '${t.text}'`);
    return m;
  }

  private members(p: Partition, start: Token): void {
    const label = p.name === '' ? hex(p.pkey, 4) : `'${p.name}'`;
    const unterminated = `unterminated entry for partition ${label} (started on line ${start.line})`;
    const aMember = 'a member (a port GUID, ALL, ALL_CAS, ALL_SWITCHES, ALL_ROUTERS or SELF)';
    if (this.peek().kind === ';') {
      this.semicolonNotFirst(this.next());
      return;
    }
    for (;;) {
      const t = this.next();
      if (t.kind === 'eof') {
        this.fail(t, `${unterminated}: expected a member or ';', found end of file`);
      }
      if (t.kind !== 'word') this.fail(t, `expected ${aMember}, found ${shown(t)}`);
      if (t.text === 'mgid') {
        this.fail(t, "multicast group lines ('mgid=...') are not supported by ipoib-lab's simulator");
      }
      const guid = this.selector(t);
      let membership = p.defmember;
      // OpenSM reads "GUID=full" within one line: an '=' or a membership on the next line would
      // be silently dropped or misread there, so both must follow on the member's line.
      const why = 'OpenSM reads each member on one line';
      if (this.peek().kind === '=') {
        if (this.peek().newlineBefore) {
          const reason = `expected the membership of member '${t.text}' on its line (${why}), found '=' on the next line`;
          this.fail(this.peek(), reason);
        }
        this.next();
        this.sameLine(`full, limited or both for member '${t.text}'`, why);
        const v = this.next();
        if (v.kind !== 'word') this.fail(v, `expected full, limited or both for member '${t.text}', found ${shown(v)}`);
        membership = this.membership(v, `member '${t.text}'`);
      }
      p.members.push({ guid, membership });
      const sep = this.next();
      if (sep.kind === ';') {
        this.semicolonNotFirst(sep);
        return;
      }
      if (sep.kind === ',') continue;
      if (sep.kind === 'eof') {
        this.fail(sep, `${unterminated}: expected ',' or ';', found end of file`);
      }
      this.fail(sep, `expected ',' or ';' after member '${t.text}', found ${shown(sep)}`);
    }
  }

  /** OpenSM 3.3.23 fails on a line that starts with ';' and then drops the whole file (seen on ibsim). */
  private semicolonNotFirst(t: Token): void {
    if (t.newlineBefore) {
      const why = "OpenSM fails on a line that starts with ';'";
      this.fail(t, `expected ';' on the line of the last member (${why}), found it on a line of its own`);
    }
  }

  private selector(t: Token): MemberSelector {
    const keyword = KEYWORDS.find((k) => k === t.text);
    if (keyword) return keyword;
    if (!/^[0-9]/.test(t.text)) {
      this.fail(t, `expected a member (a port GUID, ALL, ALL_CAS, ALL_SWITCHES, ALL_ROUTERS or SELF), found '${t.text}'`);
    }
    const g = readNumber(t, 'port GUID', (tok, r) => this.fail(tok, r));
    const problem = guidProblem(g);
    if (problem) this.fail(t, problem);
    return g;
  }
}

/** OpenSM reads the file with fgets into 4096 bytes: a longer line is cut in two and misread. */
export const MAX_LINE_LENGTH = 4094;

/** Parses partitions.conf text; `file` only labels errors. Throws PartitionsConfError. */
export function parsePartitionsConf(text: string, file = '<partitions.conf>'): PartitionsConf {
  const long = text.split('\n').findIndex((l) => l.replace(/\r$/, '').length > MAX_LINE_LENGTH);
  if (long >= 0) {
    const reason = `line is longer than the ${MAX_LINE_LENGTH} characters OpenSM reads at once`;
    throw new PartitionsConfError(file, long + 1, MAX_LINE_LENGTH + 1, reason);
  }
  return new Parser(file, tokenize(text)).parse();
}

/** Reads and parses a partitions.conf file; errors name the file. */
export async function loadPartitionsConf(path: string): Promise<PartitionsConf> {
  return parsePartitionsConf(await readFile(path, 'utf8'), path);
}

/** What OpenSM uses when it finds no partitions file at all: every port a full member of Default. */
export function partitionsWithoutFile(): PartitionsConf {
  return {
    partitions: [
      {
        name: DEFAULT_PARTITION_NAME,
        pkey: DEFAULT_PARTITION_BASE,
        ipoib: true,
        indx0: false,
        ...PARTITION_DEFAULTS,
        members: [{ guid: 'ALL', membership: 'full' }],
      },
    ],
  };
}

// ---- formatter ------------------------------------------------------------------------------

const WORD = /^[^\s=,:;#]+$/;

/** Every reason `conf` could not have come from parsePartitionsConf, as `path: problem`. */
function formatProblems(conf: PartitionsConf): string[] {
  const problems: string[] = [];
  const bases = new Map<number, number>();
  let indx0s = 0;
  conf.partitions.forEach((p, i) => {
    const at = `partitions[${i}]`;
    if (p.name !== '' && !WORD.test(p.name)) {
      problems.push(`${at}.name: '${p.name}' is not one word without spaces, '=', ',', ':', ';' or '#'`);
    }
    const pk = pkeyProblem(p.pkey);
    if (pk) problems.push(`${at}.pkey: ${pk}`);
    else {
      const base = p.pkey & PKEY_BASE_MASK;
      const j = bases.get(base);
      if (j !== undefined) problems.push(`${at}.pkey: duplicate P_Key ${hex(p.pkey, 4)}, base already used by partitions[${j}]`);
      bases.set(base, i);
      if (p.name === DEFAULT_PARTITION_NAME && base !== DEFAULT_PARTITION_BASE) {
        problems.push(`${at}.pkey: the Default partition has P_Key 0x7fff, found ${hex(p.pkey, 4)}`);
      }
    }
    for (const flag of Object.keys(NUMERIC_FLAGS) as NumericFlag[]) {
      const field: NumericField = NUMERIC_FLAGS[flag].field;
      const r = rangeProblem(flag, p[field]);
      if (r) problems.push(`${at}.${field}: ${r}`);
    }
    if (p.indx0) indx0s++;
    if (!MEMBERSHIPS.includes(p.defmember)) {
      problems.push(`${at}.defmember: expected full, limited or both, found '${String(p.defmember)}'`);
    }
    p.members.forEach((m, k) => {
      const mat = `${at}.members[${k}]`;
      if (typeof m.guid === 'bigint') {
        const g = guidProblem(m.guid);
        if (g) problems.push(`${mat}.guid: ${g}`);
      } else if (!(KEYWORDS as readonly string[]).includes(m.guid)) {
        problems.push(`${mat}.guid: expected a bigint or one of ${KEYWORDS.join(', ')}, found '${String(m.guid)}'`);
      }
      if (!MEMBERSHIPS.includes(m.membership)) {
        problems.push(`${mat}.membership: expected full, limited or both, found '${String(m.membership)}'`);
      }
    });
  });
  if (indx0s > 1) problems.push(`partitions: ${indx0s} partitions carry indx0, at most one may`);
  return problems;
}

/**
 * Writes `conf` as partitions.conf text, one entry per line, that parsePartitionsConf reads
 * back to an equal value. Flags equal to OpenSM's defaults are left out; every member is
 * written with its membership. Throws PartitionsConfError (line 0) for a value no file could give.
 */
export function formatPartitionsConf(conf: PartitionsConf): string {
  const problems = formatProblems(conf);
  if (problems.length > 0) {
    throw new PartitionsConfError('<formatPartitionsConf>', 0, 0, problems.join('; '));
  }
  const lines = conf.partitions.map((p) => {
    const pkey = hex(p.pkey, 4);
    const flags = [p.name === '' ? pkey : `${p.name}=${pkey}`];
    if (p.ipoib) flags.push('ipoib');
    if (p.indx0) flags.push('indx0');
    for (const flag of Object.keys(NUMERIC_FLAGS) as NumericFlag[]) {
      const field = NUMERIC_FLAGS[flag].field;
      if (p[field] !== PARTITION_DEFAULTS[field]) flags.push(`${flag}=${flag === 'Q_Key' ? hex(p[field], 8) : p[field]}`);
    }
    if (p.defmember !== PARTITION_DEFAULTS.defmember) flags.push(`defmember=${p.defmember}`);
    const members = p.members.map((m) => {
      const who = typeof m.guid === 'bigint' ? hex(m.guid, 16) : m.guid;
      return `${who}=${m.membership}`;
    });
    return `${flags.join(', ')} : ${members.join(', ')}${members.length > 0 ? ' ' : ''};`;
  });
  return lines.map((l) => `${l}\n`).join('');
}
