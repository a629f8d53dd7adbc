import { lexicographicSortSchema, printSchema } from 'graphql';
import { builder } from '../builder.ts';
import './scalars.ts';
import './user.ts';
import './event.ts';
import './workflow.ts';
import './execution.ts';
import './system-status.ts';
import './replay.ts';
import './audit-trail.ts';
import './subscription.ts';

export const schema = builder.toSchema();

/** The SDL in schema.graphql: sorted, so that it changes only when the API does. */
export function printSortedSchema(): string {
  return `${printSchema(lexicographicSortSchema(schema))}\n`;
}
