import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { printSortedSchema } from '../graphql/schema/index.ts';
import { printOpenApi } from '../rest/api.ts';

// npm run schema:print: writes schema.graphql and openapi.json, which client teams feed to codegen.
for (const [file, text] of [
  ['schema.graphql', printSortedSchema()],
  ['openapi.json', printOpenApi()],
] as const) {
  const path = resolve(import.meta.dirname, '../..', file);
  writeFileSync(path, text);
  console.log(`wrote ${path}`);
}
