// Keyset pagination on the wire (§2): `?limit=` 1–100 (default 20), an opaque `?cursor=`, and
// the page shape `{data, next_cursor}`. The cursor logic itself is in lib/pages.ts.
import { Type, type TSchema } from 'typebox';

export const LimitQuery = Type.Integer({ minimum: 1, maximum: 100, default: 20, description: 'Page size (1–100)' });
export const CursorQuery = Type.String({ minLength: 1, maxLength: 200, description: 'Opaque cursor from `next_cursor`' });

export const pageOf = <T extends TSchema>(item: T, title: string) =>
  Type.Object({ data: Type.Array(item), next_cursor: Type.Union([Type.String(), Type.Null()]) }, { title });
