/**
 * How a conformance case runs, the same for every suite: gate → arrange (+defer) → observe →
 * assert. `conformance(spec, body)` declares one mocha test whose title reads
 * `<behaviour> [<requirement IDs>] @tag …`, so `--grep` selects by tag or ID, and whose allure
 * result carries epic = RFC, feature = section, story = requirement ID, the lab's parameters,
 * and the evidence the case attached (captures, frames, the transcript of every command run on
 * the nodes). Cleanup runs inside the case (never in afterEach, whose failure would skip the
 * rest of the file): every undo, last in first out, pass or fail.
 */
import { AssertionError } from 'chai';
import * as allure from 'allure-js-commons';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Context } from 'mocha';
import { CleanupError, IpoibControlError, ProbeTimeoutError, Skip, Unsupported } from '../../src/errors.js';
import type { Capture, CapturedPacket, IpoibFrame } from '../../src/lab/capture.js';
import { DeferStack, type Undo } from '../../src/lab/defer-stack.js';
import { ipoibFrames } from '../../src/lab/ipoib-frames.js';
import type { LabCapability, LabNodeHandle, LabSession } from '../../src/lab/lab-session.js';
import type { Probe } from '../../src/lab/probe.js';
import { RecordingTransport, formatTranscript } from '../../src/lab/recording-transport.js';
import { LINUX_AREAS, ROBUSTNESS_PROBES, requirement, sourceName, sourceOf } from '../requirements.js';
import { TAG_NAMES, type Tag } from '../tags.js';
import { type CaseState, writeRecord } from './record.js';
import { suiteLab } from './session.js';

export interface Spec {
  /** Requirement IDs from suites/requirements.ts this case gives a verdict on (RFC rows and LINUX rows). */
  covers: readonly string[];
  /** Robustness probe IDs (ROBUSTNESS_PROBES: P-ENC-1 …) the case carries out, if any. */
  probes?: readonly string[];
  /** What the DUT does, as a sentence fragment: "answers an ARP request with …". */
  title: string;
  tags: readonly Tag[];
  /** Lab capabilities the case needs; a missing one skips it with the reason. */
  requires?: readonly LabCapability[];
  /** Per-case time limit (default 30 s). */
  timeoutMs?: number;
}

const CAPTURE_DIR = path.resolve('reports/captures');

function titleOf(spec: Spec): string {
  const ids = [...spec.covers, ...(spec.probes ?? [])];
  return `${spec.title} [${ids.join(' ')}] ${spec.tags.map((t) => `@${t}`).join(' ')}`;
}

function checkSpec(spec: Spec): void {
  if (spec.covers.length === 0) throw new Error(`conformance case "${spec.title}" covers no requirement`);
  for (const id of spec.covers) requirement(id); // throws on an unknown ID, at load time
  for (const id of spec.probes ?? []) {
    if (!ROBUSTNESS_PROBES.some((p) => p.id === id)) throw new Error(`conformance case "${spec.title}": unknown robustness probe ${id}`);
  }
  for (const t of spec.tags) if (!(TAG_NAMES as string[]).includes(t)) throw new Error(`conformance case "${spec.title}": unknown tag ${t}`);
}

/** A file-name-safe slug of a title. */
function slug(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 80);
}

export class Case {
  private readonly stack: DeferStack;
  private captures = 0;

  constructor(
    readonly lab: LabSession,
    readonly spec: Spec,
  ) {
    this.stack = new DeferStack(spec.title);
  }

  get dut(): LabNodeHandle {
    return this.lab.dut;
  }

  get peer(): LabNodeHandle {
    return this.lab.peer;
  }

  /** The probe; cases that use it list `probe` in `requires`. */
  get probe(): Probe {
    if (!this.lab.probe) throw new Skip('this lab has no probe');
    return this.lab.probe;
  }

  /** Queues an undo; all of them run after the case, newest first, pass or fail. */
  defer(undo: Undo, description?: string): void {
    this.stack.defer(undo, description);
  }

  /** Ends the case as skipped, with the reason shown in the report. */
  skip(reason: string): never {
    throw new Skip(reason);
  }

  async attach(name: string, content: string | Buffer, contentType = 'text/plain'): Promise<void> {
    await allure.attachment(name, content, contentType);
  }

  async attachJson(name: string, value: unknown): Promise<void> {
    // JSON.stringify hands the replacer a Buffer's toJSON() form; the holder still has the Buffer.
    const text = JSON.stringify(value, function (this: Record<string, unknown>, k: string, v: unknown) {
      const raw = this[k];
      return Buffer.isBuffer(raw) ? raw.toString('hex') : typeof v === 'bigint' ? `0x${v.toString(16)}` : v;
    }, 2);
    await allure.attachment(name, text, 'application/json');
  }

  step<T>(name: string, body: () => Promise<T>): Promise<T> {
    return Promise.resolve(allure.step(name, () => body()));
  }

  async parameter(name: string, value: string | number): Promise<void> {
    await allure.parameter(name, String(value));
  }

  /**
   * Captures the fabric around `stimulus` and attaches the pcap; resolves with the stimulus's
   * result, every packet, and the IPoIB frames among them. Cases that use it require `wire-capture`.
   */
  async capture<T>(stimulus: () => Promise<T>, o: { nodes?: readonly string[]; settleMs?: number } = {}): Promise<{ result: T; packets: CapturedPacket[]; frames: IpoibFrame[] }> {
    const capturer = this.lab.capturer;
    if (!capturer) throw new Skip('this lab has no wire capture');
    mkdirSync(CAPTURE_DIR, { recursive: true, mode: 0o700 });
    const pcapPath = path.join(CAPTURE_DIR, `${slug(this.spec.title)}-${process.pid}-${++this.captures}.pcap`);
    const cap: Capture = await capturer.start({ pcapPath, ...(o.nodes ? { nodes: o.nodes } : {}) });
    let result: T;
    try {
      result = await stimulus();
      await new Promise((r) => setTimeout(r, o.settleMs ?? 100)); // let the last packets reach the tap
    } finally {
      const packets = await cap.stop();
      await allure.attachmentPath(`capture ${this.captures}.pcap`, pcapPath, { contentType: 'application/vnd.tcpdump.pcap', fileExtension: 'pcap' });
      this.lastPackets = packets;
    }
    const packets = this.lastPackets;
    return { result, packets, frames: ipoibFrames(packets) };
  }

  private lastPackets: CapturedPacket[] = [];

  /** Runs the undos, then attaches the nodes' command transcripts. */
  async finish(): Promise<void> {
    let cleanupError: unknown = null;
    try {
      await this.stack.run();
    } catch (e) {
      cleanupError = e;
    }
    for (const node of [this.lab.dut, this.lab.peer]) {
      if (node.transport instanceof RecordingTransport) {
        const entries = node.transport.drain();
        if (entries.length > 0) await allure.attachment(`commands on ${node.node.name}.txt`, formatTranscript(entries), 'text/plain');
      }
    }
    if (cleanupError) throw cleanupError;
  }
}

/** Errors that are the DUT's behaviour (a verdict), as opposed to the lab's or the test's. */
function isVerdict(e: unknown): boolean {
  return e instanceof AssertionError || e instanceof ProbeTimeoutError || e instanceof IpoibControlError;
}

async function labels(spec: Spec, lab: LabSession | null): Promise<void> {
  for (const id of spec.covers) {
    const r = requirement(id);
    const source = sourceName(sourceOf(r));
    await allure.label('epic', source);
    await allure.label('feature', 'area' in r ? `${source}: ${LINUX_AREAS[r.area].topic}` : `${source} §${r.section}`);
    await allure.label('story', id);
  }
  await allure.tags(...spec.tags);
  if (lab) {
    await allure.parameter('fabric', lab.fabric);
    await allure.parameter('dut', `${lab.dut.node.name} (${lab.dut.node.implementation})`);
    if (lab.defects.length > 0) await allure.parameter('seeded defects', lab.defects.join(','));
  }
}

export function conformance(spec: Spec, body: (t: Case) => Promise<void>): void {
  checkSpec(spec);
  it(titleOf(spec), async function (this: Context) {
    this.timeout(spec.timeoutMs ?? 30_000);
    const started = performance.now();
    const file = path.relative(process.cwd(), this.test?.file ?? '');
    let lab: LabSession | null = null;
    let state: CaseState = 'passed';
    let reason: string | undefined;
    try {
      try {
        lab = await suiteLab();
      } catch (e) {
        if (e instanceof Skip) throw e;
        throw new Error(`the lab did not come up: ${(e as Error).message}`);
      }
      await labels(spec, lab);
      const missing = (spec.requires ?? []).filter((c) => !lab!.capabilities.has(c));
      if (missing.length > 0) throw new Skip(`the lab lacks ${missing.join(', ')}`);
      const t = new Case(lab, spec);
      let bodyError: unknown = null;
      try {
        await body(t);
      } catch (e) {
        bodyError = e;
      }
      try {
        await t.finish();
      } catch (e) {
        // A failed undo is a lab problem worth seeing, but the body's own error comes first.
        if (!bodyError) bodyError = e instanceof CleanupError ? new Error(`cleanup failed after the case: ${e.message}`) : e;
      }
      if (bodyError) throw bodyError;
    } catch (e) {
      if (e instanceof Skip) {
        state = 'skipped';
        reason = e.reason;
      } else if (e instanceof Unsupported) {
        state = 'skipped';
        reason = `the DUT does not offer ${e.capability}${e.detail ? ` (${e.detail})` : ''}`;
      } else {
        state = isVerdict(e) ? 'failed' : 'broken';
        reason = (e as Error).message;
        record();
        // Verdict errors become assertion failures, so allure files them as product defects.
        if (state === 'failed' && !(e instanceof AssertionError)) throw new AssertionError(`${(e as Error).name}: ${(e as Error).message}`);
        throw e;
      }
    }
    record();
    if (state === 'skipped') {
      if (this.test) this.test.title = `${this.test.title} [skipped: ${reason}]`;
      await allure.logStep(`skipped: ${reason}`, allure.Status.SKIPPED);
      this.skip();
    }

    function record(): void {
      writeRecord({
        title: spec.title,
        file,
        covers: [...spec.covers],
        probes: [...(spec.probes ?? [])],
        tags: [...spec.tags],
        state,
        ...(reason !== undefined ? { reason } : {}),
        durationMs: Math.round(performance.now() - started),
        dut: lab ? lab.dut.node.implementation : 'unknown',
        defects: lab ? [...lab.defects] : [],
      });
    }
  });
}
