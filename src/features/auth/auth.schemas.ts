import { Type, type Static } from 'typebox';
import { USERNAME_MAX, USERNAME_MIN, USERNAME_PATTERN } from '../users/usernames.js';
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
    username: Type.Optional(
      Type.String({
        minLength: USERNAME_MIN,
        maxLength: USERNAME_MAX,
        pattern: USERNAME_PATTERN,
        description: `${USERNAME_MIN}–${USERNAME_MAX} letters, digits, "_", "." or "-"; unique regardless of case. Without it, one is made from the email (dana@… → "dana", or "dana-2" when taken).`,
      }),
    ),
    password: Password,
    email: Type.Optional(
      Type.Union([Type.String({ format: 'email', maxLength: 254, description: 'Unique among accounts regardless of case' }), Type.Null()]),
    ),
  },
  { additionalProperties: false, description: 'Give a `username`, an `email`, or both.' },
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

export const ChangePasswordBody = Type.Object(
  {
    current_password: AnyPassword,
    new_password: Password,
  },
  { additionalProperties: false },
);
export type ChangePasswordBody = Static<typeof ChangePasswordBody>;

export const RefreshBody = Type.Object({ refresh_token: Type.String({ minLength: 1, maxLength: 512 }) }, { additionalProperties: false });
export type RefreshBody = Static<typeof RefreshBody>;

export const LogoutBody = Type.Object(
  {
    everywhere: Type.Optional(Type.Boolean({ description: 'true: every session of the account ends, not only this one (a device lost or left signed in)' })),
  },
  { additionalProperties: false },
);
export type LogoutBody = Static<typeof LogoutBody>;

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
