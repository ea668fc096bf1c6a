/**
 * The SA's selector arithmetic (MTUSelector, RateSelector, PacketLifeTimeSelector) and the
 * orderings it needs: MTU codes order by number, IB rate codes do not (code 5 is 5 Gb/s,
 * code 4 is 30 Gb/s), so rates compare by their Gb/s value.
 */
import {
  SA_SELECTOR_EXACTLY,
  SA_SELECTOR_GREATER_THAN,
  SA_SELECTOR_LARGEST_AVAILABLE,
  SA_SELECTOR_LESS_THAN,
} from '../../wire/sa.js';
import { IB_RATE_CODE_TO_GBPS } from '../../wire/constants.js';

/** Gb/s of each IB static-rate code (rdma-core's `enum ibv_rate` numbering); one table for the project. */
export const IB_RATE_GBPS = IB_RATE_CODE_TO_GBPS;

/** Every valid rate code, slowest first. */
export const IB_RATE_CODES: readonly number[] = Object.keys(IB_RATE_GBPS)
  .map(Number)
  .sort((a, b) => (IB_RATE_GBPS[a] ?? 0) - (IB_RATE_GBPS[b] ?? 0));

/** The valid IB MTU codes 1..5 (256..4096 octets), smallest first. */
export const IB_MTU_CODES: readonly number[] = [1, 2, 3, 4, 5];

export type Compare = (a: number, b: number) => number;

export const compareNumbers: Compare = (a, b) => a - b;

/** Orders rate codes by speed; an unknown code sorts below every known one. */
export const compareRates: Compare = (a, b) => (IB_RATE_GBPS[a] ?? -1) - (IB_RATE_GBPS[b] ?? -1);

export function isRateCode(code: number): boolean {
  return IB_RATE_GBPS[code] !== undefined;
}

export function isMtuCode(code: number): boolean {
  return IB_MTU_CODES.includes(code);
}

/** Does a fixed value (a group's MTU, a path's lifetime) satisfy "selector wanted"? */
export function selectorAccepts(selector: number, wanted: number, actual: number, cmp: Compare): boolean {
  switch (selector) {
    case SA_SELECTOR_GREATER_THAN:
      return cmp(actual, wanted) > 0;
    case SA_SELECTOR_LESS_THAN:
      return cmp(actual, wanted) < 0;
    case SA_SELECTOR_EXACTLY:
      return cmp(actual, wanted) === 0;
    case SA_SELECTOR_LARGEST_AVAILABLE:
      return true;
    default:
      return false;
  }
}

/**
 * The best value the SA can offer when it may pick any of `candidates` up to `max` (a new
 * group's MTU, a path's rate): the largest one that satisfies the selector, or undefined.
 */
export function bestOffer(
  selector: number,
  wanted: number,
  candidates: readonly number[],
  max: number,
  cmp: Compare,
): number | undefined {
  let best: number | undefined;
  for (const c of candidates) {
    if (cmp(c, max) > 0 || !selectorAccepts(selector, wanted, c, cmp)) continue;
    if (best === undefined || cmp(c, best) > 0) best = c;
  }
  return best;
}

/** What a request asks of one selector-governed component (MTU, rate, packet lifetime). */
export interface SelectorRequest {
  selector: number;
  value: number;
}

/**
 * Reads a component and its selector from a request. The value alone means "exactly"; the
 * selector alone means something only when it is "largest available" (it needs no value);
 * neither means no constraint (undefined).
 */
export function selectorRequest(valueGiven: boolean, selectorGiven: boolean, value: number, selector: number): SelectorRequest | undefined {
  if (!valueGiven) return selectorGiven && selector === SA_SELECTOR_LARGEST_AVAILABLE ? { selector, value } : undefined;
  return { selector: selectorGiven ? selector : SA_SELECTOR_EXACTLY, value };
}
