// Bare socket.io server, the fastest broadcast it has: a publish is `io.emit` to every
// connected socket (no rooms; socket.io encodes the packet once). The handshake is the
// room baseline's (socketio.mjs), so the same clients connect to both.
import { Server } from 'socket.io';
import { serve } from './common.mjs';

let io;
const server = serve((channel, data) => io.emit('message', { channel, data }));
io = new Server(server, { transports: ['websocket', 'polling'] });
io.on('connection', (socket) => socket.emit('ready'));
