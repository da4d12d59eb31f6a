import WebSocket from 'ws';

/** One delivery as a client saw it. */
export interface Received {
  channel: string;
  offset: number;
  epoch: string;
  /** The publisher's sequence number (`data.n`), when the message carries one. */
  n?: number;
}

/**
 * The ledger of what every client received, and the check the reliability scenarios end
 * with: every client has every offset of every channel it held, in order, none twice —
 * per epoch; a new epoch is only acceptable after an explicit `recovered:false`.
 */
export class Ledger {
  readonly clients: LedgerClient[] = [];

  add(client: LedgerClient): void {
    this.clients.push(client);
  }

  /** Total messages checked. */
  get delivered(): number {
    return this.clients.reduce((n, c) => n + c.received.length, 0);
  }

  /**
   * Problems found (empty when the guarantees hold). `expected` maps each channel to its
   * final offset per epoch as the store reports it (the last epoch must be complete).
   */
  verify(expected: Map<string, { epoch: string; offset: number }>): string[] {
    const problems: string[] = [];
    for (const client of this.clients) {
      for (const [channel, final] of expected) {
        const seen = client.received.filter((r) => r.channel === channel);
        const byEpoch = new Map<string, number[]>();
        for (const r of seen) {
          if (!byEpoch.has(r.epoch)) byEpoch.set(r.epoch, []);
          byEpoch.get(r.epoch)!.push(r.offset);
        }
        if (byEpoch.size > 1 && !client.notices.includes(channel)) {
          problems.push(`${client.name}: ${channel} changed epoch without a recovered:false notice`);
        }
        for (const [epoch, offsets] of byEpoch) {
          for (let i = 1; i < offsets.length; i++) {
            if (offsets[i] <= offsets[i - 1])
              problems.push(`${client.name}: ${channel}@${epoch} offset ${offsets[i]} after ${offsets[i - 1]} (duplicate or disorder)`);
            else if (offsets[i] !== offsets[i - 1] + 1 && !client.notices.includes(channel)) {
              problems.push(`${client.name}: ${channel}@${epoch} gap ${offsets[i - 1]} → ${offsets[i]} without a notice`);
            }
          }
        }
        const last = byEpoch.get(final.epoch) ?? [];
        const start = client.startOffsets.get(`${channel}@${final.epoch}`) ?? 0;
        const want = final.offset - start;
        if (last.length !== want || (want > 0 && last[last.length - 1] !== final.offset)) {
          problems.push(
            `${client.name}: ${channel}@${final.epoch} has ${last.length} of ${want} messages (last ${last.at(-1)}, final ${final.offset})`,
          );
        }
      }
    }
    return problems;
  }

  /**
   * What the offset check cannot see: messages the publisher had acknowledged that a
   * client never received (an offset reused after a store lost writes looks complete by
   * offsets). `announced` when the client was told recovered:false on that channel,
   * `silent` otherwise; `duplicates` counts a publisher message received twice.
   */
  contentCheck(acked: Map<string, number[]>): { announced: number; silent: number; duplicates: number; silentDetail: string[] } {
    let announced = 0;
    let silent = 0;
    let duplicates = 0;
    const silentDetail: string[] = [];
    for (const client of this.clients) {
      for (const [channel, ns] of acked) {
        const got = new Map<number, number>();
        for (const r of client.received) if (r.channel === channel && r.n !== undefined) got.set(r.n, (got.get(r.n) ?? 0) + 1);
        for (const count of got.values()) if (count > 1) duplicates += count - 1;
        // The client's stream starts at its first subscribe: publisher messages before it are not its to miss.
        const first = Math.min(...[...got.keys()]);
        for (const n of ns) {
          if (n < first || got.has(n)) continue;
          if (client.notices.includes(channel)) announced++;
          else {
            silent++;
            if (silentDetail.length < 5) silentDetail.push(`${client.name}: ${channel} n=${n}`);
          }
        }
      }
    }
    return { announced, silent, duplicates, silentDetail };
  }
}

/**
 * A WebSocket client that survives anything: on every close it reconnects (to the next
 * gateway URL) and resubscribes each channel with its last position, recording what it
 * receives and every `recovered:false`.
 */
export class LedgerClient {
  readonly received: Received[] = [];
  /** Channels for which the client was told recovered:false. */
  readonly notices: string[] = [];
  /** First position seen per channel@epoch (where the client's stream starts). */
  readonly startOffsets = new Map<string, number>();
  reconnects = 0;
  private readonly positions = new Map<string, { offset: number; epoch: string }>();
  private ws?: WebSocket;
  private stopped = false;
  private urlIndex = 0;
  private nextId = 1;

  constructor(
    readonly name: string,
    private readonly urls: () => string[],
    private readonly token: string,
    private readonly channels: string[],
  ) {}

  start(): void {
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    this.ws?.terminate();
  }

  get connected(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  private connect(): void {
    if (this.stopped) return;
    const urls = this.urls();
    const url = urls[this.urlIndex++ % urls.length];
    const ws = new WebSocket(`${url}?token=${this.token}`);
    this.ws = ws;
    ws.on('open', () => {
      for (const channel of this.channels) {
        const since = this.positions.get(channel);
        ws.send(JSON.stringify({ op: 'subscribe', id: this.nextId++, channel, ...(since ? { since } : {}) }));
      }
    });
    ws.on('message', (raw) => this.onFrame(JSON.parse((raw as Buffer).toString('utf8')) as Record<string, unknown>));
    ws.on('error', () => undefined);
    ws.on('close', () => {
      if (this.stopped) return;
      this.reconnects++;
      setTimeout(() => this.connect(), 50 + Math.random() * 150);
    });
  }

  private onFrame(f: Record<string, unknown>): void {
    const channel = f.channel as string;
    switch (f.op) {
      case 'subscribed':
        if (f.recovered === false) this.notices.push(channel);
        if (!this.positions.has(channel)) {
          // The first subscribe: the client's stream of this channel starts after this offset.
          this.positions.set(channel, { offset: f.offset as number, epoch: f.epoch as string });
          this.startOffsets.set(`${channel}@${f.epoch as string}`, f.offset as number);
        }
        return;
      case 'message': {
        const r = { channel, offset: f.offset as number, epoch: f.epoch as string, n: (f.data as { n?: number } | null)?.n };
        // Any later epoch starts from its first offset.
        if (!this.startOffsets.has(`${channel}@${r.epoch}`)) this.startOffsets.set(`${channel}@${r.epoch}`, 0);
        this.received.push(r);
        this.positions.set(channel, { offset: r.offset, epoch: r.epoch });
        return;
      }
      case 'recovery':
        this.notices.push(channel);
        return;
      case 'error':
        // A subscribe refused while a backend is down: retry on a fresh connection.
        if (f.code === 'unavailable') this.ws?.close();
        return;
      default:
        return;
    }
  }
}
