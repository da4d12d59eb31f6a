export * from './bootstrap';
export * from './core.module';
export * from './health.controller';
export * from './http-error.filter';
export * from './nest-logger';
export * from './node-version';
export * from './platform';
export * from './tokens';
