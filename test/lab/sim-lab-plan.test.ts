/**
 * From a sim lab file to the fabric it describes: node order, the probe's port, port GUIDs the
 * file sets (the rest by order), the hand-over of those GUIDs to the manager process, and the
 * fabric description the manager builds from them.
 */
import { expect } from 'chai';
import { FabricDescriptionError, FabricRunError, UsageError } from '../../src/errors.js';
import { formatPortGuids, parsePortGuids } from '../../src/cli/commands/fabric.js';
import { managedFabric, SM_PORT_GUID } from '../../src/fabric/sim/fabric-manager.js';
import { DEFAULT_LAB_FILE, loadLabFile } from '../../src/lab/lab-file-load.js';
import type { LabFile } from '../../src/lab/lab-file.js';
import { defaultPortGuid, simLabPlan } from '../../src/lab/sim-lab-plan.js';

async function simLab(guids: Record<string, string> = {}): Promise<LabFile> {
  const lab = await loadLabFile(DEFAULT_LAB_FILE);
  for (const n of lab.nodes) {
    delete n.guid;
    if (guids[n.name] !== undefined) n.guid = guids[n.name];
  }
  return lab;
}

describe('sim lab plan: nodes and port GUIDs @lab @fabric', function () {
  it('keeps the by-order GUIDs of the fabric when the lab file sets none @lab @fabric', async function () {
    const plan = simLabPlan(await simLab());
    expect(plan.fabricNodes).to.deep.equal(['dut', 'peer', 'probe']);
    expect(plan.portGuids.size).to.equal(0);
    expect([0, 1, 2].map((i) => `0x${defaultPortGuid(i).toString(16).padStart(16, '0')}`)).to.deep.equal(['0x0002c90300000101', '0x0002c90300000201', '0x0002c90300000301']);
  });

  it('takes the DUT GUID of lab/sim.json, in modified EUI-64 form, and the manager gives it to that port only @lab @fabric', async function () {
    const plan = simLabPlan(await loadLabFile(DEFAULT_LAB_FILE));
    expect([...plan.portGuids]).to.deep.equal([['dut', 0x0202c90300000101n]]);
    expect(Number(plan.portGuids.get('dut')! >> 56n) & 0x02, 'u/l bit of the first octet').to.equal(0x02);
    const fabric = managedFabric(plan.fabricNodes.length, plan.fabricNodes, plan.portGuids);
    const ports = Object.fromEntries(fabric.nodes.map((n) => [n.name, n.ports[0]!.guid]));
    expect(ports).to.deep.equal({ sm: SM_PORT_GUID, dut: 0x0202c90300000101n, peer: 0x0002c90300000201n, probe: 0x0002c90300000301n });
    expect(fabric.nodes.find((n) => n.name === 'dut')!.nodeGuid, 'the node keeps its node GUID').to.equal(0x0002c90300000100n);
  });

  it('refuses a GUID that is another port\'s default or another node\'s node GUID, naming both @lab @fabric', async function () {
    const peersDefault = await simLab({ dut: '0x0002c90300000201' });
    expect(() => simLabPlan(peersDefault)).to.throw(UsageError, /node dut's guid 0x0002c90300000201 is the default port GUID of peer/);
    const probesNode = await simLab({ peer: '0x0002c90300000300' });
    expect(() => simLabPlan(probesNode)).to.throw(UsageError, /node peer's guid 0x0002c90300000300 is the node GUID of probe/);
    // Swapping two GUIDs is fine: neither keeps its default.
    const swapped = simLabPlan(await simLab({ dut: '0x0002c90300000201', peer: '0x0002c90300000101' }));
    expect(swapped.portGuids.get('dut')).to.equal(0x0002c90300000201n);
  });

  it('hands the GUIDs to the manager as NODE=0xGUID and reads them back; the manager refuses unknown nodes and the SM\'s GUID @lab @fabric', function () {
    const guids = new Map([['dut', 0x0202c90300000101n], ['peer', 0x12n]]);
    const text = formatPortGuids(guids);
    expect(text).to.equal('dut=0x0202c90300000101,peer=0x0000000000000012');
    expect(parsePortGuids(text)).to.deep.equal(guids);
    expect(() => parsePortGuids('dut:0x1')).to.throw(UsageError, /"dut:0x1" is not NODE=0xGUID/);
    expect(() => managedFabric(2, ['a', 'b'], new Map([['c', 1n]]))).to.throw(FabricRunError, /port GUIDs for nodes the fabric does not have: c/);
    expect(() => managedFabric(2, ['a', 'b'], new Map([['a', SM_PORT_GUID]]))).to.throw(FabricDescriptionError);
  });
});
