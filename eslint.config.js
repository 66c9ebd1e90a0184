// @ts-check
// typescript-eslint with type information: the rules that catch what tsc does not in an
// async, queue-driven codebase (a promise nobody awaits, an async callback where a void one is
// expected, an `any` leaking out of JSON), plus ESLint's own recommended set.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: ['node_modules/', 'dist/', 'artifacts/', 'test-results/', 'core/db/migrations/', 'test/fixtures/bad-dags/', 'test/fixtures/dags-check/type-error/', 'bench/dags/',
      // The init template has its own tsconfig (the scaffold's, which resolves flywheel through an
      // installed dist/); the root tsc checks it against the source, and the init tests against the
      // packed SDK.
      'cli/init-template/'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: { allowDefaultProject: ['eslint.config.js', 'bin/*.js', 'core/loader/register.js'] }, tsconfigRootDir: import.meta.dirname },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // tsc resolves every name (browser globals in web/ui through its own tsconfig).
      'no-undef': 'off',
      // An async function without await is how an interface that returns a promise is met.
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', ignoreRestSiblings: true }],
      '@typescript-eslint/no-floating-promises': 'error',
      // An AbortSignal's reason and a Node callback's error are passed on as they came.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingAny: true, allowThrowingUnknown: true }],
    },
  },
  {
    // Tests read JSON the code under test printed or stored; asserting on it is the point.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
    },
  },
);
