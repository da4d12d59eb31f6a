// The gateway's hot routes (`/v1/poll`, `/v1/sse`, `/v1/presence`) are served ahead of
// Express by the platform's one mechanism, which the notifier's `POST /v1/publish` uses too.
export { serveAheadOfExpress, type RawHandler } from '@switchboard/platform';
