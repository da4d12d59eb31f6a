export * from './body-refusal';
export * from './bootstrap';
export * from './core.module';
export * from './health.controller';
export * from './metrics-server';
export * from './nest-logger';
export * from './platform';
export * from './tokens';
