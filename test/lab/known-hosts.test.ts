/**
 * known_hosts as OpenSSH reads it. The keys, fingerprints and the hashed line below were made
 * with OpenSSH 9.2's ssh-keygen (`ssh-keygen -t ed25519`, `ssh-keygen -l -E sha256 -f`,
 * `ssh-keygen -H -f` on the line `[node1.lab.example]:2222 ssh-ed25519 <KEY_A>`), so they
 * check our reading against OpenSSH's writing.
 */
import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { HostKeyMismatchError, TransportError, UnknownHostKeyError } from '../../src/errors.js';
import {
  fingerprint,
  hostFieldMatches,
  hostKeyCheck,
  keyTypeOf,
  knownHostsName,
  parseKnownHosts,
} from '../../src/lab/transports/known-hosts.js';

const KEY_A = 'AAAAC3NzaC1lZDI1NTE5AAAAIDXzVMwB9ExKN7fTkxCbBrGFcxcEbtvcopOg7aiCsY+c';
const KEY_A_FP = 'SHA256:p38eai5/GcVPK1yDJ6EfBbSCCaY3S9bvVbNqhDSoUWQ';
const KEY_B = 'AAAAC3NzaC1lZDI1NTE5AAAAIK0F6or0lZRdQnZKk3MKzq3tr4Zw6YAcvnjMtyfneery';
const KEY_B_FP = 'SHA256:cVzd0qZX+YqFdRrTLTn7BNIV9YETrtCtv8zRUa3ygDk';
const HASHED_A = `|1|fOpMT2/SidZgMvmIhoU6JGm0h/U=|o8tckqg0Yl1/VPWbrpZXNX/qLwg= ssh-ed25519 ${KEY_A}`;
const blob = (b64: string) => Buffer.from(b64, 'base64');

describe('known_hosts reading @lab @ssh', function () {
  it('computes the fingerprints ssh-keygen prints and reads the key type from the blob @lab @ssh', function () {
    expect(fingerprint(blob(KEY_A))).to.equal(KEY_A_FP);
    expect(fingerprint(blob(KEY_B))).to.equal(KEY_B_FP);
    expect(keyTypeOf(blob(KEY_A))).to.equal('ssh-ed25519');
    expect(keyTypeOf(Buffer.from([0, 0, 0, 9, 0x61]))).to.equal('unknown');
  });

  it('parses plain, hashed and marked lines and skips comments and malformed lines @lab @ssh', function () {
    const entries = parseKnownHosts(
      [
        '# a comment',
        '',
        `node1,192.0.2.1 ssh-ed25519 ${KEY_A} comment words`,
        HASHED_A,
        `@revoked * ssh-ed25519 ${KEY_B}`,
        `@cert-authority *.lab.example ssh-ed25519 ${KEY_B}`,
        'garbage-without-key',
        'host ssh-ed25519 not*base64',
      ].join('\n'),
    );
    expect(entries.map((e) => [e.marker, e.hosts, e.keyType, e.line])).to.deep.equal([
      [null, 'node1,192.0.2.1', 'ssh-ed25519', 3],
      [null, HASHED_A.split(' ')[0], 'ssh-ed25519', 4],
      ['@revoked', '*', 'ssh-ed25519', 5],
      ['@cert-authority', '*.lab.example', 'ssh-ed25519', 6],
    ]);
    expect(entries[0]?.key.equals(blob(KEY_A))).to.equal(true);
  });

  it('matches names, wildcards, negations, bracketed ports and hashed names as OpenSSH does @lab @ssh', function () {
    expect(knownHostsName('node1', 22)).to.equal('node1');
    expect(knownHostsName('node1', 2222)).to.equal('[node1]:2222');
    expect(hostFieldMatches('node1,node2', 'node2')).to.equal(true);
    expect(hostFieldMatches('NODE1', 'node1'), 'case-insensitive').to.equal(true);
    expect(hostFieldMatches('node?.lab.example', 'node7.lab.example')).to.equal(true);
    expect(hostFieldMatches('*.lab.example,!bad.lab.example', 'bad.lab.example'), 'negation wins').to.equal(false);
    expect(hostFieldMatches('*.lab.example', 'lab.example')).to.equal(false);
    expect(hostFieldMatches('node1', '[node1]:2222'), 'a port other than 22 needs the bracket form').to.equal(false);
    expect(hostFieldMatches('[node1]:2222', '[node1]:2222')).to.equal(true);
    expect(hostFieldMatches('node.1', 'nodex1'), 'a dot is literal').to.equal(false);
    const hashed = HASHED_A.split(' ')[0] as string;
    expect(hostFieldMatches(hashed, '[node1.lab.example]:2222'), 'hashed by ssh-keygen -H').to.equal(true);
    expect(hostFieldMatches(hashed, 'node1.lab.example')).to.equal(false);
    expect(hostFieldMatches('|1|bad', 'x')).to.equal(false);
  });
});

describe('host key checking @lab @ssh', function () {
  let dir: string;
  let file: string;
  beforeEach(function () {
    dir = mkdtempSync(path.join(tmpdir(), 'ipoib-lab-kh-'));
    file = path.join(dir, 'known_hosts');
  });
  afterEach(function () {
    rmSync(dir, { recursive: true, force: true });
  });
  const check = (policy: 'strict' | 'accept-new', port = 2222, host = 'node1.lab.example') => hostKeyCheck({ label: 'dut', host, port, file, policy });

  it('accepts the listed key, from a plain or a hashed line @lab @ssh', function () {
    writeFileSync(file, `[node1.lab.example]:2222 ssh-ed25519 ${KEY_A}\n`);
    expect(check('strict').verify(blob(KEY_A))).to.equal(true);
    writeFileSync(file, `${HASHED_A}\n`);
    const c = check('strict');
    expect(c.verify(blob(KEY_A))).to.equal(true);
    expect(c.failure).to.equal(null);
  });

  it('refuses a different key with both fingerprints, even under accept-new, and writes nothing @lab @ssh', function () {
    writeFileSync(file, `${HASHED_A}\n`);
    const c = check('accept-new');
    expect(c.verify(blob(KEY_B))).to.equal(false);
    expect(c.failure).to.be.instanceOf(HostKeyMismatchError);
    const e = c.failure as HostKeyMismatchError;
    expect(e.expected).to.deep.equal([KEY_A_FP]);
    expect(e.presented).to.equal(KEY_B_FP);
    expect(e.host).to.equal('dut ([node1.lab.example]:2222)');
    expect(e.message).to.include(KEY_A_FP).and.include(KEY_B_FP).and.include(file);
    expect(readFileSync(file, 'utf8')).to.equal(`${HASHED_A}\n`);
  });

  it('refuses an unlisted host under strict, also when the file does not exist @lab @ssh', function () {
    writeFileSync(file, `other ssh-ed25519 ${KEY_A}\n`);
    const c = check('strict');
    expect(c.verify(blob(KEY_A))).to.equal(false);
    expect(c.failure).to.be.instanceOf(UnknownHostKeyError);
    expect((c.failure as UnknownHostKeyError).presented).to.equal(KEY_A_FP);
    rmSync(file);
    const d = check('strict');
    expect(d.verify(blob(KEY_A))).to.equal(false);
    expect(d.failure).to.be.instanceOf(UnknownHostKeyError);
  });

  it('appends an unlisted host under accept-new to a new owner-only file @lab @ssh', function () {
    const nested = path.join(dir, 'pins', 'known_hosts');
    const c = hostKeyCheck({ label: 'dut', host: 'node1.lab.example', port: 22, file: nested, policy: 'accept-new' });
    expect(c.verify(blob(KEY_B))).to.equal(true);
    expect(c.added).to.equal(`node1.lab.example ssh-ed25519 ${KEY_B}`);
    expect(readFileSync(nested, 'utf8')).to.equal(`node1.lab.example ssh-ed25519 ${KEY_B}\n`);
    expect(statSync(nested).mode & 0o777).to.equal(0o600);
    expect(statSync(path.dirname(nested)).mode & 0o777).to.equal(0o700);
    const again = hostKeyCheck({ label: 'dut', host: 'node1.lab.example', port: 22, file: nested, policy: 'strict' });
    expect(again.verify(blob(KEY_B)), 'the appended line is then trusted').to.equal(true);
  });

  it('refuses a key marked as revoked @lab @ssh', function () {
    writeFileSync(file, `[node1.lab.example]:2222 ssh-ed25519 ${KEY_A}\n@revoked * ssh-ed25519 ${KEY_A}\n`);
    const c = check('strict');
    expect(c.verify(blob(KEY_A))).to.equal(false);
    expect(c.failure).to.be.instanceOf(TransportError);
    expect(c.failure?.message).to.match(/marked @revoked/);
  });

  it('offers the listed key types first in the key exchange @lab @ssh', function () {
    writeFileSync(file, `[node1.lab.example]:2222 ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQC7\n`);
    const algorithms = check('strict').algorithms;
    expect(algorithms.slice(0, 2)).to.deep.equal(['rsa-sha2-512', 'rsa-sha2-256']);
    expect(algorithms).to.include('ssh-ed25519');
    expect(algorithms).to.not.include('ssh-rsa');
  });
});
