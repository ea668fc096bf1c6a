/**
 * ipoibctl's human output, shaped like the Linux tools that show the same facts: `ip -d link`
 * for show, the sysfs file contents for mode/umcast/pkey/parent, `ethtool -S` for stats, the
 * debugfs files for mcg/path, `ip neigh` for neigh (flush prints nothing, as `ip neigh flush`
 * does), `ip addr` for the stack's addresses.
 */
import type { CmConnectionInfo, CmStatus } from '../cm/cm-manager.js';
import type { HandlerResult, ShowResult } from './handlers.js';

function showLines(i: ShowResult): string[] {
  const state = i.operstate;
  const pkey = `0x${i.pkey.toString(16).padStart(4, '0')}`;
  return [
    `${i.name}${i.parent ? `@${i.parent}` : ''}: <${i.flags.join(',')}> mtu ${i.mtu} state ${state}`,
    `    link/infiniband ${i.address} brd ${i.broadcast}`,
    `    ipoib pkey  ${pkey} mode  ${i.mode} umcast  ${i.umcast.toString(16).padStart(4, '0')}`,
    `    type ${i.type} addr_len ${i.addrLen} carrier ${i.carrier ? 1 : 0} qpn 0x${(i.qpn ?? 0).toString(16).padStart(6, '0')} qkey 0x${i.qkey.toString(16).padStart(8, '0')} kind ${i.childType}`,
    `    ${cmText(i.cm)} ud_mtu ${i.udMtu}`,
    ...i.ipv4.map((a) => `    inet ${a}`),
    ...i.ipv6.map((a) => `    inet6 ${a}`),
  ];
}

/** Connected mode in one line: `cm off`, or the profile, the Service ID listened on and the connections each way. */
function cmText(cm: CmStatus): string {
  return cm.supported ? `cm ${cm.profile} service_id ${cm.serviceId ?? 'none'} tx ${cm.tx} rx ${cm.rx}` : 'cm off';
}

/** `ipoibctl cm`: one line per connection. */
function connectionLines(c: CmConnectionInfo): string {
  const qpn = (n: number | null): string => (n === null ? '-' : `0x${n.toString(16).padStart(6, '0')}`);
  const mtu = c.mtu === null ? '' : ` mtu ${c.mtu}`;
  return `${c.direction} ${c.peer} ud_qpn ${qpn(c.peerUdQpn)} qpn ${qpn(c.localQpn)} remote_qpn ${qpn(c.remoteQpn)} ${c.state}${mtu} age ${Math.round(c.ageMs / 1000)}s`;
}

/** A daemon running with seeded defects says so first, so no one mistakes it for a conforming stack. */
function defectLines(defects: readonly string[]): string[] {
  return defects.length > 0 ? [`TEST BUILD: seeded defects active: ${defects.join(', ')}`] : [];
}

/** The lines ipoibctl prints for a result. */
export function formatResult(r: HandlerResult): string[] {
  switch (r.kind) {
    case 'hello':
      return [`ipoibd pid ${r.pid}: node ${r.node} on fabric ${r.fabric}; interfaces ${r.interfaces.join(', ')}`, ...defectLines(r.defects)];
    case 'show':
      return [...defectLines(r.defects), ...r.interfaces.flatMap(showLines)];
    case 'mode':
      return [r.mode];
    case 'cm':
      return [`mode ${r.mode} ${cmText(r.status)}`, ...r.connections.map(connectionLines)];
    case 'umcast':
      return [String(r.umcast)];
    case 'mtu':
      return [String(r.mtu)];
    case 'stats':
      return ['NIC statistics:', ...r.stats.ethtool.map(([n, v]) => `     ${n}: ${v}`)];
    case 'mcg':
    case 'path':
      // The dump already ends with its blank line; drop the final newline only.
      return r.text === '' ? [] : r.text.replace(/\n$/, '').split('\n');
    case 'neigh':
      return r.neighbours.map((n) => `${n.ip} dev ${r.ifname}${n.lladdr ? ` lladdr ${n.lladdr}` : ''} ${n.state.toUpperCase()}`);
    case 'neigh-flushed':
      return [];
    case 'addresses':
      return [...r.ipv4.map((a) => `inet ${a}`), ...r.ipv6.map((a) => `inet6 ${a}`)];
    case 'pkey':
      return [r.text];
    case 'parent':
      return [r.parent];
    case 'created':
      return [r.ifname];
    case 'deleted':
      return [];
    case 'debug':
      return [String(r.level)];
    case 'link':
      return [];
  }
}
