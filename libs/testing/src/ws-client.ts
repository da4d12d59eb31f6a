import WebSocket from 'ws';
import { eventually } from './eventually';

/** A frame the server sent, parsed. */
export type Frame = Record<string, unknown> & { op: string };

/**
 * A plain `ws` client for tests: records every frame, sends requests with increasing
 * ids, and waits for frames by predicate.
 */
export class WsTestClient {
  readonly frames: Frame[] = [];
  closeCode?: number;
  closeReason?: string;
  /** `Date.now()` when the close arrived. */
  closedAt?: number;
  private nextId = 1;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => this.frames.push(JSON.parse((data as Buffer).toString('utf8')) as Frame));
    ws.on('close', (code, reason) => {
      this.closeCode = code;
      this.closedAt = Date.now();
      this.closeReason = reason.toString();
    });
  }

  /** Opens a connection; rejects with the HTTP status of a refused handshake (`Unexpected server response: 401`). */
  static connect(url: string, options: WebSocket.ClientOptions = {}): Promise<WsTestClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, options);
      const client = new WsTestClient(ws);
      ws.once('open', () => resolve(client));
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => {
        reject(new Error(`Unexpected server response: ${res.statusCode}`));
        ws.terminate();
      });
    });
  }

  /** Sends `{op, id, ...fields}` and returns the id. */
  send(op: string, fields: Record<string, unknown> = {}): number {
    const id = this.nextId++;
    this.ws.send(JSON.stringify({ op, id, ...fields }));
    return id;
  }

  /** Sends a request and waits for the reply carrying its id. */
  async request(op: string, fields: Record<string, unknown> = {}, timeoutMs = 5000): Promise<Frame> {
    const id = this.send(op, fields);
    return this.waitFor((f) => f.id === id && f.op !== 'message', timeoutMs);
  }

  /**
   * Publishes 0, 1, 2, … on `channel`, each acknowledged before the next (`pauseMs` between),
   * until `stop()`, which resolves with how many were published.
   */
  publishUntilStopped(channel: string, pauseMs = 0): { stop(): Promise<number> } {
    let running = true;
    let sent = 0;
    const loop = (async () => {
      while (running) {
        await this.request('publish', { channel, data: sent });
        sent++;
        if (pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs));
      }
    })();
    return {
      stop: async () => {
        running = false;
        await loop;
        return sent;
      },
    };
  }

  waitFor(predicate: (f: Frame) => boolean, timeoutMs = 5000): Promise<Frame> {
    return eventually(() => {
      const found = this.frames.find(predicate);
      if (found === undefined) throw new Error(`no matching frame among ${this.frames.length}: ${JSON.stringify(this.frames.slice(-3))}`);
      return found;
    }, timeoutMs);
  }

  /** `message` frames of a channel, in arrival order. */
  messages(channel?: string): Frame[] {
    return this.frames.filter((f) => f.op === 'message' && (channel === undefined || f.channel === channel));
  }

  offsets(channel?: string): number[] {
    return this.messages(channel).map((f) => f.offset as number);
  }

  waitClosed(timeoutMs = 5000): Promise<number> {
    return eventually(() => {
      if (this.closeCode === undefined) throw new Error('still open');
      return this.closeCode;
    }, timeoutMs);
  }

  close(): void {
    this.ws.terminate();
  }
}
