import { Type, type Static } from 'typebox';
import type { UserRow } from '../../db/schema.js';

export const UserSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    username: Type.String(),
    email: Type.Union([Type.String(), Type.Null()]),
    role: Type.Union([Type.Literal('user'), Type.Literal('admin')]),
    is_active: Type.Boolean(),
    issuer: Type.Union([Type.String(), Type.Null()], { description: 'The external issuer for users who sign in with another system\'s JWT; null for local accounts.' }),
    created_at: Type.String({ format: 'date-time' }),
  },
  { title: 'User' },
);
export type User = Static<typeof UserSchema>;

export function toUser(row: UserRow): User {
  return {
    id: row.id,
    username: row.username,
    email: row.email,
    role: row.role,
    is_active: row.isActive,
    issuer: row.issuer,
    created_at: row.createdAt.toISOString(),
  };
}
