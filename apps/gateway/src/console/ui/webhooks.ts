import { useEffect, useState } from 'preact/hooks';
import type { RecentWebhook, SourceCounts } from '../console.controller';
import { api, ApiError, describe } from './api';
import { html } from './html';

/** The parts of the notifier's answers the console shows (docs/NOTIFIER.md, docs/WEBHOOKS.md). */
interface DeadLetterEntry {
  dlqSeq: number;
  dlqSubject: string;
  deadLetter: { reason: string; error?: string; deadLetteredAt?: string; event?: { id?: string; type?: string }; channels?: string[] };
}
interface Endpoint {
  id: string;
  url: string;
  description: string;
  events: string[];
  disabled: boolean;
  disabledReason?: string;
  failingSince?: string;
}
interface Attempt {
  id: string;
  at: string;
  eventType: string;
  attempt: number;
  status: 'succeeded' | 'failed';
  statusCode?: number;
  durationMs: number;
  error?: string;
  outcome?: string;
}

type Loaded<T> = { ok: true; value: T } | { ok: false; text: string; missing: boolean };

async function load<T>(path: string): Promise<Loaded<T>> {
  try {
    return { ok: true, value: await api<T>(path) };
  } catch (err) {
    return { ok: false, text: describe(err), missing: err instanceof ApiError && err.status === 404 };
  }
}

const sum = (counts: Record<string, number>): number => Object.values(counts).reduce((a, b) => a + b, 0);

function Unavailable(props: { what: string; result: { text: string; missing: boolean } }) {
  return html`<p class=${props.result.missing ? 'muted' : 'inline-error'}>
    ${props.result.missing ? `${props.what} are not served by this process (the notifier serves them).` : props.result.text}
  </p>`;
}

/** Webhooks: sources with their counts by outcome and reason; dead letters with replay; outbound endpoints with attempts, replay, disable, secret rotation. */
export function Webhooks() {
  const [sources, setSources] = useState<Loaded<{ sources: SourceCounts[]; recent: RecentWebhook[] | null }> | null>(null);
  const [dlq, setDlq] = useState<Loaded<{ deadLetters: DeadLetterEntry[] }> | null>(null);
  const [endpoints, setEndpoints] = useState<Loaded<{ endpoints: Endpoint[] }> | null>(null);
  const [attempts, setAttempts] = useState<{ id: string; list: Loaded<{ attempts: Attempt[] }> } | null>(null);
  const [notice, setNotice] = useState<{ text: string; error: boolean } | null>(null);

  const refresh = async (): Promise<void> => {
    const [s, d, e] = await Promise.all([
      load<{ sources: SourceCounts[]; recent: RecentWebhook[] | null }>('/console/api/webhooks'),
      load<{ deadLetters: DeadLetterEntry[] }>('/v1/dlq?limit=50'),
      load<{ endpoints: Endpoint[] }>('/v1/endpoints'),
    ]);
    setSources(s);
    setDlq(d);
    setEndpoints(e);
  };

  useEffect(() => {
    void refresh();
    const timer = setInterval(() => void refresh(), 5000);
    return () => clearInterval(timer);
  }, []);

  /** Runs an action, says how it went, reloads. */
  const act = async (label: string, run: () => Promise<string>): Promise<void> => {
    try {
      setNotice({ text: `${label}: ${await run()}`, error: false });
    } catch (err) {
      setNotice({ text: `${label}: ${describe(err)}`, error: true });
    }
    await refresh();
  };

  const showAttempts = async (id: string): Promise<void> => {
    setAttempts({ id, list: await load<{ attempts: Attempt[] }>(`/v1/endpoints/${id}/attempts?limit=20`) });
  };

  return html`
    ${notice ? html`<p id="notice" class=${notice.error ? 'inline-error' : 'ok'}>${notice.text}</p>` : null}
    <section class="card">
      <h2>Sources <span class="muted">(requests this process took)</span></h2>
      ${
        sources === null
          ? html`<p>Loading…</p>`
          : !sources.ok
            ? html`<${Unavailable} what="Webhook counts" result=${sources} />`
            : sources.value.sources.length === 0
              ? html`<p class="muted">No webhook request yet.</p>`
              : html`<div class="scroll">
                  <table id="sources">
                    <thead>
                      <tr>
                        <th>source</th>
                        <th class="num">accepted</th>
                        <th class="num">duplicate</th>
                        <th class="num">rejected</th>
                        <th>rejected by reason</th>
                      </tr>
                    </thead>
                    <tbody>
                      ${sources.value.sources.map(
                        (s) =>
                          html`<tr key=${s.source} data-source=${s.source}>
                            <td><code>${s.source}</code></td>
                            <td class="num" data-field="accepted">${s.outcomes.accepted ?? 0}</td>
                            <td class="num">${s.outcomes.duplicate ?? 0}</td>
                            <td class="num" data-field="rejected">${sum(s.rejected)}</td>
                            <td>
                              ${Object.entries(s.rejected).map(([reason, n]) => html`<span class="badge bad">${reason} ${n}</span> `)}
                            </td>
                          </tr>`,
                      )}
                    </tbody>
                  </table>
                </div>`
      }
    </section>

    ${
      sources?.ok && sources.value.recent !== null
        ? html`<section class="card">
            <h2>Last deliveries <span class="muted">(webhook events the notifier took, newest first)</span></h2>
            ${
              sources.value.recent.length === 0
                ? html`<p class="muted">None yet.</p>`
                : html`<div class="scroll">
                    <table id="recent">
                      <thead>
                        <tr>
                          <th class="num">seq</th>
                          <th>source</th>
                          <th>type</th>
                          <th>id</th>
                          <th>stored</th>
                        </tr>
                      </thead>
                      <tbody>
                        ${sources.value.recent.map(
                          (r) =>
                            html`<tr key=${r.seq} data-seq=${r.seq}>
                              <td class="num">${r.seq}</td>
                              <td><code>${r.source}</code></td>
                              <td><code>${r.type ?? ''}</code></td>
                              <td title=${r.id ?? ''}>${(r.id ?? '').slice(0, 16)}</td>
                              <td>${r.storedAt}</td>
                            </tr>`,
                        )}
                      </tbody>
                    </table>
                  </div>`
            }
          </section>`
        : null
    }

    <section class="card">
      <h2>
        Dead letters
        <button
          class="secondary small"
          onClick=${() => void act('replay all', async () => JSON.stringify(await api('/v1/dlq/replay', { method: 'POST' })))}
        >
          Replay all
        </button>
      </h2>
      ${
        dlq === null
          ? html`<p>Loading…</p>`
          : !dlq.ok
            ? html`<${Unavailable} what="Dead letters" result=${dlq} />`
            : dlq.value.deadLetters.length === 0
              ? html`<p class="muted" id="dlq-empty">No dead letter.</p>`
              : html`<div class="scroll">
                  <table id="dlq">
                    <thead>
                      <tr>
                        <th class="num">seq</th>
                        <th>reason</th>
                        <th>event</th>
                        <th>channels</th>
                        <th>error</th>
                        <th>when</th>
                        <th></th>
                      </tr>
                    </thead>
                    <tbody>
                      ${dlq.value.deadLetters.map(
                        (d) =>
                          html`<tr key=${d.dlqSeq} data-seq=${d.dlqSeq}>
                            <td class="num">${d.dlqSeq}</td>
                            <td><span class="badge warn">${d.deadLetter.reason}</span></td>
                            <td title=${d.deadLetter.event?.id ?? ''}>
                              <code>${d.deadLetter.event?.type ?? ''}</code> ${(d.deadLetter.event?.id ?? '').slice(0, 12)}
                            </td>
                            <td>${(d.deadLetter.channels ?? []).join(', ')}</td>
                            <td class="wrap">${d.deadLetter.error ?? ''}</td>
                            <td>${d.deadLetter.deadLetteredAt ?? ''}</td>
                            <td>
                              <button
                                class="small"
                                onClick=${() =>
                                  void act(`replay ${d.dlqSeq}`, async () =>
                                    JSON.stringify(await api(`/v1/dlq/${d.dlqSeq}/replay`, { method: 'POST' })),
                                  )}
                              >
                                Replay
                              </button>
                            </td>
                          </tr>`,
                      )}
                    </tbody>
                  </table>
                </div>`
      }
    </section>

    <section class="card">
      <h2>Outbound endpoints</h2>
      ${
        endpoints === null
          ? html`<p>Loading…</p>`
          : !endpoints.ok
            ? html`<${Unavailable} what="Endpoints" result=${endpoints} />`
            : endpoints.value.endpoints.length === 0
              ? html`<p class="muted">No endpoint (POST /v1/endpoints, or npm run endpoints).</p>`
              : html`<div class="scroll">
                  <table id="endpoints">
                    <thead>
                      <tr>
                        <th>endpoint</th>
                        <th>events</th>
                        <th>state</th>
                        <th>actions</th>
                      </tr>
                    </thead>
                    <tbody>
                      ${endpoints.value.endpoints.map(
                        (e) =>
                          html`<tr key=${e.id} data-endpoint=${e.id}>
                            <td>
                              <code>${e.id}</code><br /><span class="wrap">${e.url}</span
                              >${e.description ? html`<br /><span class="muted">${e.description}</span>` : null}
                            </td>
                            <td>${e.events.join(', ')}</td>
                            <td data-field="state">
                              ${
                                e.disabled
                                  ? html`<span class="badge bad">disabled${e.disabledReason ? ` (${e.disabledReason})` : ''}</span>`
                                  : e.failingSince
                                    ? html`<span class="badge warn">failing since ${e.failingSince}</span>`
                                    : html`<span class="badge good">enabled</span>`
                              }
                            </td>
                            <td class="actions">
                              <div>
                                <button class="secondary small" onClick=${() => void showAttempts(e.id)}>Attempts</button>
                                <button
                                  class="secondary small"
                                  onClick=${() =>
                                    void act(`replay ${e.id}`, async () => {
                                      const since = new Date(Date.now() - 24 * 3600_000).toISOString();
                                      const r = await api<{ replayed: number }>(`/v1/endpoints/${e.id}/replay`, {
                                        method: 'POST',
                                        body: { since },
                                      });
                                      return `${r.replayed} failed messages of the last 24 h queued again`;
                                    })}
                                >
                                  Replay failed
                                </button>
                                <button
                                  class="secondary small"
                                  data-action="toggle"
                                  onClick=${() =>
                                    void act(`${e.disabled ? 'enable' : 'disable'} ${e.id}`, async () => {
                                      await api(`/v1/endpoints/${e.id}`, { method: 'PATCH', body: { disabled: !e.disabled } });
                                      return e.disabled ? 'enabled' : 'disabled';
                                    })}
                                >
                                  ${e.disabled ? 'Enable' : 'Disable'}
                                </button>
                                <button
                                  class="secondary small"
                                  onClick=${() =>
                                    void act(`rotate ${e.id}`, async () => {
                                      const r = await api<{ secret: string }>(`/v1/endpoints/${e.id}/rotate-secret`, {
                                        method: 'POST',
                                        body: {},
                                      });
                                      return `new secret ${r.secret} (the old one signs too for 24 h)`;
                                    })}
                                >
                                  Rotate secret
                                </button>
                              </div>
                            </td>
                          </tr>`,
                      )}
                    </tbody>
                  </table>
                </div>`
      }
      ${
        attempts
          ? html`<div id="attempts">
              <h3>Attempts of <code>${attempts.id}</code></h3>
              ${
                !attempts.list.ok
                  ? html`<${Unavailable} what="Attempts" result=${attempts.list} />`
                  : attempts.list.value.attempts.length === 0
                    ? html`<p class="muted">No attempt yet.</p>`
                    : html`<div class="scroll">
                        <table>
                          <thead>
                            <tr>
                              <th>at</th>
                              <th>event</th>
                              <th class="num">#</th>
                              <th>status</th>
                              <th class="num">ms</th>
                              <th>error</th>
                            </tr>
                          </thead>
                          <tbody>
                            ${attempts.list.value.attempts.map(
                              (a) =>
                                html`<tr key=${a.id}>
                                  <td>${a.at}</td>
                                  <td><code>${a.eventType}</code></td>
                                  <td class="num">${a.attempt}</td>
                                  <td>
                                    <span class=${`badge ${a.status === 'succeeded' ? 'good' : 'bad'}`}>${a.statusCode ?? a.status}</span>
                                  </td>
                                  <td class="num">${a.durationMs}</td>
                                  <td class="wrap">${a.error ?? ''}${a.outcome ? ` → ${a.outcome}` : ''}</td>
                                </tr>`,
                            )}
                          </tbody>
                        </table>
                      </div>`
              }
            </div>`
          : null
      }
    </section>
  `;
}
