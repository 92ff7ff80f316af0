// Lint rules for the whole repository (`npm run check` runs it): ESLint's and typescript-eslint's
// recommended sets, without type information so that it stays fast. tsc (strict, no unused names)
// is the other half of the check.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'web/dist/', 'web/src/gql/', 'examples/*/node_modules/', 'examples/*/dist/', 'examples/client/src/gql/', 'node_modules/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      // A leading underscore marks a name left unused on purpose (a parameter a signature needs,
      // a field taken out of an object by destructuring).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', caughtErrors: 'none' },
      ],
    },
  },
  {
    // Tests and benchmarks read protocol frames and results of every shape: `any` is their parser's type.
    files: ['test/**', 'bench/**', 'examples/**/test/**'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
);
