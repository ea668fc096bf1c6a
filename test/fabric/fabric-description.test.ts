import { expect } from 'chai';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import {
  DEFAULT_GID_PREFIX,
  DEFAULT_LINK_MTU_CODE,
  defaultFabric,
  FabricDescriptionError,
  fabricDescriptionProblems,
  fabricPkeyTables,
  makeFabricDescription,
  MAX_DEFAULT_FABRIC_NODES,
  pkeyTableFor,
} from '../../src/fabric/sim/fabric-description.js';
import { loadPartitionsConf, parsePartitionsConf } from '../../src/fabric/sim/partitions-conf.js';
import { linkLocalFromGuid } from '../../src/wire/ipv6-iid.js';

const LAB = fileURLToPath(new URL('../../lab/partitions/', import.meta.url));

/** A valid two-node input that each test spoils in one place. */
function twoNodes(): { nodes: Array<Record<string, unknown>>; smPortGuid?: unknown } {
  return {
    nodes: [
      { name: 'host-a', nodeGuid: 0x0002c90300000100n, ports: [{ guid: 0x0002c90300000101n }] },
      { name: 'host-b', nodeGuid: '0x0002c90300000200', ports: [{ guid: '0x0002c90300000201', gidPrefix: 'fec0::/64', linkMtuCode: 4 }] },
    ],
  };
}

/** `input` must be rejected with exactly one problem, at `path`, matching `message`. */
function expectProblem(input: unknown, path: string, message: RegExp): void {
  const problems = fabricDescriptionProblems(input);
  expect(problems.map((p) => p.path), JSON.stringify(problems)).to.deep.equal([path]);
  expect(problems[0]?.message).to.match(message);
  let caught: unknown;
  try {
    makeFabricDescription(input);
  } catch (e) {
    caught = e;
  }
  expect(caught).to.be.instanceOf(FabricDescriptionError);
  expect((caught as FabricDescriptionError).path).to.equal(path);
  expect((caught as FabricDescriptionError).message).to.match(new RegExp(`^${path.replace(/[$[\].]/g, '\\$&')}: `));
}

describe('fabric description: validation @pkey @fabric', function () {
  it('fills in the defaults: type ca, GID prefix fe80::/64, link MTU code 5 @pkey @fabric @mtu', function () {
    expect(DEFAULT_GID_PREFIX).to.equal(0xfe80000000000000n);
    expect(DEFAULT_LINK_MTU_CODE).to.equal(5);
    expect(makeFabricDescription(twoNodes())).to.deep.equal({
      nodes: [
        { name: 'host-a', type: 'ca', nodeGuid: 0x0002c90300000100n, ports: [{ guid: 0x0002c90300000101n, gidPrefix: 0xfe80000000000000n, linkMtuCode: 5 }] },
        { name: 'host-b', type: 'ca', nodeGuid: 0x0002c90300000200n, ports: [{ guid: 0x0002c90300000201n, gidPrefix: 0xfec0000000000000n, linkMtuCode: 4 }] },
      ],
    });
  });

  it('takes a switch whose port 0 shares its node GUID, and an SM port @pkey @fabric', function () {
    const input = twoNodes();
    input.nodes.push({ name: 'sw1', type: 'switch', nodeGuid: 0x0002c90300000300n, ports: [{ guid: 0x0002c90300000300n, gidPrefix: 0xfe80000000000000n }] });
    input.smPortGuid = 0x0002c90300000101n;
    const d = makeFabricDescription(input);
    expect(d.nodes[2]?.type).to.equal('switch');
    expect(d.nodes[2]?.ports[0]?.guid).to.equal(0x0002c90300000300n);
    expect(d.smPortGuid).to.equal(0x0002c90300000101n);
  });

  it('refuses node names that cannot be network namespace names @pkey @fabric', function () {
    for (const name of ['Host', '1host', 'host_a', '', 'a'.repeat(16), 'host.a']) {
      const input = twoNodes();
      input.nodes[1] = { ...input.nodes[1], name };
      expectProblem(input, '$.nodes[1].name', /^expected a name matching \^\[a-z\]\[a-z0-9-\]\{0,14\}\$ .*found '/);
    }
    const ok = twoNodes();
    ok.nodes[1] = { ...ok.nodes[1], name: 'a'.repeat(15) };
    expect(fabricDescriptionProblems(ok)).to.deep.equal([]);
  });

  it('refuses duplicate node names and duplicate node GUIDs @pkey @fabric', function () {
    const names = twoNodes();
    names.nodes[1] = { ...names.nodes[1], name: 'host-a' };
    expectProblem(names, '$.nodes[1].name', /^'host-a' is already the name of \$\.nodes\[0\]$/);
    const guids = twoNodes();
    guids.nodes[1] = { ...guids.nodes[1], nodeGuid: 0x0002c90300000100n };
    expectProblem(guids, '$.nodes[1].nodeGuid', /^0x0002c90300000100 is already the node GUID of \$\.nodes\[0\]$/);
  });

  it('refuses a port GUID used twice, or equal to another node\'s GUID @pkey @fabric', function () {
    const twice = twoNodes();
    twice.nodes[1] = { ...twice.nodes[1], ports: [{ guid: 0x0002c90300000101n }] };
    expectProblem(twice, '$.nodes[1].ports[0].guid', /^0x0002c90300000101 is already the GUID of \$\.nodes\[0\]\.ports\[0\]$/);
    const clash = twoNodes();
    clash.nodes[1] = { ...clash.nodes[1], ports: [{ guid: 0x0002c90300000100n }] };
    expectProblem(clash, '$.nodes[1].ports[0].guid', /^0x0002c90300000100 is the node GUID of \$\.nodes\[0\]$/);
  });

  it('refuses GUIDs that are 0, over 64 bits, numbers or malformed text @pkey @fabric', function () {
    const cases: Array<[unknown, RegExp]> = [
      [0n, /^GUID 0x0 is not in 1\.\.0xffffffffffffffff$/],
      [2n ** 64n, /^GUID 0x10000000000000000 is not in 1\.\.0xffffffffffffffff$/],
      [1234, /^expected a GUID as bigint or 0x hex text .*found 1234$/],
      ['0002:c903:0000:0101', /found '0002:c903:0000:0101'$/],
      ['0x00000000000000001', /found '0x00000000000000001'$/],
    ];
    for (const [guid, message] of cases) {
      const input = twoNodes();
      input.nodes[0] = { ...input.nodes[0], ports: [{ guid }] };
      expectProblem(input, '$.nodes[0].ports[0].guid', message);
    }
  });

  it('refuses link MTU codes outside 1..5 @pkey @fabric @mtu', function () {
    for (const linkMtuCode of [0, 6, 4.5, '5']) {
      const input = twoNodes();
      input.nodes[0] = { ...input.nodes[0], ports: [{ guid: 0x10n, linkMtuCode }] };
      expectProblem(input, '$.nodes[0].ports[0].linkMtuCode', /^expected an IB MTU code 1\.\.5 \(256\.\.4096 bytes\), found /);
    }
  });

  it('refuses GID prefixes that are not a /64 prefix @pkey @fabric', function () {
    const cases: Array<[unknown, RegExp]> = [
      ['fe80::1', /has bits set in its lower 64 bits/],
      ['fe80::/48', /^expected a \/64 GID prefix .*found 'fe80::\/48'$/],
      ['fe80::/64/64', /^expected a \/64 GID prefix/],
      ['not-a-gid', /^expected a \/64 GID prefix/],
      [2n ** 64n, /^GID prefix 0x10000000000000000 does not fit 64 bits$/],
      [-1n, /does not fit 64 bits$/],
      [42, /^expected a GID prefix as bigint or IPv6 text, found 42$/],
    ];
    for (const [gidPrefix, message] of cases) {
      const input = twoNodes();
      input.nodes[0] = { ...input.nodes[0], ports: [{ guid: 0x10n, gidPrefix }] };
      expectProblem(input, '$.nodes[0].ports[0].gidPrefix', message);
    }
  });

  it('refuses a wrong shape: not an object, no nodes, no ports, unknown keys, bad type @pkey @fabric', function () {
    expectProblem(null, '$', /^expected a fabric description object, found null$/);
    expectProblem([], '$', /^expected a fabric description object/);
    expectProblem({ nodes: [] }, '$.nodes', /^expected a non-empty array of nodes, found \[\]$/);
    expectProblem({}, '$.nodes', /found nothing$/);
    const noPorts = twoNodes();
    noPorts.nodes[1] = { ...noPorts.nodes[1], ports: [] };
    expectProblem(noPorts, '$.nodes[1].ports', /^expected a non-empty array of ports/);
    const typo = twoNodes();
    typo.nodes[0] = { ...typo.nodes[0], prots: [] };
    expectProblem(typo, '$.nodes[0].prots', /^unknown key \(expected name, type, nodeGuid, ports\)$/);
    const portTypo = twoNodes();
    portTypo.nodes[0] = { ...portTypo.nodes[0], ports: [{ guid: 0x10n, mtu: 5 }] };
    expectProblem(portTypo, '$.nodes[0].ports[0].mtu', /^unknown key/);
    expectProblem({ ...twoNodes(), extra: 1 }, '$.extra', /^unknown key \(expected nodes, smPortGuid\)$/);
    const type = twoNodes();
    type.nodes[0] = { ...type.nodes[0], type: 'router' };
    expectProblem(type, '$.nodes[0].type', /^expected 'ca' or 'switch', found 'router'$/);
    const notNode = twoNodes();
    notNode.nodes[1] = 'host-b' as unknown as Record<string, unknown>;
    expectProblem(notNode, '$.nodes[1]', /^expected a node object, found 'host-b'$/);
    const notPort = twoNodes();
    notPort.nodes[1] = { ...notPort.nodes[1], ports: [7] };
    expectProblem(notPort, '$.nodes[1].ports[0]', /^expected a port object, found 7$/);
  });

  it('refuses an SM port GUID that no port has @pkey @fabric', function () {
    expectProblem({ ...twoNodes(), smPortGuid: 0x0002c90300000100n }, '$.smPortGuid', /^0x0002c90300000100 is not the GUID of any port of the fabric$/);
    expectProblem({ ...twoNodes(), smPortGuid: 'self' }, '$.smPortGuid', /^expected a GUID/);
  });

  it('reports every problem at once, each with its path @pkey @fabric', function () {
    const input = twoNodes();
    input.nodes[0] = { ...input.nodes[0], name: 'A', ports: [{ guid: 0n, linkMtuCode: 9 }] };
    const problems = fabricDescriptionProblems(input).map((p) => p.path);
    expect(problems).to.deep.equal(['$.nodes[0].name', '$.nodes[0].ports[0].guid', '$.nodes[0].ports[0].linkMtuCode']);
    expect(() => makeFabricDescription(input)).to.throw(FabricDescriptionError).with.property('problems').with.length(3);
  });
});

describe('fabric description: defaultFabric @pkey @fabric', function () {
  it('builds node1..nodeN with the documented GUIDs, deterministically @pkey @fabric', function () {
    const f = defaultFabric(3);
    expect(f).to.deep.equal(defaultFabric(3));
    expect(f.nodes.map((n) => [n.name, n.type, n.nodeGuid, n.ports.map((p) => p.guid)])).to.deep.equal([
      ['node1', 'ca', 0x0002c90300000100n, [0x0002c90300000101n]],
      ['node2', 'ca', 0x0002c90300000200n, [0x0002c90300000201n]],
      ['node3', 'ca', 0x0002c90300000300n, [0x0002c90300000301n]],
    ]);
    expect(f.nodes[0]?.ports[0]).to.deep.equal({ guid: 0x0002c90300000101n, gidPrefix: 0xfe80000000000000n, linkMtuCode: 5 });
    expect(f.smPortGuid).to.equal(undefined);
  });

  it('is valid at its largest size @pkey @fabric', function () {
    const f = defaultFabric(MAX_DEFAULT_FABRIC_NODES);
    expect(f.nodes).to.have.length(MAX_DEFAULT_FABRIC_NODES);
    expect(fabricDescriptionProblems(f)).to.deep.equal([]);
    expect(f.nodes.at(-1)?.name).to.equal('node1024');
    expect(f.nodes.at(-1)?.ports[0]?.guid).to.equal(0x0002c90300040001n);
  });

  it('refuses node counts outside 1..1024 @pkey @fabric', function () {
    for (const n of [0, -1, 1.5, MAX_DEFAULT_FABRIC_NODES + 1, Number.NaN]) {
      expect(() => defaultFabric(n), String(n)).to.throw(FabricDescriptionError).with.property('path', 'nodeCount');
    }
  });

  it('has universally administered GUIDs whose IPv6 interface ID shows the 0x02 bit @pkey @fabric @ipv6', function () {
    const guid = defaultFabric(1).nodes[0]?.ports[0]?.guid ?? 0n;
    const octets = Buffer.alloc(8);
    octets.writeBigUInt64BE(guid);
    expect(octets[0]! & 0x02).to.equal(0);
    expect(linkLocalFromGuid(octets, 'rfc').text).to.equal('fe80::202:c903:0:101');
    expect(linkLocalFromGuid(octets, 'linux').text).to.equal('fe80::202:c903:0:101');
  });
});

describe('fabric description: P_Key tables @pkey @fabric', function () {
  const A = 0x0002c90300000101n;
  const B = 0x0002c90300000201n;
  const hex = (t: number[]): string[] => t.map((p) => `0x${p.toString(16).padStart(4, '0')}`);

  it('puts 0xffff at index 0 for a full member of Default, 0x7fff for a limited one @pkey @fabric', function () {
    const conf = parsePartitionsConf(`Default=0x7fff : ALL=full, ${B}=limited ;`);
    expect(hex(pkeyTableFor({ guid: A }, conf))).to.deep.equal(['0xffff']);
    expect(hex(pkeyTableFor({ guid: B }, conf))).to.deep.equal(['0x7fff']);
  });

  it('makes every port a limited member of Default, and the SM port a full one, without a Default entry @pkey @fabric', function () {
    const conf = parsePartitionsConf('lab=0x8001 : ALL=full ;');
    expect(hex(pkeyTableFor({ guid: A }, conf))).to.deep.equal(['0x7fff', '0x8001']);
    expect(hex(pkeyTableFor({ guid: A }, conf, { smPortGuid: A }))).to.deep.equal(['0xffff', '0x8001']);
    expect(hex(pkeyTableFor({ guid: A }, { partitions: [] }))).to.deep.equal(['0x7fff']);
  });

  it('gives a limited member the base and a full member base|0x8000, whatever bit the file wrote @pkey @fabric', function () {
    const conf = parsePartitionsConf(`Default : ALL=full ;\nx=0x0003 : ${A}=full, ${B}=limited ;\ny=0x8004 : ${A}=limited ;`);
    expect(hex(pkeyTableFor({ guid: A }, conf))).to.deep.equal(['0xffff', '0x8003', '0x0004']);
    expect(hex(pkeyTableFor({ guid: B }, conf))).to.deep.equal(['0xffff', '0x0003']);
  });

  it('leaves out the P_Key of a partition the port is not a member of @pkey @fabric', function () {
    const conf = parsePartitionsConf(`Default : ALL=full ;\nx=0x8002 : ${B}=full ;\nempty=0x8003 : ;`);
    expect(hex(pkeyTableFor({ guid: A }, conf))).to.deep.equal(['0xffff']);
    expect(hex(pkeyTableFor({ guid: 0x99n }, conf))).to.deep.equal(['0xffff']);
  });

  it("orders partitions as OpenSM does (low octet first), not in file order @pkey @fabric", function () {
    // Observed with OpenSM 3.3.23 on ibsim for exactly this file.
    const conf = parsePartitionsConf(
      'Default=0x7fff : ALL=full ;\na=0x8002 : ALL=full ;\nb=0x8201 : ALL=full ;\nc=0x8100 : ALL=full ;\n' +
        'd=0x0003 : ALL=full ;\ne=0x7ffe : ALL=full ;\nf=0x1001 : ALL=full ;',
    );
    expect(hex(pkeyTableFor({ guid: A }, conf))).to.deep.equal(['0xffff', '0x8100', '0x8201', '0x9001', '0x8002', '0x8003', '0xfffe']);
  });

  it('lets the last member entry that names a port decide its membership @pkey @fabric', function () {
    const conf = parsePartitionsConf(`Default=0x7fff : ALL=full, ${B}=limited ;\np=0x8002 : ${B}=full, ALL=limited ;\nq=0x8003 : ALL=limited, ${A}=full ;`);
    expect(hex(pkeyTableFor({ guid: A }, conf))).to.deep.equal(['0xffff', '0x0002', '0x8003']);
    expect(hex(pkeyTableFor({ guid: B }, conf))).to.deep.equal(['0x7fff', '0x0002', '0x0003']);
  });

  it('matches ALL_CAS and ALL_SWITCHES by node type, SELF only for the SM port, ALL_ROUTERS never @pkey @fabric', function () {
    const conf = parsePartitionsConf('Default : ALL=full ;\nc=0x8001 : ALL_CAS=full ;\ns=0x8002 : ALL_SWITCHES=full ;\nme=0x8003 : SELF=full ;\nr=0x8004 : ALL_ROUTERS=full ;');
    expect(hex(pkeyTableFor({ guid: A }, conf))).to.deep.equal(['0xffff', '0x8001']);
    expect(hex(pkeyTableFor({ guid: A }, conf, { nodeType: 'switch' }))).to.deep.equal(['0xffff', '0x8002']);
    expect(hex(pkeyTableFor({ guid: A }, conf, { smPortGuid: A }))).to.deep.equal(['0xffff', '0x8001', '0x8003']);
    expect(hex(pkeyTableFor({ guid: B }, conf, { smPortGuid: A }))).to.deep.equal(['0xffff', '0x8001']);
  });

  it('gives a both member the full P_Key, or the limited then the full with allowBothPkeys @pkey @fabric', function () {
    const conf = parsePartitionsConf(`Default : ALL=full ;\np=0x8002, defmember=both : ALL ;\nq=0x8003 : ${B}=both ;`);
    expect(hex(pkeyTableFor({ guid: B }, conf))).to.deep.equal(['0xffff', '0x8002', '0x8003']);
    expect(hex(pkeyTableFor({ guid: B }, conf, { allowBothPkeys: true }))).to.deep.equal(['0xffff', '0x0002', '0x8002', '0x0003', '0x8003']);
  });

  it('swaps an indx0 partition into index 0 for its members only @pkey @fabric', function () {
    const conf = parsePartitionsConf(`Default=0x7fff : ALL=full ;\np2=0x8002 : ALL=full ;\np5=0x8005, indx0 : ${B}=full ;`);
    expect(hex(pkeyTableFor({ guid: A }, conf))).to.deep.equal(['0xffff', '0x8002']);
    expect(hex(pkeyTableFor({ guid: B }, conf))).to.deep.equal(['0x8005', '0x8002', '0xffff']);
    const onDefault = parsePartitionsConf('Default=0xffff, indx0 : ALL=limited ;\nsw=0x8010 : ALL=full ;');
    expect(hex(pkeyTableFor({ guid: A }, onDefault))).to.deep.equal(['0x7fff', '0x8010']);
  });

  it('computes every port of a fabric, using its node types and SM port @pkey @fabric', function () {
    const fabric = makeFabricDescription({
      nodes: [
        { name: 'node1', nodeGuid: 0x100n, ports: [{ guid: A }] },
        { name: 'sw1', type: 'switch', nodeGuid: 0x200n, ports: [{ guid: 0x200n }] },
      ],
      smPortGuid: A,
    });
    const conf = parsePartitionsConf('c=0x8001 : ALL_CAS=full ;\ns=0x8002 : ALL_SWITCHES=both ;');
    const tables = fabricPkeyTables(fabric, conf, { allowBothPkeys: true });
    expect([...tables.keys()]).to.deep.equal([A, 0x200n]);
    expect(hex(tables.get(A) ?? [])).to.deep.equal(['0xffff', '0x8001']);
    expect(hex(tables.get(0x200n) ?? [])).to.deep.equal(['0x7fff', '0x0002', '0x8002']);
  });

  it('gives the tables that lab/partitions/two-partitions.conf documents @pkey @fabric', async function () {
    const conf = await loadPartitionsConf(join(LAB, 'two-partitions.conf'));
    const tables = fabricPkeyTables(defaultFabric(3), conf);
    expect([...tables.values()].map(hex)).to.deep.equal([
      ['0xffff', '0x8001', '0x8002'],
      ['0xffff', '0x8001', '0x0002'],
      ['0xffff', '0x8001'],
    ]);
    const only = fabricPkeyTables(defaultFabric(2), await loadPartitionsConf(join(LAB, 'default.conf')));
    expect([...only.values()].map(hex)).to.deep.equal([['0xffff'], ['0xffff']]);
  });
});
