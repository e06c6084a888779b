import { Type } from 'typebox';
import { CursorQuery, LimitQuery, pageOf } from '../../http/pagination.js';

export const CreateKeyBody = Type.Object(
  { name: Type.Optional(Type.String({ maxLength: 100, description: 'A label for you: which server uses the key' })) },
  { additionalProperties: false, title: 'NewApiKey' },
);

const keyFields = {
  id: Type.String({ format: 'uuid' }),
  chatbot_id: Type.String({ format: 'uuid' }),
  name: Type.Union([Type.String(), Type.Null()]),
  prefix: Type.String({ description: 'The first 14 characters of the key, to recognise it by' }),
  created_at: Type.String({ format: 'date-time' }),
  last_used_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'Written at most every 30 s, not on every call' }),
};

export const ApiKeySchema = Type.Object(keyFields, { title: 'ApiKey' });
export const CreatedKeySchema = Type.Object(
  { ...keyFields, key: Type.String({ description: 'The key itself: shown this once, stored only as a hash' }) },
  { title: 'CreatedApiKey' },
);
export const KeyPage = pageOf(ApiKeySchema, 'ApiKeyPage');
export const ListKeysQuery = Type.Object({ limit: LimitQuery, cursor: Type.Optional(CursorQuery) }, { additionalProperties: false });
export const KeyParams = Type.Object({ id: Type.String({ maxLength: 100 }), key_id: Type.String({ maxLength: 100 }) });
