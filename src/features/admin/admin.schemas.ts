import { Type } from 'typebox';
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

export const UserPage = pageOf(UserSchema, 'UserPage');

export const UpdateUserBody = Type.Object(
  {
    role: Type.Optional(Type.Union([Type.Literal('user'), Type.Literal('admin')])),
    is_active: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false, minProperties: 1, title: 'UserChanges' },
);

export const StatsSchema = Type.Object(
  {
    users: Type.Integer(),
    chatbots: Type.Integer(),
    conversations: Type.Integer(),
    messages: Type.Integer(),
    tokens: Type.Object(
      { prompt: Type.Integer({ description: 'Tokens sent to models' }), completion: Type.Integer({ description: 'Tokens received' }) },
      { description: 'What the existing chatbots spent on every channel, as GET /v1/usage counts it' },
    ),
  },
  { title: 'Stats' },
);
