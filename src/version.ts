import { createRequire } from 'node:module';

/** The product version, read once from package.json so there is a single source of truth. */
export const PRODUCT_VERSION: string = (createRequire(import.meta.url)('../package.json') as { version: string }).version;
