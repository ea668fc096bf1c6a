/**
 * An HcaPort seen through a wrapper that remembers the SA leaves (and report unsubscriptions)
 * in flight. The stack sends them without waiting for the answers; a daemon that is shutting
 * down must wait for them before it closes the port, or the SA would keep it as a member of its
 * groups and keep reporting to it.
 */
import type { HcaPort, SaClient } from '../../fabric/hca.js';

export interface TrackedPort {
  port: HcaPort;
  /** Resolves when every leave and unsubscription sent so far is answered or failed, or after `timeoutMs`. */
  leavesSettled(timeoutMs: number): Promise<void>;
}

export function trackLeaves(inner: HcaPort): TrackedPort {
  const pending = new Set<Promise<void>>();
  const track = (p: Promise<void>): Promise<void> => {
    const settled = p.then(
      () => undefined,
      () => undefined,
    );
    pending.add(settled);
    void settled.then(() => pending.delete(settled));
    return p;
  };
  const sa: SaClient = {
    join: (req) => inner.sa.join(req),
    pathTo: (dgid, pkey, timeoutMs) => inner.sa.pathTo(dgid, pkey, timeoutMs),
    leave: (mgid, joinState, timeoutMs) => track(inner.sa.leave(mgid, joinState, timeoutMs)),
    subscribe: (s) => inner.sa.subscribe(s),
    unsubscribe: (s) => track(inner.sa.unsubscribe(s)),
    onNotice: (cb) => inner.sa.onNotice(cb),
  };
  const port = new Proxy(inner, {
    get(target, key) {
      if (key === 'sa') return sa;
      const v: unknown = Reflect.get(target, key, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return {
    port,
    async leavesSettled(timeoutMs) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)));
      await Promise.race([Promise.all([...pending]).then(() => undefined), timeout]);
      clearTimeout(timer);
    },
  };
}
