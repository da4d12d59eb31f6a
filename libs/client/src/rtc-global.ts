// The entry of switchboard-rtc.js: WebRTC rooms for pages that load the SDK with a <script>
// tag. WebRTC is kept out of switchboard-client.js so that pages without calls do not
// download it; this script, loaded after that one, adds `Switchboard.RtcRoom`.
import { RtcRoom } from './rtc-room';

const scope = globalThis as { Switchboard?: Record<string, unknown> };
if (scope.Switchboard === undefined) throw new Error('load switchboard-client.js before switchboard-rtc.js');
scope.Switchboard.RtcRoom = RtcRoom;
