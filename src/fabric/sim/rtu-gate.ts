/**
 * Puts an active RC QP into RTR and RTS before its RTU leaves, as IBA orders it (the active
 * side readies its QP on the REP, then answers with the RTU; the passive side may send as soon
 * as the RTU arrives, and a packet that found our QP still in INIT would be dropped).
 *
 * The CM service (cm-service.ts) resolves connect() only after it has sent the RTU, so this
 * sits between it and QP1: a GsiPort that passes every MAD through unchanged and watches three
 * of them. A REQ that carries an expected QPN ties the CM's comm ID to that QPN; the first REP
 * answering that comm ID is kept; when the CM then sends the RTU for the comm ID (it does so
 * only for a REP it accepted), `onRep` runs with that REP just before the RTU goes out.
 */
import type { CmRep } from '../../wire/cm.js';
import type { GsiAddress, GsiPort } from '../gsi.js';
import { parseCmMad } from './cm-messages.js';

interface Expectation {
  onRep: (rep: CmRep) => void;
  commId?: number;
  rep?: CmRep;
  fired: boolean;
}

export class RtuGate {
  /** What the CM service is given instead of the port's own QP1. */
  readonly port: GsiPort;
  private readonly byQpn = new Map<number, Expectation>();
  private readonly byCommId = new Map<number, Expectation>();

  constructor(inner: GsiPort) {
    const self = this;
    this.port = {
      get lid() {
        return inner.lid;
      },
      get gid() {
        return inner.gid;
      },
      caGuid: inner.caGuid,
      sendMad: (to: GsiAddress, mad: Buffer) => {
        this.outgoing(mad);
        inner.sendMad(to, mad);
      },
      onMad: (cb) => inner.onMad((mad, from) => {
        self.incoming(mad);
        cb(mad, from);
      }),
    };
  }

  /**
   * Runs `onRep` with the REP of the connection whose REQ names `localQpn`, just before its RTU
   * is sent. `onRep` may throw: the RTU is then still sent (the CM has established the
   * connection), and the caller, which sees the failure, disconnects. Returns the function that
   * forgets the expectation; call it once connect() has settled.
   */
  expect(localQpn: number, onRep: (rep: CmRep) => void): () => void {
    const e: Expectation = { onRep, fired: false };
    this.byQpn.set(localQpn, e);
    return () => {
      if (this.byQpn.get(localQpn) === e) this.byQpn.delete(localQpn);
      if (e.commId !== undefined && this.byCommId.get(e.commId) === e) this.byCommId.delete(e.commId);
    };
  }

  private outgoing(mad: Buffer): void {
    if (this.byQpn.size === 0) return;
    const p = parseCmMad(mad);
    if (!p.ok) return;
    if (p.msg.kind === 'REQ') {
      const e = this.byQpn.get(p.msg.body.localQpn);
      if (e && e.commId === undefined) {
        e.commId = p.msg.body.localCommId;
        this.byCommId.set(e.commId, e);
      }
    } else if (p.msg.kind === 'RTU') {
      const e = this.byCommId.get(p.msg.body.localCommId);
      if (e?.rep && !e.fired) {
        e.fired = true;
        try {
          e.onRep(e.rep);
        } catch {
          // reported by the owner, which checks its QP once connect() resolves
        }
      }
    }
  }

  private incoming(mad: Buffer): void {
    if (this.byCommId.size === 0) return;
    const p = parseCmMad(mad);
    if (!p.ok || p.msg.kind !== 'REP') return;
    const e = this.byCommId.get(p.msg.body.remoteCommId);
    if (e && e.rep === undefined) e.rep = p.msg.body;
  }
}
