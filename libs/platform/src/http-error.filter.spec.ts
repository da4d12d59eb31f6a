import { BadRequestException, Controller, Get, Module } from '@nestjs/common';
import { commonSchema, CommonConfig } from '@switchboard/config';
import { SwitchboardError } from '@switchboard/protocol';
import { RunningService, ServiceDefinition, startService } from './bootstrap';
import { CoreModule } from './core.module';
import { HealthController } from './health.controller';
import { errorCodeOf } from './http-error.filter';

@Controller('fail')
class FailingController {
  @Get('unexpected')
  unexpected(): never {
    throw new Error('ECONNREFUSED 10.0.0.7:6379 password=hunter2');
  }

  @Get('protocol')
  protocol(): never {
    throw new SwitchboardError('rate_limited', 'slow down');
  }

  @Get('nest')
  nest(): never {
    throw new BadRequestException(['a must be a string', 'b is required']);
  }

  @Get('middleware')
  middleware(): never {
    // What body-parser and other http-errors users throw.
    throw Object.assign(new Error('request entity too large'), { status: 413, expose: true });
  }
}

@Module({})
class TestRootModule {}

const definition: ServiceDefinition<CommonConfig> = {
  name: 'filter-test',
  schema: commonSchema,
  module: (platform) => ({
    module: TestRootModule,
    imports: [CoreModule.forPlatform(platform)],
    controllers: [HealthController, FailingController],
  }),
};

describe('HttpErrorFilter (registered by startService for every app)', () => {
  let service: RunningService<CommonConfig>;
  beforeAll(async () => {
    service = await startService(definition, { PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent' });
  });
  afterAll(() => service.stop());

  async function answer(path: string, init?: RequestInit): Promise<{ status: number; body: unknown; type: string | null }> {
    const res = await fetch(service.url + path, init);
    return { status: res.status, type: res.headers.get('content-type'), body: await res.json() };
  }

  it('answers an unknown route with {error, message}, not Nest’s {statusCode, error, message}', async () => {
    expect(await answer('/nope')).toEqual({
      status: 404,
      type: expect.stringMatching(/^application\/json/),
      body: { error: 'not_found', message: 'Cannot GET /nope' },
    });
    expect((await answer('/healthz', { method: 'DELETE' })).body).toEqual({ error: 'not_found', message: 'Cannot DELETE /healthz' });
  });

  it('keeps the protocol code of a SwitchboardError', async () => {
    expect(await answer('/fail/protocol')).toMatchObject({ status: 429, body: { error: 'rate_limited', message: 'slow down' } });
  });

  it('maps Nest exceptions and http-errors to a code and a readable message', async () => {
    expect(await answer('/fail/nest')).toMatchObject({
      status: 400,
      body: { error: 'bad_request', message: 'a must be a string; b is required' },
    });
    expect(await answer('/fail/middleware')).toMatchObject({
      status: 413,
      body: { error: 'too_large', message: 'request entity too large' },
    });
  });

  it('answers an unexpected error with 500 internal and none of its details', async () => {
    const { status, body } = await answer('/fail/unexpected');
    expect(status).toBe(500);
    expect(body).toEqual({ error: 'internal', message: 'internal error' });
  });

  it('names statuses without a protocol code', () => {
    expect([405, 409, 500, 502, 418].map(errorCodeOf)).toEqual(['method_not_allowed', 'conflict', 'internal', 'internal', 'bad_request']);
  });
});
