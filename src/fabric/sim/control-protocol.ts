/**
 * The fabric manager's control protocol: newline-delimited JSON over a Unix socket in the
 * fabric's owner-only run directory. Clients are port owners (a process holding a port's
 * endpoint: ipoibd, a probe, a test) and operators (`ipoib-lab fabric status`).
 *
 * Client → manager: `{ id, op, ... }` requests, answered by `{ id, ok: true, result }` or
 * `{ id, ok: false, error }`. Manager → client: `{ event, ... }` pushes, and `{ id, op }`
 * requests to port owners (counters), answered the same way. Every message is validated
 * with the schemas below; a bad one gets an error answer and changes nothing.
 */
import { z } from 'zod';

/** Largest accepted line: far above any real message, small enough to bound memory. */
export const MAX_LINE_BYTES = 1 << 20;

const nodeName = z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, 'a node name (lowercase letters, digits, -)');
const u16 = z.number().int().min(0).max(0xffff);
const u32 = z.number().int().min(0).max(0xffffffff);
const id = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

export const requestSchema = z.discriminatedUnion('op', [
  z.object({ id, op: z.literal('hello') }),
  /** Claim a node's port: only one owner at a time. */
  z.object({ id, op: z.literal('attach'), node: nodeName }),
  /** Tell the manager where the owner's endpoint listens (UDP on 127.0.0.1). */
  z.object({ id, op: z.literal('bind'), udpPort: z.number().int().min(1).max(65535) }),
  z.object({ id, op: z.literal('status'), counters: z.boolean().optional() }),
  z.object({
    id,
    op: z.literal('fault'),
    node: nodeName,
    lossRate: z.number().min(0).max(1).optional(),
    delayMs: z.number().min(0).max(10_000).optional(),
    seed: u32.optional(),
  }),
  z.object({ id, op: z.literal('link'), node: nodeName, up: z.boolean() }),
  z.object({ id, op: z.literal('sm'), running: z.boolean() }),
  z.object({ id, op: z.literal('pkeys'), node: nodeName, pkeys: z.array(u16).min(1).max(64) }),
  z.object({ id, op: z.literal('sa-refuse'), on: z.boolean(), saError: z.number().int().min(1).max(127).optional() }),
  z.object({ id, op: z.literal('tap'), file: z.string().min(1).nullable(), nodes: z.array(nodeName).optional() }),
  z.object({ id, op: z.literal('shutdown') }),
]);
export type ControlRequest = z.infer<typeof requestSchema>;
export type ControlOp = ControlRequest['op'];

/** An answer to a request in either direction. */
export const responseSchema = z.union([
  z.object({ id, ok: z.literal(true), result: z.unknown() }),
  z.object({ id, ok: z.literal(false), error: z.string() }),
]);
export type ControlResponse = z.infer<typeof responseSchema>;

export interface PortInfoMessage {
  node: string;
  guid: string;
  gid: string;
  lid: number;
  smLid: number;
  mtuCode: number;
  pkeys: number[];
  state: 'active' | 'down';
}

export interface RoutesMessage {
  unicast: Array<{ lid: number; udpPort: number }>;
  multicast: Array<{ mlid: number; udpPorts: number[] }>;
}

/** Pushes from the manager to a port owner. */
export type ManagerEvent =
  | { event: 'port'; port: PortInfoMessage; reason: 'pkey-change' | 'client-reregister' | 'port-active' | 'port-down' | 'lid-change' }
  | { event: 'faults'; lossRate?: number; delayMs?: number; seed?: number }
  | { event: 'tap'; udpPort: number | null }
  | { event: 'shutdown' };

const routesSchema = z.object({
  unicast: z.array(z.object({ lid: u16, udpPort: z.number().int().min(1).max(65535) })),
  multicast: z.array(z.object({ mlid: u16, udpPorts: z.array(z.number().int().min(1).max(65535)) })),
});

/**
 * Requests from the manager to a port owner. Routes are a request, not a push: the manager
 * waits for every owner to install them before it answers the request that changed them (a
 * bind, a join), as an SM programs the switches before it answers a join.
 */
export const ownerRequestSchema = z.discriminatedUnion('op', [
  z.object({ id, op: z.literal('counters') }),
  z.object({ id, op: z.literal('routes'), routes: routesSchema }),
]);
export type OwnerRequest = z.infer<typeof ownerRequestSchema>;

export function encodeLine(msg: unknown): string {
  return `${JSON.stringify(msg, (_k, v: unknown) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v))}\n`;
}

/** Splits a byte stream into lines; calls `onLine` per complete line, `onError` on an over-long one. */
export class LineSplitter {
  private buf = '';
  constructor(
    private readonly onLine: (line: string) => void,
    private readonly onError: (why: string) => void,
  ) {}

  push(chunk: string): void {
    this.buf += chunk;
    let nl: number;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + 1);
      if (line.trim() !== '') this.onLine(line);
    }
    if (this.buf.length > MAX_LINE_BYTES) {
      this.buf = '';
      this.onError(`line longer than ${MAX_LINE_BYTES} bytes`);
    }
  }
}

/** Parses one line as JSON; returns undefined (and a reason) instead of throwing. */
export function parseLine(line: string): { value: unknown } | { error: string } {
  try {
    return { value: JSON.parse(line) as unknown };
  } catch (e) {
    return { error: `not JSON: ${(e as Error).message}` };
  }
}

/** A zod error as one readable line. */
export function describeZodError(e: z.ZodError): string {
  return e.issues.map((i) => `${i.path.join('.') || '(message)'}: ${i.message}`).join('; ');
}
