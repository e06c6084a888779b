// Visitor tokens (§7): issued and signed by this server for one visitor of one public chatbot.
// They are their own kind of token — another `typ`, another audience, and a key derived for
// them alone — so a visitor token is never accepted where a user's access token is, nor the
// reverse, even by a verifier that forgot to look at the audience.
import { createHmac, randomBytes } from 'node:crypto';
import { decodeProtectedHeader, errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import { AppError } from '../../errors/app-error.js';
import type { Clock } from '../../lib/clock.js';
import { isUuid } from '../../lib/ids.js';
import { ACCESS_TOKEN_ISSUER } from '../auth/tokens.js';
import type { AccountStanding } from './account-standing.js';

export const VISITOR_TOKEN_AUDIENCE = 'parley-visitor';
const VISITOR_TOKEN_TYP = 'vt+jwt';
/** How long a visitor token lives; every new conversation (a visitor coming back) renews it. */
export const VISITOR_TOKEN_TTL_MS = 30 * 24 * 3_600_000;

const VERIFIED_CACHE = 10_000;
const CLOCK_TOLERANCE_S = 5;

export interface VisitorClaims {
  /** The visitor's server-chosen id (128 random bits). */
  visitor: string;
  chatbotId: string;
  /** The chatbot's owner: the tenant of the visitor's rows. */
  ownerId: string;
  /** A host site's signed-in user whose visit this is (`uid`); absent for an anonymous visitor. */
  verifiedUser?: string;
}

export interface VisitorTokens {
  sign(claims: VisitorClaims): Promise<{ token: string; expiresAt: Date }>;
  verify(token: string): Promise<VisitorClaims>;
}

const VISITOR_ID = /^v_[A-Za-z0-9_-]{22}$/;

/** A new visitor's id: 128 bits from the server's random source, never from the client. */
export const newVisitorId = (): string => `v_${randomBytes(16).toString('base64url')}`;

export const isVisitorId = (value: unknown): value is string => typeof value === 'string' && VISITOR_ID.test(value);

/** Whether a bearer token says it is a visitor token (its header, unverified): which verifier to ask. */
export function looksLikeVisitorToken(token: string): boolean {
  try {
    return decodeProtectedHeader(token).typ === VISITOR_TOKEN_TYP;
  } catch {
    return false;
  }
}

export const invalidVisitorToken = (detail = 'The visitor token is not valid') => new AppError('invalid_token', detail);

/** The claims of a verified token, the verified user's only when `uid` is a well-formed id. */
function claimsOf(payload: Record<string, unknown>): VisitorClaims {
  const { sub, cid, oid, uid } = payload;
  if (payload.typ !== 'visitor' || !isVisitorId(sub) || typeof cid !== 'string' || !isUuid(cid) || typeof oid !== 'string' || !isUuid(oid)) {
    throw invalidVisitorToken();
  }
  if (uid === undefined) return { visitor: sub, chatbotId: cid, ownerId: oid };
  if (typeof uid !== 'string' || !isUuid(uid)) throw invalidVisitorToken();
  return { visitor: sub, chatbotId: cid, ownerId: oid, verifiedUser: uid };
}

/**
 * `standing`: a verified visit's token opens nothing once its user is deactivated (tokens issued
 * before they carried `uid` are not asked about; they lapse within VISITOR_TOKEN_TTL_MS).
 */
export function createVisitorTokens(options: { secret: string; clock: Clock; ttlMs?: number; standing?: AccountStanding }): VisitorTokens {
  const key = createHmac('sha256', options.secret).update('parley visitor tokens v1').digest();
  const ttlS = Math.floor((options.ttlMs ?? VISITOR_TOKEN_TTL_MS) / 1000);
  // As for access tokens: a token verified in full is accepted again until its expiry without
  // another HMAC (keyed by the whole token, signature included).
  const verified = new Map<string, VisitorClaims & { exp: number }>();

  async function verifySignature(token: string): Promise<VisitorClaims> {
    const known = verified.get(token);
    if (known) {
      if (options.clock.now().getTime() / 1000 <= known.exp + CLOCK_TOLERANCE_S) {
        const { exp: _exp, ...claims } = known;
        return claims;
      }
      verified.delete(token);
    }
    try {
      const { payload } = await jwtVerify(token, key, {
        algorithms: ['HS256'],
        issuer: ACCESS_TOKEN_ISSUER,
        audience: VISITOR_TOKEN_AUDIENCE,
        typ: VISITOR_TOKEN_TYP,
        requiredClaims: ['sub', 'cid', 'oid', 'exp', 'iat'],
        currentDate: options.clock.now(),
        clockTolerance: CLOCK_TOLERANCE_S,
      });
      const claims = claimsOf(payload);
      if (verified.size >= VERIFIED_CACHE) verified.clear();
      verified.set(token, { ...claims, exp: payload.exp! });
      return claims;
    } catch (error) {
      if (error instanceof AppError) throw error;
      throw invalidVisitorToken(error instanceof joseErrors.JWTExpired ? 'The visitor token has expired; start a new conversation' : undefined);
    }
  }

  return {
    async sign(claims) {
      const now = Math.floor(options.clock.now().getTime() / 1000);
      const token = await new SignJWT({ typ: 'visitor', cid: claims.chatbotId, oid: claims.ownerId, ...(claims.verifiedUser ? { uid: claims.verifiedUser } : {}) })
        .setProtectedHeader({ alg: 'HS256', typ: VISITOR_TOKEN_TYP })
        .setIssuer(ACCESS_TOKEN_ISSUER)
        .setAudience(VISITOR_TOKEN_AUDIENCE)
        .setSubject(claims.visitor)
        .setIssuedAt(now)
        .setExpirationTime(now + ttlS)
        .sign(key);
      return { token, expiresAt: new Date((now + ttlS) * 1000) };
    },
    async verify(token) {
      const claims = await verifySignature(token);
      if (claims.verifiedUser && options.standing && !(await options.standing.isActive(claims.verifiedUser))) {
        throw invalidVisitorToken('This account is deactivated');
      }
      return claims;
    },
  };
}
