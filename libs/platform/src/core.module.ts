import { DynamicModule, Module } from '@nestjs/common';
import { Platform } from './platform';
import { CHANNEL_ENGINE, EVENT_BUS, LIFECYCLE, LOGGER, METRICS, PLATFORM } from './tokens';

const modules = new WeakMap<Platform, DynamicModule>();

/**
 * Provides the platform's shared services (engine, event bus, metrics, lifecycle, logger)
 * to an app module. Returns the same module object for the same platform, so the
 * single process imports it from several app modules and Nest builds it once.
 */
@Module({})
export class CoreModule {
  static forPlatform(platform: Platform): DynamicModule {
    let module = modules.get(platform);
    if (module === undefined) {
      const providers = [
        { provide: PLATFORM, useValue: platform },
        { provide: CHANNEL_ENGINE, useValue: platform.runtime.engine },
        { provide: EVENT_BUS, useValue: platform.runtime.eventBus },
        { provide: METRICS, useValue: platform.metrics },
        { provide: LIFECYCLE, useValue: platform.lifecycle },
        { provide: LOGGER, useValue: platform.logger },
      ];
      module = { module: CoreModule, providers, exports: providers.map((p) => p.provide) };
      modules.set(platform, module);
    }
    return module;
  }
}
