/**
 * The seam to the TUN data plane: IpoibNode binds the daemon's parent interface (made by the
 * IpoibHost, handed in) to a TUN device in the node's network namespace, assigns the addresses
 * to both the kernel and the stack, and brings the link up. Without a namespace there is no
 * data plane and the stack runs on the fabric alone.
 */
import { IpoibNode } from '../node.js';
import type { DataPlaneBinding, IpoibDaemonOptions } from './daemon.js';

type Binder = NonNullable<IpoibDaemonOptions['bindDataPlane']>;

/** IpoibNode's binding of a handed-in interface. */
export const tunDataPlane: Binder = async ({ iface, port, netns, addresses, log }): Promise<DataPlaneBinding> => {
  const node = await IpoibNode.open({ port, ifname: iface.name, netns, interface: iface, addresses, log });
  return { close: () => node.close(), counters: () => node.plane.counters() };
};
