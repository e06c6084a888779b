// The export document, `{conversation, messages, data}`, written as JSON text by the database: the
// one source of its shape, for the bulk export and the single one alike. The text passes through
// Node untouched, so no row objects with parsed jsonb and no JavaScript documents are made per
// conversation (which, at 100,000 conversations, V8 left behind as garbage by the hundred MB).
// It is exactly what toConversation and toMessage (conversations.schemas.ts) give to JSON.stringify:
// the same keys in the same order, times as toISOString writes them, null where they have null,
// and `usage`, `latency_ms` and `error` only when the message has them; `data` is the stored jsonb
// as PostgreSQL prints it (spaces after `:` and `,`, keys in jsonb's order), so it parses equal.
// The statements read `c` (a conversations row) and `m` (a messages row).

// Times as the API writes them (toISOString); the keyset cursor keeps the microseconds.
const ISO_MS = `'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'`;
const ISO_US = `'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'`;

/** A JSON string of a value that cannot be null. */
const json = (expr: string) => `to_json(${expr})::text`;
/** A JSON value that may be null. */
const jsonOrNull = (expr: string) => `coalesce(to_json(${expr})::text, 'null')`;
/** Text that needs no escaping (uuids, the checked status and role words, times). */
const quoted = (expr: string) => `'"' || ${expr} || '"'`;
const isoTime = (expr: string) => quoted(`to_char(${expr} AT TIME ZONE 'UTC', ${ISO_MS})`);
const integer = (expr: string) => `${expr}::text`;

/** `{"key":value,…}` from SQL expressions that each give JSON text; `optional` adds `,"key":value` pieces (or '') before the end. */
function object(fields: Array<[key: string, value: string]>, optional: string[] = []): string {
  const parts = fields.map(([key, value], i) => `'${i === 0 ? '{' : ','}"${key}":' || ${value}`);
  return `(${[...parts, ...optional, `'}'`].join(' || ')})`;
}

/** `,"key":value` when `condition` holds, else nothing. */
const whenPresent = (condition: string, key: string, value: string) => `CASE WHEN ${condition} THEN ',"${key}":' || ${value} ELSE '' END`;

export const CURSOR_AT = `to_char(c.created_at AT TIME ZONE 'UTC', ${ISO_US})`;

/** toConversation. */
const CONVERSATION_JSON = object([
  ['id', quoted('c.id')],
  ['chatbot_id', quoted('c.chatbot_id')],
  ['title', jsonOrNull('c.title')],
  ['status', quoted('c.status')],
  ['context', jsonOrNull('c.context')],
  ['message_count', integer('c.message_count')],
  ['created_at', isoTime('c.created_at')],
  ['updated_at', isoTime('c.updated_at')],
]);

/** toMessage, of message `m`: feedback when it has a rating or a non-empty comment; usage, latency and error only when set. */
export const MESSAGE_JSON = object(
  [
    ['id', quoted('m.id')],
    ['role', quoted('m.role')],
    ['content', json('m.content')],
    ['status', quoted('m.status')],
    ['created_at', isoTime('m.created_at')],
    [
      'feedback',
      `CASE WHEN coalesce(m.feedback_rating, '') <> '' OR coalesce(m.feedback_comment, '') <> ''
        THEN ${object([['rating', jsonOrNull('m.feedback_rating')], ['comment', jsonOrNull('m.feedback_comment')]])} ELSE 'null' END`,
    ],
  ],
  [
    whenPresent(
      'm.prompt_tokens IS NOT NULL OR m.completion_tokens IS NOT NULL',
      'usage',
      object([['prompt_tokens', integer('coalesce(m.prompt_tokens, 0)')], ['completion_tokens', integer('coalesce(m.completion_tokens, 0)')]]),
    ),
    whenPresent('m.latency_ms IS NOT NULL', 'latency_ms', integer('m.latency_ms')),
    whenPresent(`coalesce(m.error_code, '') <> ''`, 'error', json('m.error_code')),
  ],
);

/** Every message of the conversation (in its tenant, as the API lists them: ids are time-ordered), oldest first, joined by commas; '' when none. */
const MESSAGES_JSON = `coalesce((SELECT string_agg(${MESSAGE_JSON}, ',' ORDER BY m.id)
    FROM messages m WHERE m.conversation_id = c.id AND m.user_id = c.user_id), '')`;

/** The collected values; `{}` when there are none (or what is stored is not an object). */
const DATA_JSON = `CASE WHEN jsonb_typeof(c.data) = 'object' THEN c.data::text ELSE '{}' END`;

/** The document of conversation `c` up to its messages: `{"conversation":…,"messages":[`. */
export const DOCUMENT_HEAD_JSON = `'{"conversation":' || ${CONVERSATION_JSON} || ',"messages":['`;

/** The document of conversation `c` after its messages: `],"data":…}`. */
export const DOCUMENT_TAIL_JSON = `'],"data":' || ${DATA_JSON} || '}'`;

/** The whole export document of conversation `c`, as text. */
export const DOCUMENT_JSON = `${DOCUMENT_HEAD_JSON} || ${MESSAGES_JSON} || ${DOCUMENT_TAIL_JSON}`;

/** CSV: the fixed columns as text, and a JSON array of the collected values of the keys in `keysParam` (a JSON array of strings), in their order. */
export const csvColumns = (keysParam: string) =>
  `c.status, to_char(c.created_at AT TIME ZONE 'UTC', ${ISO_MS}) AS created_at, to_char(c.updated_at AT TIME ZONE 'UTC', ${ISO_MS}) AS updated_at,
   (SELECT jsonb_agg(c.data -> k.key ORDER BY k.n) FROM jsonb_array_elements_text(${keysParam}::jsonb) WITH ORDINALITY AS k(key, n))::text AS cells`;
