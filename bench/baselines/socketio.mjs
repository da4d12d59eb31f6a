// Bare socket.io server: the handshake's `channels` query joins rooms; a publish emits
// `message` to the room (socket.io encodes the packet once per broadcast).
import { Server } from 'socket.io';
import { serve } from './common.mjs';

let io;
const server = serve((channel, data) => io.to(channel).emit('message', { channel, data }));
io = new Server(server, { transports: ['websocket', 'polling'] });
io.on('connection', (socket) => {
  const channels = String(socket.handshake.query.channels ?? '')
    .split(',')
    .filter(Boolean);
  socket.join(channels);
  socket.emit('ready');
});
