// One jest config for unit specs (*.spec.ts), integration specs against the real
// NATS/Redis (*.int-spec.ts) and cross-service tests in test/ (*.e2e-spec.ts).
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/apps', '<rootDir>/libs', '<rootDir>/test'],
  testMatch: ['**/*.spec.ts', '**/*.int-spec.ts', '**/*.e2e-spec.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.json', diagnostics: false }],
  },
  moduleNameMapper: {
    '^@switchboard/(protocol|engine|config|observability|testing|platform|client)$': '<rootDir>/libs/$1/src',
    '^@switchboard/publisher$': '<rootDir>/libs/publisher/src',
    '^@switchboard/(gateway|notifier|webhook-ingest|standalone)$': '<rootDir>/apps/$1/src',
  },
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  modulePathIgnorePatterns: ['<rootDir>/dist/'],
  testTimeout: 30000,
  // Most suites wait on sockets, not CPU: two workers keep a 2-core machine busy without starving servers.
  maxWorkers: 2,
};
