import { Type, type Static } from 'typebox';
import { CursorQuery, LimitQuery, pageOf } from '../../http/pagination.js';
import { UserSchema } from '../users/users.schemas.js';

export const ListUsersQuery = Type.Object(
  {
    // As long as the longest stored value (an email: 254), so a whole one finds its user; empty is no search.
    q: Type.Optional(Type.String({ maxLength: 254, description: 'Part of a username or email (empty: every user)' })),
    limit: LimitQuery,
    cursor: Type.Optional(CursorQuery),
  },
  { additionalProperties: false },
);

const RoleClaimSchema = Type.Object(
  {
    claim: Type.String({ description: 'The token claim read' }),
    admin_values: Type.Array(Type.String(), { description: 'Any of these in the claim (a string or a list) makes the request an admin\'s' }),
  },
  { title: 'RoleClaim' },
);

/** A user as admins see them: with every way they may be an admin. */
export const AdminUserSchema = Type.Object(
  {
    ...UserSchema.properties,
    role: Type.Union([Type.Literal('user'), Type.Literal('admin')], {
      description: 'The role every request of this user acts with: the stored one (`parley users promote`, PATCH here), or admin through ADMIN_USERNAMES. An external user may also act as an admin through `role_claim`.',
    }),
    role_claim: Type.Union([RoleClaimSchema, Type.Null()], {
      description:
        'How this external user may be an admin besides `role`: their issuer maps a role claim, and every request whose token carries one of its admin values acts as an admin\'s. Tokens are not stored, so whether theirs carries one is known only to their requests; null when no claim can make them an admin.',
    }),
  },
  { title: 'AdminUser' },
);
export type AdminUser = Static<typeof AdminUserSchema>;

/** Stats take no parameters; one sent is refused as on every other route, not ignored. */
export const StatsQuery = Type.Object({}, { additionalProperties: false });

export const UserPage = pageOf(AdminUserSchema, 'UserPage');

export const UpdateUserBody = Type.Object(
  {
    role: Type.Optional(Type.Union([Type.Literal('user'), Type.Literal('admin')])),
    is_active: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false, minProperties: 1, title: 'UserChanges' },
);

export const StatsSchema = Type.Object(
  {
    users: Type.Integer({ description: 'Accounts, local and external, active or not' }),
    chatbots: Type.Integer({ description: 'Chatbots that exist now' }),
    conversations: Type.Integer({ description: 'Conversations stored now, on every channel (deleted ones not counted)' }),
    messages: Type.Integer({
      description:
        'Messages stored now, of both roles (a user\'s message and the reply to it are two), failed replies included. Conversations deleted or cleared take theirs away, and API-key completions store none: for how many replies the models gave, see `replies`.',
    }),
    replies: Type.Integer({
      description:
        'Model replies counted as GET /v1/usage counts its `messages`, summed over every account: every channel, API-key completions and conversations deleted since included, failed replies not; a chatbot\'s deletion takes its replies away, as its tokens.',
    }),
    tokens: Type.Object(
      { prompt: Type.Integer({ description: 'Tokens sent to models' }), completion: Type.Integer({ description: 'Tokens received' }) },
      { description: 'What the existing chatbots spent on every channel, as GET /v1/usage counts it' },
    ),
  },
  { title: 'Stats' },
);
