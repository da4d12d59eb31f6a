import type { RouteRuleConfig } from '@switchboard/config';
import type { CloudEvent } from '@switchboard/engine';
import { channelNameError } from '@switchboard/protocol';
import { ChannelTemplate, TemplateSkipReason } from './channel-template';

/** A rule (or a `channels` attribute entry) that gave no channel for an event, and why. */
export interface RouteSkip {
  reason: TemplateSkipReason;
  /** Which rule or attribute: `routes[2].channels[0]` or `channels attribute`. */
  where: string;
  detail: string;
}

/** Where an event's channels came from, and the rules that did not apply. */
export interface RouteDecision {
  /** Distinct target channels in first-seen order; empty when the event is unroutable. */
  channels: string[];
  via: 'attribute' | 'rules';
  skips: RouteSkip[];
}

interface CompiledRule {
  index: number;
  type?: RegExp;
  source?: RegExp;
  channels: ChannelTemplate[];
}

/**
 * Event → channels (SPEC "Event bus and notifier"). The CloudEvent's `channels` extension
 * attribute (comma-separated) names the channels directly; without it every route rule
 * whose `match` fits contributes its channels (the union). Pure and synchronous: the
 * dispatcher decides what an empty result means.
 */
export class EventRouter {
  private readonly rules: CompiledRule[];

  constructor(rules: readonly RouteRuleConfig[]) {
    this.rules = rules.map((r, index) => ({
      index,
      type: r.match.type === undefined ? undefined : globToRegExp(r.match.type),
      source: r.match.source === undefined ? undefined : globToRegExp(r.match.source),
      channels: r.channels.map((t) => new ChannelTemplate(t)),
    }));
  }

  get ruleCount(): number {
    return this.rules.length;
  }

  route(event: CloudEvent): RouteDecision {
    const attribute = event.channels;
    // An empty attribute names nothing; the rules decide (a present, non-empty one is final).
    if (attribute !== undefined && !(typeof attribute === 'string' && attribute.trim() === '')) {
      return this.fromAttribute(attribute);
    }
    return this.fromRules(event);
  }

  private fromAttribute(attribute: unknown): RouteDecision {
    const decision: RouteDecision = { channels: [], via: 'attribute', skips: [] };
    if (typeof attribute !== 'string') {
      decision.skips.push({ reason: 'invalid_channel', where: 'channels attribute', detail: 'must be a comma-separated string' });
      return decision;
    }
    const seen = new Set<string>();
    for (const raw of attribute.split(',')) {
      const channel = raw.trim();
      if (channel === '' || seen.has(channel)) continue;
      const problem = channelNameError(channel);
      if (problem !== undefined) {
        decision.skips.push({
          reason: 'invalid_channel',
          where: 'channels attribute',
          detail: `${JSON.stringify(channel.slice(0, 140))}: ${problem}`,
        });
        continue;
      }
      seen.add(channel);
      decision.channels.push(channel);
    }
    return decision;
  }

  private fromRules(event: CloudEvent): RouteDecision {
    const decision: RouteDecision = { channels: [], via: 'rules', skips: [] };
    const seen = new Set<string>();
    for (const rule of this.rules) {
      if (rule.type !== undefined && !rule.type.test(event.type)) continue;
      if (rule.source !== undefined && !rule.source.test(event.source)) continue;
      // A rule applies whole or not at all (SPEC: a rule whose template fails is skipped for the event).
      const rendered: string[] = [];
      let skipped = false;
      rule.channels.forEach((template, i) => {
        const result = template.render(event);
        if (result.ok) rendered.push(result.channel);
        else {
          skipped = true;
          decision.skips.push({ reason: result.reason, where: `routes[${rule.index}].channels[${i}]`, detail: result.detail });
        }
      });
      if (skipped) continue;
      for (const channel of rendered) {
        if (seen.has(channel)) continue;
        seen.add(channel);
        decision.channels.push(channel);
      }
    }
    return decision;
  }
}

/** `*` matches any run of characters, dots included; everything else is literal. */
export function globToRegExp(pattern: string): RegExp {
  const body = pattern
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${body}$`, 's');
}
