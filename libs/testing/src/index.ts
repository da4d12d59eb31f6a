export * from './eventually';
export * from './servers';
export * from './tokens';
export * from './ws-client';
export * from './coturn';
export * from './isolated-env';
export * from './clusters';
