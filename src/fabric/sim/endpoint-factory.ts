/**
 * Opens the real native endpoint and tap for the fabric manager and for port owners. The
 * manager and the provider take factories so their own tests can run without the addon.
 */
import type { EndpointFactory, TapFactory } from './fabric-manager.js';
import type { PortEndpointFactory } from './provider.js';
import { type MtuCode, SimEndpoint } from './native-endpoint.js';
import { TapReceiver } from './tap-receiver.js';

export const openManagerEndpoint: EndpointFactory = (o) =>
  SimEndpoint.open({ lid: o.lid, gid: o.gid, mtuCode: o.mtuCode as MtuCode, pkeys: o.pkeys, state: 'active' });

export const openPortEndpoint: PortEndpointFactory = (o) =>
  SimEndpoint.open({ lid: o.lid, gid: o.gid, mtuCode: o.mtuCode as MtuCode, pkeys: o.pkeys, state: o.state });

export const openTapWriter: TapFactory = (file) => TapReceiver.open({ path: file });
