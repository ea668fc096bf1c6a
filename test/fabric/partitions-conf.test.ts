import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  DEFAULT_PARTITION_BASE,
  formatPartitionsConf,
  loadPartitionsConf,
  MAX_LINE_LENGTH,
  PARTITION_DEFAULTS,
  parsePartitionsConf,
  type Partition,
  PartitionsConfError,
  type PartitionsConf,
  partitionsWithoutFile,
} from '../../src/fabric/sim/partitions-conf.js';

const LAB = fileURLToPath(new URL('../../lab/partitions/', import.meta.url));

/** A partition with OpenSM's defaults, overridden by `p`. */
function partition(p: Partial<Partition> & Pick<Partition, 'name' | 'pkey'>): Partition {
  return { ipoib: false, indx0: false, ...PARTITION_DEFAULTS, members: [], ...p };
}

/** Parsing `text` must fail at `line`:`column` with a reason matching `reason`. */
function expectConfError(text: string, line: number, column: number, reason: RegExp): PartitionsConfError {
  let caught: unknown;
  try {
    parsePartitionsConf(text, 'test.conf');
  } catch (e) {
    caught = e;
  }
  expect(caught, `parsing ${JSON.stringify(text)} should fail`).to.be.instanceOf(PartitionsConfError);
  const err = caught as PartitionsConfError;
  expect({ line: err.line, column: err.column }, err.message).to.deep.equal({ line, column });
  expect(err.reason).to.match(reason);
  expect(err.file).to.equal('test.conf');
  expect(err.message).to.equal(`test.conf: line ${line}, column ${column}: ${err.reason}`);
  return err;
}

describe('partitions.conf: parsing @pkey', function () {
  it('reads lab/partitions/default.conf as the default partition with ipoib @pkey', async function () {
    const conf = await loadPartitionsConf(join(LAB, 'default.conf'));
    expect(conf).to.deep.equal({
      partitions: [partition({ name: 'Default', pkey: 0x7fff, ipoib: true, members: [{ guid: 'ALL', membership: 'full' }] })],
    });
  });

  it('reads lab/partitions/two-partitions.conf with a limited member @pkey', async function () {
    const conf = await loadPartitionsConf(join(LAB, 'two-partitions.conf'));
    expect(conf.partitions.map((p) => [p.name, p.pkey, p.ipoib, p.mtuCode])).to.deep.equal([
      ['Default', 0x7fff, true, 4],
      ['lab', 0x8001, true, 4],
      ['limited', 0x0002, true, 4],
    ]);
    expect(conf.partitions[1]?.members).to.deep.equal([{ guid: 'ALL', membership: 'full' }]);
    expect(conf.partitions[2]?.members).to.deep.equal([
      { guid: 0x0002c90300000101n, membership: 'full' },
      { guid: 0x0002c90300000201n, membership: 'limited' },
    ]);
  });

  it("fills OpenSM's defaults: mtu 4, rate 3, scope 2, sl 0, Q_Key 0x0b1b, defmember limited @pkey @qkey @mtu", function () {
    const [p] = parsePartitionsConf('lab=0x8001 : 0x1234 ;').partitions;
    expect(p).to.deep.equal({
      name: 'lab',
      pkey: 0x8001,
      ipoib: false,
      indx0: false,
      mtuCode: 4,
      rateCode: 3,
      scope: 2,
      sl: 0,
      qkey: 0x0b1b,
      defmember: 'limited',
      members: [{ guid: 0x1234n, membership: 'limited' }],
    });
  });

  it('reads every supported flag @pkey @qkey', function () {
    const [p] = parsePartitionsConf(
      'ro=0x0002, ipoib, indx0, mtu=5, rate=7, scope=0xe, sl=15, Q_Key=0x80010000, defmember=full : ALL ;',
    ).partitions;
    expect(p).to.deep.equal(
      partition({
        name: 'ro',
        pkey: 0x0002,
        ipoib: true,
        indx0: true,
        mtuCode: 5,
        rateCode: 7,
        scope: 14,
        sl: 15,
        qkey: 0x80010000,
        defmember: 'full',
        members: [{ guid: 'ALL', membership: 'full' }],
      }),
    );
  });

  it('reads numbers in decimal or 0x hex, P_Keys and GUIDs alike @pkey @qkey', function () {
    const [p] = parsePartitionsConf('x=32770, Q_Key=4294967295, scope=0X5 : 1048577, 0xFFFFFFFFFFFFFFFF ;').partitions;
    expect(p?.pkey).to.equal(0x8002);
    expect(p?.qkey).to.equal(0xffffffff);
    expect(p?.scope).to.equal(5);
    expect(p?.members.map((m) => m.guid)).to.deep.equal([0x100001n, 0xffffffffffffffffn]);
  });

  it('reads every member keyword, explicit memberships and the defmember default @pkey', function () {
    const [p, q] = parsePartitionsConf(
      'a=0x8001 : ALL, ALL_CAS=full, ALL_SWITCHES=limited, ALL_ROUTERS=both, SELF ;\n' +
        'b=0x8002, defmember=both : 0x0002c90300000101, 0x0002c90300000201=limited ;',
    ).partitions;
    expect(p?.members).to.deep.equal([
      { guid: 'ALL', membership: 'limited' },
      { guid: 'ALL_CAS', membership: 'full' },
      { guid: 'ALL_SWITCHES', membership: 'limited' },
      { guid: 'ALL_ROUTERS', membership: 'both' },
      { guid: 'SELF', membership: 'limited' },
    ]);
    expect(q?.members).to.deep.equal([
      { guid: 0x0002c90300000101n, membership: 'both' },
      { guid: 0x0002c90300000201n, membership: 'limited' },
    ]);
  });

  it('gives Default written without a P_Key the P_Key 0x7fff, and keeps 0xffff as written @pkey', function () {
    expect(DEFAULT_PARTITION_BASE).to.equal(0x7fff);
    expect(parsePartitionsConf('Default : ALL=full ;').partitions[0]?.pkey).to.equal(0x7fff);
    expect(parsePartitionsConf('Default=0xffff : ALL=full ;').partitions[0]?.pkey).to.equal(0xffff);
  });

  it('reads entries with a P_Key and no name, in both of OpenSM\'s forms @pkey', function () {
    const conf = parsePartitionsConf('0x8004 : ALL ;\n=0x8003 : ;');
    expect(conf.partitions.map((p) => [p.name, p.pkey, p.members.length])).to.deep.equal([
      ['', 0x8004, 1],
      ['', 0x8003, 0],
    ]);
  });

  it('takes comments, blank lines, CRLF and whitespace between every token @pkey', function () {
    const text =
      '# header comment\r\n\r\n' +
      '  \t lab \t=\t 0x8001 , ipoib , mtu = 4 :   # trailing comment\r\n' +
      '    ALL = full ,\r\n' +
      '    0x10 ;   a=0x8002:SELF;b=0x8003:;\r\n' +
      '# done';
    const conf = parsePartitionsConf(text);
    expect(conf.partitions.map((p) => p.name)).to.deep.equal(['lab', 'a', 'b']);
    expect(conf.partitions[0]).to.deep.equal(
      partition({
        name: 'lab',
        pkey: 0x8001,
        ipoib: true,
        members: [
          { guid: 'ALL', membership: 'full' },
          { guid: 0x10n, membership: 'limited' },
        ],
      }),
    );
  });

  it('takes any white space between tokens, form feeds and no-break spaces included @pkey', function () {
    const conf = parsePartitionsConf('a\f=\v0x8001\u00a0:\u2003ALL\t;');
    expect(conf.partitions.map((p) => [p.name, p.pkey, p.members.length])).to.deep.equal([['a', 0x8001, 1]]);
    expectConfError('a=0x8001 :\f\f0x10 0x20 ;', 1, 18, /found '0x20'$/);
  });

  it('keeps a port named twice, in order, for the last-wins rule @pkey', function () {
    const [p] = parsePartitionsConf('x=0x8001 : ALL=full, 0x10=limited, ALL=full ;').partitions;
    expect(p?.members.map((m) => `${String(m.guid)}=${m.membership}`)).to.deep.equal(['ALL=full', '16=limited', 'ALL=full']);
  });

  it('reads an empty file, and a file of comments, as no partitions @pkey', function () {
    expect(parsePartitionsConf('')).to.deep.equal({ partitions: [] });
    expect(parsePartitionsConf('# nothing\n\n   # here\n')).to.deep.equal({ partitions: [] });
  });

  it('describes the no-file case as Default with ipoib, every port full @pkey', function () {
    expect(partitionsWithoutFile()).to.deep.equal({
      partitions: [partition({ name: 'Default', pkey: 0x7fff, ipoib: true, members: [{ guid: 'ALL', membership: 'full' }] })],
    });
  });
});

describe('partitions.conf: errors name line and column @pkey', function () {
  it("reports a missing ':' after the flags where the ';' is @pkey", function () {
    const err = expectConfError('# c\nDefault : ALL=full ;\nlab=0x8001,ipoib;', 3, 17, /^expected ':' after the partition flags, found ';'$/);
    expect(err.message).to.equal("test.conf: line 3, column 17: expected ':' after the partition flags, found ';'");
  });

  it("reports a missing ':' after the name and P_Key @pkey", function () {
    expectConfError('lab=0x8001 ALL ;', 1, 12, /^expected ':' after the partition name and P_Key, found 'ALL'$/);
  });

  it('refuses a partition definition split over two lines, as OpenSM does @pkey', function () {
    expectConfError('lab=0x8001,\n ipoib : ALL ;', 1, 12, /expected a flag after ',' on the same line .* found end of line/);
    expectConfError('lab=0x8001\n : ALL ;', 1, 11, /expected ',' or ':' on the same line .* found end of line/);
    expectConfError('lab=\n0x8001 : ALL ;', 1, 5, /expected a P_Key after '=' on the same line/);
  });

  it('reports an entry left open at the end of the file @pkey', function () {
    expectConfError('a=0x8001 : ALL ;\nlab=0x8002 : ALL=full,\n  0x10', 3, 7, /^unterminated entry for partition 'lab' \(started on line 2\): expected ',' or ';', found end of file$/);
    expectConfError('lab=0x8002 :', 1, 13, /^unterminated entry for partition 'lab' .*expected a member or ';', found end of file$/);
    expectConfError('lab=0x8002, ipoib', 1, 18, /^expected ':' after the partition flags, found end of file$/);
  });

  it('refuses a duplicate P_Key, comparing bases (0x8001 and 0x0001 are one partition) @pkey', function () {
    expectConfError('lab=0x8001 : ALL ;\n\nother=0x0001 : ALL ;', 3, 7, /^duplicate P_Key 0x0001 \(base 0x0001\), already used by partition 'lab' on line 1/);
    expectConfError('Default : ALL ;\nd=0xffff : ALL ;', 2, 3, /^duplicate P_Key 0xffff \(base 0x7fff\), already used by partition 'Default'/);
  });

  it('refuses the invalid P_Keys 0x0000 and 0x8000, and P_Keys over 16 bits @pkey', function () {
    expectConfError('a=0x0000 : ALL ;', 1, 3, /^P_Key 0x0000 is invalid: partition base 0 is reserved$/);
    expectConfError('a=0x8000 : ALL ;', 1, 3, /^P_Key 0x8000 is invalid: partition base 0 is reserved$/);
    expectConfError('a=0x18001 : ALL ;', 1, 3, /^P_Key 0x18001 does not fit 16 bits$/);
    expectConfError('a=pk : ALL ;', 1, 3, /^expected a P_Key \(0x hex or decimal\), found 'pk'$/);
  });

  it('refuses a partition without a P_Key (OpenSM would invent one), except Default @pkey', function () {
    expectConfError('lab, ipoib : ALL ;', 1, 1, /^partition 'lab' has no P_Key: .*lab=0x8001/);
  });

  it('refuses a Default partition with a P_Key other than 0x7fff @pkey', function () {
    expectConfError('Default=0x8002 : ALL ;', 1, 9, /^the Default partition has P_Key 0x7fff, found 0x8002$/);
  });

  it('refuses an mtu code outside 1..5 @pkey @mtu', function () {
    expectConfError('a=0x8001, mtu=6 : ALL ;', 1, 15, /^mtu must be an IB MTU code 1\.\.5 .*, found 6$/);
    expectConfError('a=0x8001, mtu=0 : ALL ;', 1, 15, /^mtu must be an IB MTU code 1\.\.5 .*, found 0$/);
  });

  it('refuses out-of-range rate, scope and sl values @pkey', function () {
    expectConfError('a=0x8001, rate=1 : ALL ;', 1, 16, /^rate must be an IB rate code 2\.\.24 .*found 1$/);
    expectConfError('a=0x8001, rate=25 : ALL ;', 1, 16, /^rate must be .*found 25$/);
    expectConfError('a=0x8001, scope=0 : ALL ;', 1, 17, /^scope must be a multicast scope 1\.\.14 .*found 0$/);
    expectConfError('a=0x8001, scope=15 : ALL ;', 1, 17, /^scope must be .*found 15$/);
    expectConfError('a=0x8001, sl=16 : ALL ;', 1, 14, /^sl must be a service level 0\.\.15, found 16$/);
  });

  it('refuses a Q_Key over 32 bits, and Q_Key 0 @pkey @qkey', function () {
    expectConfError('a=0x8001, Q_Key=0x100000000 : ALL ;', 1, 17, /^Q_Key 0x100000000 does not fit 32 bits$/);
    expectConfError('a=0x8001, Q_Key=0 : ALL ;', 1, 17, /^Q_Key must be a non-zero 32-bit Q_Key, found 0$/);
  });

  it('refuses unknown flags, and says how OpenSM spells the Q_Key flag @pkey @qkey', function () {
    expectConfError('a=0x8001, ipob : ALL ;', 1, 11, /^unknown partition flag 'ipob'; expected ipoib, indx0, mtu, rate, scope, sl, Q_Key or defmember$/);
    expectConfError('a=0x8001, qkey=0x1 : ALL ;', 1, 11, /^unknown flag 'qkey': OpenSM spells the Q_Key flag 'Q_Key'/);
    expectConfError('a=0x8001, Q_KEY=0x1 : ALL ;', 1, 11, /^unknown flag 'Q_KEY': OpenSM spells/);
    expectConfError('a=0x8001, m=4 : ALL ;', 1, 11, /^unknown partition flag 'm'/);
  });

  it("refuses the flags the simulator does not support: TClass, FlowLabel, a second scope @pkey", function () {
    expectConfError('a=0x8001, TClass=1 : ALL ;', 1, 11, /^flag 'TClass' is not supported by ipoib-lab's simulator$/);
    expectConfError('a=0x8001, FlowLabel=1 : ALL ;', 1, 11, /^flag 'FlowLabel' is not supported by ipoib-lab's simulator$/);
    expectConfError('a=0x8001, scope=2, scope=5 : ALL ;', 1, 20, /^a second 'scope' flag: .*not support/);
  });

  it('refuses a flag given twice, a value on ipoib or indx0, and a missing value @pkey', function () {
    expectConfError('a=0x8001, mtu=4, mtu=4 : ALL ;', 1, 18, /^flag 'mtu' is given twice$/);
    expectConfError('a=0x8001, ipoib=1 : ALL ;', 1, 17, /^flag 'ipoib' takes no value, found '=1'$/);
    expectConfError('a=0x8001, indx0=yes : ALL ;', 1, 17, /^flag 'indx0' takes no value/);
    expectConfError('a=0x8001, mtu : ALL ;', 1, 11, /^flag 'mtu' needs a value, e\.g\. mtu=4$/);
    expectConfError('a=0x8001, mtu= : ALL ;', 1, 16, /^expected a value for flag 'mtu', found ':'$/);
    expectConfError('a=0x8001, sl=low : ALL ;', 1, 14, /^expected a value for 'sl' \(0x hex or decimal\), found 'low'$/);
  });

  it('refuses numbers with a leading 0, which OpenSM would read as octal @pkey', function () {
    expectConfError('a=0x8001, sl=010 : ALL ;', 1, 14, /^value for 'sl' '010' has a leading 0, which OpenSM reads as octal/);
    expectConfError('a=0x8001 : 0123 ;', 1, 12, /^port GUID '0123' has a leading 0/);
  });

  it('refuses a bad defmember value and a defmember without value @pkey', function () {
    expectConfError('a=0x8001, defmember=partial : ALL ;', 1, 21, /^expected full, limited or both for 'defmember', found 'partial'$/);
    expectConfError('a=0x8001, defmember : ALL ;', 1, 11, /^flag 'defmember' needs a value/);
  });

  it('refuses indx0 on a second partition @pkey', function () {
    expectConfError('a=0x8001, indx0 : ALL ;\nb=0x8002, indx0 : ALL ;', 2, 11, /^only one partition may carry indx0, and 'a' on line 1 already does/);
  });

  it("refuses 'mgid=' multicast group lines as not supported @pkey @multicast @mgid", function () {
    expectConfError('Default=0x7fff, ipoib :\n  mgid=ff12:401b::16\n  ALL=full ;', 2, 3, /^multicast group lines \('mgid=\.\.\.'\) are not supported by ipoib-lab's simulator$/);
  });

  it('refuses unknown member words, abbreviations and GUIDs out of range @pkey', function () {
    expectConfError('a=0x8001 : AL ;', 1, 12, /^expected a member \(a port GUID, ALL, ALL_CAS, ALL_SWITCHES, ALL_ROUTERS or SELF\), found 'AL'$/);
    expectConfError('a=0x8001 : NONE ;', 1, 12, /found 'NONE'$/);
    expectConfError('a=0x8001 : 0x0 ;', 1, 12, /^port GUID 0 is not a valid GUID$/);
    expectConfError('a=0x8001 : 0x10000000000000000 ;', 1, 12, /^port GUID 0x10000000000000000 does not fit 64 bits$/);
    expectConfError('a=0x8001 : 12ab ;', 1, 12, /^expected a port GUID \(0x hex or decimal\), found '12ab'$/);
  });

  it('refuses a membership other than full, limited or both, including prefixes @pkey', function () {
    expectConfError('a=0x8001 : 0x10=limi ;', 1, 17, /^expected full, limited or both for member '0x10', found 'limi'$/);
  });

  it('refuses a member split over two lines, which OpenSM would misread @pkey', function () {
    expectConfError('a=0x8001 : ALL\n =full ;', 2, 2, /^expected the membership of member 'ALL' on its line .*found '=' on the next line$/);
    expectConfError('a=0x8001 : ALL=\nfull ;', 1, 16, /^expected full, limited or both for member 'ALL' on the same line .*found end of line$/);
  });

  it("refuses a line that starts with the closing ';', which breaks OpenSM @pkey", function () {
    expectConfError('a=0x8001 : ALL=full\n  ;', 2, 3, /^expected ';' on the line of the last member .*found it on a line of its own$/);
    expectConfError('a=0x8001 :\n;', 2, 1, /on a line of its own$/);
  });

  it('refuses members without a separator, and empty members @pkey', function () {
    expectConfError('a=0x8001 : 0x10 0x20 ;', 1, 17, /^expected ',' or ';' after member '0x10', found '0x20'$/);
    expectConfError('a=0x8001 : ALL, ;', 1, 17, /^expected a member .*found ';'$/);
    expectConfError('a=0x8001 : ALL,, SELF ;', 1, 16, /^expected a member .*found ','$/);
    expectConfError('a=0x8001 : ALL : SELF ;', 1, 16, /^expected ',' or ';' after member 'ALL', found ':'$/);
  });

  it('refuses an entry that starts with punctuation @pkey', function () {
    expectConfError(': ALL ;', 1, 1, /^expected a partition name or P_Key to start an entry, found ':'$/);
    expectConfError('a=0x8001 : ALL ; ;', 1, 18, /^expected a partition name or P_Key to start an entry, found ';'$/);
  });

  it('refuses a line longer than OpenSM reads at once @pkey', function () {
    const long = `a=0x8001 : ALL ; # ${'x'.repeat(MAX_LINE_LENGTH)}`;
    expectConfError(`# ok\n${long}`, 2, MAX_LINE_LENGTH + 1, /^line is longer than the 4094 characters OpenSM reads at once$/);
    const longest = `a=0x8001 : ALL ; #${'x'.repeat(MAX_LINE_LENGTH - 18)}`;
    expect(longest.length).to.equal(MAX_LINE_LENGTH);
    expect(parsePartitionsConf(longest).partitions).to.have.length(1);
  });

  it('fails every truncation of a valid file with PartitionsConfError or parses it @pkey', async function () {
    const text = formatPartitionsConf(await loadPartitionsConf(join(LAB, 'two-partitions.conf')));
    let failures = 0;
    for (let n = 0; n < text.length; n++) {
      try {
        parsePartitionsConf(text.slice(0, n));
      } catch (e) {
        expect(e, `prefix of ${n} characters`).to.be.instanceOf(PartitionsConfError);
        failures++;
      }
    }
    expect(failures).to.be.greaterThan(text.length / 2);
  });

  it('never throws anything but PartitionsConfError on random input @pkey', function () {
    const alphabet = ['a', 'Default', 'ALL', 'SELF', '0x8001', '0', '12', '=', ',', ':', ';', '#', ' ', '\n', '\t', 'ipoib', 'mtu', 'mgid', 'full', 'both', '\u00a0', '\r'];
    let seed = 0x2545f491;
    const rand = (n: number): number => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) % n;
    };
    let parsed = 0;
    for (let i = 0; i < 3000; i++) {
      const text = Array.from({ length: rand(24) }, () => alphabet[rand(alphabet.length)]).join('');
      try {
        parsePartitionsConf(text);
        parsed++;
      } catch (e) {
        expect(e, JSON.stringify(text)).to.be.instanceOf(PartitionsConfError);
      }
    }
    expect(parsed, 'some random texts are valid').to.be.greaterThan(0);
  });

  it('names the file it read in the error @pkey', async function () {
    const dir = await mkdtemp(join(tmpdir(), 'partitions-conf-'));
    try {
      const file = join(dir, 'bad.conf');
      await writeFile(file, 'lab=0x8001, mtu=9 : ALL ;\n');
      let caught: unknown;
      await loadPartitionsConf(file).catch((e: unknown) => (caught = e));
      expect(caught).to.be.instanceOf(PartitionsConfError);
      expect((caught as PartitionsConfError).message).to.match(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: line 1, column 17: mtu must be`));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('partitions.conf: formatting @pkey', function () {
  const RICH = `# every construct the parser accepts
Default : ALL=full, SELF ;
lab=0x8001, ipoib, mtu=4 : ALL=full ;
ro=0x0002, ipoib, indx0, mtu=5, rate=7, scope=5, sl=1, Q_Key=0x80010000, defmember=both :
   0x0002c90300000101=full,
   0x0002c90300000201, ALL_SWITCHES=limited ;
=0x8003 : ;
0x8004, defmember=full : ALL_CAS, ALL_ROUTERS=limited ;
`;

  it('writes one entry per line, leaving out default flags @pkey', function () {
    expect(formatPartitionsConf(parsePartitionsConf(RICH))).to.equal(
      'Default=0x7fff : ALL=full, SELF=limited ;\n' +
        'lab=0x8001, ipoib : ALL=full ;\n' +
        'ro=0x0002, ipoib, indx0, mtu=5, rate=7, scope=5, sl=1, Q_Key=0x80010000, defmember=both : ' +
        '0x0002c90300000101=full, 0x0002c90300000201=both, ALL_SWITCHES=limited ;\n' +
        '0x8003 : ;\n' +
        '0x8004, defmember=full : ALL_CAS=full, ALL_ROUTERS=limited ;\n',
    );
  });

  it('round-trips parse, format, parse to an equal value @pkey', async function () {
    const texts = [RICH, 'Default=0xffff, ipoib : ALL=full ;', '1abc=0x7ffe, Q_Key=1 : 1 ;'];
    for (const f of ['default.conf', 'two-partitions.conf']) {
      const conf = await loadPartitionsConf(join(LAB, f));
      texts.push(formatPartitionsConf(conf));
    }
    for (const text of texts) {
      const once = parsePartitionsConf(text);
      const again = parsePartitionsConf(formatPartitionsConf(once));
      expect(again, text).to.deep.equal(once);
    }
  });

  it('formats no partitions as empty text @pkey', function () {
    expect(formatPartitionsConf({ partitions: [] })).to.equal('');
  });

  it('refuses values no file could hold, naming each with its path @pkey', function () {
    const bad: PartitionsConf = {
      partitions: [
        partition({ name: 'two words', pkey: 0x8001, mtuCode: 6 }),
        partition({ name: 'b', pkey: 0x0001, indx0: true, members: [{ guid: 0n, membership: 'full' }] }),
        partition({ name: 'Default', pkey: 0x8002, indx0: true, qkey: 2 ** 32 }),
      ],
    };
    let caught: unknown;
    try {
      formatPartitionsConf(bad);
    } catch (e) {
      caught = e;
    }
    expect(caught).to.be.instanceOf(PartitionsConfError);
    const err = caught as PartitionsConfError;
    expect([err.line, err.column]).to.deep.equal([0, 0]);
    expect(err.reason.split('; ')).to.deep.equal([
      "partitions[0].name: 'two words' is not one word without spaces, '=', ',', ':', ';' or '#'",
      'partitions[0].mtuCode: mtu must be an IB MTU code 1..5 (256..4096 bytes), found 6',
      'partitions[1].pkey: duplicate P_Key 0x0001, base already used by partitions[0]',
      'partitions[1].members[0].guid: port GUID 0 is not a valid GUID',
      'partitions[2].pkey: the Default partition has P_Key 0x7fff, found 0x8002',
      'partitions[2].qkey: Q_Key 0x100000000 does not fit 32 bits',
      'partitions: 2 partitions carry indx0, at most one may',
    ]);
    expect(err.message).to.equal(`<formatPartitionsConf>: ${err.reason}`);
  });

  it('refuses invalid P_Keys, memberships and member keywords when formatting @pkey', function () {
    const cases: Array<[Partial<Partition>, RegExp]> = [
      [{ pkey: 0x8000 }, /partitions\[0\]\.pkey: P_Key 0x8000 is invalid/],
      [{ pkey: 0x10000 }, /partitions\[0\]\.pkey: P_Key 0x10000 does not fit 16 bits/],
      [{ pkey: 1.5 }, /partitions\[0\]\.pkey: P_Key 1\.5 is not an integer/],
      [{ sl: -1 }, /partitions\[0\]\.sl: sl must be a service level 0\.\.15, found -1/],
      [{ pkey: -1 }, /partitions\[0\]\.pkey: P_Key -0x1 does not fit 16 bits/],
      [{ rateCode: 2.5 }, /partitions\[0\]\.rateCode: rate must be .*found 2\.5/],
      [{ defmember: 'some' as Partition['defmember'] }, /partitions\[0\]\.defmember: expected full, limited or both, found 'some'/],
      [{ members: [{ guid: 'EVERY' as 'ALL', membership: 'full' }] }, /partitions\[0\]\.members\[0\]\.guid: expected a bigint or one of ALL/],
      [{ members: [{ guid: 'ALL', membership: 'half' as 'full' }] }, /partitions\[0\]\.members\[0\]\.membership: expected full, limited or both, found 'half'/],
      [{ members: [{ guid: 2n ** 64n, membership: 'full' }] }, /partitions\[0\]\.members\[0\]\.guid: port GUID 0x10000000000000000 does not fit 64 bits/],
    ];
    for (const [override, reason] of cases) {
      const conf = { partitions: [partition({ name: 'x', pkey: 0x8001, ...override })] };
      expect(() => formatPartitionsConf(conf), JSON.stringify(override, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)))
        .to.throw(PartitionsConfError)
        .with.property('reason')
        .that.matches(reason);
    }
  });
});
