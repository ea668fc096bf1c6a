/**
 * Building SA response MADs: error responses, single-record responses (GetResp, DeleteResp)
 * and GetTableResp, which travels as one or more RMPP DATA segments.
 *
 * Conventions, as OpenSM's osm_sa_respond/osm_sa_send_error follow IBA ch. 15:
 * - the MAD header echoes the request (TransactionID, AttributeID, AttributeModifier, class
 *   version); the method gets the R bit, and a Set is answered with GetResp (0x81);
 * - SM_Key is always 0 in a response (IBA C15-0.1.5); the ComponentMask is echoed;
 * - an error response carries the request's record back, AttributeOffset 0, RMPP inactive;
 * - a GetTableResp is always RMPP-active, even when it fits one MAD (FIRST|LAST set then).
 *
 * RMPP segmentation (IBA ch. 13.6): every segment repeats the MAD, RMPP and SA headers and
 * carries the next 200 octets of the record stream (records at AttributeOffset × 8 intervals,
 * so a record may straddle two segments). A segment's payload counts as 220 octets: its SA
 * header plus its data. So PayloadLength is, in the first segment, 20 × segments + stream
 * length; in the last, what the last segment really holds (20 + its data); 0 in the others.
 * That is the accounting Linux ib_mad uses when it sends (seg_count × 220 − pad) and
 * reassembles (56 + n × 200 − pad). Segments are sent all at once: the simulated link loses
 * nothing, so no window or ACK is waited for.
 */
import { encodeToBuffer } from '../../wire/codec.js';
import { MAD_METHOD_GET_RESP, MAD_METHOD_SET, SA_HEADER_LEN } from '../../wire/constants.js';
import {
  MAD_METHOD_RESPONSE_BIT,
  RMPP_FLAG_ACTIVE,
  RMPP_FLAG_FIRST,
  RMPP_FLAG_LAST,
  RMPP_INACTIVE,
  RMPP_TYPE_DATA,
  RMPP_VERSION,
  type RmppHeader,
} from '../../wire/mad.js';
import { SA_ATTRIBUTE_OFFSET_UNIT, SA_DATA_LEN, type SaMad, saMad } from '../../wire/sa.js';

/** Octets of RMPP payload per segment: SA header + record data (256 − 24 − 12). */
export const RMPP_SEGMENT_PAYLOAD_LEN = SA_HEADER_LEN + SA_DATA_LEN;

/** The response method for a request method: R bit set, and SubnAdmSet answered by GetResp. */
export function responseMethod(requestMethod: number): number {
  return requestMethod === MAD_METHOD_SET ? MAD_METHOD_GET_RESP : (requestMethod | MAD_METHOD_RESPONSE_BIT) & 0xff;
}

/** Octets between records in a GetTableResp: the record length rounded up to 8. */
export function recordStride(recordLen: number): number {
  return Math.ceil(recordLen / SA_ATTRIBUTE_OFFSET_UNIT) * SA_ATTRIBUTE_OFFSET_UNIT;
}

function respond(req: SaMad, status: number, rmpp: RmppHeader, attributeOffset: number, data: Buffer): Buffer {
  const body = Buffer.alloc(SA_DATA_LEN);
  data.copy(body, 0, 0, Math.min(data.length, SA_DATA_LEN));
  return encodeToBuffer(saMad, {
    header: { ...req.header, method: responseMethod(req.header.method), status, classSpecific: 0, reserved: 0 },
    rmpp,
    sa: { smKey: 0n, attributeOffset, reserved: 0, componentMask: req.sa.componentMask },
    data: body,
  });
}

/**
 * An error response: `status` is the whole Status field (e.g. saErrorStatus(3) or
 * MAD_STATUS_BAD_VERSION); it carries `record`, by default the request's record data.
 */
export function errorResponse(req: SaMad, status: number, record: Buffer = req.data): Buffer {
  return respond(req, status, { ...RMPP_INACTIVE }, 0, record);
}

/** GetResp or DeleteResp carrying one record. */
export function recordResponse(req: SaMad, record: Buffer): Buffer {
  return respond(req, 0, { ...RMPP_INACTIVE }, 0, record);
}

/** GetTableResp: `records` (each `recordLen` octets) as one or more RMPP DATA segments. */
export function tableResponse(req: SaMad, records: readonly Buffer[], recordLen: number): Buffer[] {
  const stride = recordStride(recordLen);
  const stream = Buffer.alloc(records.length * stride);
  records.forEach((r, i) => r.copy(stream, i * stride, 0, Math.min(r.length, recordLen)));
  const count = Math.max(1, Math.ceil(stream.length / SA_DATA_LEN));
  const attributeOffset = records.length > 0 ? stride / SA_ATTRIBUTE_OFFSET_UNIT : 0;
  const out: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const first = i === 0;
    const last = i === count - 1;
    const chunk = stream.subarray(i * SA_DATA_LEN, (i + 1) * SA_DATA_LEN);
    let payloadLength = 0;
    if (first) payloadLength = count * SA_HEADER_LEN + stream.length;
    else if (last) payloadLength = SA_HEADER_LEN + chunk.length;
    const rmpp: RmppHeader = {
      version: RMPP_VERSION,
      type: RMPP_TYPE_DATA,
      responseTime: 0,
      flags: RMPP_FLAG_ACTIVE | (first ? RMPP_FLAG_FIRST : 0) | (last ? RMPP_FLAG_LAST : 0),
      status: 0,
      data1: i + 1,
      data2: payloadLength,
    };
    out.push(respond(req, 0, rmpp, attributeOffset, chunk));
  }
  return out;
}
