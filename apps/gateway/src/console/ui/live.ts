import { connect, type Message, type Subscription, type SwitchboardClient, type TransportName } from '@switchboard/client';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, describe } from './api';
import { html } from './html';

const MAX_ROWS = 500;
const TOKEN_ITEM = 'switchboard:console:token';
const PUBLISH_KEY_ITEM = 'switchboard:console:publish-key';

interface Row extends Message {
  key: string;
}

interface LogLine {
  at: string;
  text: string;
  error: boolean;
}

const TRANSPORTS: TransportName[] = ['websocket', 'sse', 'longpoll'];

/** Live: connect as a client, subscribe (from now or a position), watch messages, publish, ask who is present. */
export function Live(props: { devToken: boolean }) {
  const [token, setToken] = useState(sessionStorage.getItem(TOKEN_ITEM) ?? '');
  const [transports, setTransports] = useState<TransportName[]>(TRANSPORTS);
  const [state, setState] = useState('closed');
  const [transport, setTransport] = useState('');
  const [channel, setChannel] = useState('orders:42');
  const [offset, setOffset] = useState('');
  const [epoch, setEpoch] = useState('');
  const [subs, setSubs] = useState<string[]>([]);
  const [rows, setRows] = useState<Row[]>([]);
  const [log, setLog] = useState<LogLine[]>([]);
  const [pubChannel, setPubChannel] = useState('orders:42');
  const [pubData, setPubData] = useState('{"status":"paid"}');
  const [via, setVia] = useState<'ws' | 'api'>('ws');
  const [publishKey, setPublishKey] = useState(sessionStorage.getItem(PUBLISH_KEY_ITEM) ?? '');
  const [pubResult, setPubResult] = useState<{ text: string; error: boolean } | null>(null);
  const [presence, setPresence] = useState<{ channel: string; text: string; error: boolean } | null>(null);
  const client = useRef<SwitchboardClient | null>(null);
  const subscriptions = useRef(new Map<string, Subscription>());

  const note = (text: string, error = false): void =>
    setLog((l) => [{ at: new Date().toISOString().slice(11, 23), text, error }, ...l].slice(0, 100));

  useEffect(() => () => client.current?.close(), []);

  const disconnect = (): void => {
    client.current?.close();
    client.current = null;
    subscriptions.current.clear();
    setSubs([]);
    setState('closed');
    setTransport('');
  };

  const open = (withToken: string): void => {
    disconnect();
    sessionStorage.setItem(TOKEN_ITEM, withToken);
    const c = connect(location.origin, { token: withToken, transports });
    c.on('state', (s) => setState(s));
    c.on('transport', (t) => {
      setTransport(t);
      note(`transport ${t}`);
    });
    c.on('reconnect', (r) => note(`reconnect #${r.attempt} in ${r.delayMs} ms over ${r.transport}`));
    c.on('error', (e) => note(`${e.code}: ${e.message}`, true));
    client.current = c;
    setState(c.state);
  };

  const useDevToken = async (): Promise<void> => {
    try {
      const { token: t } = await api<{ token: string }>('/console/api/dev-token', { method: 'POST' });
      setToken(t);
      open(t);
    } catch (err) {
      note(`dev token: ${describe(err)}`, true);
    }
  };

  const subscribe = (): void => {
    const c = client.current;
    const name = channel.trim();
    if (c === null) return note('connect first', true);
    if (name === '' || subscriptions.current.has(name)) return;
    const since = offset.trim() === '' ? undefined : { offset: Number(offset), epoch: epoch.trim() };
    if (since !== undefined && (!Number.isSafeInteger(since.offset) || since.offset < 0))
      return note('the offset is a whole number ≥ 0', true);
    try {
      const sub = c.subscribe(name, since === undefined ? {} : { since });
      sub.on('message', (m) => setRows((r) => [{ ...m, key: `${m.channel}/${m.epoch}/${m.offset}` }, ...r].slice(0, MAX_ROWS)));
      sub.on('subscribed', (e) =>
        note(`subscribed ${name} at ${e.position.offset}${e.recovered === undefined ? '' : ` recovered=${e.recovered}`}`),
      );
      sub.on('recovery', () => note(`messages lost on ${name} (recovered: false)`, true));
      sub.on('error', (e) => {
        note(`${name}: ${e.code}: ${e.message}`, true);
        subscriptions.current.delete(name);
        setSubs([...subscriptions.current.keys()]);
      });
      subscriptions.current.set(name, sub);
      setSubs([...subscriptions.current.keys()]);
    } catch (err) {
      note(describe(err), true);
    }
  };

  const unsubscribe = (name: string): void => {
    subscriptions.current.get(name)?.unsubscribe();
    subscriptions.current.delete(name);
    setSubs([...subscriptions.current.keys()]);
  };

  const publish = async (): Promise<void> => {
    let data: unknown;
    try {
      data = JSON.parse(pubData);
    } catch {
      return setPubResult({ text: 'data is not JSON', error: true });
    }
    setPubResult({ text: '…', error: false });
    try {
      if (via === 'ws') {
        if (client.current === null) throw new Error('connect first (or publish through the API)');
        const at = await client.current.publish(pubChannel.trim(), data);
        setPubResult({ text: `published over WebSocket at offset ${at}`, error: false });
      } else {
        sessionStorage.setItem(PUBLISH_KEY_ITEM, publishKey);
        const res = await api<{ offsets: Record<string, number> }>('/v1/publish', {
          method: 'POST',
          key: publishKey,
          body: { channel: pubChannel.trim(), data },
        });
        setPubResult({ text: `published through the API at offset ${Object.values(res.offsets).join(', ')}`, error: false });
      }
    } catch (err) {
      setPubResult({ text: `refused: ${describe(err)}`, error: true });
    }
  };

  const askPresence = async (name: string): Promise<void> => {
    try {
      const res = await api<unknown>(`/v1/presence?channel=${encodeURIComponent(name)}`, { key: token });
      setPresence({ channel: name, text: JSON.stringify(res, null, 2), error: false });
    } catch (err) {
      // The server's message says why (e.g. presence is not enabled for the channel).
      setPresence({ channel: name, text: describe(err), error: true });
    }
  };

  const toggle = (t: TransportName, on: boolean): void =>
    setTransports((list) => (on ? TRANSPORTS.filter((x) => x === t || list.includes(x)) : list.filter((x) => x !== t)));

  return html`
    <section class="cards">
      <div class="card">
        <h2>Connection</h2>
        <label class="field"
          >Token
          <input
            id="token"
            type="password"
            autocomplete="off"
            value=${token}
            onInput=${(e: Event) => setToken((e.target as HTMLInputElement).value)}
          />
        </label>
        <div class="row">
          ${TRANSPORTS.map(
            (t) =>
              html`<label class="check"
                ><input
                  type="checkbox"
                  name="transport"
                  value=${t}
                  checked=${transports.includes(t)}
                  onChange=${(e: Event) => toggle(t, (e.target as HTMLInputElement).checked)}
                />
                ${t}</label
              >`,
          )}
        </div>
        <div class="row">
          <button id="connect" onClick=${() => open(token.trim())}>Connect</button>
          ${props.devToken ? html`<button id="dev-token" class="secondary" onClick=${() => void useDevToken()}>Connect with a dev token</button>` : null}
          <button class="secondary" onClick=${disconnect}>Disconnect</button>
        </div>
        <p class="status">
          State <b id="state" class=${`state-${state}`}>${state}</b> ${transport ? html`over <b id="transport">${transport}</b>` : null}
        </p>
      </div>

      <div class="card">
        <h2>Subscribe</h2>
        <label class="field"
          >Channel <input id="channel" value=${channel} onInput=${(e: Event) => setChannel((e.target as HTMLInputElement).value)}
        /></label>
        <div class="row">
          <label class="field small"
            >Resume after offset
            <input
              id="since-offset"
              inputmode="numeric"
              placeholder="from now"
              value=${offset}
              onInput=${(e: Event) => setOffset((e.target as HTMLInputElement).value)}
          /></label>
          <label class="field small"
            >epoch <input id="since-epoch" value=${epoch} onInput=${(e: Event) => setEpoch((e.target as HTMLInputElement).value)}
          /></label>
        </div>
        <button id="subscribe" onClick=${subscribe}>Subscribe</button>
        <ul class="subs">
          ${subs.map(
            (name) =>
              html`<li key=${name}>
                <code>${name}</code>
                <button class="secondary small" onClick=${() => void askPresence(name)}>Presence</button>
                <button class="secondary small" onClick=${() => unsubscribe(name)}>Unsubscribe</button>
              </li>`,
          )}
        </ul>
        ${
          presence
            ? html`<div id="presence" class=${presence.error ? 'inline-error' : ''}>
                <b>${presence.channel}</b>
                <pre>${presence.text}</pre>
              </div>`
            : null
        }
      </div>

      <div class="card">
        <h2>Publish</h2>
        <label class="field"
          >Channel <input id="pub-channel" value=${pubChannel} onInput=${(e: Event) => setPubChannel((e.target as HTMLInputElement).value)}
        /></label>
        <label class="field"
          >Data (JSON)
          <textarea id="pub-data" rows="3" onInput=${(e: Event) => setPubData((e.target as HTMLTextAreaElement).value)}>
${pubData}</textarea>
        </label>
        <div class="row">
          <label class="check"
            ><input type="radio" name="via" checked=${via === 'ws'} onChange=${() => setVia('ws')} /> over WebSocket</label
          >
          <label class="check"
            ><input type="radio" name="via" id="via-api" checked=${via === 'api'} onChange=${() => setVia('api')} /> publish API</label
          >
        </div>
        ${
          via === 'api'
            ? html`<label class="field"
                >Publish key
                <input
                  id="publish-key"
                  type="password"
                  autocomplete="off"
                  value=${publishKey}
                  onInput=${(e: Event) => setPublishKey((e.target as HTMLInputElement).value)}
              /></label>`
            : null
        }
        <button id="publish" onClick=${() => void publish()}>Publish</button>
        ${pubResult ? html`<p id="pub-result" class=${pubResult.error ? 'inline-error' : 'ok'}>${pubResult.text}</p>` : null}
      </div>
    </section>

    <section class="card">
      <h2>Messages <span class="muted">(newest first, ${rows.length})</span></h2>
      <div class="scroll">
        <table class="messages">
          <thead>
            <tr>
              <th>time</th>
              <th>channel</th>
              <th>offset</th>
              <th>epoch</th>
              <th>id</th>
              <th>type</th>
              <th>from</th>
              <th>data</th>
            </tr>
          </thead>
          <tbody id="messages">
            ${rows.map(
              (m) =>
                html`<tr key=${m.key} data-channel=${m.channel} data-offset=${m.offset}>
                  <td>${new Date(m.ts).toISOString().slice(11, 23)}</td>
                  <td>${m.channel}</td>
                  <td>${m.offset}</td>
                  <td>${m.epoch}</td>
                  <td>${m.id ?? ''}</td>
                  <td>${m.type ?? ''}</td>
                  <td>${m.from ?? ''}</td>
                  <td><pre>${JSON.stringify(m.data, null, 2)}</pre></td>
                </tr>`,
            )}
          </tbody>
        </table>
      </div>
    </section>

    <section class="card">
      <h2>Log</h2>
      <ul id="log" class="log">
        ${log.map((l, i) => html`<li key=${i} class=${l.error ? 'inline-error' : ''}>${l.at} ${l.text}</li>`)}
      </ul>
    </section>
  `;
}
