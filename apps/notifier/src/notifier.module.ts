import { DynamicModule, Module } from '@nestjs/common';
import { CoreModule, Platform } from '@switchboard/platform';

/** The notifier feature: its controllers and providers, wired explicitly. */
@Module({})
export class NotifierModule {
  static forPlatform(platform: Platform): DynamicModule {
    return {
      module: NotifierModule,
      imports: [CoreModule.forPlatform(platform)],
      controllers: [],
      providers: [],
    };
  }
}
