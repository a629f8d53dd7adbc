import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { printSortedSchema } from '../graphql/schema/index.ts';

// npm run schema:print: writes schema.graphql, which client teams feed to codegen.
const path = resolve(import.meta.dirname, '../../schema.graphql');
writeFileSync(path, printSortedSchema());
console.log(`wrote ${path}`);
