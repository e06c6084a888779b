import { Type } from 'typebox';
import { AppError } from '../errors/app-error.js';
import { isUuid } from '../lib/ids.js';

/** Path ids are matched loosely here and checked by `resourceId`, so a malformed id is a plain 404. */
export const IdParams = Type.Object({ id: Type.String({ maxLength: 100 }) });

export function resourceId(value: string, what: string): string {
  if (!isUuid(value)) throw new AppError('not_found', `No ${what} with this id`);
  return value.toLowerCase();
}
