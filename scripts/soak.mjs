#!/usr/bin/env node
// `npm run soak -- --minutes 10`: runs the reliability scenarios (test/reliability) in a
// loop, with the fault at a random point of each stream, until the time is up; prints
// the ledger figures of every round and the totals. Exits 1 if any round failed.
import { spawn } from 'node:child_process';

const args = process.argv.slice(2);
const at = args.indexOf('--minutes');
const minutes = at >= 0 ? Number(args[at + 1]) : 10;
if (!Number.isFinite(minutes) || minutes <= 0) {
  console.error('usage: npm run soak -- --minutes <n>');
  process.exit(2);
}
const totals = { rounds: 0, failedRounds: 0, scenarios: 0, published: 0, checked: 0, faults: 0, problems: 0 };

function round(n) {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ['--experimental-vm-modules', 'node_modules/jest/bin/jest.js', 'test/reliability', '--runInBand'],
      {
        env: { ...process.env, SOAK_ROUND: String(n) },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    const collect = (d) => (out += d.toString());
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.on('exit', (code) => {
      for (const line of out.split('\n')) {
        const m = /\[reliability\] ([\w-]+): published (\d+), messages checked (\d+), .*problems (\d+)/.exec(line);
        if (m) {
          totals.scenarios++;
          totals.faults++;
          totals.published += Number(m[2]);
          totals.checked += Number(m[3]);
          totals.problems += Number(m[4]);
          console.log(`round ${n}: ${line.trim()}`);
        }
      }
      if (code !== 0) {
        totals.failedRounds++;
        console.log(
          out
            .split('\n')
            .filter((l) => /✕|●/.test(l))
            .join('\n'),
        );
      }
      resolve();
    });
  });
}

const build = spawn('npm', ['run', 'build'], { stdio: 'inherit' });
build.on('exit', async (code) => {
  if (code !== 0) process.exit(code ?? 1);
  // The clock starts after the build; at least one round always runs.
  const deadline = Date.now() + minutes * 60_000;
  while (totals.rounds === 0 || Date.now() < deadline) {
    totals.rounds++;
    await round(totals.rounds);
  }
  console.log(
    `soak: ${totals.rounds} rounds, ${totals.scenarios} scenarios, faults injected ${totals.faults}, messages published ${totals.published}, ` +
      `messages checked ${totals.checked}, problems (lost or duplicated) ${totals.problems}, failed rounds ${totals.failedRounds}`,
  );
  process.exit(totals.failedRounds > 0 || totals.problems > 0 ? 1 : 0);
});
