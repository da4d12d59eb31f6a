import { CircuitBreaker } from './circuit-breaker';

describe('CircuitBreaker', () => {
  let now = 1_000_000;
  const clock = () => now;
  const settings = { windowMs: 10_000, minAttempts: 4, failureRatio: 0.5, openMs: 2000 };

  it('opens once the window holds enough attempts with enough failures', () => {
    const b = new CircuitBreaker(settings, clock);
    b.record(false, false);
    b.record(false, false);
    b.record(false, false);
    expect(b.state).toBe('closed'); // 3 < minAttempts
    b.record(true, false);
    expect(b.state).toBe('open'); // 3 of 4 failed
    expect(b.permit()).toEqual({ allowed: false, waitMs: 2000 });
  });

  it('stays closed under the ratio, and forgets attempts older than the window', () => {
    const b = new CircuitBreaker(settings, clock);
    for (let i = 0; i < 6; i++) b.record(true, false);
    for (let i = 0; i < 5; i++) b.record(false, false);
    expect(b.state).toBe('closed'); // 5 of 11
    now += 11_000;
    for (let i = 0; i < 3; i++) b.record(false, false);
    expect(b.state).toBe('closed'); // the old ones are gone: 3 < minAttempts
    b.record(false, false);
    expect(b.state).toBe('open');
  });

  it('lets one probe through when half-open; its outcome closes or reopens', () => {
    const b = new CircuitBreaker(settings, clock);
    for (let i = 0; i < 4; i++) b.record(false, false);
    expect(b.state).toBe('open');
    now += 2000;
    expect(b.state).toBe('half_open');
    expect(b.permit()).toEqual({ allowed: true, probe: true });
    expect(b.permit().allowed).toBe(false); // only one probe at a time
    b.record(false, true);
    expect(b.state).toBe('open');
    now += 2000;
    expect(b.permit()).toEqual({ allowed: true, probe: true });
    b.record(true, true);
    expect(b.state).toBe('closed');
    expect(b.permit()).toEqual({ allowed: true, probe: false });
    // A fresh window: three failures do not reopen it.
    for (let i = 0; i < 3; i++) b.record(false, false);
    expect(b.state).toBe('closed');
  });

  it('ignores outcomes of attempts started before it opened', () => {
    const b = new CircuitBreaker(settings, clock);
    for (let i = 0; i < 4; i++) b.record(false, false);
    b.record(true, false);
    b.record(true, false);
    expect(b.state).toBe('open');
  });
});
