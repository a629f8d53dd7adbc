import { fileURLToPath } from 'node:url';
import type { CodegenConfig } from '@graphql-codegen/cli';
import { preset } from '@graphql-codegen/client-preset';

// Paths from this file and the preset imported, not looked up from the working directory:
// `npm run examples:check` and the test run it from wherever they are started.
const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

const config: CodegenConfig = {
  schema: here('../../schema.graphql'),
  documents: [here('src/**/*.ts'), `!${here('src/gql/**')}`],
  generates: {
    [here('src/gql/')]: {
      preset,
      // Operations select plain fields and share fragments only to avoid repeating them.
      presetConfig: { fragmentMasking: false },
      config: {
        // Documents as strings: what fetch and graphql-ws send, with no graphql-js at run time.
        documentMode: 'string',
        // verbatimModuleSyntax, erasableSyntaxOnly and Node's type stripping: type-only imports,
        // enums as unions of strings, and `.ts` in import paths.
        useTypeImports: true,
        enumType: 'string-literal',
        importExtension: '.ts',
        // A scalar added to the schema fails generation until it is mapped here.
        strictScalars: true,
        scalars: {
          DateTime: 'string',
          JSON: '../json.ts#Json',
        },
      },
    },
  },
};

export default config;
