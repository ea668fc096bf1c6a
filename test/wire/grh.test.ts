import { expect } from 'chai';
import { encodeToBuffer } from '../../src/wire/codec.js';
import { type Grh, grh, grhProblems } from '../../src/wire/grh.js';
import { expectWireError, hex, roundtrip } from '../helpers/roundtrip.js';

const SGID = 'fe80 0000 0000 0000 0002 c903 0000 0001'; // fe80::2:c903:0:1
const DGID = 'ff12 401b ffff 0000 0000 0000 ffff ffff'; // the default IPv4 broadcast group

const value: Grh = {
  ipVer: 6,
  tClass: 0xa5,
  flowLabel: 0x12345,
  payLen: 60,
  nxtHdr: 0x1b,
  hopLmt: 0x40,
  sgid: hex(SGID),
  dgid: hex(DGID),
};

describe('GRH codec @ib', () => {
  it('round-trips a global-route header against hand-derived octets @ib', () => {
    // word 0: IPVer 6 << 28 | TClass 0xa5 << 20 | FlowLabel 0x12345 = 0x6a512345
    // octets 4-5: PayLen 60 = 0x003c; octet 6: NxtHdr 0x1b; octet 7: HopLmt 0x40
    // octets 8-23: SGID; octets 24-39: DGID
    roundtrip(grh, value, `6a512345 003c 1b 40 ${SGID} ${DGID}`);
  });

  it('keeps a wrong IPVer and NxtHdr as found and reports them @ib', () => {
    const odd: Grh = { ...value, ipVer: 4, tClass: 0xff, flowLabel: 0xfffff, nxtHdr: 0x3b };
    // word 0: 4 << 28 | 0xff << 20 | 0xfffff = 0x4fffffff
    roundtrip(grh, odd, `4fffffff 003c 3b 40 ${SGID} ${DGID}`);
    const problems = grhProblems(odd);
    expect(problems).to.have.length(2);
    expect(problems[0]).to.match(/^grh\.ipver is 4/);
    expect(problems[1]).to.match(/^grh\.nxthdr is 0x3b/);
    expect(grhProblems(value)).to.deep.equal([]);
  });

  it('decodes GIDs as copies, not views of the frame @ib', () => {
    const frame = hex(`6a512345 003c 1b 40 ${SGID} ${DGID}`);
    const v = grh.decode(frame, 0).value;
    frame.fill(0);
    expect(v.sgid.toString('hex')).to.equal(hex(SGID).toString('hex'));
    expect(v.dgid.toString('hex')).to.equal(hex(DGID).toString('hex'));
  });

  it('rejects every field wider than its bits, and GIDs that are not 16 octets, naming the field @ib', () => {
    const cases: Array<[Partial<Grh>, string]> = [
      [{ ipVer: 16 }, 'grh.ipver'],
      [{ tClass: 256 }, 'grh.tclass'],
      [{ flowLabel: 0x100000 }, 'grh.flowlabel'],
      [{ payLen: 0x10000 }, 'grh.paylen'],
      [{ nxtHdr: 256 }, 'grh.nxthdr'],
      [{ hopLmt: -1 }, 'grh.hoplmt'],
      [{ sgid: Buffer.alloc(15) }, 'grh.sgid'],
      [{ dgid: Buffer.alloc(17) }, 'grh.dgid'],
    ];
    for (const [patch, field] of cases) {
      expectWireError(() => encodeToBuffer(grh, { ...value, ...patch }), field, field);
    }
    expectWireError(() => encodeToBuffer(grh, { ...value, dgid: 'ff12::1' as unknown as Buffer }), 'grh.dgid');
  });

  it('refuses to encode into a buffer too short for 40 octets @ib', () => {
    expectWireError(() => grh.encode(value, Buffer.alloc(39), 0), 'grh');
  });
});
