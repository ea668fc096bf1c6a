/** Mocha root hooks (loaded through .mocharc's `require`): take the suite lab down after the last test. */
import { closeSuiteLab } from './session.js';

export const mochaHooks = {
  async afterAll(): Promise<void> {
    await closeSuiteLab();
  },
};
