/**
 * Writes lab/schema/lab.schema.json from lab-schema.ts. Run `npx tsx src/lab/publish-schema.ts`
 * after changing the schema or a key's documentation; a unit test fails until you do.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { labSchemaText } from './lab-schema.js';

export const PUBLISHED_SCHEMA_FILE = fileURLToPath(new URL('../../lab/schema/lab.schema.json', import.meta.url));

export function publishSchema(file = PUBLISHED_SCHEMA_FILE): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, labSchemaText());
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  publishSchema();
  console.log(`wrote ${PUBLISHED_SCHEMA_FILE}`);
}
