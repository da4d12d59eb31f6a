// What tests compose: the single process's definition.
export { standaloneDefinition } from './standalone.definition';
