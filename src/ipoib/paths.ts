/**
 * The path table of one interface: how to reach a port GID (DLID, SL, rate), asked of the SA
 * with a PathRecord query and cached, as Linux ib_ipoib's path list:
 * - keyed by the DGID asked for (if the SA answers with another DGID, the key stays);
 * - while a query runs, up to 3 frames wait on the path (IPOIB_MAX_PATH_REC_QUEUE), more are
 *   dropped and counted;
 * - a failed query drops what waited and tells the interface, which deletes the neighbours
 *   that use the GID;
 * - paths have no timer: a light flush (client reregister) marks them invalid, so the next
 *   send asks again (still sending on the old record meanwhile); normal and heavy flushes
 *   delete them.
 * Unicast goes without a GRH unless the record's hop limit says the path leaves the subnet.
 */
import type { SaClient, UdDestination } from '../fabric/hca.js';
import type { PathRecord } from '../wire/path-record.js';
import { formatGid } from '../wire/mgid.js';
import type { IpoibCounters } from './counters.js';
import type { PathRow } from './debugfs.js';

/** IPOIB_MAX_PATH_REC_QUEUE: frames that wait on one path or neighbour. TODO(constants) */
export const PATH_QUEUE_MAX = 3;
/** The kernel's path query timeout. TODO(constants) */
export const PATH_QUERY_TIMEOUT_MS = 1000;

/** What waits on a path: a frame to post once the record is known (or a caller's own use of it). */
type Waiting = (rec: PathRecord) => void;

interface Path {
  readonly dgid: Buffer;
  readonly key: string;
  record: PathRecord | undefined;
  valid: boolean;
  querying: boolean;
  queue: Waiting[];
}

export interface PathEnv {
  readonly counters: IpoibCounters;
  readonly sa: SaClient;
  readonly queryTimeoutMs: number;
  log(line: string): void;
  /** The interface P_Key (0x8000 set), asked for in every query. */
  pkey(): number;
  qkey(): number;
  post(dest: UdDestination, frame: Buffer): void;
  /** A query for `dgid` failed: the neighbours using it go. */
  pathFailed(dgid: Buffer): void;
}

export class PathTable {
  private readonly paths = new Map<string, Path>();
  private epoch = 0;

  constructor(private readonly env: PathEnv) {}

  /** Sends `frame` to QPN `dqpn` at port `dgid`, resolving the path first when needed. */
  send(dgid: Buffer, dqpn: number, frame: Buffer): void {
    this.whenKnown(dgid, (rec) => this.env.post(this.destination(rec, dqpn), frame));
  }

  /**
   * Runs `use` with the path record of `dgid`: now when it is known, else once the query
   * answers. Waiting uses share the path's queue of 3 (a connected-mode frame waits for its
   * path like a UD one); beyond it, or when the query fails, the use is dropped and counted.
   */
  whenKnown(dgid: Buffer, use: (rec: PathRecord) => void): void {
    const key = dgid.toString('hex');
    let p = this.paths.get(key);
    if (!p) {
      p = { dgid: Buffer.from(dgid), key, record: undefined, valid: false, querying: false, queue: [] };
      this.paths.set(key, p);
    }
    if (p.record) {
      use(p.record);
      if (!p.valid) this.query(p);
      return;
    }
    if (p.queue.length < PATH_QUEUE_MAX) p.queue.push(use);
    else this.drop(1);
    this.query(p);
  }

  /** Light flush: every path is asked for again on its next use. */
  markInvalid(): void {
    for (const p of this.paths.values()) p.valid = false;
  }

  /** Normal and heavy flush: forget every path, dropping what waits. */
  flush(): void {
    this.epoch++;
    for (const p of this.paths.values()) this.drop(p.queue.length);
    this.paths.clear();
  }

  /** Forgets one path (a neighbour's GID moved or failed). */
  forget(dgid: Buffer): void {
    const p = this.paths.get(dgid.toString('hex'));
    if (!p) return;
    this.drop(p.queue.length);
    this.paths.delete(p.key);
  }

  rows(): PathRow[] {
    return [...this.paths.values()].map((p) => ({
      dgid: p.dgid,
      dlid: p.record?.dlid ?? 0,
      sl: p.record?.sl ?? 0,
      rate: p.record?.rate ?? 0,
    }));
  }

  private query(p: Path): void {
    if (p.querying) return;
    p.querying = true;
    const epoch = this.epoch;
    this.env.counters.inc('path_queries');
    this.env.sa.pathTo(p.dgid, this.env.pkey(), this.env.queryTimeoutMs).then(
      (rec) => {
        if (epoch !== this.epoch || this.paths.get(p.key) !== p) return;
        p.querying = false;
        p.record = rec;
        p.valid = true;
        const waiting = p.queue;
        p.queue = [];
        for (const use of waiting) use(rec);
      },
      (err: unknown) => {
        if (epoch !== this.epoch || this.paths.get(p.key) !== p) return;
        p.querying = false;
        this.env.counters.inc('path_query_failures');
        this.env.log(`path query for ${formatGid(p.dgid)} failed: ${err instanceof Error ? err.message : String(err)}`);
        this.env.counters.inc('tx_dropped', p.queue.length);
        this.env.counters.inc('tx_dropped_no_path', p.queue.length);
        p.queue = [];
        if (!p.record) this.paths.delete(p.key);
        this.env.pathFailed(p.dgid);
      },
    );
  }

  private destination(rec: PathRecord, dqpn: number): UdDestination {
    return {
      dlid: rec.dlid,
      dqpn,
      qkey: this.env.qkey(),
      sl: rec.sl,
      ...(rec.hopLimit > 1 ? { grh: { dgid: rec.dgid, hopLimit: rec.hopLimit, trafficClass: rec.trafficClass, flowLabel: rec.flowLabel } } : {}),
    };
  }

  private drop(n: number): void {
    if (n <= 0) return;
    this.env.counters.inc('tx_dropped', n);
    this.env.counters.inc('tx_dropped_neigh_queue', n);
  }
}
