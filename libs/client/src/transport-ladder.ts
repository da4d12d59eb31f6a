import { CloseCode } from '@switchboard/protocol';
import { CloseInfo } from './transports/transport';
import { WebSocketTransport } from './transports/websocket';
import { TransportName } from './types';

/** A connection closed sooner than this after opening counts as a cut (proxies that kill WebSockets). */
const QUICK_CUT_MS = 5000;

/** The missing-WebSocket warning is printed once per page or process, not per client. */
let warnedNoWebSocket = false;

/**
 * Which transport to use: the app's order (default WebSocket → SSE → long-poll), stepping
 * down after `fallbackAfter` failed opens or quick cuts in a row, and past WebSocket at once
 * where the runtime has none. Refused tokens never count here: they are not the transport's fault.
 */
export class TransportLadder {
  readonly #order: TransportName[];
  readonly #fallbackAfter: number;
  readonly #WebSocket?: typeof WebSocket;
  #index = 0;
  #failures = 0;
  #webSocketMissing = false;

  constructor(order: TransportName[], fallbackAfter: number, WebSocketCtor?: typeof WebSocket) {
    this.#order = [...order];
    this.#fallbackAfter = fallbackAfter;
    this.#WebSocket = WebSocketCtor;
  }

  /** The transport in use (or being tried). */
  get current(): TransportName {
    return this.#order[this.#index];
  }

  /** True when WebSocket was skipped because this runtime has no implementation. */
  get webSocketMissing(): boolean {
    return this.#webSocketMissing;
  }

  /** The transport to try next, skipping WebSocket where there is none (with one warning); undefined: none left. */
  usable(): TransportName | undefined {
    while (this.current === 'websocket' && !WebSocketTransport.available({ WebSocket: this.#WebSocket })) {
      this.#webSocketMissing = true;
      if (!warnedNoWebSocket) {
        warnedNoWebSocket = true;
        console.warn(
          "@switchboard/client: no WebSocket here (Node 20?): using SSE/long-poll, without publish(). Pass connect(url, { WebSocket }) (the 'ws' package).",
        );
      }
      if (this.#index >= this.#order.length - 1) return undefined;
      this.#index++;
    }
    return this.current;
  }

  /**
   * Counts how a connection ended: one that never opened, or was cut within seconds (not by
   * a drain or overload hint), is a failure. True when that stepped down to the next transport.
   */
  ended(info: CloseInfo, openedAt: number): boolean {
    const quickCut =
      info.opened &&
      Date.now() - openedAt < QUICK_CUT_MS &&
      info.code !== CloseCode.ServiceRestart &&
      info.code !== CloseCode.TryAgainLater;
    if (info.opened && !quickCut) {
      this.#failures = 0;
      return false;
    }
    if (++this.#failures < this.#fallbackAfter || this.#index >= this.#order.length - 1) return false;
    this.#index++;
    this.#failures = 0;
    return true;
  }
}
