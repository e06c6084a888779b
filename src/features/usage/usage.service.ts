import { DAY_MS, dayNumber, parseDay } from '../../lib/days.js';
import { AppError, validationError } from '../../errors/app-error.js';
import type { Clock } from '../../lib/clock.js';
import { isUuid } from '../../lib/ids.js';
import type { Principal } from '../auth/principal.js';
import type { UsageRepo } from './usage.repo.js';
import { DEFAULT_RANGE_DAYS, MAX_RANGE_DAYS, type Usage, type UsageQueryInput } from './usage.schemas.js';

export interface UsageService {
  /**
   * The caller's usage per UTC day from `from` to `to` (both included): `to` defaults to today
   * (UTC), `from` to DEFAULT_RANGE_DAYS days ending at `to`. A range that runs backwards or
   * covers more than MAX_RANGE_DAYS days is a 422; a chatbot not the caller's, a 404.
   */
  daily(caller: Principal, query: UsageQueryInput): Promise<Usage>;
}

export interface UsageDeps {
  usage: UsageRepo;
  clock: Clock;
}

/** PostgreSQL has no year 0; a default range is never taken back further than this. */
const FIRST_DAY = '0001-01-01';

const notFound = () => new AppError('not_found', 'No chatbot with this id');
const dayText = (day: number) => new Date(day * DAY_MS).toISOString().slice(0, 10);
const badRange = (field: 'from' | 'to', message: string, detail: string) => validationError(field, message, { detail, part: 'query' });


/**
 * Only a signed-in user reads their usage: visitors and API keys act in an owner's tenant
 * (`ownerId`) but are not that owner.
 */
function ownerOf(caller: Principal): string {
  if (caller.kind !== 'user') throw new AppError('forbidden', 'Only a signed-in user may read usage');
  return caller.ownerId;
}

export function createUsageService(deps: UsageDeps): UsageService {
  const { usage, clock } = deps;

  function rangeOf(query: UsageQueryInput): { from: string; to: string } {
    const today = Math.floor(clock.now().getTime() / DAY_MS);
    const to = query.to === undefined ? today : parseDay('to', query.to);
    const from = query.from === undefined ? Math.max(to - (DEFAULT_RANGE_DAYS - 1), dayNumber(FIRST_DAY)!) : parseDay('from', query.from);
    if (from > to) throw badRange('from', 'must not be after to', `\`from\` must not be after \`to\` (which defaults to today, UTC)`);
    if (to - from + 1 > MAX_RANGE_DAYS) {
      throw badRange('from', `must be at most ${MAX_RANGE_DAYS - 1} days before to`, `A range covers at most ${MAX_RANGE_DAYS} days`);
    }
    return { from: dayText(from), to: dayText(to) };
  }

  return {
    async daily(caller, query) {
      const userId = ownerOf(caller);
      const range = rangeOf(query);
      let chatbotId: string | null = null;
      if (query.chatbot_id !== undefined) {
        if (!isUuid(query.chatbot_id)) throw notFound();
        chatbotId = query.chatbot_id.toLowerCase();
      }
      const data = await usage.daily(userId, range, chatbotId);
      if (!data) throw notFound();
      return { data };
    },
  };
}
