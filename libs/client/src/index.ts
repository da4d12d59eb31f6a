// The package's entry (ESM and CJS builds): the core, and RtcRoom, which bundlers drop
// when it is not imported.
export * from './core';
export { RtcRoom } from './rtc-room';
export type { RtcRoomOptions, SignalingClient, SignalMessage } from './rtc-room';
