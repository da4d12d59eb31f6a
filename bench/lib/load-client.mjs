// A load-generating client process (forked by the bench with IPC). It opens `count`
// connections of one transport to ours (`mode: 'ours'`) or to a bare baseline, subscribes
// each to its channels, and for every message records publish→receive latency in an HDR
// histogram and checks the per-channel sequence (no loss, no duplicate). Messages carry
// `data: {s: <seq in its channel>, t: <publish time, ms since the epoch, float>}`.
import hdr from 'hdr-histogram-js';
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { io } from 'socket.io-client';
import WebSocket from 'ws';

const now = () => performance.timeOrigin + performance.now();
const agent = new Agent({ keepAlive: true, maxSockets: Infinity });
let histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 });
let received = 0;
let lost = 0;
let dup = 0;
let errors = 0;
let closed = 0;
/** Long-poll answers received (empty ones included): messages per answer = received / answers. */
let answers = 0;
const sockets = [];

/**
 * Per connection and channel: the last sequence seen (a gap is a loss, a repeat a
 * duplicate). `unordered`: publishers raced each other, so only repeats are checked here
 * and losses by the totals at the end.
 */
function tracker(unordered) {
  const last = new Map();
  const seen = new Set();
  return (channel, data) => {
    if (data === null || typeof data !== 'object' || typeof data.s !== 'number') return;
    if (unordered) {
      const key = `${channel}\u0000${data.s}`;
      if (seen.has(key)) dup++;
      else {
        seen.add(key);
        received++;
        histogram.recordValue(Math.max(1, Math.round((now() - data.t) * 1000)));
      }
      return;
    }
    const prev = last.get(channel);
    if (prev !== undefined) {
      if (data.s <= prev) {
        dup++;
        return;
      }
      if (data.s > prev + 1) lost += data.s - prev - 1;
    }
    last.set(channel, data.s);
    received++;
    histogram.recordValue(Math.max(1, Math.round((now() - data.t) * 1000)));
  };
}

function onTextFrame(track, text, mode) {
  const m = JSON.parse(text);
  if (mode === 'ours' ? m.op === 'message' : m.channel !== undefined) track(m.channel, m.data);
}

/** Reads an HTTP response as Server-Sent Events, calling `onEvent(event, data)`. */
function readSse(res, onEvent) {
  let buffer = '';
  res.setEncoding('utf8');
  res.on('data', (chunk) => {
    buffer += chunk;
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = 'message';
      let data = '';
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data += line.slice(5).trimStart();
      }
      if (data !== '') onEvent(event, data);
    }
  });
}

function getJson(url, headers) {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(new Error(`${res.statusCode} ${Buffer.concat(chunks).toString()}`));
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Opens one connection; resolves once it is subscribed to `channels`. */
function open(o, channels, localAddress) {
  const track = tracker(o.unordered === true);
  const q = channels.map((c) => `channel=${encodeURIComponent(c)}`).join('&');
  const started = now();
  return new Promise((resolve, reject) => {
    const ready = () => resolve(now() - started);
    if (o.transport === 'ws') {
      const url = o.mode === 'ours' ? `${o.base.replace('http', 'ws')}/v1/ws?token=${o.token}` : `${o.base.replace('http', 'ws')}/ws?${q}`;
      const ws = new WebSocket(url, { perMessageDeflate: false, localAddress });
      sockets.push(ws);
      let pending = channels.length;
      ws.on('open', () => {
        if (o.mode === 'ours') channels.forEach((channel, i) => ws.send(JSON.stringify({ op: 'subscribe', id: i + 1, channel })));
      });
      ws.on('message', (raw) => {
        const text = raw.toString();
        if (o.mode === 'ours' && text.startsWith('{"op":"subscribed"')) {
          if (--pending === 0) ready();
          return;
        }
        if (o.mode === 'bare' && text === '{"ready":true}') return ready();
        onTextFrame(track, text, o.mode);
      });
      ws.on('error', (err) => {
        errors++;
        reject(err);
      });
      ws.on('close', () => closed++);
    } else if (o.transport === 'pusher') {
      // pusher-js's wire protocol: /app/<key>, pusher:subscribe, events with a JSON-text `data`.
      const ws = new WebSocket(`${o.base.replace('http', 'ws')}/app/${o.pusherKey}?protocol=7&client=bench&version=1`, {
        perMessageDeflate: false,
        localAddress,
      });
      sockets.push(ws);
      let pending = channels.length;
      ws.on('message', (raw) => {
        const text = raw.toString();
        const m = JSON.parse(text);
        if (m.event === 'pusher:connection_established') {
          for (const channel of channels) ws.send(JSON.stringify({ event: 'pusher:subscribe', data: { channel } }));
        } else if (m.event === 'pusher_internal:subscription_succeeded') {
          if (--pending === 0) ready();
        } else if (m.event === 'message') track(m.channel, JSON.parse(m.data));
      });
      ws.on('error', (err) => {
        errors++;
        reject(err);
      });
      ws.on('close', () => closed++);
    } else if (o.transport === 'sio') {
      const socket = io(o.base, {
        transports: ['websocket'],
        reconnection: false,
        forceNew: true,
        auth: o.mode === 'ours' ? { token: o.token } : undefined,
        query: o.mode === 'bare' ? { channels: channels.join(',') } : undefined,
        localAddress,
      });
      sockets.push(socket);
      socket.on('message', (m) => track(m.channel, m.data));
      socket.on('connect_error', (err) => {
        errors++;
        reject(err);
      });
      socket.on('disconnect', () => closed++);
      if (o.mode === 'bare') socket.on('ready', ready);
      else
        socket.on('connect', async () => {
          for (const channel of channels) {
            const ack = await socket.emitWithAck('subscribe', { channel });
            if (!ack.ok) return reject(new Error(`subscribe: ${ack.code}`));
          }
          ready();
        });
    } else if (o.transport === 'sse') {
      const path = o.mode === 'ours' ? `/v1/sse?${q}` : `/sse?${q}`;
      const headers = { Accept: 'text/event-stream', ...(o.mode === 'ours' ? { Authorization: `Bearer ${o.token}` } : {}) };
      const req = request(`${o.base}${path}`, { agent, headers, localAddress }, (res) => {
        if (res.statusCode !== 200) {
          errors++;
          return reject(new Error(`SSE ${res.statusCode}`));
        }
        ready();
        readSse(res, (event, data) => {
          if (event === 'message') {
            const m = JSON.parse(data);
            track(m.channel, m.data);
          }
        });
        res.on('close', () => closed++);
      });
      req.on('error', (err) => {
        errors++;
        reject(err);
      });
      sockets.push(req);
      req.end();
    } else if (o.transport === 'lp') {
      const headers = o.mode === 'ours' ? { Authorization: `Bearer ${o.token}` } : {};
      let stopped = false;
      sockets.push({ close: () => (stopped = true) });
      (async () => {
        if (o.mode === 'ours') {
          let cursor = (await getJson(`${o.base}/v1/poll?${q}&timeout=0`, headers)).cursor;
          ready();
          while (!stopped) {
            const body = await getJson(`${o.base}/v1/poll?${q}&timeout=25&cursor=${cursor}`, headers);
            answers++;
            for (const m of body.messages) track(m.channel, m.data);
            cursor = body.cursor;
          }
        } else {
          const channel = channels[0];
          let after = (await getJson(`${o.base}/poll?channel=${encodeURIComponent(channel)}&timeout=0`, headers)).seq;
          ready();
          while (!stopped) {
            const body = await getJson(`${o.base}/poll?channel=${encodeURIComponent(channel)}&after=${after}`, headers);
            answers++;
            for (const m of body.messages) track(m.channel, m.data);
            after = body.seq;
          }
        }
      })().catch((err) => {
        if (stopped) return;
        errors++;
        reject(err);
      });
    } else reject(new Error(`unknown transport ${o.transport}`));
  });
}

process.on('message', async (msg) => {
  if (msg.cmd === 'open') {
    // msg: {mode, transport, base, token, tokens?: string[] (one per connection), channels: string[][] (one list per connection), addresses?, concurrency?}
    const handshakes = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 });
    const started = now();
    const limit = msg.concurrency ?? 200;
    let next = 0;
    let failed = 0;
    let firstError;
    const worker = async () => {
      while (next < msg.channels.length) {
        const i = next++;
        const address = msg.addresses?.[i % msg.addresses.length];
        // `retries`: a refused connection is tried again (what real clients do); the storm
        // scenario passes none, so every refusal counts there.
        for (let attempt = 0; ; attempt++) {
          try {
            const ms = await open(msg.tokens ? { ...msg, token: msg.tokens[i] } : msg, msg.channels[i], address);
            handshakes.recordValue(Math.max(1, Math.round(ms * 1000)));
            break;
          } catch (err) {
            if (attempt < (msg.retries ?? 0)) continue;
            failed++;
            firstError ??= err.message;
            break;
          }
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(limit, msg.channels.length) }, worker));
    process.send({
      cmd: 'opened',
      opened: msg.channels.length - failed,
      failed,
      firstError,
      elapsedMs: now() - started,
      handshakeP50Ms: handshakes.getValueAtPercentile(50) / 1000,
      handshakeP99Ms: handshakes.getValueAtPercentile(99) / 1000,
    });
  } else if (msg.cmd === 'reset') {
    histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 });
    process.send({ cmd: 'reset' });
  } else if (msg.cmd === 'count') {
    process.send({ cmd: 'count', received, lost, dup, errors, closed, answers });
  } else if (msg.cmd === 'report') {
    process.send({ cmd: 'report', received, lost, dup, errors, closed, answers, histogram: hdr.encodeIntoCompressedBase64(histogram) });
  } else if (msg.cmd === 'close') {
    for (const s of sockets) {
      try {
        if (typeof s.terminate === 'function') s.terminate();
        else if (typeof s.destroy === 'function') s.destroy();
        else s.close?.();
      } catch {
        // Already gone.
      }
    }
    agent.destroy();
    process.send({ cmd: 'closed' });
    setTimeout(() => process.exit(0), 50);
  }
});
process.send({ cmd: 'hello' });
