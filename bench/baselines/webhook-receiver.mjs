// The receiving end of the outbound bench: a bare node:http server answering 200 to every
// POST (after DELAY_MS, to stand for a real receiver's work). It counts requests and
// distinct webhook-ids; GET /stats returns {count, distinct, firstAt, lastAt}, POST /reset clears.
import { createServer } from 'node:http';

const delayMs = Number(process.env.DELAY_MS ?? 0);
let count = 0;
let firstAt = 0;
let lastAt = 0;
const ids = new Set();

createServer((req, res) => {
  if (req.method === 'GET') {
    const body = req.url === '/stats' ? JSON.stringify({ count, distinct: ids.size, firstAt, lastAt }) : 'ok';
    res.writeHead(200, { 'content-type': 'application/json' }).end(body);
    return;
  }
  if (req.url === '/reset') {
    count = 0;
    firstAt = 0;
    lastAt = 0;
    ids.clear();
    req.resume();
    res.end();
    return;
  }
  req.resume();
  req.on('end', () => {
    const answer = () => {
      const at = performance.timeOrigin + performance.now();
      if (count === 0) firstAt = at;
      lastAt = at;
      count++;
      const id = req.headers['webhook-id'];
      if (typeof id === 'string') ids.add(id);
      res.writeHead(200).end();
    };
    if (delayMs > 0) setTimeout(answer, delayMs);
    else answer();
  });
}).listen(Number(process.env.PORT), process.env.HOST ?? '127.0.0.1');
