import { CloudEvent } from '../event-bus';
import { PresenceInfo, PresenceTransition, transitionId } from './presence-store';

/** CloudEvent `source` of lifecycle events. */
export const LIFECYCLE_EVENT_SOURCE = 'switchboard/gateway';

/** `data` of a lifecycle event: `user` on member events, `info` on `member.added`. */
export interface LifecycleEventData {
  channel: string;
  user?: string;
  info?: PresenceInfo;
}

/**
 * The CloudEvent of a transition (`switchboard.channel.occupied`, …). Built only from the
 * transition, so a retried publish sends the same event; `id` is `transitionId`.
 */
export function lifecycleEvent(t: PresenceTransition): CloudEvent {
  const data: LifecycleEventData = { channel: t.channel };
  if (t.user !== undefined) data.user = t.user;
  if (t.type === 'member.added') data.info = t.info ?? {};
  return {
    specversion: '1.0',
    id: transitionId(t),
    source: LIFECYCLE_EVENT_SOURCE,
    type: 'switchboard.' + t.type,
    time: new Date(t.at).toISOString(),
    datacontenttype: 'application/json',
    data,
  };
}

/** `<EVENTS_SUBJECT_PREFIX>.switchboard.<type>`, e.g. `events.switchboard.member.added`. */
export function lifecycleSubject(eventsSubjectPrefix: string, t: PresenceTransition): string {
  return `${eventsSubjectPrefix}.switchboard.${t.type}`;
}
