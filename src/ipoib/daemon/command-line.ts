/**
 * The ipoibctl command line (what follows the global options) as one control-protocol request:
 * `mtu ib0 2044` → { cmd: 'mtu', ifname: 'ib0', value: 2044 }. ipoibctl parses its argv with it,
 * and the reference DUT adapter builds the requests it sends over the control socket with it,
 * so both speak exactly the same commands.
 */
import { UsageError } from '../../errors.js';
import type { DaemonCall } from './protocol.js';

/** iproute2's get_u16(…, 0): the whole text is a number in base 0 (0x hex, 0 octal, decimal) ≤ 0xffff. */
function u16Arg(text: string, what: string): number {
  if (!/^(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/.test(text)) throw new UsageError(`invalid ${what} "${text}"`);
  const n = text.length > 1 && text[0] === '0' && /[xX]/.test(text[1] ?? '') ? parseInt(text.slice(2), 16) : text[0] === '0' ? parseInt(text, 8) : parseInt(text, 10);
  if (n > 0xffff) throw new UsageError(`invalid ${what} "${text}": more than 16 bits`);
  return n;
}

function nonNegativeInt(text: string, what: string): number {
  if (!/^\d{1,10}$/.test(text) || Number(text) > 0x7fffffff) throw new UsageError(`invalid ${what} "${text}"`);
  return Number(text);
}

function parseLinkAdd(args: readonly string[]): DaemonCall {
  const call: { cmd: 'link_add'; link?: string; name?: string; pkey?: number; mode?: 'datagram' | 'connected'; umcast?: number } = { cmd: 'link_add' };
  let type: string | undefined;
  for (let i = 0; i < args.length; i += 2) {
    const key = args[i] ?? '';
    const v = args[i + 1];
    if (v === undefined) throw new UsageError(`link add: "${key}" needs a value`);
    if (key === 'link') call.link = v;
    else if (key === 'name') call.name = v;
    else if (key === 'type') type = v;
    else if (key === 'pkey') call.pkey = u16Arg(v, 'pkey');
    else if (key === 'mode') {
      if (v !== 'datagram' && v !== 'connected') throw new UsageError(`link add: mode is datagram or connected, not "${v}"`);
      call.mode = v;
    } else if (key === 'umcast') call.umcast = u16Arg(v, 'umcast');
    else throw new UsageError(`link add: unknown argument "${key}"`);
  }
  if (type !== 'ipoib') throw new UsageError('link add: "type ipoib" is required');
  if (call.link === undefined) throw new UsageError('link add: "link IF" is required');
  return call as DaemonCall;
}

const IF_ONLY = new Set(['stats', 'mcg', 'path', 'pkey', 'parent', 'down', 'cm']);

/** The command line after the global options → one protocol request. */
export function parseCommand(rest: readonly string[]): DaemonCall {
  const [cmd, ...args] = rest;
  if (cmd === undefined) throw new UsageError('a command is required');
  const want = (min: number, max: number): void => {
    if (args.length < min || args.length > max) throw new UsageError(`${cmd}: expected ${min === max ? min : `${min} to ${max}`} argument(s), got ${args.length}`);
  };
  const ifname = (): string => args[0] ?? '';
  if (IF_ONLY.has(cmd)) {
    want(1, 1);
    return { cmd, ifname: ifname() } as DaemonCall;
  }
  switch (cmd) {
    case 'up':
      want(1, 17);
      return args.length > 1 ? { cmd, ifname: ifname(), addresses: args.slice(1) } : { cmd, ifname: ifname() };
    case 'neigh':
      want(1, 2);
      if (args[1] === undefined) return { cmd, ifname: ifname() };
      if (args[1] !== 'flush') throw new UsageError(`neigh: "${args[1]}" is not "flush"`);
      return { cmd: 'neigh_flush', ifname: ifname() };
    case 'addr': {
      // iproute2's order: addr add CIDR dev IF.
      const [sub, address, dev, name] = args;
      if ((sub !== 'add' && sub !== 'del') || address === undefined || dev !== 'dev' || name === undefined || args.length !== 4) {
        throw new UsageError('addr add|del CIDR dev IF');
      }
      return { cmd: sub === 'add' ? 'addr_add' : 'addr_del', ifname: name, address };
    }
    case 'show':
      want(0, 1);
      return args[0] === undefined ? { cmd: 'show' } : { cmd: 'show', ifname: ifname() };
    case 'mode':
      want(1, 2);
      // Written as `echo WORD > mode` writes it: with its newline, which the kernel's comparison includes.
      return args[1] === undefined ? { cmd, ifname: ifname() } : { cmd, ifname: ifname(), value: `${args[1]}\n` };
    case 'umcast':
      want(1, 2);
      return args[1] === undefined ? { cmd, ifname: ifname() } : { cmd, ifname: ifname(), value: args[1] };
    case 'mtu':
      want(1, 2);
      return args[1] === undefined ? { cmd, ifname: ifname() } : { cmd, ifname: ifname(), value: nonNegativeInt(args[1], 'MTU') };
    case 'debug':
      want(1, 2);
      return args[1] === undefined ? { cmd, ifname: ifname() } : { cmd, ifname: ifname(), level: nonNegativeInt(args[1], 'debug level') };
    case 'create_child':
    case 'delete_child':
      want(2, 2);
      return { cmd, ifname: ifname(), pkey: args[1] ?? '' };
    case 'link': {
      const [sub, ...more] = args;
      if (sub === 'add') return parseLinkAdd(more);
      if (sub === 'del' || sub === 'delete') {
        const name = more[0] === 'dev' ? more[1] : more[0];
        if (name === undefined || more.length > (more[0] === 'dev' ? 2 : 1)) throw new UsageError('link del NAME');
        return { cmd: 'link_del', name };
      }
      throw new UsageError('link add ... | link del NAME');
    }
    default:
      throw new UsageError(`unknown command "${cmd}"`);
  }
}
