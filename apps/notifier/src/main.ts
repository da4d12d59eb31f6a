import 'reflect-metadata';
import { runMain } from '@switchboard/platform';
import { notifierDefinition } from './notifier.definition';

runMain(notifierDefinition);
