/**
 * The lab subnet the simulator's unit tests share: four one-port channel adapters and three
 * partitions. Not a test file itself.
 *
 *   node  port GUID            LID  Default  lab 0x8001        site 0x8002
 *   1     0x0002c90300000101   1    full     full              full
 *   2     0x0002c90300000201   2    full     limited (0x0001)  full
 *   3     0x0002c90300000301   3    full     -                 full
 *   4     0x0002c90300000401   4    full     full              full
 *
 * P_Key tables (pkeyTableFor: Default at index 0, then OpenSM's order): node1 and node4
 * [0xffff, 0x8001, 0x8002], node2 [0xffff, 0x0001, 0x8002], node3 [0xffff, 0x8002].
 * Broadcast groups, MLIDs in partition order:
 *   0xC000 ff12:401b:ffff::ffff:ffff  Q_Key 0x0b1b, MTU 4 (2048), rate 3 (10 Gb/s), SL 0
 *   0xC001 ff12:401b:8001::ffff:ffff  Q_Key 0x80001234, MTU 5 (4096), rate 7 (40 Gb/s), SL 3
 *   0xC002 ff15:401b:8002::ffff:ffff  Q_Key 0x0b1b, MTU 4, rate 3, SL 0 (scope 5: site-local)
 */
import { DEFAULT_GUID_BASE, type FabricNodeInput, makeFabricDescription } from '../../src/fabric/sim/fabric-description.js';
import { parsePartitionsConf } from '../../src/fabric/sim/partitions-conf.js';
import { SaEngine } from '../../src/fabric/sim/sa-engine.js';
import { SubnetManager, type SubnetManagerOptions } from '../../src/fabric/sim/subnet-manager.js';
import { portGid } from '../../src/fabric/sim/subnet.js';
import { parseGid } from '../../src/wire/mgid.js';

export const GID_PREFIX = 0xfe80000000000000n;
export const GUIDS = [1, 2, 3, 4].map((i) => DEFAULT_GUID_BASE + (BigInt(i) << 8n) + 1n) as [bigint, bigint, bigint, bigint];
export const [G1, G2, G3, G4] = GUIDS;
export const GIDS = GUIDS.map((g) => portGid(GID_PREFIX, g)) as [Buffer, Buffer, Buffer, Buffer];
export const [GID1, GID2, GID3, GID4] = GIDS;

export const LAB_PARTITIONS = `
Default=0x7fff, ipoib : ALL=full ;
lab=0x8001, ipoib, mtu=5, rate=7, sl=3, Q_Key=0x80001234 :
  0x0002c90300000101=full, 0x0002c90300000201=limited, 0x0002c90300000401=full ;
site=0x8002, ipoib, scope=5 : ALL=full ;
`;

export const DEFAULT_BCAST = parseGid('ff12:401b:ffff::ffff:ffff');
export const LAB_BCAST = parseGid('ff12:401b:8001::ffff:ffff');
export const SITE_BCAST = parseGid('ff15:401b:8002::ffff:ffff');

export interface LabOptions extends SubnetManagerOptions {
  /** Link MTU code per node number (1..4); default 5. */
  linkMtu?: Partial<Record<1 | 2 | 3 | 4, number>>;
  partitions?: string;
}

export function makeLab(o: LabOptions = {}): { sm: SubnetManager; sa: SaEngine } {
  const nodes: FabricNodeInput[] = GUIDS.map((guid, i) => ({
    name: `node${i + 1}`,
    nodeGuid: guid - 1n,
    ports: [{ guid, linkMtuCode: o.linkMtu?.[(i + 1) as 1 | 2 | 3 | 4] ?? 5 }],
  }));
  const sm = new SubnetManager(makeFabricDescription({ nodes }), parsePartitionsConf(o.partitions ?? LAB_PARTITIONS), o);
  return { sm, sa: new SaEngine(sm) };
}

/** A test MGID outside IPoIB's signatures: ff12:1234::<n>. */
export function testMgid(n: number): Buffer {
  const m = parseGid('ff12:1234::');
  m.writeUInt32BE(n, 12);
  return m;
}
