/**
 * A skip always carries its reason: it is appended to the test title (so the console and the
 * allure report both show it) and recorded as an allure step. In CI, a missing tool that CI is
 * supposed to install is a failure, not a skip.
 */
import type { Context } from 'mocha';
import * as allure from 'allure-js-commons';

export async function skipWithReason(ctx: Context, reason: string): Promise<never> {
  if (ctx.test) ctx.test.title = `${ctx.test.title} [skipped: ${reason}]`;
  await allure.logStep(`skipped: ${reason}`, allure.Status.SKIPPED);
  return ctx.skip();
}

/** For tools that .ci/run installs: skip with the reason locally, fail in CI. */
export async function requireToolOrSkip(ctx: Context, tool: string, present: boolean, why: string): Promise<void> {
  if (present) return;
  if (process.env.CI) throw new Error(`${tool} is required in CI (.ci/run installs it) but was not found: ${why}`);
  await skipWithReason(ctx, `${tool} not found: ${why}`);
}
