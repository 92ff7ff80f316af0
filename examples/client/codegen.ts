import type { CodegenConfig } from '@graphql-codegen/cli';

const config: CodegenConfig = {
  // The gateway's schema, printed from its code. A running gateway works too
  // ('http://localhost:4000/graphql'): introspection needs no token.
  schema: '../../schema.graphql',
  documents: ['src/**/*.ts', '!src/gql/**'],
  generates: {
    'src/gql/': {
      preset: 'client',
      presetConfig: { fragmentMasking: false },
      config: {
        scalars: { DateTime: 'string', JSON: 'unknown', ID: 'string' },
        enumsAsTypes: true,
        useTypeImports: true,
        // Imports ending in .js, as Node's ESM resolution (tsconfig "NodeNext") requires (else TS2835).
        emitLegacyCommonJSImports: false,
      },
    },
  },
};
export default config;
