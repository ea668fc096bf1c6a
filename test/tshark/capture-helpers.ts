/**
 * Writes one frame to a pcap under reports/captures, attaches it to the allure result, and
 * returns tshark's dissection of it. The pcap stays on disk as evidence of what was checked.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Context } from 'mocha';
import * as allure from 'allure-js-commons';
import { PcapWriter, erfRecord } from '../../src/wire/pcap.js';
import { LINKTYPE_ERF } from '../../src/wire/constants.js';
import { requireToolOrSkip } from '../helpers/skip.js';
import { tsharkDecode, tsharkVersion, type TsharkTree } from '../helpers/tshark.js';

export const CAPTURE_DIR = path.resolve('reports', 'captures');
const TS = { tsSec: 1_700_000_000, tsUsec: 250_000 };

export async function needTshark(ctx: Context): Promise<void> {
  await requireToolOrSkip(ctx, 'tshark', (await tsharkVersion()) !== null, 'install it with apt-get install tshark');
}

/** Writes `records` (already in the link type's record form) and decodes them with tshark. */
export async function dissect(name: string, linktype: number, records: Buffer[], tsharkArgs: string[] = []): Promise<TsharkTree[]> {
  mkdirSync(CAPTURE_DIR, { recursive: true });
  const file = path.join(CAPTURE_DIR, `${name}.pcap`);
  const w = PcapWriter.toFile(file, { linktype });
  for (const data of records) w.append({ ...TS, data });
  w.close();
  await allure.attachmentPath(`${name}.pcap`, file, { contentType: 'application/vnd.tcpdump.pcap' });
  const frames = await tsharkDecode(file, tsharkArgs);
  await allure.attachment(`${name}.tshark.json`, JSON.stringify(frames, null, 2), 'application/json');
  if (frames.length !== records.length) throw new Error(`tshark read ${frames.length} frames from ${file}, ${records.length} were written`);
  return frames;
}

/** One raw InfiniBand packet as an ERF type 21 record, dissected. */
export async function dissectIbPacket(name: string, packet: Buffer, tsharkArgs: string[] = []): Promise<TsharkTree> {
  const [frame] = await dissect(name, LINKTYPE_ERF, [erfRecord(packet, TS)], tsharkArgs);
  return frame!;
}

/** `aa:bb:...` as tshark prints raw byte fields. */
export function colonHex(b: Buffer): string {
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
}
