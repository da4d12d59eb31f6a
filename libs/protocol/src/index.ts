export * from './channel';
export * from './cursor';
export * from './errors';
export * from './frames';
export * from './message';
