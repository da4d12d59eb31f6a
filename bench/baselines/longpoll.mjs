// Bare node:http long-poll: GET /poll?channel=c&after=n answers at once with what the
// channel holds after n (a ring of the last 1,000), else holds until the next publish
// (25 s at most). One JSON body per publish, shared by every waiting poll.
import { serve } from './common.mjs';

const HISTORY = 1000;
const channels = new Map();
const state = (name) => {
  let s = channels.get(name);
  if (s === undefined) channels.set(name, (s = { seq: 0, ring: [], waiting: new Set() }));
  return s;
};
const answer = (res, messages, seq) => {
  res.writeHead(200, { 'Content-Type': 'application/json' });
  res.end(`{"messages":[${messages.join(',')}],"seq":${seq}}`);
};

serve(
  (channel, data) => {
    const s = state(channel);
    s.seq++;
    const encoded = JSON.stringify({ channel, seq: s.seq, data });
    s.ring.push(encoded);
    if (s.ring.length > HISTORY) s.ring.shift();
    if (s.waiting.size === 0) return;
    const body = `{"messages":[${encoded}],"seq":${s.seq}}`;
    for (const w of s.waiting) {
      clearTimeout(w.timer);
      w.res.writeHead(200, { 'Content-Type': 'application/json' });
      w.res.end(body);
    }
    s.waiting.clear();
  },
  (req, res) => {
    const url = new URL(req.url, 'http://x');
    if (url.pathname !== '/poll') return res.writeHead(404).end();
    const s = state(url.searchParams.get('channel') ?? '');
    const after = Number(url.searchParams.get('after') ?? s.seq);
    if (after < s.seq) {
      const missing = Math.min(s.seq - after, s.ring.length);
      return answer(res, s.ring.slice(s.ring.length - missing), s.seq);
    }
    if (url.searchParams.get('timeout') === '0') return answer(res, [], s.seq);
    const w = { res, timer: setTimeout(() => (s.waiting.delete(w), answer(res, [], s.seq)), 25_000) };
    s.waiting.add(w);
    req.on('close', () => {
      clearTimeout(w.timer);
      s.waiting.delete(w);
    });
  },
);
