#!/usr/bin/env node
// Runs the TypeScript entry point directly (tsx), so the CLI always matches the source tree.
import { tsImport } from 'tsx/esm/api';

const { main } = await tsImport('../src/cli/ipoibd.ts', import.meta.url);
process.exitCode = await main(process.argv.slice(2));
