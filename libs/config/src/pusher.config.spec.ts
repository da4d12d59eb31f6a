import { gatewaySchema } from './gateway.config';
import { loadConfig } from './load-config';

const base = { JWT_SECRET: 'x'.repeat(32) };

function problem(env: Record<string, string>): string {
  try {
    loadConfig(gatewaySchema, { ...base, ...env });
  } catch (err) {
    return (err as Error).message;
  }
  return 'no error';
}

describe('PUSHER_APPS', () => {
  it('is empty when unset and fills the defaults of each app', () => {
    expect(loadConfig(gatewaySchema, base).PUSHER_APPS).toEqual([]);
    const c = loadConfig(gatewaySchema, {
      ...base,
      PUSHER_APPS:
        '[{"id":"1","key":"app-key","secret":"0123456789abcdef"},{"id":"2","key":"k2","secret":"0123456789abcdef","clientEvents":true,"webhooks":[{"url":"https://hooks.example.com/p","events":["member_added"]}]}]',
    });
    expect(c.PUSHER_APPS[0]).toEqual({ id: '1', key: 'app-key', secret: '0123456789abcdef', clientEvents: false, webhooks: [] });
    expect(c.PUSHER_APPS[1].webhooks).toEqual([{ url: 'https://hooks.example.com/p', events: ['member_added'] }]);
    expect(c.PUSHER_ACTIVITY_TIMEOUT_SECONDS).toBe(120);
  });

  it('names the variable, the app and what is allowed', () => {
    expect(problem({ PUSHER_APPS: '[{"id":"1"' })).toMatch(/PUSHER_APPS.*not valid JSON/);
    expect(problem({ PUSHER_APPS: '{"id":"1"}' })).toMatch(/PUSHER_APPS.*list of apps/);
    expect(problem({ PUSHER_APPS: '[{"id":"1","key":"k","secret":"short"}]' })).toMatch(/PUSHER_APPS.*0.*secret.*at least 16/);
    expect(problem({ PUSHER_APPS: '[{"id":"1","key":"a b","secret":"0123456789abcdef"}]' })).toMatch(/PUSHER_APPS.*key.*A-Z/);
    expect(problem({ PUSHER_APPS: '[{"id":"1","key":"k","secret":"0123456789abcdef","cluster":"eu"}]' })).toMatch(/PUSHER_APPS.*cluster/);
    expect(
      problem({
        PUSHER_APPS: '[{"id":"1","key":"k","secret":"0123456789abcdef","webhooks":[{"url":"https://x.example","events":["push"]}]}]',
      }),
    ).toMatch(/PUSHER_APPS.*events.*channel_occupied/);
    expect(
      problem({ PUSHER_APPS: '[{"id":"1","key":"k","secret":"0123456789abcdef"},{"id":"2","key":"k","secret":"0123456789abcdef"}]' }),
    ).toMatch(/PUSHER_APPS.*1.*key.*"k" is used by two apps/);
  });

  it("never echoes the value (it holds the apps' secrets)", () => {
    expect(problem({ PUSHER_APPS: '[{"id":"1","key":"k","secret":"0123456789abcdef-topsecret","clientEvents":"yes"}]' })).not.toContain(
      'topsecret',
    );
    expect(problem({ PUSHER_APPS: '[{"secret":"0123456789abcdef-topsecret"' })).not.toContain('topsecret');
  });
});
