import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { adminKey, api, ApiError, describe } from './api';
import { Cluster } from './cluster';
import { html } from './html';
import { Live } from './live';
import { Webhooks } from './webhooks';

interface Session {
  pod: string;
  engine: string;
  devToken: boolean;
}

const VIEWS = { live: 'Live', cluster: 'Cluster', webhooks: 'Webhooks' } as const;
type View = keyof typeof VIEWS;
const THEMES = ['auto', 'light', 'dark'] as const;
type Theme = (typeof THEMES)[number];
const THEME_ITEM = 'switchboard:console:theme';

const viewOf = (hash: string): View => {
  const name = hash.replace(/^#\/?/, '');
  return name in VIEWS ? (name as View) : 'live';
};

// `/console#key=<admin key>` (the link `npm start` prints): keep the key for this tab, then drop it from the address bar and history.
const fromLink = /^#key=([^&]+)/.exec(location.hash);
if (fromLink !== null) {
  adminKey.set(decodeURIComponent(fromLink[1]));
  history.replaceState(null, '', `${location.pathname}#/live`);
}

function applyTheme(theme: Theme): string {
  const dark = theme === 'dark' || (theme === 'auto' && matchMedia('(prefers-color-scheme: dark)').matches);
  document.documentElement.dataset.theme = dark ? 'dark' : 'light';
  return dark ? 'dark' : 'light';
}

function Login(props: { error: string; onKey: (key: string) => void }) {
  const [key, setKey] = useState('');
  return html`<form
    id="login"
    class="card login"
    onSubmit=${(e: Event) => {
      e.preventDefault();
      props.onKey(key.trim());
    }}
  >
    <h2>Sign in</h2>
    <p>The console takes the admin key (<code>ADMIN_API_KEY</code>). <code>npm start</code> prints a link that signs you in.</p>
    <label class="field"
      >Admin key
      <input
        id="admin-key"
        type="password"
        autocomplete="current-password"
        value=${key}
        onInput=${(e: Event) => setKey((e.target as HTMLInputElement).value)}
    /></label>
    <button type="submit">Sign in</button>
    ${props.error ? html`<p class="inline-error" id="login-error">${props.error}</p>` : null}
  </form>`;
}

function App() {
  const [view, setView] = useState<View>(viewOf(location.hash));
  const [session, setSession] = useState<Session | null>(null);
  const [loginError, setLoginError] = useState('');
  const [checking, setChecking] = useState(adminKey.get() !== '');
  const [theme, setTheme] = useState<Theme>((localStorage.getItem(THEME_ITEM) as Theme | null) ?? 'auto');
  const [shade, setShade] = useState(() => applyTheme(theme));

  useEffect(() => {
    const onHash = (): void => setView(viewOf(location.hash));
    addEventListener('hashchange', onHash);
    const media = matchMedia('(prefers-color-scheme: dark)');
    const onScheme = (): void => setShade(applyTheme((localStorage.getItem(THEME_ITEM) as Theme | null) ?? 'auto'));
    media.addEventListener('change', onScheme);
    return () => {
      removeEventListener('hashchange', onHash);
      media.removeEventListener('change', onScheme);
    };
  }, []);

  const signIn = async (): Promise<void> => {
    try {
      setSession(await api<Session>('/console/api/session'));
      setLoginError('');
    } catch (err) {
      adminKey.clear();
      setLoginError(err instanceof ApiError && err.status === 401 ? 'That is not the admin key.' : describe(err));
    }
    setChecking(false);
  };

  useEffect(() => {
    if (adminKey.get() !== '') void signIn();
  }, []);

  const cycleTheme = (): void => {
    const next = THEMES[(THEMES.indexOf(theme) + 1) % THEMES.length];
    localStorage.setItem(THEME_ITEM, next);
    setTheme(next);
    setShade(applyTheme(next));
  };

  const header = html`<header>
    <h1>Switchboard <span class="muted">console</span></h1>
    ${
      session
        ? html`<nav>
            ${(Object.keys(VIEWS) as View[]).map(
              (v) =>
                html`<a
                  href=${`#/${v}`}
                  id=${`tab-${v}`}
                  class=${v === view ? 'active' : ''}
                  aria-current=${v === view ? 'page' : undefined}
                  >${VIEWS[v]}</a
                >`,
            )}
          </nav>`
        : null
    }
    <div class="tools">
      ${session ? html`<span class="muted pod">${session.pod} · ${session.engine}</span>` : null}
      <button class="secondary small" id="theme" title="Theme" onClick=${cycleTheme}>Theme: ${theme}</button>
      ${
        session
          ? html`<button
              class="secondary small"
              onClick=${() => {
                adminKey.clear();
                setSession(null);
              }}
            >
              Sign out
            </button>`
          : null
      }
    </div>
  </header>`;

  if (session === null) {
    return html`${header}
      <main>
        ${
          checking
            ? html`<p>Signing in…</p>`
            : html`<${Login}
                error=${loginError}
                onKey=${(key: string) => {
                  adminKey.set(key);
                  setChecking(true);
                  void signIn();
                }}
              />`
        }
      </main>`;
  }
  // Live stays mounted: its connection and messages outlive a look at the other views.
  return html`${header}
    <main id=${`view-${view}`}>
      <div hidden=${view !== 'live'}><${Live} devToken=${session.devToken} /></div>
      ${view === 'cluster' ? html`<${Cluster} theme=${shade} />` : null} ${view === 'webhooks' ? html`<${Webhooks} />` : null}
    </main>`;
}

render(html`<${App} />`, document.getElementById('app')!);
