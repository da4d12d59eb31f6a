export * from './eventually';
export * from './servers';
