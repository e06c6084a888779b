import { Type, type Static } from 'typebox';
import { UserSchema } from '../users/users.schemas.js';

export const PASSWORD_MIN = 8;
export const PASSWORD_MAX = 256;

const Password = Type.String({
  minLength: PASSWORD_MIN,
  maxLength: PASSWORD_MAX,
  description: `${PASSWORD_MIN}–${PASSWORD_MAX} characters, used exactly as typed (no trimming)`,
});
// Sign-in accepts any stored password (imported accounts may predate the length rule) but
// still caps the length so an oversized one is refused before any hashing.
const AnyPassword = Type.String({ minLength: 1, maxLength: PASSWORD_MAX });
const Identifier = Type.String({ minLength: 1, maxLength: 254 });

export const RegisterBody = Type.Object(
  {
    username: Type.String({
      minLength: 3,
      maxLength: 32,
      pattern: '^[A-Za-z0-9_.-]+$',
      description: '3–32 letters, digits, "_", "." or "-"; unique regardless of case',
    }),
    password: Password,
    email: Type.Optional(Type.Union([Type.String({ format: 'email', maxLength: 254 }), Type.Null()])),
  },
  { additionalProperties: false },
);
export type RegisterBody = Static<typeof RegisterBody>;

export const LoginBody = Type.Object(
  {
    username: Type.Optional(Identifier),
    email: Type.Optional(Identifier),
    password: AnyPassword,
  },
  { additionalProperties: false, description: 'Give `username` or `email` (a username containing "@" is looked up as an email).' },
);
export type LoginBody = Static<typeof LoginBody>;

// OAuth2 clients send extra fields (client_id, scope); they are ignored.
export const TokenForm = Type.Object(
  {
    grant_type: Type.Optional(Type.String({ description: '`password` (default) or `refresh_token`' })),
    username: Type.Optional(Identifier),
    password: Type.Optional(AnyPassword),
    refresh_token: Type.Optional(Type.String({ maxLength: 512 })),
  },
  { additionalProperties: true },
);
export type TokenForm = Static<typeof TokenForm>;

export const RefreshBody = Type.Object({ refresh_token: Type.String({ minLength: 1, maxLength: 512 }) }, { additionalProperties: false });
export type RefreshBody = Static<typeof RefreshBody>;

export const LogoutBody = Type.Object({}, { additionalProperties: false });

export const TokenAnswerSchema = Type.Object(
  {
    access_token: Type.String(),
    token_type: Type.Literal('bearer'),
    expires_in: Type.Integer({ description: 'Seconds until the access token expires' }),
    refresh_token: Type.String({ description: 'Opaque; single use — each refresh returns a new one' }),
    user: UserSchema,
  },
  { title: 'TokenAnswer' },
);
