/**
 * Lab files: every kind of problem is reported with file, JSON path and message, all at once;
 * passwords are refused wherever they appear; the shipped labs validate; the published schema
 * is the one the code uses; every key is documented; the lab is chosen by --lab, then
 * $IPOIB_LAB_FILE, then lab/sim.json.
 */
import { expect } from 'chai';
import { loadPartitionsConf } from '../../src/fabric/sim/partitions-conf.js';
import { formatPkey } from '../../src/wire/pkey.js';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { LabFileError, type LabFileProblem } from '../../src/errors.js';
import { describeLabFile, LAB_FILE_DOC_TABLES } from '../../src/lab/lab-file.js';
import { DEFAULT_LAB_FILE, loadLabFile, parseLabFile, resolveLabFile } from '../../src/lab/lab-file-load.js';
import { PASSWORD_MESSAGE } from '../../src/lab/lab-file-rules.js';
import { LAB_SCHEMA, labSchemaText } from '../../src/lab/lab-schema.js';
import { PUBLISHED_SCHEMA_FILE } from '../../src/lab/publish-schema.js';

const FILE = '/labs/test.json';

/** A valid two-node ssh lab to break one key at a time. */
function goodLab(): Record<string, unknown> {
  return {
    name: 'rack',
    fabric: { kind: 'ib' },
    nodes: [
      {
        name: 'dut',
        role: 'dut',
        implementation: 'kernel',
        transport: 'ssh',
        ssh: { host: 'a.example', user: 'lab', identityFile: 'keys/id_ed25519' },
        hca: { device: 'mlx5_0', port: 1 },
        interface: 'ib0',
        addresses: ['192.0.2.1/24'],
      },
      {
        name: 'peer',
        role: 'peer',
        implementation: 'reference',
        transport: 'local',
        hca: { device: 'mlx5_0', port: 1 },
        interface: 'ib0',
      },
    ],
    partitions: [{ name: 'default', pkey: '0xffff' }],
  };
}

/** The problems parseLabFile reports for `doc` (fails the test when it reports none). */
function problemsOf(doc: unknown): LabFileProblem[] {
  try {
    parseLabFile(typeof doc === 'string' ? doc : JSON.stringify(doc), FILE, '/home/tester');
  } catch (e) {
    expect(e).to.be.instanceOf(LabFileError);
    const err = e as LabFileError;
    expect(err.file).to.equal(FILE);
    for (const p of err.problems) expect(p.file, 'every problem names the file').to.equal(FILE);
    return [...err.problems];
  }
  expect.fail('the lab file was accepted');
}

function only(doc: unknown): LabFileProblem {
  const problems = problemsOf(doc);
  expect(problems, JSON.stringify(problems)).to.have.length(1);
  return problems[0] as LabFileProblem;
}

/**
 * The base lab with changes applied: keys are dotted paths ("nodes.0.ssh.port"); the value
 * `undefined` deletes the key.
 */
function edit(changes: Record<string, unknown>): Record<string, unknown> {
  const lab = goodLab();
  for (const [dotted, value] of Object.entries(changes)) {
    const parts = dotted.split('.');
    const last = parts.pop() as string;
    let at: Record<string, unknown> = lab;
    for (const p of parts) at = at[p] as Record<string, unknown>;
    if (value === undefined) delete at[last];
    else at[last] = value;
  }
  return lab;
}

describe('lab files: validation @lab', function () {
  it('accepts the base lab and fills in the documented defaults @lab', function () {
    const lab = parseLabFile(JSON.stringify(goodLab()), FILE, '/home/tester');
    const ssh = lab.nodes[0]?.ssh;
    expect(ssh?.port).to.equal(22);
    expect(ssh?.maxChannels).to.equal(6);
    expect(ssh?.keepaliveIntervalMs).to.equal(15_000);
    expect(ssh?.knownHosts).to.deep.equal({ file: '/home/tester/.ssh/known_hosts', policy: 'strict' });
    expect(ssh?.identityFile, 'relative to the lab file').to.equal('/labs/keys/id_ed25519');
    expect(lab.nodes[1]?.sudo).to.equal(false);
    expect(lab.nodes[1]?.addresses).to.deep.equal([]);
    expect(lab.nodes[1]?.hca?.gidIndex).to.equal(0);
    expect(lab.partitions[0]?.ipoib).to.equal(true);
    expect(lab.capture).to.deep.equal({ method: 'none' });
  });

  it('reports a syntax error with line and column @lab', function () {
    const p = only('{\n  "name": "x",\n}');
    expect(p.path).to.equal('$');
    expect(p.message).to.match(/^not valid JSON: .*\(line 3, column 1\)$/);
  });

  it('reports a missing required key at its own path @lab', function () {
    const p = only(edit({ 'nodes.0.ssh.user': undefined }));
    expect(p).to.deep.include({ path: '$.nodes[0].ssh.user', message: 'required key is missing' });
  });

  it('reports an unknown key and lists the allowed ones @lab', function () {
    const p = only(edit({ 'nodes.1.hostname': 'x' }));
    expect(p.path).to.equal('$.nodes[1].hostname');
    expect(p.message).to.match(/^unknown key \(allowed here: name, role, implementation, transport, ssh, netns, sudo, hca, guid, interface, addresses(, deploy)?\)$/);
  });

  it('reports a value outside an enumeration with the allowed values and the value given @lab', function () {
    const p = only(edit({ 'nodes.1.role': 'target' }));
    expect(p).to.deep.equal({ file: FILE, path: '$.nodes[1].role', message: 'must be one of "dut", "peer", got "target"' });
  });

  it('reports a wrong type @lab', function () {
    const p = only(edit({ 'nodes.0.sudo': 'yes' }));
    expect(p).to.deep.include({ path: '$.nodes[0].sudo', message: 'must be boolean, got "yes"' });
  });

  it('reports numbers out of range @lab', function () {
    const problems = problemsOf(
      edit({ 'nodes.0.ssh.port': 70000, 'nodes.0.ssh.maxChannels': 10 }),
    );
    expect(problems.map((p) => [p.path, p.message])).to.deep.equal([
      ['$.nodes[0].ssh.port', 'must be <= 65535, got 70000'],
      ['$.nodes[0].ssh.maxChannels', 'must be <= 9, got 10'],
    ]);
  });

  it('reports a pattern mismatch in words @lab', function () {
    const p = only(edit({ 'nodes.0.name': 'Dut_1' }));
    expect(p.path).to.equal('$.nodes[0].name');
    expect(p.message).to.equal('must be a lowercase letter, then up to 14 lowercase letters, digits or "-", got "Dut_1"');
  });

  it('refuses knownHosts policy "ignore", saying host keys are always verified @lab', function () {
    const p = only(edit({ 'nodes.0.ssh.knownHosts': { policy: 'ignore' } }));
    expect(p.path).to.equal('$.nodes[0].ssh.knownHosts.policy');
    expect(p.message).to.equal('must be one of "strict", "accept-new", got "ignore": host keys are always verified, so there is no "ignore" or "no"');
  });

  it('reports empty node and partition lists @lab', function () {
    const problems = problemsOf(
      edit({ nodes: [], partitions: [] }),
    );
    expect(problems.map((p) => [p.path, p.message])).to.deep.equal([
      ['$.nodes', 'needs at least 1 entry'],
      ['$.partitions', 'needs at least 1 entry'],
    ]);
  });

  it('refuses a password key anywhere, once, saying why @lab', function () {
    const problems = problemsOf(
      edit({ 'nodes.0.ssh.password': 'hunter2', password: 'x', 'nodes.1.extra': { Passphrase: 'y' } }),
    );
    const byPath = Object.fromEntries(problems.map((p) => [p.path, p.message]));
    expect(byPath['$.nodes[0].ssh.password']).to.equal(PASSWORD_MESSAGE);
    expect(byPath['$.password']).to.equal(PASSWORD_MESSAGE);
    expect(byPath['$.nodes[1].extra.Passphrase']).to.equal(PASSWORD_MESSAGE);
    expect(PASSWORD_MESSAGE).to.match(/never hold passwords/).and.match(/identityFile/);
    expect(problems.filter((p) => p.path === '$.nodes[0].ssh.password'), 'reported once, not also as an unknown key').to.have.length(1);
    expect(byPath['$.nodes[1].extra']).to.match(/^unknown key/);
  });

  it('needs exactly one of identityFile and agent @lab', function () {
    expect(only(edit({ 'nodes.0.ssh.identityFile': undefined }))).to.deep.include({
      path: '$.nodes[0].ssh',
      message: 'give identityFile (a private key file) or agent: true; passwords are never used',
    });
    expect(only(edit({ 'nodes.0.ssh.agent': true }))).to.deep.include({ path: '$.nodes[0].ssh', message: 'give identityFile or agent, not both' });
  });

  it('ties the ssh block and netns to their transport @lab @ssh', function () {
    expect(only(edit({ 'nodes.0.ssh': undefined }))).to.deep.include({ path: '$.nodes[0].ssh', message: 'transport is "ssh" but the ssh block is missing' });
    expect(only(edit({ 'nodes.1.ssh': { host: 'h', user: 'u', agent: true } }))).to.deep.include({
      path: '$.nodes[1].ssh',
      message: 'an ssh block is only allowed with transport "ssh"',
    });
    expect(only(edit({ 'nodes.0.netns': 'ns1' })).path).to.equal('$.nodes[0].netns');
  });

  it('refuses kernel nodes on a simulated lab and missing HCA ports on hardware @lab', function () {
    const p = only(
      edit({ 'fabric.kind': 'sim', 'nodes.0.hca': undefined, 'nodes.1.hca': undefined }),
    );
    expect(p.path).to.equal('$.nodes[0].implementation');
    expect(p.message).to.match(/needs fabric kind "ib", not "sim"/);
    expect(only(edit({ 'nodes.1.hca': undefined }))).to.deep.include({ path: '$.nodes[1].hca', message: 'fabric kind "ib" needs the node\'s HCA port (hca: device, port)' });
  });

  it('reports malformed addresses one by one @lab', function () {
    const problems = problemsOf(edit({ 'nodes.0.addresses': ['192.0.2.1/24', '192.0.2.300/24', '10.0.0.1', '2001:db8::1/129'] }));
    expect(problems.map((p) => [p.path, p.message])).to.deep.equal([
      ['$.nodes[0].addresses[1]', '"192.0.2.300" is not an IPv4 or IPv6 address'],
      ['$.nodes[0].addresses[2]', '"10.0.0.1" is not an address with a prefix length, e.g. "192.0.2.1/24"'],
      ['$.nodes[0].addresses[3]', 'prefix length /129 exceeds 128 for an IPv6 address'],
    ]);
  });

  it('reports duplicate names, a lab without a device under test and duplicate partitions @lab', function () {
    const problems = problemsOf(
      edit({
        'nodes.1.name': 'dut',
        'nodes.0.role': 'peer',
        partitions: [
          { name: 'default', pkey: '0xffff' },
          { name: 'limited', pkey: '0x7fff' },
          { name: 'default', pkey: '0x8000' },
        ],
      }),
    );
    expect(problems.map((p) => [p.path, p.message])).to.deep.equal([
      ['$.nodes[1].name', 'duplicate node name "dut" (first at $.nodes[0].name)'],
      ['$.nodes', 'no node has role "dut": a lab needs a device under test'],
      ['$.partitions[2].name', 'duplicate partition name "default" (first at $.partitions[0].name)'],
      ['$.partitions[1].pkey', 'duplicate partition (P_Key base) "0x7fff" (first at $.partitions[0].pkey)'],
      ['$.partitions[2].pkey', '0x8000 is the invalid P_Key and names no partition'],
    ]);
  });

  it('takes a port guid on sim labs only, in 0x and 16 hex digits, non-zero and unique @lab', function () {
    const sim = (changes: Record<string, unknown>): Record<string, unknown> =>
      edit({ 'fabric.kind': 'sim', 'nodes.0.implementation': 'reference', 'nodes.0.transport': 'local', 'nodes.0.ssh': undefined, 'nodes.0.hca': undefined, 'nodes.1.hca': undefined, ...changes });
    const lab = parseLabFile(JSON.stringify(sim({ 'nodes.0.guid': '0x0202C90300000101' })), FILE, '/home/tester');
    expect(lab.nodes[0]?.guid).to.equal('0x0202C90300000101');
    expect(lab.nodes[1]?.guid, 'no default: the fabric picks by order').to.equal(undefined);
    expect(only(sim({ 'nodes.0.guid': '0x0202c903' }))).to.deep.equal({ file: FILE, path: '$.nodes[0].guid', message: 'must be "0x" and 16 hex digits, e.g. "0x0202c90300000101", got "0x0202c903"' });
    expect(only(sim({ 'nodes.0.guid': '0x0000000000000000' }))).to.deep.include({ path: '$.nodes[0].guid', message: 'a port GUID of zero is not a GUID' });
    expect(only(sim({ 'nodes.0.guid': '0x0202c90300000101', 'nodes.1.guid': '0x0202C90300000101' }))).to.deep.include({
      path: '$.nodes[1].guid',
      message: 'duplicate port GUID "0x0202C90300000101" (first at $.nodes[0].guid)',
    });
    expect(only(edit({ 'nodes.0.guid': '0x0202c90300000101' }))).to.deep.include({
      path: '$.nodes[0].guid',
      message: 'guid sets a simulated port\'s GUID; on fabric kind "ib" the HCA has its own',
    });
  });

  it('ties capture methods to the kind of lab @lab', function () {
    expect(only(edit({ capture: { method: 'fabric-tap' } }))).to.deep.include({ path: '$.capture.method' });
    const sim = edit({ 'fabric.kind': 'sim', 'nodes.0.implementation': 'reference', capture: { method: 'ibdump' } });
    expect(only(sim).message).to.equal('ibdump needs a real HCA; use fabric-tap on the sim fabric');
  });

  it('reports every problem of a file at once @lab', function () {
    const problems = problemsOf(
      edit({ name: '', 'nodes.0.ssh.port': 0, 'nodes.1.interface': 'a-name-longer-than-15', 'partitions.0.pkey': 'ffff', capture: { method: 'wireshark' } }),
    );
    expect(problems.map((p) => p.path)).to.have.members(['$.name', '$.nodes[0].ssh.port', '$.nodes[1].interface', '$.partitions[0].pkey', '$.capture.method']);
  });

  it('reports an unreadable file as a problem of that file @lab', async function () {
    const err = await loadLabFile('/nonexistent/lab.json').catch((e: unknown) => e);
    expect(err).to.be.instanceOf(LabFileError);
    expect((err as LabFileError).problems).to.deep.equal([{ file: '/nonexistent/lab.json', path: '$', message: 'cannot read the file (ENOENT)' }]);
    expect((err as LabFileError).message).to.equal('/nonexistent/lab.json: 1 problem:\n  $: cannot read the file (ENOENT)');
  });
});

describe('lab files: the shipped labs and the schema @lab', function () {
  it('loads lab/sim.json as two reference nodes on the local transport @lab', async function () {
    const lab = await loadLabFile(DEFAULT_LAB_FILE);
    expect(lab.fabric.kind).to.equal('sim');
    expect(lab.nodes.map((n) => [n.name, n.role, n.implementation, n.transport])).to.deep.equal([
      ['dut', 'dut', 'reference', 'local'],
      ['peer', 'peer', 'reference', 'local'],
    ]);
    expect(lab.fabric.partitionsFile).to.equal(path.resolve('lab/partitions/sim-lab.conf'));
    // The lab file's partition list and its partitions file agree (the suites gate on both).
    const conf = await loadPartitionsConf(lab.fabric.partitionsFile!);
    const fromConf = conf.partitions.map((p) => formatPkey(p.pkey | 0x8000));
    expect(lab.partitions.map((p) => p.pkey)).to.deep.equal(fromConf);
  });

  it('loads lab/examples/hca-rack.json, and its README explains each of its keys @lab', async function () {
    const lab = await loadLabFile(path.resolve('lab/examples/hca-rack.json'));
    expect(lab.fabric.kind).to.equal('ib');
    expect(lab.nodes.map((n) => n.transport)).to.deep.equal(['ssh', 'ssh']);
    expect(lab.nodes[0]?.ssh?.knownHosts.file).to.equal(path.resolve('lab/examples/known_hosts'));
    const readme = readFileSync('lab/examples/README.md', 'utf8');
    const keys = new Set<string>();
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) (keys.add(k), walk(x));
    };
    walk(JSON.parse(readFileSync('lab/examples/hca-rack.json', 'utf8')));
    const missing = [...keys].filter((k) => !readme.includes(`\`${k}\``));
    expect(missing, 'keys of hca-rack.json the README does not explain').to.deep.equal([]);
  });

  it('publishes exactly the schema the validator uses (regenerate: npx tsx src/lab/publish-schema.ts) @lab', function () {
    expect(readFileSync(PUBLISHED_SCHEMA_FILE, 'utf8')).to.equal(labSchemaText());
  });

  it('documents every key of the schema, and the schema has every documented key @lab', function () {
    const schemaKeys: string[] = [];
    const walk = (s: unknown, prefix: string): void => {
      const o = s as { properties?: Record<string, unknown>; items?: unknown };
      if (o.items) walk(o.items, `${prefix.slice(0, -1)}[].`);
      for (const [k, sub] of Object.entries(o.properties ?? {})) {
        schemaKeys.push(`${prefix}${k}`);
        expect((sub as { description?: string }).description, `${prefix}${k} has a description`).to.be.a('string').that.is.not.empty;
        walk(sub, `${prefix}${k}.`);
      }
    };
    walk(LAB_SCHEMA, '');
    const documented = LAB_FILE_DOC_TABLES.flatMap(({ prefix, docs }) => Object.keys(docs).map((k) => `${prefix}${k}`));
    expect([...schemaKeys].sort()).to.deep.equal([...documented].sort());
    const lines = describeLabFile().split('\n');
    for (const key of documented) expect(lines.some((l) => l.startsWith(`${key}: `)), `describeLabFile() prints ${key}`).to.equal(true);
  });
});

describe('lab files: choosing the lab @lab', function () {
  it('takes --lab over $IPOIB_LAB_FILE over lab/sim.json, relative to the working directory @lab', function () {
    expect(resolveLabFile({ lab: 'x.json' }, { IPOIB_LAB_FILE: '/e.json' }, '/work')).to.deep.equal({ file: '/work/x.json', source: 'option' });
    expect(resolveLabFile({}, { IPOIB_LAB_FILE: 'e.json' }, '/work')).to.deep.equal({ file: '/work/e.json', source: 'env' });
    expect(resolveLabFile({ lab: undefined }, {}, '/work')).to.deep.equal({ file: DEFAULT_LAB_FILE, source: 'default' });
    expect(DEFAULT_LAB_FILE).to.equal(path.resolve('lab/sim.json'));
  });

  it('resolves ~ and relative key and known_hosts paths against home and the lab file folder @lab', function () {
    const dir = mkdtempSync(path.join(tmpdir(), 'ipoib-lab-labfile-'));
    try {
      const lab = edit({ 'nodes.0.ssh.identityFile': '~/.ssh/k', 'nodes.0.ssh.knownHosts': { file: 'pins/known_hosts', policy: 'accept-new' } });
      writeFileSync(path.join(dir, 'lab.json'), JSON.stringify(lab));
      const parsed = parseLabFile(readFileSync(path.join(dir, 'lab.json'), 'utf8'), path.join(dir, 'lab.json'), '/home/t');
      expect(parsed.nodes[0]?.ssh?.identityFile).to.equal('/home/t/.ssh/k');
      expect(parsed.nodes[0]?.ssh?.knownHosts).to.deep.equal({ file: path.join(dir, 'pins/known_hosts'), policy: 'accept-new' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
