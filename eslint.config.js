// ESLint flat config. `protocol/` is the pure functional core: no I/O, no timers, no clock reads, and no
// imports from the shells around it. These rules enforce that boundary mechanically.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const impureModules = [
  'fs',
  'node:fs',
  'fs/promises',
  'node:fs/promises',
  'net',
  'node:net',
  'dgram',
  'node:dgram',
  'http',
  'node:http',
  'child_process',
  'node:child_process',
  'timers',
  'node:timers',
  'timers/promises',
  'node:timers/promises',
  'serialport',
  'better-sqlite3',
  'ln-service',
  'ws',
];

export default tseslint.config(
  { ignores: ['node_modules/', '.regtest/', '.demo/', '.venv/', 'dist/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { console: 'readonly', process: 'readonly', Buffer: 'readonly' } },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    files: ['protocol/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: impureModules.map((name) => ({ name, message: 'protocol/ is pure: no I/O here.' })),
          patterns: [
            {
              group: ['**/hardware/**', '**/lightning/**', '**/wall-module/**', '**/vehicle-module/**'],
              message: 'protocol/ imports none of the shells around it.',
            },
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'setTimeout', message: 'protocol/ is pure: time comes in as events.' },
        { name: 'setInterval', message: 'protocol/ is pure: time comes in as events.' },
        { name: 'fetch', message: 'protocol/ is pure: no I/O.' },
      ],
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now', message: 'protocol/ is pure: time comes in as events.' },
        { object: 'Math', property: 'random', message: 'protocol/ is pure: randomness comes in as input.' },
        { object: 'performance', property: 'now', message: 'protocol/ is pure: time comes in as events.' },
      ],
      'no-restricted-syntax': [
        'error',
        {
          selector: "NewExpression[callee.name='Date'][arguments.length=0]",
          message: 'protocol/ reads no clock.',
        },
        {
          selector: "CallExpression[callee.name='randomBytes']",
          message: 'protocol/: randomness comes in as input.',
        },
      ],
    },
  },
);
