export * from './bootstrap';
export * from './core.module';
export * from './health.controller';
export * from './nest-logger';
export * from './platform';
export * from './tokens';
export * from './http-error.filter';
export * from './node-version';
