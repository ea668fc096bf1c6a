import { expect } from 'chai';
import { findPkeyIndex, parentPkey, withFullBit } from '../../src/ipoib/pkey-table.js';

describe('finding the interface P_Key in the port table @pkey @ipoib-stack', function () {
  it('always ORs the full-membership bit into the interface P_Key @pkey @ipoib-stack', function () {
    expect(withFullBit(0x0001)).to.equal(0x8001);
    expect(withFullBit(0x8001)).to.equal(0x8001);
    expect(withFullBit(0x7fff)).to.equal(0xffff);
  });

  it('gives a parent index 0 of the table with 0x8000, and nothing for an invalid index 0 @pkey @ipoib-stack', function () {
    expect(parentPkey([0x7fff, 0x8001])).to.equal(0xffff);
    expect(parentPkey([0xffff])).to.equal(0xffff);
    expect(parentPkey([0x8000, 0xffff]), 'base 0 is invalid').to.equal(undefined);
    expect(parentPkey([0x0000])).to.equal(undefined);
    expect(parentPkey([])).to.equal(undefined);
  });

  it('prefers a full-member entry and falls back to a limited one, like ib_find_pkey @pkey @ipoib-stack', function () {
    expect(findPkeyIndex([0xffff, 0x0001, 0x8001], 0x8001), 'full member at 2 wins over limited at 1').to.equal(2);
    expect(findPkeyIndex([0xffff, 0x0001], 0x8001), 'only the limited entry').to.equal(1);
    expect(findPkeyIndex([0x7fff], 0xffff), 'limited default partition').to.equal(0);
    expect(findPkeyIndex([0xffff], 0x8001), 'absent').to.equal(undefined);
    expect(findPkeyIndex([0x8000, 0x0000], 0x8000), 'base 0 never matches').to.equal(undefined);
  });
});
