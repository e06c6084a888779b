// Every environment variable Parley reads, with its aliases, default and meaning.
// The README's configuration table is checked against this list by a test.

export interface VariableDoc {
  name: string;
  aliases?: string[];
  default: string;
  description: string;
}

export const CONFIG_VARIABLES: readonly VariableDoc[] = [
  { name: 'NODE_ENV', default: 'development', description: '`development`, `production` or `test`. Production requires `JWT_SECRET`.' },
  { name: 'PORT', aliases: ['API_PORT'], default: '8000', description: 'TCP port the API listens on.' },
  { name: 'HOST', aliases: ['API_HOST'], default: '127.0.0.1', description: 'Interface to bind (`0.0.0.0` to accept outside connections).' },
  { name: 'DATA_DIR', default: './data', description: 'Folder for the embedded database and the generated development secret.' },
  {
    name: 'DATABASE_URL',
    default: '(none: embedded PGlite)',
    description: 'PostgreSQL (≥ 14) connection string. Without it Parley uses an embedded PGlite database in `DATA_DIR/pglite`.',
  },
  { name: 'DATABASE_WAIT', default: '10s', description: 'At start-up, how long to keep retrying an unreachable database before exiting (one that refuses the login or has no such database is said at once).' },
  {
    name: 'DATABASE_STALL_TIMEOUT',
    default: '15s',
    description:
      "How long a request's statement may hear nothing back from PostgreSQL before its connection is taken for lost (a network partition, a frozen host: no reset arrives): the request answers 503 and the statement is cancelled in the database (one waiting behind a lock too); a connection that does not answer even that within a second is dropped and the pool opens a fresh one. Rows arriving count as hearing back. `off` waits as long as the operating system keeps the connection.",
  },
  {
    name: 'DATABASE_IDLE_TIMEOUT',
    default: '3m',
    description:
      'A PostgreSQL connection unused this long is closed, and opened again when needed: keep it below any idle timeout on the way to the database (4 minutes on an Azure load balancer, 350 s on an AWS Network Load Balancer), which drops a connection without a word, so that its next statement would wait out DATABASE_STALL_TIMEOUT. The owner\'s connections (migrations) close after at most 30 s. `off` keeps them open.',
  },
  {
    name: 'DATABASE_APP_ROLE',
    default: 'parley_app',
    description:
      'The role requests run as, subject to Row Level Security. Created at start-up if missing (the connecting role needs CREATEROLE, or create it yourself: `CREATE ROLE parley_app NOLOGIN; GRANT parley_app TO <owner>`). It must not own the tables, be a superuser or have BYPASSRLS.',
  },
  {
    name: 'DATABASE_APP_URL',
    default: '(none: requests switch to DATABASE_APP_ROLE on DATABASE_URL\'s connections)',
    description:
      'A connection string whose user is the role requests run as, a login role of its own (`CREATE ROLE parley_app LOGIN PASSWORD \'…\'`), for the same database. The request pool logs in with it instead of switching roles (the `role` connection parameter), which a transaction-mode pooler refuses or drops: set it behind Supabase\'s transaction pooler, Neon\'s `-pooler` host or PgBouncer. `DATABASE_URL` stays the owner (migrations, the CLI, the grants Parley makes at start). `DATABASE_APP_ROLE` then defaults to its user name (the part before a `.`, as in Supavisor\'s `parley_app.project-ref`); setting both to different roles is an error.',
  },
  {
    name: 'PGLITE_SHARED_BUFFERS',
    default: '8MB',
    description: 'Shared buffers of the embedded database (PGlite), as PostgreSQL writes sizes (`16MB`, `256MB`). Memory the process keeps once touched; raise it for a large embedded database.',
  },
  {
    name: 'PGLITE_STATISTICS_MS',
    default: '60000',
    description:
      'How often the embedded database (PGlite), which has no autovacuum, looks for tables changed enough since they were last analyzed (50 rows + 10%, as autovacuum) and analyzes them, one at a time, so its planner knows their size: without it an export of 50,000 conversations ran three times slower. Each ANALYZE samples 3,000 rows (about 50 ms). As often, it vacuums the table with the most dead rows past 50 + 20% of its rows (autovacuum\'s rule), reclaiming what updates and deletes leave behind: without it the conversations table grew by about 240 bytes a turn for good. A VACUUM holds the server for a few ms on a small table, about 0.3 s on 100,000 conversations. The counts that decide both are kept in parley-counters.json in the data folder, written each time, so a restart (PGlite forgets them) goes on from where the last run left them.',
  },
  {
    name: 'PGLITE_FREEZE_AGE',
    default: '100000000',
    description:
      "At start, the embedded database (PGlite), which has no autovacuum, freezes the rows of each of its databases (Parley's and the templates) whose oldest transaction is older than this, as autovacuum would: PostgreSQL stops taking writes 2,144 million transactions after the oldest unfrozen one, and a chat turn uses two. The start takes longer by the time it needs (seconds on a large database) about every 50 million turns; a server that runs on past ten times this (at most 1,000 million) without a restart warns in its log.",
  },
  {
    name: 'PGLITE_WASM_OPTIMIZE',
    default: 'false',
    description:
      'Let V8 recompile the embedded database\'s busiest WebAssembly with its optimising compiler: about 10% more chat turns a second (measured), for ~1.5 s more CPU in the first seconds after a start and ~60 MB more memory. Worth it for a busy server that restarts rarely.',
  },
  {
    name: 'PGLITE_FSYNC',
    default: 'true',
    description:
      'The embedded database syncs each commit to its disk before Parley answers (fsync), so a power loss or a kernel crash keeps every turn that was answered, as PostgreSQL does. `false` skips the syncs: faster on a slow disk, but such a loss can take back recent turns and leave the database corrupt; only for data you can lose.',
  },
  { name: 'DATABASE_POOL_MAX', default: '10', description: 'Maximum PostgreSQL connections per instance.' },
  {
    name: 'DATABASE_PREPARE',
    default: 'true',
    description: 'Use named prepared statements. Set `false` behind a transaction-mode pooler that cannot keep them (PgBouncer before 1.21).',
  },
  {
    name: 'JWT_SECRET',
    aliases: ['SECRET_KEY'],
    default: '(generated in development)',
    description:
      'Signs Parley\'s own access tokens (HS256). Required in production, at least 32 bytes. In development one is generated on first start and kept in `DATA_DIR/jwt-secret`.',
  },
  { name: 'ACCESS_TOKEN_TTL', default: '15m', description: 'Lifetime of access tokens.' },
  { name: 'REFRESH_TOKEN_TTL', default: '30d', description: 'Lifetime of a refresh token (each use issues a new one). Tokens past it, and sessions idle that long, are deleted hourly.' },
  {
    name: 'REFRESH_REUSE_GRACE',
    default: '10s',
    description: 'A refresh token presented again this soon after its rotation still answers (two tabs refreshing at once); later it revokes the session.',
  },
  { name: 'AUTH_LOCAL', default: 'true', description: 'Built-in accounts (register, login, tokens). `false` turns the account endpoints off.' },
  {
    name: 'AUTH_CACHE_MS',
    default: '2000',
    description:
      'How long one instance may reuse a session/user check before asking the database again (0 = every request). Logouts and deactivations clear it at once on every instance that hears them: this one, and with `REDIS_URL` all of them; while Redis is unreachable nothing is reused.',
  },
  { name: 'BODY_LIMIT', default: '1MiB', description: "Largest request body accepted; larger answers 413. The routes open to anyone (register, login, refresh, token, a visit's start) take at most 16 KiB, or `BODY_LIMIT` when lower; a knowledge upload takes up to 6,003,424 bytes, whatever `BODY_LIMIT` says (its longest document as JSON); `POST /v1/ai-sdk/chat` reads up to 64 × `BODY_LIMIT` (a chat's whole history), of which it keeps at most `BODY_LIMIT`." },
  {
    name: 'REQUEST_TIMEOUT_MS',
    default: '30000',
    description: 'Time allowed to receive a whole request, headers and body; a slower client gets 408. Answers, event streams included, are not bounded by it.',
  },
  {
    name: 'CORS_ORIGINS',
    aliases: ['ALLOWED_ORIGINS'],
    default: '(none)',
    description: 'Comma-separated origins allowed to call the API from a browser, or `*` for any.',
  },
  {
    name: 'TRUST_PROXY',
    default: 'false',
    description:
      'Take the client address from `X-Forwarded-For` (behind a load balancer): `true` takes its first address (a proxy that replaces the header); the number of proxies in front (e.g. `1`) takes the address that many hops back (proxies that append, as most load balancers do); or a comma-separated list of the proxies\' addresses or CIDR ranges.',
  },
  { name: 'LOG_LEVEL', default: 'info', description: '`fatal`, `error`, `warn`, `info`, `debug`, `trace` or `silent`.' },
  { name: 'LOG_PRETTY', default: 'false', description: 'Human-readable logs instead of JSON lines.' },
  { name: 'METRICS_TOKEN', default: '(none)', description: 'When set, `GET /metrics` requires `Authorization: Bearer <METRICS_TOKEN>`.' },
  {
    name: 'REDIS_URL',
    default: '(none)',
    description: 'Redis for limits shared by several instances, and for telling every instance at once of a logout or deactivation. Without it, limits are kept per instance and another instance may accept a logged-out token for up to `AUTH_CACHE_MS`: set it when more than one instance runs.',
  },
  {
    name: 'REDIS_FAILURE_MODE',
    default: 'open',
    description: 'When Redis cannot be reached: `open` lets requests through (limits not applied), `closed` answers 503.',
  },
  { name: 'RATE_LIMIT_LOGIN_ACCOUNT', default: '10/1m', description: 'Failed logins per account and window (`N/window` or `off`).' },
  { name: 'RATE_LIMIT_LOGIN_IP', default: '30/1m', description: 'Login attempts per client address and window.' },
  { name: 'RATE_LIMIT_REGISTER_IP', default: '10/1h', description: 'Registrations per client address and window.' },
  {
    name: 'RATE_LIMIT_REFRESH_SESSION',
    default: '10/1m',
    description: 'Refresh-token exchanges per session and window (a client refreshes once per access token lifetime; each exchange keeps a row). A refused one spends nothing.',
  },
  { name: 'SHUTDOWN_GRACE_MS', default: '10000', description: 'On SIGTERM/SIGINT/SIGHUP, how long running requests may take before the process exits.' },
  { name: 'RATE_LIMIT_MESSAGES_USER', default: '60/1m', description: 'Chat messages (sent or regenerated) per user and window.' },
  { name: 'RATE_LIMIT_KNOWLEDGE_USER', default: '30/1m', description: 'Knowledge documents added per user and window.' },
  {
    name: 'KNOWLEDGE_LIMIT_PER_ACCOUNT',
    default: '100MB',
    description:
      "Knowledge an account may store: the UTF-8 bytes of its documents' content over all its chatbots (their chunks and search terms take about as much again on disk). An upload that would pass it answers 413 `payload_too_large`, saying what is held and allowed, and stores nothing; deleting a document or a chatbot frees its share; a chatbot's knowledge list shows the account's `account_bytes` and `account_limit_bytes`. A size as `BODY_LIMIT` takes it (`500mb`, `2GiB`); `0` or `off`: no limit.",
  },
  {
    name: 'RATE_LIMIT_PUBLIC_VISITOR',
    default: '20/1m',
    description: "Requests per public chatbot visitor and window (a visitor token's visitor; new conversations and their messages).",
  },
  {
    name: 'RATE_LIMIT_PUBLIC_IP',
    default: '60/1m',
    description: 'Requests to public chatbots (`/v1/public/chatbots/…`, `/v1/public/conversations/…`) per client address and window: holds a visitor who keeps starting new visitors.',
  },
  { name: 'RATE_LIMIT_PUBLIC_CHATBOT', default: '600/1m', description: 'All public requests to one chatbot, from everyone, per window.' },
  { name: 'RATE_LIMIT_API_KEY', default: '600/1m', description: 'Requests per chatbot API key and window, whichever end user they name.' },
  { name: 'RATE_LIMIT_API_KEY_USER', default: '60/1m', description: "Requests per end user of a chatbot's API keys (the request's `user`) and window." },
  {
    name: 'USAGE_MESSAGES_PER_DAY',
    default: 'off',
    description: "Messages an account may send per UTC day on its own chatbots (429 `quota_exceeded` until midnight UTC). Visitors of public chatbots are held by the public limits and the chatbot's `token_budget_monthly` instead.",
  },
  {
    name: 'LLM_PROVIDER',
    default: 'builtin',
    description:
      '`builtin` (offline responder, no key), `openai`, `openrouter`, `groq`, `ollama`, or `openai-compatible` (any server speaking the OpenAI chat API, with `LLM_BASE_URL`).',
  },
  { name: 'LLM_BASE_URL', default: '(the preset\'s)', description: 'Base URL of the OpenAI-compatible API, e.g. `http://127.0.0.1:8080/v1`. Required for `openai-compatible`.' },
  { name: 'LLM_API_KEY', default: '(none)', description: 'API key sent to the provider. Required for `openai`, `openrouter` and `groq`.' },
  { name: 'OPENAI_API_KEY', default: '(none)', description: 'Read as the key for `openai` and `openai-compatible` when `LLM_API_KEY` is unset.' },
  { name: 'OPENROUTER_API_KEY', default: '(none)', description: 'Read as the key for `openrouter` when `LLM_API_KEY` is unset.' },
  { name: 'GROQ_API_KEY', default: '(none)', description: 'Read as the key for `groq` when `LLM_API_KEY` is unset.' },
  {
    name: 'LLM_MODEL',
    aliases: ['OPENAI_MODEL'],
    default: '(the preset\'s; `builtin` for builtin)',
    description: 'Model used by chatbots that name none. Required for `openai-compatible`.',
  },
  { name: 'LLM_MODELS', default: '`LLM_MODEL`', description: 'Comma-separated models a chatbot may choose (`LLM_MODEL` is always allowed).' },
  {
    name: 'LLM_TIMEOUT_MS',
    default: '60000',
    description:
      'A model call fails when no answer (or, streaming, no next chunk) arrives within this time. Comments and blank lines a provider sends while it works (`: keep-alive`) do not count: raise it for reasoning models that think longer than this before their first token.',
  },
  {
    name: 'LLM_MAX_DURATION_MS',
    default: '600000',
    description: 'The longest one model call may take, answer arriving or not (a stream that never ends); then it fails as a timeout. At least `LLM_TIMEOUT_MS`.',
  },
  { name: 'LLM_MAX_RETRIES', default: '2', description: 'Retries after a 429, 5xx, timeout or network failure, before any text arrived.' },
  { name: 'LLM_RETRY_BASE_MS', default: '500', description: 'First retry delay; doubles each retry, with jitter. A `Retry-After` from the provider is honoured.' },
  { name: 'CONTEXT_TOKEN_BUDGET', default: '8000', description: 'Tokens of prompt per turn: knowledge takes at most a quarter (a passage too long for what is left is cut to its part about the question), and older history is left out once the rest is spent (a failed reply spends none).' },
  { name: 'MAX_MESSAGE_CHARS', default: '32000', description: 'Longest message content accepted, in Unicode code points (longer answers 422).' },
  {
    name: 'MAX_CONCURRENT_TURNS',
    default: 'auto',
    description:
      'Turns (replies being generated) one instance runs at once; one more answers 503 `at_capacity` with Retry-After, storing nothing. `auto`: what the open-file limit leaves room for (two sockets a turn; told at start); a number; or `off`.',
  },
  { name: 'SSE_HEARTBEAT_MS', default: '15000', description: 'Interval of comment heartbeats on open event streams, so proxies keep them open.' },
  {
    name: 'SSE_WRITE_TIMEOUT_MS',
    default: '30000',
    description: 'An event stream whose client reads nothing this long while events wait (or leaves 1 MiB unread) is closed; its reply is stored as interrupted. An export whose client reads nothing this long while bytes wait is cut too.',
  },
  {
    name: 'CUT_TURNS_SWEEP_MS',
    default: '60000',
    description:
      'How often each instance looks for conversations held by a reply whose instance stopped renewing it (killed, or cut off from the database) for over two minutes: their replies are stored as failed or interrupted (error server_stopped) and the conversations freed.',
  },
  {
    name: 'INSTANCE_HEARTBEAT_MS',
    default: '5000',
    description:
      'PostgreSQL only: how often each instance tells the database it is alive. An instance silent for six of these (killed, out of memory, its machine gone) is taken for gone: at their next heartbeat the others store its replies cut short (interrupted with the text so far, error server_stopped) and free its conversations, within about 35 s by default rather than after the two-minute lease.',
  },
  {
    name: 'QUIET_AFTER',
    default: '60s',
    description:
      'When no request has come for this long (health checks and metrics scrapes do not count), no reply runs and no webhook delivery is owed, the instance stops its background work against the database (webhook polls, heartbeat, sweeps) until the next request, which first waits for one heartbeat. A serverless PostgreSQL such as Neon can then scale to zero. off keeps it polling always.',
  },
  {
    name: 'WEBHOOK_ALLOW_PRIVATE',
    default: 'false',
    description:
      'Deliver webhooks to addresses that are not public unicast (loopback, private, link-local, and IPv4 written in IPv6). Off, such URLs are refused when written and at every delivery, DNS answers included; receivers\' names are then asked of the DNS servers in /etc/resolv.conf (not /etc/hosts). Only for receivers on your own network.',
  },
  { name: 'WEBHOOK_TIMEOUT_MS', default: '15000', description: 'A webhook delivery that has no answer within this time fails and is retried.' },
  {
    name: 'WEBHOOK_RETRY_SCHEDULE',
    default: '5s,5m,30m,2h,5h,10h',
    description: "Waits before each retry of a failed webhook delivery (each ±20% jitter; a receiver's longer `Retry-After` wins, up to a day). After the last, the delivery is failed.",
  },
  { name: 'WEBHOOK_POLL_MS', default: '1000', description: 'How often each instance looks for webhook deliveries that are due.' },
  {
    name: 'WEBHOOK_LEASE_MS',
    default: '60000',
    description: 'How long an instance holds a delivery it is sending; if it stops meanwhile, another instance retries after this. Must exceed `WEBHOOK_TIMEOUT_MS`.',
  },
  {
    name: 'WEBHOOK_LOG_RETENTION',
    default: '30d',
    description:
      'Webhook events delivered or failed are deleted this long after they happened, with their attempts (at least `1h`); pending ones are kept until they settle. Each delivery keeps its latest 50 attempts, whatever its age.',
  },
  { name: 'WEBHOOK_LOG_SWEEP_MS', default: '60000', description: 'How often each instance deletes webhook events past `WEBHOOK_LOG_RETENTION`, up to 2,000 a time.' },
  {
    name: 'EXTERNAL_JWT_SECRET',
    default: '(none)',
    description: "Shared secret (HS256) of another system whose users call Parley with that system's JWT; each new user is created on first sight.",
  },
  { name: 'EXTERNAL_JWT_ISSUER', default: '(none)', description: 'The `iss` those tokens must carry (unset: tokens without `iss` are accepted). Not `parley`, which Parley\'s own tokens carry (refused at start-up, as an `issuer` in `AUTH_ISSUERS_FILE`).' },
  { name: 'EXTERNAL_JWT_AUDIENCE', default: '(none)', description: 'The `aud` those tokens must carry (unset: not checked; for a key-set issuer, whose provider signs other applications\' tokens too, the server warns at start).' },
  { name: 'EXTERNAL_JWT_REQUIRE_EXP', default: 'true', description: 'Refuse external tokens without `exp` (`false` for test tokens that carry none).' },
  {
    name: 'AUTH_ISSUERS_FILE',
    default: '(none)',
    description:
      'JSON file of external issuers: `[{name, secret | jwks_url, algorithms?, issuer?, audience?, require_exp?, clock_tolerance_s?, claims?: {user_id?, username?}, role?: {claim, admin_values}}]`. Used alongside the env issuers.',
  },
  {
    name: 'EXTERNAL_JWKS_URL',
    default: '(none)',
    description: 'JWK set URL of an issuer that signs with private keys (RS256, ES256, EdDSA: Auth0, Keycloak, any OIDC provider). Keys are cached; unknown key ids refetch at most every 30 s.',
  },
  { name: 'EXTERNAL_JWKS_ALGORITHMS', default: 'RS256,ES256,EdDSA', description: 'Algorithms accepted from the `EXTERNAL_JWKS_URL` issuer.' },
  { name: 'SUPABASE_JWT_SECRET', default: '(none)', description: 'Supabase preset: accept Supabase Auth tokens (HS256, `aud` `authenticated`, a `sub`).' },
  {
    name: 'SUPABASE_URL',
    default: '(none)',
    description: 'Supabase preset: tokens must carry `iss` = `${SUPABASE_URL}/auth/v1`; without `SUPABASE_JWT_SECRET`, keys come from the project\'s JWKS.',
  },
  { name: 'ADMIN_USERNAMES', default: '(none)', description: 'Comma-separated local usernames that are admins (as `parley users promote` makes them).' },
];
