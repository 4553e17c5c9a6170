// ESLint flat config. `protocol/` and `payments/` are the pure functional core: no I/O, no timers, no clock reads, and no
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

/**
 * The purity rules shared by every pure folder (`protocol/`, `payments/`): no I/O imports, no imports from the
 * shells, no timers, no clock reads, no ambient randomness. `node:crypto` stays allowed (hashing and ciphers
 * are computation), but `randomBytes` is not: randomness comes in as input.
 * @param folder the folder name used in the messages, e.g. 'protocol/'
 */
function pureRules(folder) {
  return {
    'no-restricted-imports': [
      'error',
      {
        paths: impureModules.map((name) => ({ name, message: `${folder} is pure: no I/O here.` })),
        patterns: [
          {
            group: [
              '**/hardware/**',
              '**/lightning/**',
              '**/wall-module/**',
              '**/vehicle-module/**',
              '**/daemon/**',
              '**/bin/**',
            ],
            message: `${folder} imports none of the shells around it.`,
          },
        ],
      },
    ],
    'no-restricted-globals': [
      'error',
      { name: 'setTimeout', message: `${folder} is pure: time comes in as events.` },
      { name: 'setInterval', message: `${folder} is pure: time comes in as events.` },
      { name: 'fetch', message: `${folder} is pure: no I/O.` },
    ],
    'no-restricted-properties': [
      'error',
      { object: 'Date', property: 'now', message: `${folder} is pure: time comes in as events.` },
      { object: 'Math', property: 'random', message: `${folder} is pure: randomness comes in as input.` },
      { object: 'performance', property: 'now', message: `${folder} is pure: time comes in as events.` },
    ],
    'no-restricted-syntax': [
      'error',
      {
        selector: "NewExpression[callee.name='Date'][arguments.length=0]",
        message: `${folder} reads no clock.`,
      },
      {
        selector: "CallExpression[callee.name='randomBytes']",
        message: `${folder}: randomness comes in as input.`,
      },
    ],
  };
}

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
  { files: ['protocol/**/*.ts'], rules: pureRules('protocol/') },
  { files: ['payments/**/*.ts'], rules: pureRules('payments/') },
);
