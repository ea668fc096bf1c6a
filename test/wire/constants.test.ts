import { expect } from 'chai';
import * as constants from '../../src/wire/constants.js';
import * as aeth from '../../src/wire/aeth.js';
import * as bth from '../../src/wire/bth.js';
import * as cm from '../../src/wire/cm.js';
import * as grh from '../../src/wire/grh.js';
import * as icmp from '../../src/wire/icmp.js';
import * as ipv4 from '../../src/wire/ipv4.js';
import * as ipv6 from '../../src/wire/ipv6.js';
import * as lrh from '../../src/wire/lrh.js';
import * as mad from '../../src/wire/mad.js';
import * as mcmemberRecord from '../../src/wire/mcmember-record.js';
import * as mgid from '../../src/wire/mgid.js';
import * as pathRecord from '../../src/wire/path-record.js';
import * as pcap from '../../src/wire/pcap.js';
import * as vcrc from '../../src/wire/vcrc.js';

/**
 * Constants that once lived in these modules moved to constants.ts; code outside src/wire still
 * imports them from the modules, so each module must keep exporting the very same value.
 */
const FORMER_HOMES: ReadonlyArray<[string, Readonly<Record<string, unknown>>, readonly string[]]> = [
  ['aeth', aeth, [
    'AETH_KIND_ACK', 'AETH_KIND_RNR_NAK', 'AETH_KIND_NAK', 'AETH_CREDIT_INVALID', 'NAK_PSN_SEQUENCE_ERROR',
    'NAK_INVALID_REQUEST', 'NAK_REMOTE_ACCESS_ERROR', 'NAK_REMOTE_OPERATIONAL_ERROR', 'NAK_INVALID_RD_REQUEST',
  ]],
  ['bth', bth, ['BTH_RESV8A_FECN', 'BTH_RESV8A_BECN']],
  ['cm', cm, [
    'CM_REQ_PRIVATE_DATA_LEN', 'CM_REP_PRIVATE_DATA_LEN', 'CM_RTU_PRIVATE_DATA_LEN', 'CM_REJ_PRIVATE_DATA_LEN',
    'CM_DREQ_PRIVATE_DATA_LEN', 'CM_DREP_PRIVATE_DATA_LEN', 'CM_REJ_ARI_LEN',
  ]],
  ['grh', grh, ['GID_LEN']],
  ['mgid', mgid, ['GID_LEN']],
  ['icmp', icmp, [
    'IPPROTO_ICMP', 'ICMP_ECHO_REPLY', 'ICMP_DEST_UNREACH', 'ICMP_ECHO_REQUEST', 'ICMP_CODE_FRAG_NEEDED',
    'ICMPV6_PACKET_TOO_BIG', 'ICMPV6_ECHO_REQUEST', 'ICMPV6_ECHO_REPLY',
  ]],
  ['ipv4', ipv4, ['IPV4_MIN_MTU']],
  ['ipv6', ipv6, ['IPV6_MIN_MTU']],
  ['lrh', lrh, ['LRH_MIN_IBA_PKTLEN_WORDS']],
  ['mad', mad, ['MAD_BASE_VERSION', 'MAD_METHOD_RESPONSE_BIT', 'RMPP_HEADER_LEN']],
  ['mcmember-record', mcmemberRecord, ['MCMEMBER_RECORD_LEN']],
  ['path-record', pathRecord, ['PATH_RECORD_LEN']],
  ['pcap', pcap, [
    'PCAP_MAGIC_USEC', 'PCAP_MAGIC_NSEC', 'PCAP_VERSION_MAJOR', 'PCAP_VERSION_MINOR', 'PCAP_FILE_HEADER_LEN',
    'PCAP_RECORD_HEADER_LEN', 'PCAP_DEFAULT_SNAPLEN', 'ERF_HEADER_LEN', 'ERF_TYPE_EXTENSION_BIT',
    'ERF_FLAG_IFACE_MASK', 'ERF_FLAG_VLEN', 'ERF_FLAG_TRUNC', 'ERF_FLAG_RXERR', 'ERF_FLAG_DSERR',
  ]],
  ['vcrc', vcrc, ['VCRC_MODEL']],
];

describe('wire constants kept under their former module names @meta', function () {
  // Titles name no module: several module names are tag words (cm, mad, pcap, ...).
  it('every former home re-exports the value constants.ts holds @meta', function () {
    const table: Readonly<Record<string, unknown>> = constants;
    let checked = 0;
    for (const [name, mod, keys] of FORMER_HOMES) {
      for (const key of keys) {
        expect(table[key], `constants.ts ${key}`).to.not.equal(undefined);
        expect(mod[key], `${name}.ts ${key}`).to.equal(table[key]);
        checked++;
      }
    }
    expect(checked).to.equal(51);
  });

  it('the VCRC model cannot be changed by an importer @meta', function () {
    expect(Object.isFrozen(constants.VCRC_MODEL)).to.equal(true);
    expect(constants.VCRC_MODEL.poly).to.equal(0x100b);
  });
});

describe('static-rate codes of path and member records @sa', function () {
  it('cover codes 2..24, each with a positive speed @sa', function () {
    const codes = Object.keys(constants.IB_RATE_CODE_TO_GBPS).map(Number);
    expect(codes).to.deep.equal(Array.from({ length: 23 }, (_, i) => i + 2));
    for (const code of codes) expect(constants.IB_RATE_CODE_TO_GBPS[code]).to.be.greaterThan(0);
  });

  it('are not in speed order: code 3 is 10 Gb/s, 4 is 30, 5 is 5, 24 is 1200 @sa', function () {
    const t = constants.IB_RATE_CODE_TO_GBPS;
    expect([t[2], t[3], t[4], t[5], t[7], t[24]]).to.deep.equal([2.5, 10, 30, 5, 40, 1200]);
    expect(t[0]).to.equal(undefined);
    expect(t[25]).to.equal(undefined);
  });
});
