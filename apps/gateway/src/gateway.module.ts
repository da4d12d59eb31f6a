import { DynamicModule, Module } from '@nestjs/common';
import { CoreModule, Platform } from '@switchboard/platform';

/** The gateway feature: its controllers and providers, wired explicitly. */
@Module({})
export class GatewayModule {
  static forPlatform(platform: Platform): DynamicModule {
    return {
      module: GatewayModule,
      imports: [CoreModule.forPlatform(platform)],
      controllers: [],
      providers: [],
    };
  }
}
