/**
 * The ipoibd control protocol: newline-delimited JSON over the daemon's owner-only Unix socket.
 * `ipoibctl` sends `{ id, cmd, ... }`; the daemon answers `{ id, ok: true, result }` or
 * `{ id, ok: false, error: { code, op, message } }`, where `code` is the errno name the kernel
 * would give (EINVAL, ENOTUNIQ, …) or EPROTO for a message that is not a valid request.
 * Every request is validated with the schemas below before anything acts on it.
 */
import { z } from 'zod';

/** IFNAMSIZ - 1. */
const ifname = z.string().min(1).max(15);
const id = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
/** Text as a user would write it to a sysfs file; bounded so a request stays small. */
const sysfsText = z.string().max(64);
const u16 = z.number().int().min(0).max(0xffff);

const onIf = <C extends string>(cmd: C) => z.object({ id, cmd: z.literal(cmd), ifname }).strict();

export const daemonRequestSchema = z.discriminatedUnion('cmd', [
  z.object({ id, cmd: z.literal('hello') }).strict(),
  z.object({ id, cmd: z.literal('show'), ifname: ifname.optional() }).strict(),
  /** `value`: the text as written to sysfs `mode`, newline included (`echo connected` writes "connected\n"). */
  z.object({ id, cmd: z.literal('mode'), ifname, value: sysfsText.optional() }).strict(),
  z.object({ id, cmd: z.literal('umcast'), ifname, value: sysfsText.optional() }).strict(),
  z.object({ id, cmd: z.literal('mtu'), ifname, value: z.number().int().min(0).max(0x7fffffff).optional() }).strict(),
  onIf('stats'),
  onIf('mcg'),
  onIf('path'),
  onIf('neigh'),
  /** Connected mode: whether it is offered, the Service ID listened on, the RC connections both ways. */
  onIf('cm'),
  /** `ip neigh flush dev IF` plus a path flush. */
  onIf('neigh_flush'),
  onIf('pkey'),
  onIf('parent'),
  /** Admin up, with addresses to add first (IPv4 or IPv6 CIDR, at most 16). */
  z.object({ id, cmd: z.literal('up'), ifname, addresses: z.array(z.string().min(1).max(64)).max(16).optional() }).strict(),
  onIf('down'),
  /** The stack's own copy of an address the host has on the interface (it answers ARP and ND for it). */
  z.object({ id, cmd: z.literal('addr_add'), ifname, address: z.string().min(1).max(64) }).strict(),
  z.object({ id, cmd: z.literal('addr_del'), ifname, address: z.string().min(1).max(64) }).strict(),
  z.object({ id, cmd: z.literal('create_child'), ifname, pkey: sysfsText }).strict(),
  z.object({ id, cmd: z.literal('delete_child'), ifname, pkey: sysfsText }).strict(),
  z
    .object({
      id,
      cmd: z.literal('link_add'),
      link: ifname,
      name: ifname.optional(),
      pkey: u16.optional(),
      mode: z.enum(['datagram', 'connected']).optional(),
      umcast: u16.optional(),
    })
    .strict(),
  z.object({ id, cmd: z.literal('link_del'), name: ifname }).strict(),
  z.object({ id, cmd: z.literal('debug'), ifname, level: z.number().int().min(0).max(0x7fffffff).optional() }).strict(),
]);
export type DaemonRequest = z.infer<typeof daemonRequestSchema>;
export type DaemonCommand = DaemonRequest['cmd'];

export type { DaemonErrorBody } from '../../errors.js';

export const daemonResponseSchema = z.union([
  z.object({ id, ok: z.literal(true), result: z.unknown() }),
  z.object({ id: id.nullable(), ok: z.literal(false), error: z.object({ code: z.string(), op: z.string(), message: z.string() }) }),
]);
export type DaemonResponse = z.infer<typeof daemonResponseSchema>;

/** A request without its id, as callers build it (distributed over the union). */
export type DaemonCall = DaemonRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

/** The id of a message that failed validation, when it has a usable one (so the answer can be matched). */
export function idOf(msg: unknown): number | null {
  if (typeof msg !== 'object' || msg === null) return null;
  const v = (msg as { id?: unknown }).id;
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : null;
}
