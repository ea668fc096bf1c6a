/**
 * TEST AND BENCHMARK ONLY: the RC loop harness of the native addon. Two RC queue pairs (the C++
 * engine in native/src/sim/rc_qp.*) joined by an in-memory link with seeded loss, duplication and
 * reordering and a simulated clock, so a run is deterministic and costs only CPU time. The product
 * never uses it: the simulated fabric carries RC packets through its endpoints instead.
 *
 * The requester QP (RC_LOOP_REQUESTER_QPN) keeps up to `sendQueueDepth` messages posted, in order
 * (message i not before i * `postSpacingUs`); the responder (RC_LOOP_RESPONDER_QPN) keeps `recvQueueDepth` receive buffers of
 * `recvBufferBytes` posted from `recvPostDelayUs` on, refilling each as it completes. The run ends
 * when every message has a send completion, when the simulated clock passes `maxSimTimeUs`, or when
 * nothing is left to happen (both reported in `errors`).
 *
 * `runRcLoop` checks every argument here, then passes every option explicitly to the addon.
 *
 * `runRcQpScript` drives a single QP through a list of calls (Modify, PostSend, PostRecv, a packet,
 * the timer) and returns everything it did, for tests that hand the engine exact or malformed
 * packets.
 */
import { NativeError } from '../../errors.js';
import {
  callNative,
  loadNative,
  type NativeRcLoopOptions,
  type NativeRcLoopResult,
  type NativeRcQpConfig,
  type NativeRcScriptResult,
  type NativeRcScriptStep,
} from '../../native/addon.js';

/** QPNs and P_Key the harness gives its two QPs (native/src/sim/rc_loop_harness.h). */
export const RC_LOOP_REQUESTER_QPN = 0x000011;
export const RC_LOOP_RESPONDER_QPN = 0x000022;
export const RC_LOOP_PKEY = 0xffff;

export type RcQpState = 'RESET' | 'INIT' | 'RTR' | 'RTS' | 'ERROR';
export type RcSendStatus =
  | 'success'
  | 'retry-exceeded'
  | 'rnr-retry-exceeded'
  | 'remote-invalid-request'
  | 'remote-access-error'
  | 'remote-operational-error'
  | 'flushed';
export type RcRecvStatus = 'success' | 'local-length-error' | 'flushed';

export interface RcLoopOptions {
  /** Path MTU: 256, 512, 1024, 2048 or 4096. */
  mtuBytes?: number;
  /** Probability (0-1) that a packet, in either direction, is lost. */
  lossRate?: number;
  /** Probability (0-1) that a packet that is not lost arrives twice (the copy 1 us later). */
  duplicateRate?: number;
  /** Probability (0-1) that a packet is held back by `reorderDelayUs`, so later ones overtake it. */
  reorderRate?: number;
  /** Seed of the link's random draws (uint32): equal seeds give equal runs. */
  seed?: number;
  /** One-way link delay. */
  latencyUs?: number;
  reorderDelayUs?: number;
  /** The requester's first PSN, which the responder expects (24 bits): set near 0xFFFFFF to wrap. */
  startPsn?: number;
  /** Retries after ACK timeouts (and no-progress sequence NAKs), 0-7. */
  retryCount?: number;
  /** Retries after RNR NAKs, 0-7; 7 retries forever. */
  rnrRetry?: number;
  /** Local ACK timeout 4.096 us * 2^timeoutExp, 0-31; 0 disables the timer. */
  timeoutExp?: number;
  /** RNR timer code the responder puts in its RNR NAKs, 0-31 (1 = 10 us, 0 = 655.36 ms). */
  minRnrTimer?: number;
  /** Receive buffers the responder keeps posted (>= 1). */
  recvQueueDepth?: number;
  recvBufferBytes?: number;
  /** When the responder first posts its receive buffers (before that, it answers with RNR NAKs). */
  recvPostDelayUs?: number;
  /** Packets the requester may have unacknowledged before it waits. */
  sendWindowPackets?: number;
  /** The requester asks for an ACK at least every this many packets (and on every message's last). */
  ackReqEveryPackets?: number;
  /** Message i is posted no earlier than i * postSpacingUs (0: as soon as the send queue has room). */
  postSpacingUs?: number;
  /** Messages the requester keeps posted and not yet completed; the next is posted as one completes. */
  sendQueueDepth?: number;
  /** Request PSNs the link loses on their first transmission; a PSN listed k times, on its first k (deterministic gaps). */
  dropPsns?: readonly number[];
  /** Request PSNs the link delivers twice on their first transmission; listed k times, on its first k. */
  duplicatePsns?: readonly number[];
  /** Record the first N packets put on the link (both directions) in `packets`. */
  recordPackets?: number;
  /** Give up when the simulated clock passes this. */
  maxSimTimeUs?: number;
  /** Return the delivered messages (false: only count and compare them, as the benchmark does). */
  collectDelivered?: boolean;
}

export const RC_LOOP_DEFAULTS: Readonly<Required<RcLoopOptions>> = Object.freeze({
  mtuBytes: 4096,
  lossRate: 0,
  duplicateRate: 0,
  reorderRate: 0,
  seed: 1,
  latencyUs: 2,
  reorderDelayUs: 10,
  startPsn: 0,
  retryCount: 7,
  rnrRetry: 7,
  timeoutExp: 10,
  minRnrTimer: 1,
  recvQueueDepth: 256,
  recvBufferBytes: 65524,
  recvPostDelayUs: 0,
  sendWindowPackets: 64,
  ackReqEveryPackets: 8,
  postSpacingUs: 0,
  sendQueueDepth: 64,
  dropPsns: [],
  duplicatePsns: [],
  recordPackets: 0,
  maxSimTimeUs: 60_000_000,
  collectDelivered: true,
});

export interface RcLoopStats {
  /** Request packets the requester sent, retransmissions included. */
  packetsSent: number;
  retransmissions: number;
  /** PSN sequence error NAKs the responder sent. */
  naks: number;
  rnrNaks: number;
  invalidRequestNaks: number;
  /** ACKs the responder sent (coalesced ones and re-ACKs of duplicates). */
  acks: number;
  /** ACK timer expiries at the requester. */
  timeouts: number;
  /** Request packets the responder recognised as duplicates (re-ACKed, never re-delivered). */
  duplicatesReceived: number;
  /** Request packets ahead of the expected PSN, dropped by the responder. */
  outOfSequenceDropped: number;
  /** ACK/NAKs the requester ignored as late or copied. */
  staleAcks: number;
  /** ACK/NAKs naming PSNs never sent: 0 unless the engine is wrong. */
  ghostAcks: number;
  linkLost: number;
  linkDuplicated: number;
  linkReordered: number;
  simulatedTimeUs: number;
}

/** One packet the harness put on the link. */
export interface RcLoopPacket {
  timeUs: number;
  from: 'requester' | 'responder';
  fate: 'delivered' | 'lost' | 'duplicated';
  /** BTH, plus the AETH on ACKNOWLEDGE packets, exactly as on the wire (decode with src/wire/bth.ts, aeth.ts). */
  headers: Buffer;
  payloadBytes: number;
}

export interface RcLoopResult {
  /** Messages the responder completed successfully, in completion order (empty unless collectDelivered). */
  delivered: Buffer[];
  deliveredCount: number;
  deliveredBytes: number;
  /** Whether the k-th delivered message equals the k-th message posted, for every delivery. */
  deliveredInOrder: boolean;
  /** Send completion of each message, by index; null when it never completed. */
  sendStatus: Array<RcSendStatus | null>;
  /** Every receive completion at the responder, in order. */
  recvStatus: RcRecvStatus[];
  stats: RcLoopStats;
  /** Why a QP went to ERROR ("requester: RTS -> ERROR (retry-exceeded: ...)") and harness problems. */
  errors: string[];
  requesterState: RcQpState;
  responderState: RcQpState;
  packets: RcLoopPacket[];
}

const MTUS = [256, 512, 1024, 2048, 4096];
/**
 * A run's messages together may make at most this many packets (counting first transmissions), which
 * keeps any set of them that is posted at once inside the engine's PSN budget.
 */
export const RC_LOOP_MAX_PACKETS = 2 ** 22 - 1;

type Limits = Readonly<Record<string, readonly [number, number]>>;
const INTEGER_LIMITS: Limits = {
  seed: [0, 0xffffffff],
  latencyUs: [0, 1e9],
  reorderDelayUs: [0, 1e9],
  startPsn: [0, 0xffffff],
  retryCount: [0, 7],
  rnrRetry: [0, 7],
  timeoutExp: [0, 31],
  minRnrTimer: [0, 31],
  recvQueueDepth: [1, 1e6],
  recvBufferBytes: [0, 0xffffffff],
  recvPostDelayUs: [0, 1e15],
  sendWindowPackets: [1, 2 ** 22 - 1],
  ackReqEveryPackets: [1, 1e6],
  postSpacingUs: [0, 1e12],
  sendQueueDepth: [1, 1e6],
  recordPackets: [0, 1e7],
  maxSimTimeUs: [1, 1e15],
};
const RATES = ['lossRate', 'duplicateRate', 'reorderRate'] as const;
const PSN_LISTS = ['dropPsns', 'duplicatePsns'] as const;

function shown(v: unknown): string {
  return typeof v === 'number' || typeof v === 'boolean' ? String(v) : typeof v;
}

/** Throws unless `v` is an integer in [min, max]; `what` is "fn: path", e.g. "runRcLoop: options.seed". */
function checkInteger(what: string, v: unknown, [min, max]: readonly [number, number]): void {
  if (typeof v !== 'number') throw new TypeError(`${what} must be a number, got ${shown(v)}`);
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new RangeError(`${what} must be an integer from ${min} to ${max}, got ${v}`);
  }
}

/** The options with defaults filled in, after checking every one. Throws TypeError/RangeError. */
export function resolveRcLoopOptions(options: RcLoopOptions = {}): NativeRcLoopOptions {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`runRcLoop: options must be an object, got ${options === null ? 'null' : typeof options}`);
  }
  for (const key of Object.keys(options)) {
    if (!Object.hasOwn(RC_LOOP_DEFAULTS, key)) throw new TypeError(`runRcLoop: unknown option "${key}"`);
  }
  const merged: Record<string, unknown> = { ...RC_LOOP_DEFAULTS };
  for (const [key, value] of Object.entries(options)) if (value !== undefined) merged[key] = value;

  for (const [name, limits] of Object.entries(INTEGER_LIMITS)) {
    checkInteger(`runRcLoop: options.${name}`, merged[name], limits);
  }
  if (!MTUS.includes(merged.mtuBytes as number)) {
    throw new RangeError(
      `runRcLoop: options.mtuBytes must be one of ${MTUS.join(', ')}, got ${shown(merged.mtuBytes)}`,
    );
  }
  for (const name of RATES) {
    const v = merged[name];
    if (typeof v !== 'number') throw new TypeError(`runRcLoop: options.${name} must be a number, got ${shown(v)}`);
    if (!(v >= 0 && v <= 1)) throw new RangeError(`runRcLoop: options.${name} must be from 0 to 1, got ${v}`);
  }
  for (const name of PSN_LISTS) {
    const list = merged[name];
    if (!Array.isArray(list))
      throw new TypeError(`runRcLoop: options.${name} must be an array of PSNs, got ${shown(list)}`);
    list.forEach((psn: unknown, i) => checkInteger(`runRcLoop: options.${name}[${i}]`, psn, [0, 0xffffff]));
  }
  if (typeof merged.collectDelivered !== 'boolean') {
    throw new TypeError(`runRcLoop: options.collectDelivered must be a boolean, got ${shown(merged.collectDelivered)}`);
  }
  return merged as unknown as NativeRcLoopOptions;
}

function checkMessages(messages: readonly Uint8Array[], mtuBytes: number): void {
  if (!Array.isArray(messages))
    throw new TypeError(`runRcLoop: messages must be an array of Buffers, got ${typeof messages}`);
  let packets = 0;
  messages.forEach((m: unknown, i) => {
    if (!(m instanceof Uint8Array))
      throw new TypeError(`runRcLoop: messages[${i}] must be a Buffer or Uint8Array, got ${typeof m}`);
    packets += Math.max(1, Math.ceil(m.length / mtuBytes));
  });
  if (packets > RC_LOOP_MAX_PACKETS) {
    throw new RangeError(
      `runRcLoop: the messages make ${packets} packets at a ${mtuBytes}-octet MTU, more than ${RC_LOOP_MAX_PACKETS}`,
    );
  }
}

function oneOf<T extends string>(what: string, v: unknown, allowed: readonly T[]): T {
  if (typeof v === 'string' && (allowed as readonly string[]).includes(v)) return v as T;
  throw new NativeError(`rcLoopRun returned ${what} ${String(v)}: the addon is stale, rebuild it`, 'rcLoopRun');
}

const STATES: readonly RcQpState[] = ['RESET', 'INIT', 'RTR', 'RTS', 'ERROR'];
const SEND_STATUSES: readonly RcSendStatus[] = [
  'success',
  'retry-exceeded',
  'rnr-retry-exceeded',
  'remote-invalid-request',
  'remote-access-error',
  'remote-operational-error',
  'flushed',
];
const RECV_STATUSES: readonly RcRecvStatus[] = ['success', 'local-length-error', 'flushed'];

function typed(raw: NativeRcLoopResult): RcLoopResult {
  return {
    delivered: raw.delivered,
    deliveredCount: raw.deliveredCount,
    deliveredBytes: raw.deliveredBytes,
    deliveredInOrder: raw.deliveredInOrder,
    sendStatus: raw.sendStatus.map((s) => (s === null ? null : oneOf('send status', s, SEND_STATUSES))),
    recvStatus: raw.recvStatus.map((s) => oneOf('receive status', s, RECV_STATUSES)),
    stats: raw.stats as unknown as RcLoopStats,
    errors: raw.errors,
    requesterState: oneOf('state', raw.requesterState, STATES),
    responderState: oneOf('state', raw.responderState, STATES),
    packets: raw.packets.map((p) => ({
      timeUs: p.timeUs,
      from: oneOf('packet origin', p.from, ['requester', 'responder'] as const),
      fate: oneOf('packet fate', p.fate, ['delivered', 'lost', 'duplicated'] as const),
      headers: p.headers,
      payloadBytes: p.payloadBytes,
    })),
  };
}

/** The binding, with `fn` checked to exist (a binary built before it was added lacks it). */
function nativeWith(fn: 'rcLoopRun' | 'rcQpScript'): ReturnType<typeof loadNative> {
  const native = loadNative();
  if (typeof (native as Partial<typeof native>)[fn] !== 'function') {
    throw new NativeError(`the native addon has no ${fn}: it is stale, run \`npm run build:native\``, fn);
  }
  return native;
}

/** Runs `messages` from the requester to the responder over the simulated link. TEST AND BENCHMARK ONLY. */
export function runRcLoop(messages: readonly Uint8Array[], options: RcLoopOptions = {}): RcLoopResult {
  const resolved = resolveRcLoopOptions(options);
  checkMessages(messages, resolved.mtuBytes);
  const native = nativeWith('rcLoopRun');
  return typed(callNative('rcLoopRun', () => native.rcLoopRun(messages, resolved)));
}

// ---- One QP, driven by a script (TEST ONLY)

/** The attributes of one RC QP (native/src/sim/rc_qp.h); the engine itself judges their values. */
export type RcQpConfig = NativeRcQpConfig;

/** What runRcQpScript uses for every field a step does not give. */
export const RC_QP_CONFIG_DEFAULTS: Readonly<RcQpConfig> = Object.freeze({
  qpn: RC_LOOP_RESPONDER_QPN,
  destQpn: RC_LOOP_REQUESTER_QPN,
  pkey: RC_LOOP_PKEY,
  pathMtuBytes: 4096,
  sqPsn: 0,
  rqPsn: 0,
  retryCount: 7,
  rnrRetry: 7,
  timeoutExp: 10,
  minRnrTimer: 1,
  recvQueueDepth: 16,
  sendQueueDepth: 16,
  sendWindowPackets: 64,
  ackReqEveryPackets: 8,
});

/** How wide each field's C++ type is; values inside it reach the engine, which judges them. */
const CONFIG_WIDTH: Readonly<Record<keyof RcQpConfig, number>> = {
  qpn: 0xffffffff,
  destQpn: 0xffffffff,
  pkey: 0xffff,
  pathMtuBytes: 0xffffffff,
  sqPsn: 0xffffffff,
  rqPsn: 0xffffffff,
  retryCount: 0xff,
  rnrRetry: 0xff,
  timeoutExp: 0xff,
  minRnrTimer: 0xff,
  recvQueueDepth: 0xffffffff,
  sendQueueDepth: 0xffffffff,
  sendWindowPackets: 0xffffffff,
  ackReqEveryPackets: 0xffffffff,
};

export type RcScriptStep =
  /** Modify to `to` with RC_QP_CONFIG_DEFAULTS, the script's config, then this step's `config`. */
  | { op: 'modify'; to: RcQpState; config?: Partial<RcQpConfig> }
  | { op: 'postSend'; wrId: number; message: Uint8Array }
  | { op: 'postRecv'; wrId: number; capacityBytes: number }
  /** A packet for OnPacket: BTH [+ AETH for ACKNOWLEDGE] + payload + pad, no LRH/GRH/ICRC. */
  | { op: 'packet'; wire: Uint8Array }
  /** Set the clock, then run the timers. */
  | { op: 'timer'; nowUs: number }
  /** Set the clock only. */
  | { op: 'clock'; nowUs: number };

interface EventBase {
  /** Index of the step during which it happened. */
  step: number;
  timeUs: number;
}
export type RcScriptEvent =
  | (EventBase & { type: 'emit'; wire: Buffer })
  | (EventBase & { type: 'send-done'; wrId: number; status: RcSendStatus })
  | (EventBase & { type: 'recv-done'; wrId: number; status: RcRecvStatus; message: Buffer; srcQp: number })
  | (EventBase & { type: 'state'; from: RcQpState; to: RcQpState; reason: string })
  /** What Modify/PostSend/PostRecv returned (`why` says why Modify refused), or whether a packet parsed. */
  | (EventBase & { type: 'result'; ok: boolean; why: string });

/** The engine's counters (native/src/sim/rc_qp.h RcQpStats). */
export interface RcQpStats {
  packetsSent: number;
  retransmissions: number;
  timeouts: number;
  acksReceived: number;
  staleAcks: number;
  ghostAcks: number;
  naksReceived: number;
  rnrNaksReceived: number;
  requestsAccepted: number;
  messagesDelivered: number;
  acksSent: number;
  naksSent: number;
  rnrNaksSent: number;
  invalidRequestNaksSent: number;
  duplicatesReceived: number;
  outOfSequenceDropped: number;
  packetsIgnored: number;
}

export interface RcScriptResult {
  events: RcScriptEvent[];
  state: RcQpState;
  /** When the QP next wants OnTimer; null when nothing is pending. */
  nextDeadlineUs: number | null;
  /** Why the QP went to ERROR, in words ("" when it did not). */
  errorDetail: string;
  stats: RcQpStats;
}

function checkConfig(where: string, config: Partial<RcQpConfig>): void {
  if (typeof config !== 'object' || config === null) throw new TypeError(`runRcQpScript: ${where} must be an object`);
  for (const [key, value] of Object.entries(config)) {
    if (!Object.hasOwn(CONFIG_WIDTH, key))
      throw new TypeError(`runRcQpScript: unknown config field "${key}" in ${where}`);
    const width = CONFIG_WIDTH[key as keyof RcQpConfig];
    if (value !== undefined) checkInteger(`runRcQpScript: ${where}.${key}`, value, [0, width]);
  }
}

function nativeStep(step: RcScriptStep, i: number, base: RcQpConfig): NativeRcScriptStep {
  const where = `steps[${i}]`;
  if (typeof step !== 'object' || step === null) throw new TypeError(`runRcQpScript: ${where} must be an object`);
  const wrId = (v: unknown): number => {
    checkInteger(`runRcQpScript: ${where}.wrId`, v, [0, Number.MAX_SAFE_INTEGER]);
    return v as number;
  };
  const bytes = (name: string, v: unknown): Uint8Array => {
    if (!(v instanceof Uint8Array))
      throw new TypeError(`runRcQpScript: ${where}.${name} must be a Buffer or Uint8Array`);
    return v;
  };
  switch (step.op) {
    case 'modify': {
      if (!STATES.includes(step.to))
        throw new RangeError(`runRcQpScript: ${where}.to must be one of ${STATES.join(', ')}`);
      checkConfig(`${where}.config`, step.config ?? {});
      return { op: 'modify', to: step.to, config: { ...base, ...step.config } };
    }
    case 'postSend':
      return { op: 'postSend', wrId: wrId(step.wrId), message: bytes('message', step.message) };
    case 'postRecv':
      checkInteger(`runRcQpScript: ${where}.capacityBytes`, step.capacityBytes, [0, 0xffffffff]);
      return { op: 'postRecv', wrId: wrId(step.wrId), capacityBytes: step.capacityBytes };
    case 'packet':
      return { op: 'packet', wire: bytes('wire', step.wire) };
    case 'timer':
    case 'clock':
      checkInteger(`runRcQpScript: ${where}.nowUs`, step.nowUs, [0, Number.MAX_SAFE_INTEGER]);
      return { op: step.op, nowUs: step.nowUs };
    default:
      throw new RangeError(`runRcQpScript: ${where}.op ${JSON.stringify((step as { op: unknown }).op)} is not a step`);
  }
}

function scriptEvent(raw: Record<string, unknown>): RcScriptEvent {
  const base = { step: raw.step as number, timeUs: raw.timeUs as number };
  switch (raw.type) {
    case 'emit':
      return { ...base, type: 'emit', wire: raw.wire as Buffer };
    case 'send-done':
      return {
        ...base,
        type: 'send-done',
        wrId: raw.wrId as number,
        status: oneOf('send status', raw.status, SEND_STATUSES),
      };
    case 'recv-done':
      return {
        ...base,
        type: 'recv-done',
        wrId: raw.wrId as number,
        status: oneOf('receive status', raw.status, RECV_STATUSES),
        message: raw.message as Buffer,
        srcQp: raw.srcQp as number,
      };
    case 'state':
      return {
        ...base,
        type: 'state',
        from: oneOf('state', raw.from, STATES),
        to: oneOf('state', raw.to, STATES),
        reason: String(raw.reason),
      };
    case 'result':
      return { ...base, type: 'result', ok: raw.ok === true, why: String(raw.why) };
    default:
      throw new NativeError(
        `rcQpScript returned an event of type ${String(raw.type)}: the addon is stale, rebuild it`,
        'rcQpScript',
      );
  }
}

/**
 * Runs `steps` against one RC QP whose configuration is RC_QP_CONFIG_DEFAULTS overridden by
 * `config` (and by each modify step's own `config`). TEST ONLY.
 */
export function runRcQpScript(steps: readonly RcScriptStep[], config: Partial<RcQpConfig> = {}): RcScriptResult {
  if (!Array.isArray(steps)) throw new TypeError(`runRcQpScript: steps must be an array, got ${typeof steps}`);
  checkConfig('config', config);
  const base: RcQpConfig = { ...RC_QP_CONFIG_DEFAULTS, ...config };
  const native = nativeWith('rcQpScript');
  const nativeSteps = steps.map((s, i) => nativeStep(s, i, base));
  const raw: NativeRcScriptResult = callNative('rcQpScript', () => native.rcQpScript(nativeSteps));
  return {
    events: raw.events.map(scriptEvent),
    state: oneOf('state', raw.state, STATES),
    nextDeadlineUs: raw.nextDeadlineUs,
    errorDetail: raw.errorDetail,
    stats: raw.stats as unknown as RcQpStats,
  };
}
