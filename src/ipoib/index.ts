/**
 * The reference IPoIB stack (datagram and connected mode): interfaces on HcaPorts, their
 * host-side callbacks, and the host object that manages parents and P_Key children.
 */
export { IpoibHost, type IpoibHostOptions, type LinkAddRequest, IFNAME_MAX_LEN } from './host.js';
export {
  IpoibInterface,
  type IpoibInterfaceOptions,
  type IpoibHostSide,
  type InterfaceInfo,
  type LinkState,
  type ChildType,
  type IpoibMode,
} from './interface.js';
export { type IpoibCmOptions } from './cm/cm-config.js';
export type { CmConnectionInfo, CmStatus } from './cm/cm-manager.js';
export { type IpoibClock, systemClock } from './clock.js';
export { ETHTOOL_STAT_NAMES, EXTRA_STAT_NAMES, type IpoibStatName } from './counters.js';
export type { NeighbourInfo } from './neighbours.js';
export type { McastGroupInfo } from './mcast-manager.js';
export { PortMcastDb } from './port-mcast-db.js';
