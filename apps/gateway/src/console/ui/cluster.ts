import { useEffect, useState } from 'preact/hooks';
import type { BackendState } from '../backend-state';
import type { PodView } from '../cluster-view';
import { api, describe } from './api';
import { Chart } from './chart';
import { html } from './html';

interface ClusterAnswer {
  intervalMs: number;
  pods: PodView[];
  backends: BackendState;
}

const TRANSPORTS = ['ws', 'socketio', 'sse', 'longpoll'];

const ms = (seconds: number | null): string => (seconds === null ? '–' : `${(seconds * 1000).toFixed(seconds < 0.01 ? 2 : 1)} ms`);

/** Series aligned on a common time axis (uPlot wants one x array): points rounded to the stats interval. */
function aligned(pods: PodView[], intervalMs: number, pick: (p: PodView['points'][number]) => number | null) {
  const step = intervalMs / 1000;
  const slot = (t: number): number => Math.round(t / 1000 / step) * step;
  const x = [...new Set(pods.flatMap((p) => p.points.map((pt) => slot(pt.t))))].sort((a, b) => a - b);
  const index = new Map(x.map((t, i) => [t, i]));
  const series = pods.map((p) => {
    const values: (number | null)[] = x.map(() => null);
    for (const pt of p.points) values[index.get(slot(pt.t))!] = pick(pt);
    return { label: p.pod, values };
  });
  return { x, series };
}

/** Cluster: every gateway from its stats on NATS (aggregated by this process), NATS and Redis, charts of the last minutes. */
export function Cluster(props: { theme: string }) {
  const [data, setData] = useState<ClusterAnswer | null>(null);
  const [error, setError] = useState('');

  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let stopped = false;
    const load = async (): Promise<void> => {
      let next = 2000;
      try {
        const answer = await api<ClusterAnswer>('/console/api/cluster');
        setData(answer);
        setError('');
        next = answer.intervalMs;
      } catch (err) {
        setError(describe(err));
      }
      if (!stopped) timer = setTimeout(() => void load(), next);
    };
    void load();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, []);

  if (data === null)
    return html`<section class="card">${error ? html`<p class="inline-error">${error}</p>` : html`<p>Loading…</p>`}</section>`;
  const { pods, backends } = data;
  const conns = aligned(pods, data.intervalMs, (p) => p.connections);
  const rate = aligned(pods, data.intervalMs, (p) => p.deliveriesPerSecond);
  const p99 = aligned(pods, data.intervalMs, (p) => (p.p99 === null ? null : p.p99 * 1000));

  return html`
    ${error ? html`<p class="inline-error">${error}</p>` : null}
    <section class="card">
      <h2>
        Gateways <span class="muted">(${pods.length}, from their stats on ${backends.mode === 'memory' ? 'this process' : 'NATS'})</span>
      </h2>
      <div class="scroll">
        <table id="pods">
          <thead>
            <tr>
              <th>pod</th>
              ${TRANSPORTS.map((t) => html`<th class="num">${t}</th>`)}
              <th class="num">subscriptions</th>
              <th class="num">channels held</th>
              <th class="num">deliveries/s</th>
              <th class="num">p99</th>
              <th>state</th>
            </tr>
          </thead>
          <tbody>
            ${pods.map(
              (p) =>
                html`<tr key=${p.pod} data-pod=${p.pod}>
                  <td><code>${p.pod}</code></td>
                  ${TRANSPORTS.map((t) => html`<td class="num" data-transport=${t}>${p.connections[t] ?? 0}</td>`)}
                  <td class="num">${p.subscriptions}</td>
                  <td class="num" data-field="channels">${p.channelsHeld}</td>
                  <td class="num" data-field="rate">${p.deliveriesPerSecond.toFixed(1)}</td>
                  <td class="num">${ms(p.p99)}</td>
                  <td>
                    ${p.stale ? html`<span class="badge bad">silent</span>` : p.draining ? html`<span class="badge warn">draining</span>` : html`<span class="badge good">up</span>`}
                  </td>
                </tr>`,
            )}
          </tbody>
        </table>
      </div>
    </section>
    <section class="charts">
      <${Chart} title="Connections" x=${conns.x} series=${conns.series} unit="" theme=${props.theme} />
      <${Chart} title="Deliveries per second" x=${rate.x} series=${rate.series} unit="" theme=${props.theme} />
      <${Chart} title="Delivery latency p99" x=${p99.x} series=${p99.series} unit=" ms" theme=${props.theme} />
    </section>
    <section class="cards" id="backends">
      ${
        backends.mode === 'memory'
          ? html`<div class="card">
              <h2>Engine</h2>
              <p>In memory (this process only): set <code>NATS_URL</code> and <code>REDIS_URL</code> for a cluster.</p>
            </div>`
          : null
      }
      ${
        backends.nats
          ? html`<div class="card">
              <h2>NATS <span class=${`badge ${backends.ready.nats ? 'good' : 'bad'}`}>${backends.ready.nats ? 'ready' : 'down'}</span></h2>
              <dl>
                <dt>server</dt>
                <dd>${backends.nats.server ?? '–'}</dd>
                <dt>version</dt>
                <dd>${backends.nats.version ?? '–'}</dd>
                <dt>round trip</dt>
                <dd>${backends.nats.rttMs === undefined ? '–' : `${backends.nats.rttMs} ms`}</dd>
                <dt>messages in / out</dt>
                <dd>${backends.nats.inMsgs} / ${backends.nats.outMsgs}</dd>
                ${backends.nats.streams.map(
                  (s) =>
                    html`<dt>stream ${s.name}</dt>
                      <dd>${s.messages} messages, ${s.bytes} bytes, ${s.consumers} consumers</dd>`,
                )}
              </dl>
              ${backends.nats.error ? html`<p class="inline-error">${backends.nats.error}</p>` : null}
            </div>`
          : null
      }
      ${
        backends.redis
          ? html`<div class="card">
              <h2>Redis <span class=${`badge ${backends.ready.redis ? 'good' : 'bad'}`}>${backends.redis.status}</span></h2>
              <dl>
                <dt>version</dt>
                <dd>${backends.redis.version ?? '–'}</dd>
                <dt>memory</dt>
                <dd>${backends.redis.usedMemory ?? '–'}</dd>
                <dt>clients</dt>
                <dd>${backends.redis.clients ?? '–'}</dd>
                <dt>keys</dt>
                <dd>${backends.redis.keys ?? '–'}</dd>
              </dl>
              ${backends.redis.error ? html`<p class="inline-error">${backends.redis.error}</p>` : null}
            </div>`
          : null
      }
    </section>
  `;
}
