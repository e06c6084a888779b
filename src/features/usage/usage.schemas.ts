import { Type, type Static } from 'typebox';

/** The widest range one request may cover, in days (both ends included): a leap year. */
export const MAX_RANGE_DAYS = 366;
/** The range when neither end is given: this many days ending today (UTC). */
export const DEFAULT_RANGE_DAYS = 30;

// The format checks the calendar too (2026-02-30 is refused); the service checks it again.
const Day = (description: string) => Type.String({ format: 'date', pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}$', description });

export const UsageQuery = Type.Object(
  {
    chatbot_id: Type.Optional(Type.String({ maxLength: 100, description: 'Only this chatbot of yours (every one of yours when absent)' })),
    from: Type.Optional(Day(`First day (UTC, YYYY-MM-DD), included; defaults to ${DEFAULT_RANGE_DAYS - 1} days before \`to\``)),
    to: Type.Optional(Day('Last day (UTC, YYYY-MM-DD), included; defaults to today')),
  },
  { additionalProperties: false },
);
export type UsageQueryInput = Static<typeof UsageQuery>;

export const UsageDaySchema = Type.Object(
  {
    date: Type.String({ format: 'date', description: 'A UTC day' }),
    messages: Type.Integer({
      description:
        'Model replies that day on every channel, stopped ones included and failed ones not: also those to API key calls (which store no message) and those in conversations deleted since. Not the number of stored messages.',
    }),
    prompt_tokens: Type.Integer({ description: 'Tokens sent to the model that day, those of replies that failed after the model began answering included' }),
    completion_tokens: Type.Integer({ description: 'Tokens the model wrote that day, the part of a reply that failed half-way included' }),
  },
  { title: 'UsageDay' },
);
export type UsageDay = Static<typeof UsageDaySchema>;

export const UsageSchema = Type.Object(
  { data: Type.Array(UsageDaySchema, { description: 'One row per day with usage, oldest first; days without usage are left out' }) },
  {
    title: 'Usage',
    description: `Your chatbots' usage on every channel (your own chats, visitors, API keys), per UTC day, that of chatbots deleted since included. A range covers at most ${MAX_RANGE_DAYS} days.`,
  },
);
export type Usage = Static<typeof UsageSchema>;
