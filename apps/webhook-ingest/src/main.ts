import './node-guard';
import 'reflect-metadata';
import { runMain } from '@switchboard/platform';
import { webhookIngestDefinition } from './webhook-ingest.definition';

runMain(webhookIngestDefinition);
