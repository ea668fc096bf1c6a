/**
 * Benchmark, not a test: RC throughput of 65,524-octet messages (the IPoIB-CM maximum) through a
 * 4096-octet path MTU, measured on the loop harness (src/fabric/sim/rc-harness.ts): two C++ RC QPs
 * and an in-memory link with a simulated clock. So it measures the engine's CPU cost per message
 * (segmentation, PSN/ACK bookkeeping, retransmission, reassembly, plus copying each batch into and
 * out of the addon), not a network: there are no sockets and no real time in it.
 *
 *   npx tsx bench/rc-throughput.ts [--seconds S] [--json]
 *
 * Each point (0 % and 1 % loss) runs batches of 256 messages for at most S seconds of wall time
 * (default 2.5, never more than 3) and reports messages/s and Gbit/s of payload against wall time,
 * with the CPU time the process used over the same interval.
 */
import { randomBytes } from 'node:crypto';
import { runRcLoop } from '../src/fabric/sim/rc-harness.js';
import { IPOIB_CM_MAX_MESSAGE_BYTES } from '../src/wire/constants.js';

const MTU_BYTES = 4096;
const BATCH_MESSAGES = 256;
const MAX_SECONDS_PER_POINT = 3;
const LOSS_RATES = [0, 0.01];

interface Point {
  lossRate: number;
  batches: number;
  messages: number;
  wallSeconds: number;
  cpuSeconds: number;
  messagesPerSecond: number;
  payloadGbitPerSecond: number;
  /** Retransmitted packets as a share of all request packets sent. */
  retransmittedShare: number;
}

function parseArgs(argv: readonly string[]): { seconds: number; json: boolean } {
  let seconds = 2.5;
  let json = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--json') json = true;
    else if (a === '--seconds') {
      seconds = Number(argv[++i]);
      if (!(seconds > 0 && seconds <= MAX_SECONDS_PER_POINT)) {
        throw new RangeError(`--seconds must be a number above 0 and at most ${MAX_SECONDS_PER_POINT}`);
      }
    } else
      throw new Error(`unknown argument ${String(a)} (usage: npx tsx bench/rc-throughput.ts [--seconds S] [--json])`);
  }
  return { seconds, json };
}

function measure(batch: readonly Buffer[], lossRate: number, budgetSeconds: number): Point {
  const startNs = process.hrtime.bigint();
  const cpuStart = process.cpuUsage();
  let batches = 0;
  let packets = 0;
  let retransmissions = 0;
  let elapsed = 0;
  let slowestBatch = 0;
  // Stop before a batch as slow as the slowest so far could take the point over its budget.
  while (batches === 0 || elapsed + 1.5 * slowestBatch <= budgetSeconds) {
    const before = process.hrtime.bigint();
    const r = runRcLoop(batch, { mtuBytes: MTU_BYTES, lossRate, seed: batches + 1, collectDelivered: false });
    const after = process.hrtime.bigint();
    if (r.errors.length > 0 || r.deliveredCount !== batch.length || !r.deliveredInOrder) {
      throw new Error(
        `batch ${batches} at loss ${lossRate} failed: ${JSON.stringify({ errors: r.errors, stats: r.stats })}`,
      );
    }
    batches++;
    packets += r.stats.packetsSent;
    retransmissions += r.stats.retransmissions;
    slowestBatch = Math.max(slowestBatch, Number(after - before) / 1e9);
    elapsed = Number(after - startNs) / 1e9;
  }
  const cpu = process.cpuUsage(cpuStart);
  const messages = batches * batch.length;
  const payloadBits = messages * IPOIB_CM_MAX_MESSAGE_BYTES * 8;
  return {
    lossRate,
    batches,
    messages,
    wallSeconds: elapsed,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    messagesPerSecond: messages / elapsed,
    payloadGbitPerSecond: payloadBits / elapsed / 1e9,
    retransmittedShare: retransmissions / packets,
  };
}

function main(): void {
  const { seconds, json } = parseArgs(process.argv.slice(2));
  const batch = Array.from({ length: BATCH_MESSAGES }, () => randomBytes(IPOIB_CM_MAX_MESSAGE_BYTES));
  runRcLoop(batch.slice(0, 8), { collectDelivered: false }); // warm-up: load the addon, fault in the code
  const points = LOSS_RATES.map((loss) => measure(batch, loss, seconds));
  if (json) {
    console.log(JSON.stringify({ mtuBytes: MTU_BYTES, messageBytes: IPOIB_CM_MAX_MESSAGE_BYTES, points }, null, 2));
    return;
  }
  console.log(
    `RC loop harness: ${IPOIB_CM_MAX_MESSAGE_BYTES}-octet messages, ${MTU_BYTES}-octet MTU, batches of ${BATCH_MESSAGES}`,
  );
  console.log('loss   messages   wall s   CPU s   messages/s   payload Gbit/s   retransmitted');
  for (const p of points) {
    console.log(
      [
        `${(p.lossRate * 100).toFixed(0)} %`.padEnd(6),
        String(p.messages).padStart(8),
        p.wallSeconds.toFixed(2).padStart(8),
        p.cpuSeconds.toFixed(2).padStart(7),
        p.messagesPerSecond.toFixed(0).padStart(12),
        p.payloadGbitPerSecond.toFixed(2).padStart(16),
        `${(p.retransmittedShare * 100).toFixed(1)} %`.padStart(15),
      ].join(' '),
    );
  }
}

main();
