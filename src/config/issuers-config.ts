// External JWT issuers configured by env (§3.2): the seeds' shared-secret setup and the
// Supabase preset. Users of another system call Parley with the token they already have.
import { ConfigError } from './errors.js';
import { DEFAULT_JWKS_ALGORITHMS, JWKS_ALGORITHMS, OWN_ISSUER_REFUSED, PARLEY_TOKEN_ISSUER, type ExternalIssuer } from './issuer-types.js';
import { loadIssuersFile } from './issuers-file.js';
import { ConfigValueError, parseBoolean, parseList, parsePublicUrl } from './parsers.js';

// Re-exported so the rest of the code keeps importing issuers from the config that loads them.
export type { ExternalIssuer, JwksIssuer, SecretIssuer } from './issuer-types.js';

type Read = <T>(name: string, parse: (raw: string) => T, fallback: T) => T;

const text = (raw: string) => raw;
const issuerText = (raw: string) => {
  if (raw === PARLEY_TOKEN_ISSUER) throw new ConfigValueError(OWN_ISSUER_REFUSED);
  return raw;
};
const MIN_SECRET_BYTES = 16;

function parseAlgorithms(raw: string): string[] {
  const list = parseList(raw);
  const known: readonly string[] = JWKS_ALGORITHMS;
  if (list.length === 0 || !list.every((alg) => known.includes(alg))) throw new ConfigValueError(`a list of: ${JWKS_ALGORITHMS.join(', ')}`);
  return list;
}

function checkSecret(name: string, secret: string): string {
  if (Buffer.byteLength(secret) < MIN_SECRET_BYTES) throw new ConfigError(`${name} must be at least ${MIN_SECRET_BYTES} bytes`);
  return secret;
}

export function loadExternalIssuers(read: Read): ExternalIssuer[] {
  const issuers: ExternalIssuer[] = [];
  issuers.push(...read('AUTH_ISSUERS_FILE', (path) => loadIssuersFile(path), [] as ExternalIssuer[]));
  const secret = read('EXTERNAL_JWT_SECRET', text, null as string | null);
  const requireExp = read('EXTERNAL_JWT_REQUIRE_EXP', parseBoolean, true);
  if (secret) {
    issuers.push({
      kind: 'secret',
      name: 'external',
      algorithms: ['HS256'],
      secret: checkSecret('EXTERNAL_JWT_SECRET', secret),
      issuer: read('EXTERNAL_JWT_ISSUER', issuerText, null as string | null),
      audience: read('EXTERNAL_JWT_AUDIENCE', text, null as string | null),
      requireExp,
      clockToleranceS: 30,
    });
  }
  const jwksUrl = read('EXTERNAL_JWKS_URL', (raw) => parsePublicUrl(raw, ['http', 'https']), null as string | null);
  if (jwksUrl) {
    const algorithms = read('EXTERNAL_JWKS_ALGORITHMS', parseAlgorithms, [...DEFAULT_JWKS_ALGORITHMS]);
    issuers.push({
      kind: 'jwks',
      name: 'external-jwks',
      algorithms,
      jwksUrl,
      issuer: read('EXTERNAL_JWT_ISSUER', issuerText, null as string | null),
      audience: read('EXTERNAL_JWT_AUDIENCE', text, null as string | null),
      requireExp,
      clockToleranceS: 30,
    });
  }
  const supabaseSecret = read('SUPABASE_JWT_SECRET', text, null as string | null);
  const supabaseUrl = read('SUPABASE_URL', (raw) => parsePublicUrl(raw, ['http', 'https']).replace(/\/+$/, ''), null as string | null);
  const supabase = { name: 'supabase', issuer: supabaseUrl ? `${supabaseUrl}/auth/v1` : null, audience: 'authenticated', requireExp: true, clockToleranceS: 30 };
  // Supabase requires a `sub` (anon and service keys have none); the username is the email.
  const supabaseClaims = { userIdClaims: ['sub'], usernameClaims: ['email', 'phone', 'sub'] };
  if (supabaseSecret) {
    issuers.push({ ...supabase, ...supabaseClaims, kind: 'secret', algorithms: ['HS256'], secret: checkSecret('SUPABASE_JWT_SECRET', supabaseSecret) });
  } else if (supabaseUrl) {
    // Projects on asymmetric signing keys publish them; no secret needed.
    issuers.push({ ...supabase, ...supabaseClaims, kind: 'jwks', algorithms: ['ES256', 'RS256'], jwksUrl: `${supabaseUrl}/auth/v1/.well-known/jwks.json` });
  }
  const names = issuers.map((issuer) => issuer.name);
  const twice = names.find((name, i) => names.indexOf(name) !== i);
  if (twice) throw new ConfigError(`two external issuers are named "${twice}"; names must be unique`);
  return issuers;
}
