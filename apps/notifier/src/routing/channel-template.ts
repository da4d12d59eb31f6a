import { channelNameError } from '@switchboard/protocol';

/** Why a template produced no channel for one event (the `reason` label of the skip metric). */
export type TemplateSkipReason = 'missing_path' | 'invalid_channel';

export type TemplateResult = { ok: true; channel: string } | { ok: false; reason: TemplateSkipReason; detail: string };

type Piece = { literal: string } | { path: readonly string[] };

/**
 * A channel template such as `repo:{data.repository.full_name}`, compiled once. Placeholders
 * read a dot path of the CloudEvent; a string, number or boolean fills them, anything else
 * (absent, null, object, array) means the template does not apply to the event.
 * Syntax is validated by the config schema before a template gets here.
 */
export class ChannelTemplate {
  private readonly pieces: readonly Piece[];

  constructor(readonly source: string) {
    this.pieces = source
      .split(/(\{[^{}]*\})/)
      .filter((p) => p.length > 0)
      .map((p) => (p.startsWith('{') ? { path: p.slice(1, -1).split('.') } : { literal: p }));
  }

  render(event: Readonly<Record<string, unknown>>): TemplateResult {
    let channel = '';
    for (const piece of this.pieces) {
      if ('literal' in piece) {
        channel += piece.literal;
        continue;
      }
      const value = readPath(event, piece.path);
      if (value === undefined) return { ok: false, reason: 'missing_path', detail: `{${piece.path.join('.')}} is missing or not a scalar` };
      channel += value;
    }
    const problem = channelNameError(channel);
    if (problem !== undefined)
      return { ok: false, reason: 'invalid_channel', detail: `${JSON.stringify(channel.slice(0, 140))}: ${problem}` };
    return { ok: true, channel };
  }
}

/** The scalar at `path` as text, or undefined. Own properties only: `{__proto__}` reads nothing. */
function readPath(root: unknown, path: readonly string[]): string | undefined {
  let node = root;
  for (const key of path) {
    if (typeof node !== 'object' || node === null || !Object.hasOwn(node, key)) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  if (typeof node === 'string') return node;
  if ((typeof node === 'number' && Number.isFinite(node)) || typeof node === 'boolean') return String(node);
  return undefined;
}
