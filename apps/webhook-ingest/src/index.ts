// What other processes compose (the single process, tests): webhook-ingest's module and setup.
export { configureWebhookIngest, webhookIngestDefinition } from './webhook-ingest.definition';
export { WebhookIngestModule } from './webhook-ingest.module';
