/**
 * The transport for a lab node, chosen by the node's `transport` key: typed construction, no
 * string registry. An ssh node connects here, so a bad key or host key fails before any test.
 */
import { ArgumentError } from '../errors.js';
import type { LabNode } from './lab-file.js';
import type { Transport } from './transport.js';
import { LocalTransport } from './transports/local.js';
import { SshTransport } from './transports/ssh.js';

export async function openTransport(node: LabNode): Promise<Transport> {
  if (node.transport === 'local') return new LocalTransport({ name: node.name, netns: node.netns, sudo: node.sudo });
  if (!node.ssh) throw new ArgumentError('openTransport', `${node.name}.ssh`, node.ssh, 'an ssh block (the lab file validator requires one)');
  return SshTransport.connect({ name: node.name, ssh: node.ssh, sudo: node.sudo });
}
