// Floods a webhook source with unsigned requests from its own process (so that the test
// measuring a signed delivery is not the one busy sending the flood).
//   node webhook-flood.mjs <url> <local address> <concurrency> <at least N requests>
// Prints `progress <answered>` every 500 answers; keeps going after N until it reads `stop`
// on stdin, then prints one JSON line: {"sent","statuses":{"<status>":n},"errors":n}.
import { Agent, request } from 'node:http';

const [url, localAddress, concurrencyText, minimumText] = process.argv.slice(2);
const concurrency = Number(concurrencyText);
const minimum = Number(minimumText);
const agent = new Agent({ keepAlive: true, maxSockets: concurrency, localAddress });
const body = JSON.stringify({ action: 'opened', padding: 'x'.repeat(1024) });
const headers = {
  'content-type': 'application/json',
  'content-length': String(Buffer.byteLength(body)),
  'x-github-event': 'pull_request',
  'x-github-delivery': 'flood',
  'x-hub-signature-256': 'sha256=' + '0'.repeat(64),
};

let stopRequested = false;
let sent = 0;
let answered = 0;
let errors = 0;
const statuses = {};
process.stdin.on('data', (d) => {
  if (d.toString().includes('stop')) stopRequested = true;
});

function one() {
  return new Promise((resolve) => {
    const req = request(url, { method: 'POST', agent, headers }, (res) => {
      statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
      res.resume();
      res.on('end', resolve);
      res.on('error', resolve);
    });
    req.on('error', () => {
      errors++;
      resolve();
    });
    req.end(body);
  });
}

async function worker() {
  while (sent < minimum || !stopRequested) {
    sent++;
    await one();
    if (++answered % 500 === 0) process.stdout.write(`progress ${answered}\n`);
  }
}

await Promise.all(Array.from({ length: concurrency }, worker));
agent.destroy();
process.stdout.write(JSON.stringify({ sent, statuses, errors }) + '\n');
process.exit(0);
