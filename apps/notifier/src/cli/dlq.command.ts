import { ConfigError, loadConfig, notifierSchema } from '@switchboard/config';
import { connectNats, JetStreamEventBus, NatsHealth, redactUrl } from '@switchboard/engine';
import { isSwitchboardError } from '@switchboard/protocol';
import { DeadLetterQueue } from '../dispatch/dead-letter-queue';

export const DLQ_USAGE = `usage: dlq list [--from <seq>] [--limit <n>]   one JSON line per dead letter
       dlq show <seq>                         the whole dead letter, event included
       dlq replay <seq>                       republish one onto EVENTS and remove it
       dlq replay --all                       replay every dead letter
Reads the notifier's settings from the environment (NATS_URL, DLQ_STREAM, …).`;

/** Output streams, so tests can capture them. */
export interface CliIo {
  out(line: string): void;
  err(line: string): void;
}

const processIo: CliIo = {
  out: (line) => process.stdout.write(line + '\n'),
  err: (line) => process.stderr.write(line + '\n'),
};

type Command =
  { kind: 'list'; from: number; limit: number } | { kind: 'show'; seq: number } | { kind: 'replay'; seq: number } | { kind: 'replay-all' };

function parseSeq(value: string | undefined, what: string): number {
  if (value === undefined || !/^\d{1,15}$/.test(value) || Number(value) < 1) throw new UsageError(`${what} must be a positive integer`);
  return Number(value);
}

class UsageError extends Error {}

export function parseDlqArgs(args: readonly string[]): Command {
  const [verb, ...rest] = args;
  switch (verb) {
    case 'list': {
      let from = 1;
      let limit = 1000;
      for (let i = 0; i < rest.length; i += 2) {
        if (rest[i] === '--from') from = parseSeq(rest[i + 1], '--from');
        else if (rest[i] === '--limit') limit = parseSeq(rest[i + 1], '--limit');
        else throw new UsageError(`unknown option ${rest[i]}`);
      }
      return { kind: 'list', from, limit };
    }
    case 'show':
      if (rest.length !== 1) throw new UsageError('show takes one sequence');
      return { kind: 'show', seq: parseSeq(rest[0], 'seq') };
    case 'replay':
      if (rest.length === 1 && rest[0] === '--all') return { kind: 'replay-all' };
      if (rest.length !== 1) throw new UsageError('replay takes one sequence, or --all');
      return { kind: 'replay', seq: parseSeq(rest[0], 'seq') };
    default:
      throw new UsageError(verb === undefined ? 'a command is required' : `unknown command ${verb}`);
  }
}

/**
 * `dlq list|show|replay <seq>|replay --all` against the JetStream dead-letter stream
 * (`node dist/apps/notifier/main.js dlq …`, or `npm run dlq -- …`). Returns the exit code:
 * 0 done, 1 failed, 2 usage or configuration error.
 */
export async function runDlqCommand(args: readonly string[], env: NodeJS.ProcessEnv = process.env, io: CliIo = processIo): Promise<number> {
  let command: Command;
  let config;
  try {
    command = parseDlqArgs(args);
    config = loadConfig(notifierSchema, env);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`dlq: ${err.message}\n${DLQ_USAGE}`);
      return 2;
    }
    if (err instanceof ConfigError) {
      io.err(`dlq: ${err.message}`);
      return 2;
    }
    throw err;
  }
  if (config.NATS_URL === undefined) {
    io.err('dlq: NATS_URL is not set. Without NATS the dead letters live inside the running process: use GET /v1/dlq there.');
    return 2;
  }
  let nc;
  try {
    nc = await connectNats(config.NATS_URL, `switchboard-dlq@${config.INSTANCE_NAME ?? 'cli'}`, 10_000);
  } catch (err) {
    io.err(`dlq: cannot reach NATS at ${redactUrl(config.NATS_URL)}: ${(err as Error).message}`);
    return 1;
  }
  try {
    const bus = await JetStreamEventBus.create(
      nc,
      new NatsHealth(nc),
      {
        eventsMaxAgeSeconds: config.EVENTS_MAX_AGE_SECONDS,
        duplicateWindowSeconds: config.EVENTS_DUPLICATE_WINDOW_SECONDS,
        dlqMaxAgeSeconds: config.DLQ_MAX_AGE_SECONDS,
      },
      {
        eventsStream: config.EVENTS_STREAM,
        eventsSubjectPrefix: config.EVENTS_SUBJECT_PREFIX,
        dlqStream: config.DLQ_STREAM,
        dlqSubjectPrefix: config.DLQ_SUBJECT_PREFIX,
      },
    );
    await bus.ensureStreams();
    const dlq = new DeadLetterQueue(bus);
    switch (command.kind) {
      case 'list':
        for (const entry of await dlq.list(command.from, command.limit)) {
          // One line per dead letter: what and why, without the event body.
          const d = entry.deadLetter;
          io.out(
            JSON.stringify({
              dlqSeq: entry.dlqSeq,
              eventId: d.event?.id,
              type: d.event?.type,
              source: d.event?.source,
              reason: d.reason,
              error: d.error,
              deliveryCount: d.deliveryCount,
              subject: d.subject,
              seq: d.seq,
              deadLetteredAt: d.deadLetteredAt,
              ...(d.delivered === undefined ? {} : { channels: d.channels, delivered: d.delivered }),
            }),
          );
        }
        return 0;
      case 'show': {
        const entry = await dlq.get(command.seq);
        if (entry === undefined) {
          io.err(`dlq: no dead letter with sequence ${command.seq}`);
          return 1;
        }
        io.out(JSON.stringify(entry, null, 2));
        return 0;
      }
      case 'replay':
        io.out(JSON.stringify(await dlq.replay(command.seq)));
        return 0;
      case 'replay-all': {
        const result = await dlq.replayAll();
        for (const r of result.replayed) io.out(JSON.stringify(r));
        for (const f of result.failed) io.err(`dlq: ${f.dlqSeq} not replayed: ${f.error}`);
        io.err(`dlq: ${result.replayed.length} replayed, ${result.failed.length} failed`);
        return result.failed.length === 0 ? 0 : 1;
      }
    }
  } catch (err) {
    io.err(`dlq: ${isSwitchboardError(err) ? err.message : (err as Error).message}`);
    return 1;
  } finally {
    await nc.close();
  }
}
