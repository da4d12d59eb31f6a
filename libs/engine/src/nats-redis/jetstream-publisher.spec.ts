import { headers, MsgHdrsImpl } from '@nats-io/nats-core';
import { MsgIdHeaders } from './jetstream-publisher';

describe('MsgIdHeaders', () => {
  it('encodes the same bytes as a nats.js header set holding the id', () => {
    for (const id of ['webhook:stripe:evt_1', ' padded ', 'sha256:' + 'ab'.repeat(32)]) {
      const expected = new MsgHdrsImpl();
      expected.set('Nats-Msg-Id', id);
      const ours = new MsgIdHeaders(id);
      expect(Buffer.from(ours.encode()).toString()).toBe(Buffer.from(expected.encode()).toString());
      expect(ours.get('Nats-Msg-Id')).toBe(expected.get('Nats-Msg-Id'));
    }
  });

  it('refuses a line break in the id, as nats.js does', () => {
    expect(() => new MsgIdHeaders('a\r\nX-Injected: 1')).toThrow('cannot contain');
    expect(() => headers().set('Nats-Msg-Id', 'a\r\nX-Injected: 1')).toThrow('cannot contain');
  });
});
