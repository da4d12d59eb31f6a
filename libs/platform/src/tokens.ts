/** Injection tokens of the process-wide services every app module may use. */
export const CHANNEL_ENGINE = Symbol('ChannelEngine');
export const EVENT_BUS = Symbol('EventBus');
export const METRICS = Symbol('Metrics');
export const LIFECYCLE = Symbol('Lifecycle');
export const LOGGER = Symbol('Logger');
export const PLATFORM = Symbol('Platform');
