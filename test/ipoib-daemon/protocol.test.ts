/**
 * The control socket validates every request: bad JSON, unknown commands, bad arguments and
 * over-long lines get EPROTO answers (with the request's id when it had one), failing commands
 * get their errno, and the daemon keeps serving the same connection afterwards.
 */
import { expect } from 'chai';
import { statSync } from 'node:fs';
import { DaemonClient, DaemonRequestError } from '../../src/ipoib/daemon/client.js';
import { MAX_LINE_BYTES } from '../../src/fabric/sim/control-protocol.js';
import { DaemonLab } from './daemon-fixture.js';

interface ErrorAnswer {
  id: number | null;
  ok: false;
  error: { code: string; op: string; message: string };
}

describe('ipoibd control protocol @ipoib-stack @cli', function () {
  this.timeout(30_000);
  let lab: DaemonLab;
  let client: DaemonClient;

  before(async function () {
    lab = await DaemonLab.start();
    await lab.daemon('node1');
  });
  after(async function () {
    await lab?.close();
  });
  beforeEach(async function () {
    client = await DaemonClient.connect(lab.socketOf('node1'));
  });
  afterEach(function () {
    client.close();
  });

  it('makes its socket owner-only (mode 0600) @ipoib-stack @cli', function () {
    const st = statSync(lab.socketOf('node1'));
    expect(st.isSocket()).to.equal(true);
    expect(st.mode & 0o777).to.equal(0o600);
  });

  it('answers a line that is not JSON with EPROTO and keeps serving @ipoib-stack @cli', async function () {
    const a = (await client.sendRaw('{"id": 1, "cmd": ')) as ErrorAnswer;
    expect(a.ok).to.equal(false);
    expect(a.id).to.equal(null);
    expect(a.error.code).to.equal('EPROTO');
    expect(a.error.message).to.match(/not JSON/);
    const hello = (await client.sendRaw('{"id": 2, "cmd": "hello"}')) as { id: number; ok: boolean; result: { node: string } };
    expect(hello).to.deep.include({ id: 2, ok: true });
    expect(hello.result.node).to.equal('node1');
  });

  it('answers an unknown command with EPROTO carrying the id @ipoib-stack @cli', async function () {
    const a = (await client.sendRaw(JSON.stringify({ id: 7, cmd: 'reboot' }))) as ErrorAnswer;
    expect(a).to.deep.include({ id: 7, ok: false });
    expect(a.error.code).to.equal('EPROTO');
    expect(a.error.message).to.match(/cmd/);
  });

  const badArguments: Array<[string, unknown]> = [
    ['an interface name longer than 15 characters', { id: 3, cmd: 'show', ifname: 'a-very-long-ifname0' }],
    ['an MTU given as text @mtu', { id: 3, cmd: 'mtu', ifname: 'ib0', value: '1500' }],
    ['a negative MTU @mtu', { id: 3, cmd: 'mtu', ifname: 'ib0', value: -1 }],
    ['a missing interface', { id: 3, cmd: 'stats' }],
    ['an unexpected extra field', { id: 3, cmd: 'stats', ifname: 'ib0', force: true }],
    ['a link add without its parent link', { id: 3, cmd: 'link_add', name: 'x' }],
    ['a P_Key above 16 bits in link add', { id: 3, cmd: 'link_add', link: 'ib0', pkey: 0x10000 }],
    ['an id that is not a number', { id: 'x', cmd: 'hello' }],
    ['a JSON value that is not an object', [1, 2, 3]],
  ];
  for (const [what, msg] of badArguments) {
    it(`refuses ${what} with EPROTO @ipoib-stack @cli`, async function () {
      const a = (await client.sendRaw(JSON.stringify(msg))) as ErrorAnswer;
      expect(a.ok).to.equal(false);
      expect(a.error.code).to.equal('EPROTO');
      // The daemon still answers good requests on the same connection.
      const show = await client.request<{ interfaces: Array<{ name: string }> }>({ cmd: 'show' });
      expect(show.interfaces.map((i) => i.name)).to.deep.equal(['ib0']);
    });
  }

  it('refuses an over-long line and keeps serving @ipoib-stack @cli', async function () {
    const a = (await client.sendRaw('x'.repeat(MAX_LINE_BYTES + 10), false)) as ErrorAnswer;
    expect(a.error.code).to.equal('EPROTO');
    expect(a.error.message).to.match(/longer than/);
    const again = await DaemonClient.connect(lab.socketOf('node1'));
    try {
      expect((await again.request<{ node: string }>({ cmd: 'hello' })).node).to.equal('node1');
    } finally {
      again.close();
    }
  });

  it('answers a failing command with its errno name @ipoib-stack @cli', async function () {
    const e = await client.request({ cmd: 'show', ifname: 'ib7' }).then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(e).to.be.instanceOf(DaemonRequestError);
    expect((e as DaemonRequestError).body).to.deep.include({ code: 'ENODEV', op: 'ib7.show' });
  });
});
