import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import type { CloudEvent } from '@switchboard/engine';

/** Every event of a JetStream stream, in stream order (the lifecycle ledger). */
export async function readEvents(natsUrl: string, stream = 'EVENTS'): Promise<Array<{ subject: string; event: CloudEvent }>> {
  const nc = await connect({ servers: natsUrl, reconnect: false });
  try {
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info(stream);
    const out: Array<{ subject: string; event: CloudEvent }> = [];
    for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
      const m = await jsm.streams.getMessage(stream, { seq }).catch(() => null);
      if (m === null) continue;
      out.push({ subject: m.subject, event: m.json<CloudEvent>() });
    }
    return out;
  } finally {
    await nc.close();
  }
}

/** `switchboard.<type>` lifecycle events of `channel`, as `<type>:<user>` strings in stream order. */
export function lifecycleOf(events: ReadonlyArray<{ event: CloudEvent }>, channel: string): string[] {
  return events
    .map((e) => e.event)
    .filter((e) => e.source === 'switchboard/gateway' && (e.data as { channel?: string } | undefined)?.channel === channel)
    .map((e) => {
      const user = (e.data as { user?: string }).user;
      return e.type.replace(/^switchboard\./, '') + (user === undefined ? '' : ':' + user);
    });
}

/** Inline CHANNEL_CONFIG for tests: `room:*` has everything on, `plain:*` nothing. */
export const PRESENCE_CHANNEL_CONFIG = JSON.stringify([{ match: 'room:*', presence: true, joinLeave: true, lifecycleEvents: true }]);
