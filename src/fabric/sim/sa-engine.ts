/**
 * The simulated subnet administrator: one request MAD in (256 octets, from a given port), zero
 * or more response MADs out. `handle()` is pure: no sockets, no timers; the transport that
 * carries MADs between ports calls it and sends back what it returns. The one thing the SA
 * sends unasked, Reports of group creation and deletion to the ports subscribed to them
 * (sa-inform.ts, sa-reports.ts), goes out through the ReportTransport given at construction,
 * with its resend timers; without one, subscriptions are kept but nothing is reported.
 *
 * What gets no response at all (the requester will time out, as with an unreachable SA):
 * - anything while the SM is stopped, and requests from an unknown or down port;
 * - a buffer that is not one 256-octet MAD, has a BaseVersion other than 1, or is not of the
 *   SA class (0x03): such a datagram cannot be answered as an SA MAD (Linux ib_mad drops MADs
 *   with an unknown base version before any agent sees them);
 * - RMPP ACK, STOP and ABORT MADs (RMPP active, RMPP type other than DATA), which a client
 *   sends while receiving a GetTableResp: segments are sent all at once, so they need no
 *   handling. They carry the request's method, not a response method: Linux's MAD layer clears
 *   the R bit of the segment it ACKs;
 * - responses (R bit set); a SubnAdmReportResp(Notice) among them ends the resends of the
 *   Report it answers;
 * - a non-zero SM_Key other than the SA's (OpenSM discards those, sa_mad_ctrl_rcv_callback).
 *
 * What gets an error response, in this order (IBA ch. 13.4.7 MAD Status):
 * - ClassVersion other than 2: Status 0x0004 "bad version";
 * - a method the SA does not implement: 0x0008 "method unsupported" (OpenSM drops these
 *   instead; Linux's MAD layer answers Get/Set to an unregistered class with 0x000c);
 * - a known method on an attribute that does not support it (e.g. Set(PathRecord), Get of
 *   InformInfo, or any attribute other than MCMemberRecord, PathRecord and InformInfo):
 *   0x000c "method/attribute unsupported";
 * - an RMPP DATA request: every SA request this engine serves fits one MAD, so a
 *   multi-segment request is malformed here: ERR_REQ_INVALID;
 * - whatever the attribute handler decides (sa-mcmember.ts, sa-path.ts, sa-inform.ts), then
 *   for SubnAdmGet no record is ERR_NO_RECORDS and more than one ERR_TOO_MANY_RECORDS (IBA
 *   C15-0.1.30).
 */
import { WireError } from '../../errors.js';
import {
  INFORM_INFO_LEN,
  MAD_METHOD_DELETE,
  MAD_METHOD_GET,
  MAD_METHOD_GET_TABLE,
  MAD_METHOD_REPORT_RESP,
  MAD_METHOD_SET,
  SA_ATTR_INFORM_INFO,
  SA_ATTR_MCMEMBER_RECORD,
  SA_ATTR_NOTICE,
  SA_ATTR_PATH_RECORD,
  SA_CLASS_VERSION,
} from '../../wire/constants.js';
import { informInfo } from '../../wire/inform-info.js';
import {
  MAD_STATUS_BAD_VERSION,
  MAD_STATUS_METHOD_ATTRIBUTE_UNSUPPORTED,
  MAD_STATUS_METHOD_UNSUPPORTED,
  madIsResponse,
  RMPP_FLAG_ACTIVE,
  RMPP_TYPE_DATA,
  SA_ERR_NO_RECORDS,
  SA_ERR_REQ_INVALID,
  SA_ERR_TOO_MANY_RECORDS,
  saErrorStatus,
} from '../../wire/mad.js';
import { MCMEMBER_RECORD_LEN, mcMemberRecord } from '../../wire/mcmember-record.js';
import { PATH_RECORD_LEN, pathRecord } from '../../wire/path-record.js';
import { parseSaMad, type SaMad } from '../../wire/sa.js';
import { setInformInfo } from './sa-inform.js';
import { joinGroup, leaveGroup, queryGroups } from './sa-mcmember.js';
import type { SaOutcome } from './sa-outcome.js';
import { queryPaths } from './sa-path.js';
import { type ReportTransport, SaReporter } from './sa-reports.js';
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

export interface SaEngineOptions {
  /** Where Reports go; without it no Report is sent. */
  reports?: ReportTransport;
}

export class SaEngine {
  private readonly attributes: ReadonlyMap<number, Attribute>;
  /** Sends and resends the Reports; undefined without a ReportTransport. */
  readonly reporter: SaReporter | undefined;

  constructor(
    readonly sm: SubnetManager,
    o: SaEngineOptions = {},
  ) {
    this.reporter = o.reports ? new SaReporter(sm, o.reports) : undefined;
    const inform = (req: SaMad, requester: SimPort) =>
      setInformInfo({ subscriptions: sm.informs, requester, record: informInfo.decode(req.data, 0).value });
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
      [SA_ATTR_INFORM_INFO, { recordLen: INFORM_INFO_LEN, methods: new Map([[MAD_METHOD_SET, inform]]) }],
    ]);
  }

  /** Stops the Reports and their resend timers. */
  close(): void {
    this.reporter?.close();
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
    if ((req.rmpp.flags & RMPP_FLAG_ACTIVE) !== 0 && req.rmpp.type !== RMPP_TYPE_DATA) return [];
    if (madIsResponse(method)) {
      if (method === MAD_METHOD_REPORT_RESP && attributeId === SA_ATTR_NOTICE) this.reporter?.acknowledge(req.header.transactionId, requester);
      return [];
    }
    if (req.sa.smKey !== 0n && req.sa.smKey !== this.sm.smKey) return [];
    if (classVersion !== SA_CLASS_VERSION) return [errorResponse(req, MAD_STATUS_BAD_VERSION)];
    if (!SA_METHODS.has(method)) return [errorResponse(req, MAD_STATUS_METHOD_UNSUPPORTED)];
    const attribute = this.attributes.get(attributeId);
    const handler = attribute?.methods.get(method);
    if (!attribute || !handler) return [errorResponse(req, MAD_STATUS_METHOD_ATTRIBUTE_UNSUPPORTED)];
    if ((req.rmpp.flags & RMPP_FLAG_ACTIVE) !== 0) return [errorResponse(req, saErrorStatus(SA_ERR_REQ_INVALID))];

    const trusted = this.sm.smKey !== 0n && req.sa.smKey === this.sm.smKey;
    const outcome = handler(req, requester, trusted);
    if ('saError' in outcome) return [errorResponse(req, saErrorStatus(outcome.saError), outcome.record)];
    const { records } = outcome;
    if (method === MAD_METHOD_GET_TABLE) return tableResponse(req, records, attribute.recordLen);
    if (method === MAD_METHOD_GET && records.length !== 1) {
      return [errorResponse(req, saErrorStatus(records.length === 0 ? SA_ERR_NO_RECORDS : SA_ERR_TOO_MANY_RECORDS))];
    }
    const [record] = records;
    return record ? [recordResponse(req, record)] : [errorResponse(req, saErrorStatus(SA_ERR_NO_RECORDS))];
  }
}
