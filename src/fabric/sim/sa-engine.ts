/**
 * The simulated subnet administrator: one request MAD in (256 octets, from a given port), zero
 * or more response MADs out. Pure: no sockets, no timers; the transport that carries MADs
 * between ports calls `handle()` and sends back what it returns.
 *
 * What gets no response at all (the requester will time out, as with an unreachable SA):
 * - anything while the SM is stopped, and requests from an unknown or down port;
 * - a buffer that is not one 256-octet MAD, has a BaseVersion other than 1, or is not of the
 *   SA class (0x03): such a datagram cannot be answered as an SA MAD (Linux ib_mad drops MADs
 *   with an unknown base version before any agent sees them);
 * - responses (R bit set), which includes the RMPP ACKs a client sends while receiving a
 *   GetTableResp: segments are sent all at once, so those need no handling;
 * - a non-zero SM_Key other than the SA's (OpenSM discards those, sa_mad_ctrl_rcv_callback).
 *
 * What gets an error response, in this order (IBA ch. 13.4.7 MAD Status):
 * - ClassVersion other than 2: Status 0x0004 "bad version";
 * - a method the SA does not implement: 0x0008 "method unsupported" (OpenSM drops these
 *   instead; Linux's MAD layer answers Get/Set to an unregistered class with 0x000c);
 * - a known method on an attribute that does not support it (e.g. Set(PathRecord), or any
 *   attribute other than MCMemberRecord and PathRecord): 0x000c "method/attribute unsupported";
 * - a request with RMPP active: every SA request this engine serves fits one MAD, so a
 *   multi-segment request is malformed here: ERR_REQ_INVALID;
 * - whatever the attribute handler decides (sa-mcmember.ts, sa-path.ts), then for SubnAdmGet
 *   no record is ERR_NO_RECORDS and more than one ERR_TOO_MANY_RECORDS (IBA C15-0.1.30).
 */
import { WireError } from '../../errors.js';
import {
  MAD_METHOD_DELETE,
  MAD_METHOD_GET,
  MAD_METHOD_GET_TABLE,
  MAD_METHOD_SET,
  SA_ATTR_MCMEMBER_RECORD,
  SA_ATTR_PATH_RECORD,
  SA_CLASS_VERSION,
} from '../../wire/constants.js';
import {
  MAD_STATUS_BAD_VERSION,
  MAD_STATUS_METHOD_ATTRIBUTE_UNSUPPORTED,
  MAD_STATUS_METHOD_UNSUPPORTED,
  madIsResponse,
  RMPP_FLAG_ACTIVE,
  SA_ERR_NO_RECORDS,
  SA_ERR_REQ_INVALID,
  SA_ERR_TOO_MANY_RECORDS,
  saErrorStatus,
} from '../../wire/mad.js';
import { MCMEMBER_RECORD_LEN, mcMemberRecord } from '../../wire/mcmember-record.js';
import { PATH_RECORD_LEN, pathRecord } from '../../wire/path-record.js';
import { parseSaMad, type SaMad } from '../../wire/sa.js';
import { joinGroup, leaveGroup, queryGroups } from './sa-mcmember.js';
import type { SaOutcome } from './sa-outcome.js';
import { queryPaths } from './sa-path.js';
import { errorResponse, recordResponse, tableResponse } from './sa-response.js';
import type { SimPort } from './subnet.js';
import type { SubnetManager } from './subnet-manager.js';

/** Where a request came from: the sending port, by GUID or by LID. */
export type SaRequester = { portGuid: bigint } | { lid: number };

const SA_METHODS: ReadonlySet<number> = new Set([MAD_METHOD_GET, MAD_METHOD_SET, MAD_METHOD_GET_TABLE, MAD_METHOD_DELETE]);

interface Attribute {
  recordLen: number;
  methods: ReadonlyMap<number, (req: SaMad, requester: SimPort, trusted: boolean) => SaOutcome>;
}

export class SaEngine {
  private readonly attributes: ReadonlyMap<number, Attribute>;

  constructor(readonly sm: SubnetManager) {
    const mcm = (fn: typeof joinGroup) => (req: SaMad, requester: SimPort, trusted: boolean) =>
      fn({ sm, requester, trusted, componentMask: req.sa.componentMask, record: mcMemberRecord.decode(req.data, 0).value });
    const path = (req: SaMad, requester: SimPort) =>
      queryPaths({ sm, requester, componentMask: req.sa.componentMask, record: pathRecord.decode(req.data, 0).value });
    this.attributes = new Map<number, Attribute>([
      [
        SA_ATTR_MCMEMBER_RECORD,
        {
          recordLen: MCMEMBER_RECORD_LEN,
          methods: new Map([
            [MAD_METHOD_SET, mcm(joinGroup)],
            [MAD_METHOD_DELETE, mcm(leaveGroup)],
            [MAD_METHOD_GET, mcm(queryGroups)],
            [MAD_METHOD_GET_TABLE, mcm(queryGroups)],
          ]),
        },
      ],
      [
        SA_ATTR_PATH_RECORD,
        {
          recordLen: PATH_RECORD_LEN,
          methods: new Map([
            [MAD_METHOD_GET, path],
            [MAD_METHOD_GET_TABLE, path],
          ]),
        },
      ],
    ]);
  }

  /** Answers one request MAD; see the module comment for what gets which answer. */
  handle(request: Buffer, from: SaRequester): Buffer[] {
    if (!this.sm.isRunning) return [];
    const requester = 'portGuid' in from ? this.sm.subnet.port(from.portGuid) : this.sm.subnet.portByLid(from.lid);
    if (!requester || requester.state !== 'active') return [];
    let req: SaMad;
    try {
      req = parseSaMad(request);
    } catch (e) {
      if (e instanceof WireError) return [];
      throw e;
    }
    const { method, classVersion, attributeId } = req.header;
    if (madIsResponse(method)) return [];
    if (req.sa.smKey !== 0n && req.sa.smKey !== this.sm.smKey) return [];
    if (classVersion !== SA_CLASS_VERSION) return [errorResponse(req, MAD_STATUS_BAD_VERSION)];
    if (!SA_METHODS.has(method)) return [errorResponse(req, MAD_STATUS_METHOD_UNSUPPORTED)];
    const attribute = this.attributes.get(attributeId);
    const handler = attribute?.methods.get(method);
    if (!attribute || !handler) return [errorResponse(req, MAD_STATUS_METHOD_ATTRIBUTE_UNSUPPORTED)];
    if ((req.rmpp.flags & RMPP_FLAG_ACTIVE) !== 0) return [errorResponse(req, saErrorStatus(SA_ERR_REQ_INVALID))];

    const trusted = this.sm.smKey !== 0n && req.sa.smKey === this.sm.smKey;
    const outcome = handler(req, requester, trusted);
    if ('saError' in outcome) return [errorResponse(req, saErrorStatus(outcome.saError))];
    const { records } = outcome;
    if (method === MAD_METHOD_GET_TABLE) return tableResponse(req, records, attribute.recordLen);
    if (method === MAD_METHOD_GET && records.length !== 1) {
      return [errorResponse(req, saErrorStatus(records.length === 0 ? SA_ERR_NO_RECORDS : SA_ERR_TOO_MANY_RECORDS))];
    }
    const [record] = records;
    return record ? [recordResponse(req, record)] : [errorResponse(req, saErrorStatus(SA_ERR_NO_RECORDS))];
  }
}
