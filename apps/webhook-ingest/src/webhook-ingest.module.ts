import { DynamicModule, Module } from '@nestjs/common';
import { CoreModule, Platform } from '@switchboard/platform';

/** The webhook-ingest feature: its controllers and providers, wired explicitly. */
@Module({})
export class WebhookIngestModule {
  static forPlatform(platform: Platform): DynamicModule {
    return {
      module: WebhookIngestModule,
      imports: [CoreModule.forPlatform(platform)],
      controllers: [],
      providers: [],
    };
  }
}
