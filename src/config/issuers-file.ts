// AUTH_ISSUERS_FILE: several external issuers in one JSON file, each with its key, pinned
// algorithms, claim mapping and an optional role claim. Checked in full at start-up.
import { readFileSync } from 'node:fs';
import { Type, type Static, type TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import type { TLocalizedValidationError } from 'typebox/error';
import { ConfigError } from './errors.js';
import { DEFAULT_JWKS_ALGORITHMS, JWKS_ALGORITHMS, OWN_ISSUER_REFUSED, PARLEY_TOKEN_ISSUER, type ExternalIssuer } from './issuer-types.js';

// Each field carries the sentence that tells an operator what it takes (`must`): the schema's
// own messages ("must be boolean") name JSON types, not what the setting means.
const nonEmpty = (must?: string) => Type.String({ minLength: 1, ...(must && { must }) });
const orNull = <T extends TSchema>(schema: T, must: string) => Type.Union([schema, Type.Null()], { must });
const claimList = () => Type.Array(Type.String({ minLength: 1 }), { minItems: 1, must: 'be a non-empty list of strings' });

const NAME = /^[a-z0-9][a-z0-9_-]{0,39}$/;

const Issuer = Type.Object(
  {
    name: Type.String({ pattern: NAME.source, must: 'be 1–40 of a-z, 0-9, _ and -' }),
    secret: Type.Optional(orNull(nonEmpty(), 'be a string')),
    jwks_url: Type.Optional(orNull(Type.String({ pattern: '^https?://' }), 'be an http(s) URL')),
    algorithms: Type.Optional(
      Type.Array(Type.Union(JWKS_ALGORITHMS.map((alg) => Type.Literal(alg))), {
        minItems: 1,
        must: `be among ${JWKS_ALGORITHMS.join(', ')} (a non-empty list)`,
      }),
    ),
    issuer: Type.Optional(orNull(nonEmpty(), 'be a non-empty string or null')),
    audience: Type.Optional(orNull(nonEmpty(), 'be a non-empty string or null')),
    // Strictly a boolean: "false" or 0 read as false would quietly accept tokens that never expire.
    require_exp: Type.Optional(Type.Boolean({ must: 'be true or false' })),
    clock_tolerance_s: Type.Optional(Type.Integer({ minimum: 0, maximum: 600, must: 'be a whole number of seconds from 0 to 600' })),
    claims: Type.Optional(
      Type.Object({ user_id: Type.Optional(claimList()), username: Type.Optional(claimList()) }, { additionalProperties: false, must: 'be an object' }),
    ),
    role: Type.Optional(
      Type.Object(
        { claim: nonEmpty('be a non-empty string'), admin_values: claimList() },
        { additionalProperties: false, must: 'be an object with claim and admin_values' },
      ),
    ),
  },
  { additionalProperties: false, must: 'be an object' },
);
type FileIssuer = Static<typeof Issuer>;

const TOP_LEVEL = 'expected an array of issuers (or {"issuers": [...]})';
const issuerList = Type.Array(Issuer);
const wrappedList = Type.Object({ issuers: issuerList }, { additionalProperties: false });
const forms = {
  list: { schema: issuerList, validator: Compile(issuerList), pathStart: 1 },
  wrapped: { schema: wrappedList, validator: Compile(wrappedList), pathStart: 2 },
};
type Form = (typeof forms)[keyof typeof forms];

/** The message of the deepest schema on the error's path that has one. */
function mustOf(root: TSchema, schemaPath: string): string | undefined {
  let node: unknown = root;
  let must: string | undefined;
  for (const key of schemaPath.split('/').slice(1)) {
    node = (node as Record<string, unknown> | undefined)?.[key];
    const own = (node as { must?: unknown } | undefined)?.must;
    if (typeof own === 'string' && own !== '') must = own;
  }
  return must;
}

/** Issuers are named by their name when it is valid, so the operator finds the entry at once. */
function label(list: unknown, path: string[]): string {
  const [index, ...rest] = path;
  if (index === undefined) return '';
  const name = (Array.isArray(list) ? (list[Number(index)] as { name?: unknown } | null) : undefined)?.name;
  const who = typeof name === 'string' && NAME.test(name) ? name : `issuer ${Number(index) + 1}`;
  return [who, ...rest.filter((part) => !/^\d+$/.test(part))].join('.');
}

function firstProblem(errors: TLocalizedValidationError[], form: Form, list: unknown): string {
  const first = errors[0]!;
  const pathOf = (instancePath: string) => instancePath.split('/').slice(form.pathStart).map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'));
  // An unknown field shows up first as a `false` schema for that field; the parent's
  // additionalProperties error lists all of them, which is the more useful line. It also wins
  // over a missing field of the same object, which is most often the same field misspelt.
  const parentPath = first.schemaPath.endsWith('/additionalProperties') ? first.instancePath.replace(/\/[^/]*$/, '') : first.instancePath;
  const extra = errors.find((error) => error.keyword === 'additionalProperties' && error.instancePath === parentPath);
  if (extra) {
    const at = label(list, pathOf(extra.instancePath));
    const names = (extra.params as { additionalProperties: string[] }).additionalProperties;
    return `${at === '' ? 'the file' : at} has unknown fields: ${names.join(', ')}`;
  }
  const path = pathOf(first.instancePath);
  if (path.length === 0) return TOP_LEVEL;
  if (first.keyword === 'required') return `${label(list, path)}.${(first.params as { requiredProperties: string[] }).requiredProperties[0]} is required`;
  return `${label(list, path)} must ${mustOf(form.schema, first.schemaPath) ?? first.message.replace(/^must /, '')}`;
}

function toIssuer(raw: FileIssuer): ExternalIssuer {
  const { name } = raw;
  const base = {
    name,
    issuer: raw.issuer ?? null,
    audience: raw.audience ?? null,
    requireExp: raw.require_exp ?? true,
    clockToleranceS: raw.clock_tolerance_s ?? 30,
    userIdClaims: raw.claims?.user_id,
    usernameClaims: raw.claims?.username,
    roleClaim: raw.role && { claim: raw.role.claim, adminValues: raw.role.admin_values },
  };
  const secret = raw.secret ?? null;
  const jwksUrl = raw.jwks_url ?? null;
  if ((secret === null) === (jwksUrl === null)) throw new ConfigError(`AUTH_ISSUERS_FILE: ${name} needs exactly one of secret and jwks_url`);
  if (secret !== null) {
    // Counted in bytes, as HMAC sees the key, not in characters as a schema would.
    if (Buffer.byteLength(secret) < 16) throw new ConfigError(`AUTH_ISSUERS_FILE: ${name}.secret must be at least 16 bytes`);
    return { ...base, kind: 'secret', algorithms: ['HS256'], secret };
  }
  // Fetch refuses a URL with credentials, and its error, the URL whole, would carry the password to the logs.
  const url = URL.canParse(jwksUrl!) ? new URL(jwksUrl!) : null;
  if (url && (url.username || url.password)) throw new ConfigError(`AUTH_ISSUERS_FILE: ${name}.jwks_url must not carry a user name or password`);
  return { ...base, kind: 'jwks', algorithms: raw.algorithms ?? [...DEFAULT_JWKS_ALGORITHMS], jwksUrl: jwksUrl! };
}

export function loadIssuersFile(path: string): ExternalIssuer[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ConfigError(`AUTH_ISSUERS_FILE: cannot read ${path} as JSON (${(error as Error).message.slice(0, 120)})`);
  }
  const form = Array.isArray(parsed) ? forms.list : forms.wrapped;
  const list: unknown = Array.isArray(parsed) ? parsed : (parsed as { issuers?: unknown } | null)?.issuers;
  if (!form.validator.Check(parsed)) throw new ConfigError(`AUTH_ISSUERS_FILE: ${firstProblem(form.validator.Errors(parsed), form, list)}`);
  const names = (list as FileIssuer[]).map((issuer) => issuer.name);
  const twice = names.find((name, i) => names.indexOf(name) !== i);
  if (twice) throw new ConfigError(`AUTH_ISSUERS_FILE: two issuers are named "${twice}"; names must be unique`);
  const own = (list as FileIssuer[]).find((issuer) => issuer.issuer === PARLEY_TOKEN_ISSUER);
  if (own) throw new ConfigError(`AUTH_ISSUERS_FILE: ${own.name}.issuer must be ${OWN_ISSUER_REFUSED}`);
  return (list as FileIssuer[]).map(toIssuer);
}
