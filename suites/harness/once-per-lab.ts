/**
 * Values that cannot change while one lab session is open (a node's address, its LID, the mode
 * it started in) are read once per session: each read is a control call on a node, a process
 * start there. A failed read is not remembered, so the next case asks again.
 */
import type { LabSession } from '../../src/lab/lab-session.js';
import type { Case } from './conformance.js';

const memo = new WeakMap<LabSession, Map<string, Promise<unknown>>>();

/** `read()` for the first case of the lab session that asks for `key`; the same promise after that. */
export function oncePerLab<T>(t: Case, key: string, read: () => Promise<T>): Promise<T> {
  let byKey = memo.get(t.lab);
  if (!byKey) memo.set(t.lab, (byKey = new Map()));
  let p = byKey.get(key) as Promise<T> | undefined;
  if (!p) {
    const kept = read();
    kept.catch(() => byKey.delete(key));
    byKey.set(key, kept);
    p = kept;
  }
  return p;
}
