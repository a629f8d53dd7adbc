import { readFileSync } from 'node:fs';

/** The release this code is: package.json's version, the one number the service shows anywhere. */
export const VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string })
  .version;
