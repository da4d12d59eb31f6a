import { Emitter } from './emitter';
import type { Subscription } from './subscription';
import { SwitchboardClientError, type Message } from './types';

/**
 * What a room needs from the client (SwitchboardClient has it): a channel to signal on and
 * ICE servers. An interface, so this file does not import the client that creates rooms.
 */
export interface SignalingClient {
  subscribe<T>(channel: string): Subscription<T>;
  publish(channel: string, data: unknown): Promise<number>;
  iceServers(): Promise<{ iceServers: RTCIceServer[] }>;
  /** This client's `sub`: the gateway stamps it as `from` on what the client publishes. */
  readonly subject: string | undefined;
}

/** A signaling message on `rtc:<room>` (SPEC "WebRTC signaling"); `from` is stamped by the gateway. */
export interface SignalMessage {
  to: string | null;
  kind: 'hello' | 'offer' | 'answer' | 'candidate' | 'bye';
  /** `hello` sent in answer to another peer's `hello` (not answered again). */
  reply?: boolean;
  sdp?: string;
  candidate?: RTCIceCandidateInit | null;
}

export interface RtcRoomOptions {
  /** Talk only to this peer (`sub`); default: the first other peer seen in the room. */
  peer?: string;
  /** ICE servers; default: `GET /v1/webrtc/ice-servers` (STUN, and TURN credentials when configured). */
  iceServers?: RTCIceServer[];
  /** More RTCPeerConnection settings (e.g. `iceTransportPolicy: 'relay'`). */
  configuration?: RTCConfiguration;
  /** RTCPeerConnection constructor where there is no global one (Node with a WebRTC package). */
  RTCPeerConnection?: typeof RTCPeerConnection;
}

export interface RtcRoomEvents {
  /** The remote peer joined (its `sub`). */
  peer: string;
  /** The remote peer left (`bye`). */
  bye: string;
  error: Error;
}

/**
 * A one-to-one WebRTC call over the channel `rtc:<room>`, with "perfect negotiation":
 * either side may add tracks or data channels at any time; the polite peer (the greater
 * `sub`) yields on glare; failed ICE restarts. Media never passes through Switchboard.
 */
export class RtcRoom extends Emitter<RtcRoomEvents> {
  /** Resolves with the peer connection once ICE servers are known and the room is joined. */
  readonly ready: Promise<RTCPeerConnection>;
  pc?: RTCPeerConnection;
  remote?: string;
  #subscription?: Subscription<SignalMessage>;
  #polite = false;
  #makingOffer = false;
  #ignoreOffer = false;
  /** Signals made before the remote peer is known, sent once it is. */
  #outbox: SignalMessage[] = [];
  #closed = false;
  /** Signals are handled one after another (a description before its candidates). */
  #queue: Promise<void> = Promise.resolve();

  readonly #client: SignalingClient;
  /** This client's `sub` (the gateway stamps it as `from` on what we send). */
  readonly #me: string;
  readonly #options: RtcRoomOptions;
  /**
   * Joins `rtc:<room>` through `client` (a SwitchboardClient whose token has a `sub`: with
   * `getToken`, construct the room once the client is connected).
   */
  constructor(
    client: SignalingClient,
    readonly room: string,
    options: RtcRoomOptions = {},
  ) {
    super();
    const me = client.subject;
    if (me === undefined) throw new SwitchboardClientError('unauthorized', 'the token has no "sub" yet: join the room once connected');
    this.#client = client;
    this.#me = me;
    this.#options = options;
    // A room that cannot start (refused channel, no ICE servers, client closed) lets go of
    // what it holds: its subscription and peer connection.
    this.ready = this.#start().catch((err: unknown) => {
      this.close();
      throw err;
    });
  }

  get channel(): string {
    return `rtc:${this.room}`;
  }

  /** Leaves the room: tells the peer, closes the connection, unsubscribes. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.remote !== undefined) void this.#send({ to: this.remote, kind: 'bye' }).catch(() => undefined);
    this.pc?.close();
    this.#subscription?.unsubscribe();
  }

  async #start(): Promise<RTCPeerConnection> {
    const iceServers = this.#options.iceServers ?? (await this.#client.iceServers()).iceServers;
    const Ctor = this.#options.RTCPeerConnection ?? globalThis.RTCPeerConnection;
    if (Ctor === undefined) throw new Error('RTCPeerConnection is not available here; pass options.RTCPeerConnection');
    const pc = new Ctor({ ...this.#options.configuration, iceServers });
    this.pc = pc;
    pc.onnegotiationneeded = async () => {
      try {
        this.#makingOffer = true;
        await pc.setLocalDescription();
        const d = pc.localDescription;
        if (d !== null) await this.#signal({ to: null, kind: d.type === 'answer' ? 'answer' : 'offer', sdp: d.sdp });
      } catch (err) {
        this.emit('error', err as Error);
      } finally {
        this.#makingOffer = false;
      }
    };
    pc.onicecandidate = ({ candidate }) => {
      if (candidate !== null)
        void this.#signal({ to: null, kind: 'candidate', candidate: candidate.toJSON() }).catch((err: Error) => this.emit('error', err));
    };
    pc.oniceconnectionstatechange = () => {
      if (pc.iceConnectionState === 'failed') pc.restartIce();
    };
    const subscription = this.#client.subscribe<SignalMessage>(this.channel);
    this.#subscription = subscription;
    subscription.on('message', (m) => {
      // One failed signal (a refused publish) must not stop the handling of the next ones.
      this.#queue = this.#queue.then(() => this.#onSignal(m)).catch((err: Error) => this.emit('error', err));
    });
    subscription.on('error', (err) => this.emit('error', err));
    // A refused subscription (forbidden: the token does not allow the room) ends the
    // subscription with an error and never reports `subscribed`: `ready` rejects with it.
    await new Promise<void>((resolve, reject) => {
      subscription.on('subscribed', () => resolve());
      subscription.on('error', reject);
      subscription.on('closed', () =>
        reject(new SwitchboardClientError('closed', `left ${this.channel} before it was joined`, this.channel)),
      );
    });
    await this.#send({ to: null, kind: 'hello' });
    return pc;
  }

  /** Sends to the remote peer, or keeps it until the remote peer is known. */
  async #signal(message: SignalMessage): Promise<void> {
    if (this.remote === undefined) {
      // Only the latest description matters; candidates all do.
      if (message.kind === 'offer' || message.kind === 'answer') this.#outbox = this.#outbox.filter((m) => m.kind === 'candidate');
      this.#outbox.push(message);
      return;
    }
    await this.#send({ ...message, to: this.remote });
  }

  #send(message: SignalMessage): Promise<number> {
    return this.#client.publish(this.channel, message);
  }

  async #onSignal(m: Message<SignalMessage>): Promise<void> {
    const from = m.from;
    const s = m.data;
    const pc = this.pc;
    if (this.#closed || pc === undefined || from === undefined || from === this.#me || typeof s !== 'object' || s === null) return;
    if (s.to !== null && s.to !== undefined && s.to !== this.#me) return;
    if (this.#options.peer !== undefined && from !== this.#options.peer) return;
    if (this.remote === undefined) {
      this.remote = from;
      this.#polite = this.#me > from;
      this.emit('peer', from);
      const queued = this.#outbox;
      this.#outbox = [];
      for (const q of queued) await this.#send({ ...q, to: from });
    }
    if (from !== this.remote) return;
    try {
      switch (s.kind) {
        case 'hello':
          if (s.reply !== true) await this.#send({ to: from, kind: 'hello', reply: true });
          return;
        case 'offer':
        case 'answer': {
          const description = { type: s.kind, sdp: s.sdp } as RTCSessionDescriptionInit;
          const collision = s.kind === 'offer' && (this.#makingOffer || pc.signalingState !== 'stable');
          this.#ignoreOffer = !this.#polite && collision;
          if (this.#ignoreOffer) return;
          await pc.setRemoteDescription(description);
          if (s.kind === 'offer') {
            await pc.setLocalDescription();
            const d = pc.localDescription;
            if (d !== null) await this.#send({ to: from, kind: 'answer', sdp: d.sdp });
          }
          return;
        }
        case 'candidate':
          try {
            if (s.candidate) await pc.addIceCandidate(s.candidate);
          } catch (err) {
            if (!this.#ignoreOffer) throw err;
          }
          return;
        case 'bye':
          this.emit('bye', from);
          return;
        default:
          return;
      }
    } catch (err) {
      this.emit('error', err as Error);
    }
  }
}
