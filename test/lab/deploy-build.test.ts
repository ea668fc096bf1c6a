/**
 * Deployment that builds the addon on the node (--build): the bundle without the local addon,
 * cmake-js run there offline (Node-API headers from the bundled node-api-headers), then the
 * node's own verification loads that build. Same fixture as deploy-ssh.test.ts; kept apart
 * because the compile alone takes about 30 s on two idle cores (minutes when they are busy). Root only.
 */
import { expect } from 'chai';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { deployStack } from '../../src/lab/deploy/install.js';
import { type DeployFixture, deployFixtureRuns, gate, openDeployFixture } from './deploy-fixture.js';

describe('ipoib-lab deploy --build over ssh to a private sshd @lab @ssh @native', function () {
  this.timeout(300_000);
  let fx: DeployFixture | undefined;

  before(async function () {
    if (deployFixtureRuns()) fx = await openDeployFixture();
  });
  after(async function () {
    await fx?.dispose();
  });

  it('builds the addon on the node when asked, through cmake-js without a download, and that build loads @lab @ssh @native', async function () {
    await gate(this);
    const { t, local, sshd } = fx as DeployFixture;
    const progress: string[] = [];
    const r = await deployStack(t, { dir: '~/built', local, addon: 'build', progress: (l) => progress.push(l) });
    expect(r).to.deep.include({ outcome: 'installed', addon: 'built', reasons: ['--build asked for a build on the node'], version: local.version });
    const cache = readFileSync(path.join(r.release, 'native/build/CMakeCache.txt'), 'utf8');
    // Offline: the Node-API headers came from the bundle (built in the partial tree, then moved
    // into place); cmake-js downloads into ~/.cmake-js otherwise.
    expect(cache).to.contain(`CMAKE_JS_INC:UNINITIALIZED=${r.dir}/releases/.${local.name}.partial/node_modules/node-api-headers/include`);
    expect(existsSync(path.join(sshd.home, '.cmake-js')), 'nothing downloaded to ~/.cmake-js').to.equal(false);
    expect(existsSync(path.join(r.release, 'native/build/Release/ipoib_native.node'))).to.equal(true);
    expect(progress.join('\n')).to.match(/building the addon \(cmake-js/).and.to.match(/verifying/);
  });
});
