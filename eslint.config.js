// Lint: typescript-eslint's type-aware recommended rules over the sources, tests, harness,
// bench and scripts. Formatting is prettier's job (npm run format), not the linter's.
// Every rule switched off or narrowed below says why, on its line.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'data/', 'coverage/', 'deploy/cdk/', '**/cdk.out/', '.xks-demo/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        // The few plain JS files (the bin launcher, the package check, this file) are outside tsconfig.
        projectService: { allowDefaultProject: ['bin/*.js', 'scripts/*.mjs', 'bench/*.mjs', 'eslint.config.js'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      // Same convention as tsc's noUnusedParameters: a leading underscore marks a parameter or
      // binding kept on purpose (an interface's argument, a property dropped by a rest pattern).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true }],
      // `async` is how an implementation of a Promise-returning interface (close, init) turns a
      // synchronous throw into a rejection; removing it, as the rule asks, would change behaviour.
      '@typescript-eslint/require-await': 'off',
      // Errors are rewritten into the message a user should read; a `cause` would carry the
      // original (file paths, parser output of secret files) into logs and CLI JSON output.
      'preserve-caught-error': 'off',
      // One kind of private member: `#name`, private at run time, so secrets and key bytes held
      // by a class never show in util.inspect, JSON or a log object. (A private constructor has
      // no `#` form and stays allowed.)
      'no-restricted-syntax': [
        'error',
        {
          selector: ':matches(PropertyDefinition, MethodDefinition[kind!="constructor"], TSParameterProperty)[accessibility="private"]',
          message: 'Use a #private member instead of the TypeScript `private` modifier.',
        },
      ],
    },
  },
  {
    // The plain JS files run on Node.
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
  {
    files: ['test/**', 'conformance/test/**'],
    rules: {
      // Tests cast JSON answers to any to assert on their fields; expect() is the check.
      '@typescript-eslint/no-explicit-any': 'off',
      // Tests read JSON answers and parsed log lines (typed any) and check them with expect(),
      // which is the check these rules ask for.
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
    },
  },
);
