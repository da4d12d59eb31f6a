import './node-guard';
import 'reflect-metadata';
import { runMain } from '@switchboard/platform';
import { gatewayDefinition } from './gateway.definition';

runMain(gatewayDefinition);
