// `parley token`: mints a JWT as a configured external HS256 issuer would (like the seeds'
// test_token.py), to try Parley as a user of that system.
import { parseArgs } from 'node:util';
import { SignJWT } from 'jose';
import { USAGE } from './cli-usage.js';
import { loadConfig, type Env } from './config/config.js';
import { ConfigValueError, parseDuration } from './config/parsers.js';

export const TOKEN_USAGE = USAGE.token;

/** The parser's own message named no option: `parley: a duration such as 30s, 15m, 12h or 30d`. */
function expiresIn(raw: string): number {
  try {
    return parseDuration(raw);
  } catch (error) {
    if (!(error instanceof ConfigValueError)) throw error;
    throw new Error(`--expires must be ${error.message}, or none (got "${raw.slice(0, 40)}")\nusage: ${TOKEN_USAGE}`);
  }
}

export async function mintToken(argv: string[], env: Env): Promise<string> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        'user-id': { type: 'string' },
        username: { type: 'string' },
        issuer: { type: 'string' },
        expires: { type: 'string', default: '24h' },
      },
      strict: true,
    }));
  } catch (error) {
    throw new Error(`${(error as Error).message.replace(/\. To specify a positional argument.*$/s, '')}\nusage: ${TOKEN_USAGE}`);
  }
  const userId = values['user-id'];
  const username = values.username;
  if (!userId || !username) throw new Error(`--user-id and --username are required\nusage: ${TOKEN_USAGE}`);
  const lifetimeMs = values.expires === 'none' ? null : expiresIn(values.expires!);
  // Only an issuer whose secret Parley holds can be imitated.
  const issuers = loadConfig(env).externalIssuers.filter((issuer) => issuer.kind === 'secret');
  if (issuers.length === 0) throw new Error('no shared-secret issuer is configured: set EXTERNAL_JWT_SECRET (or SUPABASE_JWT_SECRET)');
  const found = values.issuer ? issuers.find((candidate) => candidate.name === values.issuer) : issuers[0];
  if (!found || found.kind !== 'secret') throw new Error(`no issuer named "${values.issuer}"; configured: ${issuers.map((i) => i.name).join(', ')}`);

  const issuer = found;
  const claims: Record<string, unknown> = { user_id: userId, username };
  if (issuer.name === 'supabase') Object.assign(claims, { sub: userId, email: username, role: 'authenticated' });
  const jwt = new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setIssuedAt();
  if (issuer.issuer) jwt.setIssuer(issuer.issuer);
  if (issuer.audience) jwt.setAudience(issuer.audience);
  if (lifetimeMs !== null) jwt.setExpirationTime(Math.floor(Date.now() / 1000) + Math.floor(lifetimeMs / 1000));
  return jwt.sign(new TextEncoder().encode(issuer.secret));
}
