/**
 * Browsers: the network is back (`online`), the tab is visible again (`visibilitychange`),
 * or the page came back from the back/forward cache (`pageshow`). Mobile browsers kill
 * sockets of hidden tabs without a `close`: these are the moments to check at once rather
 * than after the liveness interval. Returns the remover; a no-op outside browsers.
 */
export function installBrowserHooks(hooks: { check(): void; online(): void }): () => void {
  const w = globalThis as unknown as {
    addEventListener?: typeof addEventListener;
    removeEventListener?: typeof removeEventListener;
    document?: Document;
  };
  const doc = w.document;
  if (typeof w.addEventListener !== 'function' || doc === undefined) return () => undefined;
  const check = (): void => hooks.check();
  const online = (): void => hooks.online();
  const visible = (): void => {
    if (doc.visibilityState === 'visible') hooks.check();
  };
  w.addEventListener('online', online);
  w.addEventListener('pageshow', check);
  doc.addEventListener('visibilitychange', visible);
  return () => {
    w.removeEventListener?.('online', online);
    w.removeEventListener?.('pageshow', check);
    doc.removeEventListener('visibilitychange', visible);
  };
}
