/**
 * Helpers for the TUN data plane tests: simulated-fabric ports routed to each other (opened
 * directly, no manager), IP packets built by hand, and deadline polling.
 */
import { type SimEndpoint as SimEndpointType, SimEndpoint, type UdCompletion } from '../../src/fabric/sim/native-endpoint.js';

export const QKEY = 0x00000b1b;
/** ff12:401b:ffff::ffff:ffff, the IPv4 broadcast group of the default partition. */
export const BROADCAST_MGID = Buffer.from('ff12401bffff000000000000ffffffff', 'hex');
export const BROADCAST_MLID = 0xc000;
/** ff12:401b:ffff::e000:0001 = 224.0.0.1's group. */
export const ALL_HOSTS_MGID = Buffer.from('ff12401bffff0000000000000e000001', 'hex');
export const ALL_HOSTS_MLID = 0xc001;

export function gidOf(lid: number): Buffer {
  const g = Buffer.from('fe800000000000000002c90300000000', 'hex');
  g.writeUInt16BE(lid, 14);
  return g;
}

export interface Port {
  ep: SimEndpointType;
  qpn: number;
}

/**
 * Opens one 2048-MTU port per LID with one UD QP each, every port routed to every other, and
 * the given multicast groups reaching the listed members (by LID), who are attached.
 */
export async function withPorts<T>(
  lids: number[],
  groups: Array<{ mlid: number; mgid: Buffer; members: number[] }>,
  body: (ports: Port[]) => Promise<T>,
): Promise<T> {
  const ports: Port[] = [];
  try {
    for (const lid of lids) {
      const ep = SimEndpoint.open({ lid, gid: gidOf(lid), mtuCode: 4, pkeys: [0xffff, 0x8001] });
      ports.push({ ep, qpn: ep.createUdQp({ qkey: QKEY, pkeyIndex: 0 }) });
    }
    const unicast = ports.map((p) => ({ lid: p.ep.lid, udpPort: p.ep.udpPort }));
    const multicast = groups.map((g) => ({
      mlid: g.mlid,
      udpPorts: ports.filter((p) => g.members.includes(p.ep.lid)).map((p) => p.ep.udpPort),
    }));
    for (const p of ports) p.ep.setRoutes(unicast, multicast);
    for (const g of groups) {
      for (const p of ports) if (g.members.includes(p.ep.lid)) p.ep.attachMulticast(p.qpn, g.mgid, g.mlid);
    }
    return await body(ports);
  } finally {
    await Promise.all(ports.map((p) => p.ep.close()));
  }
}

/** Every completion a port's QPs receive (only those without a native handler), in order. */
export function collect(ep: SimEndpointType): UdCompletion[] {
  const got: UdCompletion[] = [];
  ep.onReceive((batch) => got.push(...batch.map((c) => ({ ...c, payload: Buffer.from(c.payload) }))));
  return got;
}

/** Polls `ok` every few ms until it holds, or fails with `what()` after `timeoutMs`. */
export async function waitUntil(ok: () => boolean, what: () => string, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what()}`);
    await new Promise((r) => setTimeout(r, 3));
  }
}

/** Gives threads time to act on something that must NOT happen, before asserting it did not. */
export const settle = (ms = 60): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * An IPv4 packet: 20-octet header (no options; checksum left 0, nothing here checks it),
 * protocol UDP (17), then `payloadLen` octets counting up from `fill`.
 */
export function ipv4Packet(src: string, dst: string, payloadLen = 40, fill = 0): Buffer {
  const p = Buffer.alloc(20 + payloadLen);
  p[0] = 0x45;
  p.writeUInt16BE(p.length, 2);
  p[8] = 64;
  p[9] = 17;
  Buffer.from(src.split('.').map(Number)).copy(p, 12);
  Buffer.from(dst.split('.').map(Number)).copy(p, 16);
  for (let i = 0; i < payloadLen; i++) p[20 + i] = (fill + i) & 0xff;
  return p;
}

/** An IPv6 packet: 40-octet header with `nextHeader`, then `payload`. Addresses as 16-octet hex. */
export function ipv6Packet(srcHex: string, dstHex: string, nextHeader: number, payload: Buffer): Buffer {
  const p = Buffer.alloc(40 + payload.length);
  p[0] = 0x60;
  p.writeUInt16BE(payload.length, 4);
  p[6] = nextHeader;
  p[7] = 255;
  Buffer.from(srcHex, 'hex').copy(p, 8);
  Buffer.from(dstHex, 'hex').copy(p, 24);
  payload.copy(p, 40);
  return p;
}

/** The 4-octet IPoIB header (EtherType, reserved) followed by `payload`. */
export function ipoibFrame(etherType: number, payload: Buffer, reserved = 0): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt16BE(etherType, 0);
  h.writeUInt16BE(reserved, 2);
  return Buffer.concat([h, payload]);
}
