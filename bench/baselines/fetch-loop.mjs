// The bare sender of the outbound bench: N POSTs to URL with global fetch, CONCURRENCY at a
// time, no signing, no queue, no retries. Same request as the notifier's for the bench's
// events, byte for byte in size: the Standard Webhooks body of an event with the scenario's
// data, and the same header names with values of the same length (fixed, not computed).
// Serves /healthz while it waits for POST /start, then runs once.
import { createServer } from 'node:http';

const target = process.env.TARGET_URL;
const n = Number(process.env.N);
const concurrency = Number(process.env.CONCURRENCY);
const body = JSON.stringify({ type: 'bench.event', timestamp: new Date().toISOString(), data: { i: 1000, pad: 'x'.repeat(200) } });
const headers = {
  'content-type': 'application/json',
  'user-agent': 'Switchboard-Webhooks/1',
  'webhook-id': 'msg_' + '0'.repeat(32),
  'webhook-timestamp': String(Math.floor(Date.now() / 1000)),
  'webhook-signature': 'v1,' + 'A'.repeat(43) + '=',
};

async function run() {
  let next = 0;
  const worker = async () => {
    while (next < n) {
      next++;
      const res = await fetch(target, { method: 'POST', headers, body });
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
