// The floor of a stored broadcast across processes: publish-floor.mjs's publish behind
// ws-broadcast.mjs's fan-out. A POST /publish runs the channel store's publish script and
// one NATS publish (answered once stored, as ours answers); one NATS subscription to every
// channel's subject, and each message it brings goes, as the stored JSON, to every
// WebSocket subscriber of its channel: built once, `ws.send` per subscriber, as bare `ws`.
// What ours does beyond it — auth, validation, limits, metrics, reading a channel's
// position when a client subscribes, checking each message's offset — is ours' own cost.
import { storedPublisher } from './publish-floor.mjs';
import { serve } from './common.mjs';
import { wsSubscribers } from './ws-broadcast.mjs';

const { publish, nc, subjectPrefix } = await storedPublisher();
const send = wsSubscribers(serve(publish));
const skip = subjectPrefix.length + 1;
nc.subscribe(`${subjectPrefix}.>`, {
  callback: (err, msg) => {
    if (err) return;
    const data = msg.data;
    const body = data.indexOf(10) + 1;
    send(msg.subject.slice(skip), Buffer.from(data.buffer, data.byteOffset + body, data.length - body));
  },
});
