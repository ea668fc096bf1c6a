import { expect } from 'chai';
import type { Suite, Test } from 'mocha';
import { TAG_NAMES } from '../../suites/tags.js';

function allTests(suite: Suite): Test[] {
  return [...suite.tests, ...suite.suites.flatMap(allTests)];
}

describe('test titles @meta', function () {
  it('use only tags from suites/tags.ts, and carry the tag of every tag word they mention @meta', function () {
    let root: Suite = this.test!.parent!;
    while (root.parent) root = root.parent;
    const tests = allTests(root);
    expect(tests.length, 'tests found in the tree').to.be.greaterThan(1);
    const problems: string[] = [];
    for (const t of tests) {
      const full = t.fullTitle();
      const used = [...full.matchAll(/@([a-z][a-z0-9-]*)/g)].map((m) => m[1]!);
      for (const tag of used) {
        if (!(TAG_NAMES as string[]).includes(tag)) problems.push(`unknown tag @${tag} in "${full}"`);
      }
      // A grep for a tag word must never pick up a test that lacks the tag.
      for (const tag of TAG_NAMES) {
        // Short tags (ib, nd, cm, sa, arp, cli) count as whole words only; longer ones as substrings, as grep sees them.
        const word = tag.length <= 3 ? `\\b${tag}\\b` : tag;
        // The product's name (ipoib-lab) and paths under lab/ are names, not mentions of @lab.
        const prose = full.replace(/@[a-z0-9-]+/g, '').replace(/\bipoib-lab\b/gi, '').replace(/\blab\/[\w./-]*/g, '');
        const mentions = new RegExp(word, 'i').test(prose);
        if (mentions && !used.includes(tag)) problems.push(`"${full}" mentions "${tag}" but lacks @${tag}`);
      }
      if (used.length === 0) problems.push(`untagged test "${full}"`);
    }
    expect(problems, problems.join('\n')).to.deep.equal([]);
  });
});
