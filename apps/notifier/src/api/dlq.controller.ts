import { Controller, Get, HttpCode, Inject, Param, Post, Query, UseFilters } from '@nestjs/common';
import { SwitchboardError } from '@switchboard/protocol';
import { DeadLetterEntry } from '../dispatch/dead-letter';
import { DeadLetterQueue, ReplayAllResult, ReplayResult } from '../dispatch/dead-letter-queue';
import { SwitchboardErrorFilter } from './http-error';

/** Most dead letters one listing returns. */
const MAX_LIMIT = 1000;

/** A page of dead letters; `next` is the `from` of the following page, null at the end. */
export interface DeadLetterPage {
  deadLetters: DeadLetterEntry[];
  next: number | null;
}

function positiveInt(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined || value === '') return fallback;
  if (!/^\d{1,15}$/.test(value) || Number(value) < 1) throw new SwitchboardError('bad_request', `${name} must be a positive integer`);
  return Number(value);
}

/** Dead-letter admin endpoints (bearer DLQ_API_KEY, checked by route middleware). */
@Controller('v1/dlq')
@UseFilters(SwitchboardErrorFilter)
export class DlqController {
  constructor(@Inject(DeadLetterQueue) private readonly dlq: DeadLetterQueue) {}

  @Get()
  async list(@Query('from') from?: string, @Query('limit') limit?: string): Promise<DeadLetterPage> {
    const size = Math.min(positiveInt(limit, 'limit', 100), MAX_LIMIT);
    const deadLetters = await this.dlq.list(positiveInt(from, 'from', 1), size);
    return { deadLetters, next: deadLetters.length === size ? deadLetters[deadLetters.length - 1].dlqSeq + 1 : null };
  }

  @Post('replay')
  @HttpCode(200)
  replayAll(): Promise<ReplayAllResult> {
    return this.dlq.replayAll();
  }

  @Get(':seq')
  async get(@Param('seq') seq: string): Promise<DeadLetterEntry> {
    const entry = await this.dlq.get(positiveInt(seq, 'seq', 0));
    if (entry === undefined) throw new SwitchboardError('not_found', `no dead letter with sequence ${seq}`);
    return entry;
  }

  @Post(':seq/replay')
  @HttpCode(200)
  replay(@Param('seq') seq: string): Promise<ReplayResult> {
    return this.dlq.replay(positiveInt(seq, 'seq', 0));
  }
}
