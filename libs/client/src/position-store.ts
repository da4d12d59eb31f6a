import { Position } from './types';

/**
 * Where the client keeps each channel's position, so a reconnect — or, with a persistent
 * store, a page reload — resumes where it left off.
 */
export interface PositionStore {
  get(channel: string): Position | undefined;
  set(channel: string, position: Position): void;
  delete(channel: string): void;
}

export class MemoryPositionStore implements PositionStore {
  readonly #positions = new Map<string, Position>();
  get(channel: string): Position | undefined {
    return this.#positions.get(channel);
  }
  set(channel: string, position: Position): void {
    this.#positions.set(channel, position);
  }
  delete(channel: string): void {
    this.#positions.delete(channel);
  }
}

/** Positions in `localStorage` under `<prefix><channel>` (browsers; survives reloads). */
export class LocalStoragePositionStore implements PositionStore {
  readonly #prefix: string;
  readonly #storage: Storage;
  constructor(prefix = 'switchboard:position:', storage: Storage = globalThis.localStorage) {
    this.#prefix = prefix;
    this.#storage = storage;
  }
  get(channel: string): Position | undefined {
    const raw = this.#storage.getItem(this.#prefix + channel);
    if (raw === null) return undefined;
    try {
      const p = JSON.parse(raw) as Position;
      return typeof p.offset === 'number' && typeof p.epoch === 'string' ? p : undefined;
    } catch {
      return undefined;
    }
  }
  set(channel: string, position: Position): void {
    this.#storage.setItem(this.#prefix + channel, JSON.stringify(position));
  }
  delete(channel: string): void {
    this.#storage.removeItem(this.#prefix + channel);
  }
}
