import { createHash } from 'node:crypto';

/**
 * The inspector (`GET /inspect`): plain HTML and the SDK's browser bundle, no framework.
 * Every value shown comes through `textContent`, so message data cannot inject markup.
 */
export const INSPECTOR_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Switchboard inspector</title>
<style>
  :root { font: 14px/1.4 system-ui, sans-serif; color: #1d2330; background: #f6f7f9; }
  body { margin: 0 auto; max-width: 1100px; padding: 16px; }
  h1 { font-size: 18px; margin: 0 0 12px; }
  fieldset { border: 1px solid #d5d9e0; border-radius: 6px; margin: 0 0 12px; padding: 10px 12px; background: #fff; }
  legend { font-weight: 600; padding: 0 4px; }
  label { display: inline-flex; gap: 4px; align-items: center; margin-right: 10px; }
  input[type=text], textarea { font: 13px ui-monospace, monospace; padding: 4px 6px; border: 1px solid #c3c9d3; border-radius: 4px; }
  textarea { width: 100%; box-sizing: border-box; }
  button { padding: 4px 12px; border-radius: 4px; border: 1px solid #5b6bf5; background: #5b6bf5; color: #fff; cursor: pointer; }
  button.secondary { background: #fff; color: #5b6bf5; }
  .status span { font-weight: 600; margin-right: 16px; }
  .state-connected { color: #137333; } .state-connecting, .state-disconnected { color: #b06000; } .state-closed { color: #a50e0e; }
  #subscriptions li { margin: 2px 0; }
  table { width: 100%; border-collapse: collapse; background: #fff; font: 12px ui-monospace, monospace; }
  th, td { text-align: left; border-bottom: 1px solid #eceef2; padding: 3px 6px; vertical-align: top; }
  td.data { white-space: pre-wrap; word-break: break-all; }
  #log { font: 12px ui-monospace, monospace; color: #5f6673; max-height: 120px; overflow: auto; }
</style>
</head>
<body>
<h1>Switchboard inspector</h1>
<fieldset>
  <legend>Connection</legend>
  <label>Gateway <input id="url" type="text" size="36"></label>
  <label><input type="checkbox" name="transport" value="websocket" checked> WebSocket</label>
  <label><input type="checkbox" name="transport" value="sse" checked> SSE</label>
  <label><input type="checkbox" name="transport" value="longpoll" checked> long-poll</label>
  <p><textarea id="token" rows="2" placeholder="JWT (Bearer token)"></textarea></p>
  <button id="connect">Connect</button> <button id="disconnect" class="secondary">Disconnect</button>
  <p class="status">State <span id="state">–</span> Transport <span id="transport">–</span></p>
</fieldset>
<fieldset>
  <legend>Subscriptions</legend>
  <label>Channel <input id="channel" type="text" size="30" placeholder="orders:42"></label>
  <button id="subscribe">Subscribe</button>
  <ul id="subscriptions"></ul>
</fieldset>
<fieldset>
  <legend>Publish (WebSocket)</legend>
  <label>Channel <input id="pub-channel" type="text" size="30"></label>
  <label>Data <input id="pub-data" type="text" size="40" value='{"hello":"world"}'></label>
  <button id="publish">Publish</button> <span id="pub-result"></span>
</fieldset>
<div id="log"></div>
<table>
  <thead><tr><th>time</th><th>channel</th><th>offset</th><th>epoch</th><th>data</th></tr></thead>
  <tbody id="messages"></tbody>
</table>
<script src="/inspect/switchboard-client.js"></script>
<script src="/inspect/switchboard-rtc.js"></script>
<script>
(() => {
  const $ = (id) => document.getElementById(id);
  const MAX_ROWS = 500;
  let client;
  const subs = new Map();
  $('url').value = location.origin;
  $('token').value = sessionStorage.getItem('switchboard:inspector:token') || '';

  const log = (text) => {
    const line = document.createElement('div');
    line.textContent = new Date().toISOString().slice(11, 23) + ' ' + text;
    $('log').prepend(line);
  };
  const cell = (row, text, cls) => {
    const td = row.insertCell();
    td.textContent = text;
    if (cls) td.className = cls;
  };
  const show = (m) => {
    const row = $('messages').insertRow(0);
    row.dataset.channel = m.channel;
    row.dataset.offset = String(m.offset);
    cell(row, new Date(m.ts).toISOString().slice(11, 23));
    cell(row, m.channel);
    cell(row, String(m.offset));
    cell(row, m.epoch);
    cell(row, JSON.stringify(m.data), 'data');
    while ($('messages').rows.length > MAX_ROWS) $('messages').deleteRow(-1);
  };
  const setState = (s) => { $('state').textContent = s; $('state').className = 'state-' + s; };
  const renderSubs = () => {
    $('subscriptions').replaceChildren(...[...subs.keys()].map((channel) => {
      const li = document.createElement('li');
      // Live members (channels with presence and join/leave): the SDK's member set.
      const members = [...subs.get(channel).members.keys()];
      li.textContent = channel + (members.length === 0 ? ' ' : ' · ' + members.length + ' online: ' + members.slice(0, 50).join(', ') + (members.length > 50 ? ', …' : '') + ' ');
      const b = document.createElement('button');
      b.textContent = 'Unsubscribe';
      b.className = 'secondary';
      b.onclick = () => { subs.get(channel)?.unsubscribe(); subs.delete(channel); renderSubs(); };
      li.append(b);
      return li;
    }));
  };

  $('connect').onclick = () => {
    client?.close();
    subs.clear();
    renderSubs();
    const token = $('token').value.trim();
    sessionStorage.setItem('switchboard:inspector:token', token);
    const transports = [...document.querySelectorAll('input[name=transport]:checked')].map((e) => e.value);
    client = Switchboard.connect($('url').value, { token, transports });
    client.on('state', setState);
    client.on('transport', (t) => { $('transport').textContent = t; log('transport ' + t); });
    client.on('reconnect', (r) => log('reconnect #' + r.attempt + ' in ' + r.delayMs + ' ms over ' + r.transport));
    client.on('error', (e) => log('error ' + e.code + ': ' + e.message));
    setState(client.state);
  };
  $('disconnect').onclick = () => { client?.close(); subs.clear(); renderSubs(); };
  $('subscribe').onclick = () => {
    const channel = $('channel').value.trim();
    if (!client || !channel || subs.has(channel)) return;
    const sub = client.subscribe(channel, { presence: true });
    sub.on('message', show);
    sub.on('members', renderSubs);
    sub.on('join', (n) => log('join ' + channel + ' ' + n.user));
    sub.on('leave', (n) => log('leave ' + channel + ' ' + n.user));
    sub.on('subscribed', (e) => log('subscribed ' + channel + ' at ' + e.position.offset + (e.recovered === undefined ? '' : ' recovered=' + e.recovered)));
    sub.on('recovery', () => log('messages lost on ' + channel + ' (recovered: false)'));
    sub.on('error', (e) => { log('error on ' + channel + ': ' + e.code + ' ' + e.message); subs.delete(channel); renderSubs(); });
    subs.set(channel, sub);
    if (!$('pub-channel').value) $('pub-channel').value = channel;
    renderSubs();
  };
  $('publish').onclick = async () => {
    if (!client) return;
    let data;
    try { data = JSON.parse($('pub-data').value); } catch { $('pub-result').textContent = 'data is not JSON'; return; }
    $('pub-result').textContent = '…';
    try {
      const offset = await client.publish($('pub-channel').value.trim(), data);
      $('pub-result').textContent = 'published at offset ' + offset;
    } catch (e) {
      $('pub-result').textContent = 'refused: ' + (e.code || '') + ' ' + e.message;
    }
  };
})();
</script>
</body>
</html>
`;

/** CSP source of an inline element's text: its SHA-256 (the browser hashes exactly the text between the tags). */
function inlineHash(tag: 'script' | 'style'): string {
  const match = new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`).exec(INSPECTOR_PAGE);
  if (match === null) throw new Error(`the inspector page has no inline <${tag}>`);
  return `'sha256-${createHash('sha256').update(match[1]).digest('base64')}'`;
}

/**
 * The page's Content-Security-Policy: nothing may frame it (a token is pasted into it, and
 * a framing page could trick a user into acting on the gateway: clickjacking), it runs only
 * its own inline script (by hash, not 'unsafe-inline') and the SDK bundle from its origin,
 * and may connect to any gateway (the URL field). No forms, plugins or <base> rewriting.
 */
export const INSPECTOR_CSP = [
  "default-src 'none'",
  `script-src 'self' ${inlineHash('script')}`,
  `style-src ${inlineHash('style')}`,
  'connect-src * ws: wss:',
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');
