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
  { name: 'DATABASE_WAIT', default: '10s', description: 'At start-up, how long to keep retrying an unreachable database before exiting.' },
  { name: 'DATABASE_POOL_MAX', default: '10', description: 'Maximum PostgreSQL connections per instance.' },
  {
    name: 'JWT_SECRET',
    aliases: ['SECRET_KEY'],
    default: '(generated in development)',
    description:
      'Signs Parley\'s own access tokens (HS256). Required in production, at least 32 bytes. In development one is generated on first start and kept in `DATA_DIR/jwt-secret`.',
  },
  { name: 'ACCESS_TOKEN_TTL', default: '15m', description: 'Lifetime of access tokens.' },
  { name: 'REFRESH_TOKEN_TTL', default: '30d', description: 'Lifetime of a refresh token (each use issues a new one).' },
  {
    name: 'REFRESH_REUSE_GRACE',
    default: '10s',
    description: 'A refresh token presented again this soon after its rotation still answers (two tabs refreshing at once); later it revokes the session.',
  },
  { name: 'AUTH_LOCAL', default: 'true', description: 'Built-in accounts (register, login, tokens). `false` turns the account endpoints off.' },
  {
    name: 'AUTH_CACHE_MS',
    default: '2000',
    description: 'How long one instance may reuse a session/user check before asking the database again (0 = every request).',
  },
  { name: 'BODY_LIMIT', default: '1MiB', description: 'Largest request body accepted; larger answers 413.' },
  {
    name: 'CORS_ORIGINS',
    aliases: ['ALLOWED_ORIGINS'],
    default: '(none)',
    description: 'Comma-separated origins allowed to call the API from a browser, or `*` for any.',
  },
  { name: 'TRUST_PROXY', default: 'false', description: 'Take the client address from `X-Forwarded-For` (set when behind a load balancer).' },
  { name: 'LOG_LEVEL', default: 'info', description: '`fatal`, `error`, `warn`, `info`, `debug`, `trace` or `silent`.' },
  { name: 'LOG_PRETTY', default: 'false', description: 'Human-readable logs instead of JSON lines.' },
  { name: 'METRICS_TOKEN', default: '(none)', description: 'When set, `GET /metrics` requires `Authorization: Bearer <METRICS_TOKEN>`.' },
  { name: 'REDIS_URL', default: '(none)', description: 'Redis for limits shared by several instances. Without it, limits are kept per instance.' },
  {
    name: 'REDIS_FAILURE_MODE',
    default: 'open',
    description: 'When Redis cannot be reached: `open` lets requests through (limits not applied), `closed` answers 503.',
  },
  { name: 'RATE_LIMIT_LOGIN_ACCOUNT', default: '10/1m', description: 'Failed logins per account and window (`N/window` or `off`).' },
  { name: 'RATE_LIMIT_LOGIN_IP', default: '30/1m', description: 'Login attempts per client address and window.' },
  { name: 'RATE_LIMIT_REGISTER_IP', default: '10/1h', description: 'Registrations per client address and window.' },
  { name: 'SHUTDOWN_GRACE_MS', default: '10000', description: 'On SIGTERM/SIGINT, how long running requests may take before the process exits.' },
];
