import { Forwarding } from './forwarding';

describe('Forwarding', () => {
  it('ignores forwarding headers from peers that are not trusted proxies', () => {
    const forwarding = new Forwarding([]);
    const headers = {
      'x-forwarded-for': '198.51.100.7',
      'x-forwarded-proto': 'https',
      'x-forwarded-host': 'evil.example',
      host: 'ingest:8080',
    };
    expect(forwarding.clientAddress('203.0.113.9', headers)).toBe('203.0.113.9');
    expect(forwarding.requestUrl('203.0.113.9', headers, false, '/v1/webhooks/sms?a=1')).toBe('http://ingest:8080/v1/webhooks/sms?a=1');
  });

  it('takes the right-most untrusted X-Forwarded-For hop behind trusted proxies', () => {
    const forwarding = new Forwarding(['10.0.0.0/8', '::1']);
    // The client wrote the first entry itself; the proxies appended the rest.
    const headers = { 'x-forwarded-for': '1.1.1.1, 198.51.100.7, 10.1.2.3' };
    expect(forwarding.clientAddress('10.9.9.9', headers)).toBe('198.51.100.7');
    expect(forwarding.clientAddress('::ffff:10.9.9.9', headers)).toBe('198.51.100.7');
    expect(forwarding.clientAddress('::1', { 'x-forwarded-for': '10.0.0.1, 10.0.0.2' })).toBe('10.0.0.1');
    expect(forwarding.clientAddress('10.9.9.9', {})).toBe('10.9.9.9');
    expect(forwarding.clientAddress('10.9.9.9', { 'x-forwarded-for': 'garbage' })).toBe('garbage');
  });

  it('rebuilds the public URL from a trusted proxy', () => {
    const forwarding = new Forwarding(['10.0.0.0/8']);
    const headers = { 'x-forwarded-proto': 'https, http', 'x-forwarded-host': 'hooks.example.com', host: 'ingest:8080' };
    expect(forwarding.requestUrl('10.0.0.2', headers, false, '/v1/webhooks/sms')).toBe('https://hooks.example.com/v1/webhooks/sms');
    expect(forwarding.requestUrl('10.0.0.2', { host: 'ingest:8080' }, true, '/x')).toBe('https://ingest:8080/x');
  });
});
