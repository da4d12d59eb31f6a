// The bare sender of the outbound bench: N POSTs of a small JSON body to URL with global
// fetch, CONCURRENCY at a time, no signing, no queue, no retries. Serves /healthz while it
// waits for POST /start, then runs once.
import { createServer } from 'node:http';

const target = process.env.TARGET_URL;
const n = Number(process.env.N);
const concurrency = Number(process.env.CONCURRENCY);
const body = JSON.stringify({ type: 'bench.event', timestamp: new Date().toISOString(), data: { n: 1 } });

async function run() {
  let next = 0;
  const worker = async () => {
    while (next < n) {
      next++;
      const res = await fetch(target, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      await res.arrayBuffer();
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

createServer((req, res) => {
  if (req.url === '/start') {
    req.resume();
    run().then(
      () => res.end('done'),
      (err) => res.writeHead(500).end(String(err)),
    );
    return;
  }
  res.end('ok');
}).listen(Number(process.env.PORT), '127.0.0.1');
