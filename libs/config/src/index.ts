export * from './common.config';
export * from './env';
export * from './load-config';
export * from './gateway.config';
export * from './notifier.config';
export * from './standalone.config';
export * from './webhook-ingest.config';
export * from './webhook-sources.schema';
