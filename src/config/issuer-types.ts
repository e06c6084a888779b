// The shapes of an external issuer, apart from the loaders that build them: the env loader
// calls the file loader, and the file loader needs these, so they sit below both.

/** The `iss` of Parley's own access tokens: no external issuer may claim it (its tokens would all be refused as forged ones of Parley's). */
export const PARLEY_TOKEN_ISSUER = 'parley';
export const OWN_ISSUER_REFUSED = `the issuer's own iss, not "${PARLEY_TOKEN_ISSUER}", which Parley's own access tokens carry (its tokens would all be refused)`;

export const JWKS_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'ES256', 'ES384', 'EdDSA'] as const;

/** What a JWKS issuer accepts when its configuration names no algorithms. */
export const DEFAULT_JWKS_ALGORITHMS: readonly string[] = ['RS256', 'ES256', 'EdDSA'];

interface IssuerBase {
  /** Stored with each user it creates: users are unique per (issuer name, external id). */
  name: string;
  /** The `iss` a token must carry; null accepts tokens without one (tried in configuration order). */
  issuer: string | null;
  audience: string | null;
  requireExp: boolean;
  clockToleranceS: number;
  /** Claims tried in order for the user id and the username (defaults: user_id, sub / username, preferred_username, email). */
  userIdClaims?: string[];
  usernameClaims?: string[];
  /** A claim whose value (or one of whose values) in `adminValues` makes the user an admin. */
  roleClaim?: { claim: string; adminValues: string[] };
}

/** A shared secret (HS256), as the seeds' main system and Supabase's legacy keys use. */
export interface SecretIssuer extends IssuerBase {
  kind: 'secret';
  algorithms: ['HS256'];
  secret: string;
}

/** Public keys from a remote JWK set (Auth0, Keycloak, any OIDC provider); algorithms pinned. */
export interface JwksIssuer extends IssuerBase {
  kind: 'jwks';
  algorithms: string[];
  jwksUrl: string;
}

export type ExternalIssuer = SecretIssuer | JwksIssuer;
