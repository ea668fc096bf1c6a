import { expect } from 'chai';
import {
  baseOf,
  formatPkey,
  isFullMember,
  isValidPkey,
  linuxPkey,
  parsePkey,
  pkeysMatch,
} from '../../src/wire/pkey.js';
import { expectWireError } from '../helpers/roundtrip.js';

describe('pkey: partition key helpers @pkey', function () {
  it('reads the full-membership bit @pkey', function () {
    expect(isFullMember(0xffff)).to.equal(true);
    expect(isFullMember(0x8001)).to.equal(true);
    expect(isFullMember(0x7fff)).to.equal(false);
    expect(isFullMember(0x0001)).to.equal(false);
  });

  it('takes the base from the low 15 bits @pkey', function () {
    expect(baseOf(0xffff)).to.equal(0x7fff);
    expect(baseOf(0x7fff)).to.equal(0x7fff);
    expect(baseOf(0x8001)).to.equal(0x0001);
    expect(baseOf(0x8000)).to.equal(0);
  });

  it('treats base 0 and values outside 16 bits as invalid, without throwing @pkey', function () {
    expect(isValidPkey(0x0000)).to.equal(false);
    expect(isValidPkey(0x8000)).to.equal(false);
    expect(isValidPkey(0x10000)).to.equal(false);
    expect(isValidPkey(-1)).to.equal(false);
    expect(isValidPkey(1.5)).to.equal(false);
    expect(isValidPkey(Number.NaN)).to.equal(false);
    expect(isValidPkey(0x0001)).to.equal(true);
    expect(isValidPkey(0x8001)).to.equal(true);
    expect(isValidPkey(0xffff)).to.equal(true);
  });

  it('matches same-base keys when at least one is a full member @pkey', function () {
    expect(pkeysMatch(0xffff, 0xffff)).to.equal(true);
    expect(pkeysMatch(0xffff, 0x7fff)).to.equal(true);
    expect(pkeysMatch(0x7fff, 0xffff)).to.equal(true);
    expect(pkeysMatch(0x8001, 0x0001)).to.equal(true);
  });

  it('does not match two limited members, different bases, or invalid keys @pkey', function () {
    expect(pkeysMatch(0x7fff, 0x7fff)).to.equal(false);
    expect(pkeysMatch(0x0001, 0x0001)).to.equal(false);
    expect(pkeysMatch(0x8001, 0x8002)).to.equal(false);
    expect(pkeysMatch(0xffff, 0x8001)).to.equal(false);
    expect(pkeysMatch(0x8000, 0x8000)).to.equal(false);
    expect(pkeysMatch(0x8000, 0x0000)).to.equal(false);
  });

  it('predicts the Linux value by always setting the full-member bit @pkey', function () {
    expect(linuxPkey(0x0001)).to.equal(0x8001);
    expect(linuxPkey(0x8001)).to.equal(0x8001);
    expect(linuxPkey(0x7fff)).to.equal(0xffff);
    expect(linuxPkey(0x0000)).to.equal(0x8000);
  });

  it('parses hex with or without 0x, either case, ignoring a trailing newline @pkey', function () {
    expect(parsePkey('0x8001')).to.equal(0x8001);
    expect(parsePkey('0X8001')).to.equal(0x8001);
    expect(parsePkey('8001')).to.equal(0x8001);
    expect(parsePkey('7FFF')).to.equal(0x7fff);
    expect(parsePkey('0xffff\n')).to.equal(0xffff);
    expect(parsePkey('1')).to.equal(0x0001);
    expect(parsePkey('0x0')).to.equal(0);
  });

  it('refuses text that is not a 16-bit hex number @pkey', function () {
    for (const bad of ['', '0x', '0x10000', '10000', '0x8g01', '-1', '+8001', '0x 8001', '80 01', '32769d']) {
      const e = expectWireError(() => parsePkey(bad), 'pkey.text', JSON.stringify(bad));
      expect(e.value, JSON.stringify(bad)).to.equal(bad);
    }
  });

  it('formats as 0x plus four lower-case hex digits, and parses its own output @pkey', function () {
    expect(formatPkey(0x8001)).to.equal('0x8001');
    expect(formatPkey(0xffff)).to.equal('0xffff');
    expect(formatPkey(0x1)).to.equal('0x0001');
    for (const p of [0, 1, 0x7fff, 0x8000, 0xabcd, 0xffff]) expect(parsePkey(formatPkey(p))).to.equal(p);
  });

  it('refuses values outside 16 bits in every helper that takes a key @pkey', function () {
    for (const bad of [0x10000, -1, 1.5]) {
      expectWireError(() => formatPkey(bad), 'pkey', `formatPkey(${bad})`);
      expectWireError(() => isFullMember(bad), 'pkey', `isFullMember(${bad})`);
      expectWireError(() => baseOf(bad), 'pkey', `baseOf(${bad})`);
      expectWireError(() => linuxPkey(bad), 'pkey', `linuxPkey(${bad})`);
      expectWireError(() => pkeysMatch(bad, 0xffff), 'pkey', `pkeysMatch(${bad}, 0xffff)`);
      expectWireError(() => pkeysMatch(0xffff, bad), 'pkey', `pkeysMatch(0xffff, ${bad})`);
    }
  });
});
