import { signalOf } from '@switchboard/engine';
import { PresenceNotice } from './presence-hub';

describe('PresenceNotice', () => {
  const signal = signalOf({ type: 'member.added', channel: 'room:1', epoch: 'e', seq: 3, at: 0, user: 'ann', info: { n: 1 } })!;

  it('encodes a join once per transport, the same bytes for every recipient', () => {
    const n = new PresenceNotice(signal);
    expect(n.json).toBe('{"op":"join","channel":"room:1","user":"ann","info":{"n":1}}');
    expect(n.ws.toString()).toBe(n.json);
    expect(n.ws).toBe(n.ws);
    expect(n.sse).toBe('event: join\ndata: {"op":"join","channel":"room:1","user":"ann","info":{"n":1}}\n\n');
    expect(n.socketIo).toBe('2["join",{"op":"join","channel":"room:1","user":"ann","info":{"n":1}}]');
  });

  it("builds another protocol's encoding once per notice and encoder", () => {
    const n = new PresenceNotice(signal);
    let calls = 0;
    const pusher = { encode: (s: typeof signal) => (calls++, `member_added ${s.user}`) };
    expect(n.encoded(pusher)).toBe('member_added ann');
    expect(n.encoded(pusher)).toBe('member_added ann');
    expect(calls).toBe(1);
  });
});
