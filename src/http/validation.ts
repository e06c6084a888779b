import { Ajv, type ErrorObject, type Options, type ValidateFunction } from 'ajv';
import * as ajvFormats from 'ajv-formats';
import type { FormatsPlugin } from 'ajv-formats';
import type { FastifySchemaCompiler } from 'fastify';
import { unstorableText } from '../lib/text.js';

// ajv-formats is CommonJS; under ESM its plugin is the module's default export.
const addFormats = (ajvFormats as unknown as { default: FormatsPlugin }).default;

const common: Options = { allErrors: true, removeAdditional: false, useDefaults: true, strict: false };

/** Where a string of a body or query cannot be stored as sent (unstorableText): refused here, before any work. */
function textFault(value: unknown, path: string, depth = 0): ErrorObject | null {
  if (typeof value === 'string') {
    const why = unstorableText(value);
    return why ? fault(path, why) : null;
  }
  // Schemas bound nesting long before this; the bound only keeps a hostile body from the stack.
  if (value === null || typeof value !== 'object' || depth > 64) return null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = textFault(value[i], `${path}/${i}`, depth + 1);
      if (found) return found;
    }
    return null;
  }
  for (const [key, item] of Object.entries(value)) {
    const keyFault = textFault(key, `${path}/${key}`, depth + 1);
    if (keyFault) return keyFault;
    const found = textFault(item, `${path}/${key.replaceAll('~', '~0').replaceAll('/', '~1')}`, depth + 1);
    if (found) return found;
  }
  return null;
}

function fault(instancePath: string, message: string): ErrorObject {
  return { instancePath, keyword: 'text', params: {}, message, schemaPath: '#' };
}

type Checked = ((data: unknown) => boolean) & { errors?: ErrorObject[] | null };

/** Ajv's validation plus the text rule, reporting errors the way Fastify reads Ajv's. */
function withTextRule(validate: ValidateFunction): Checked {
  const checked: Checked = (value) => {
    const found = textFault(value, '');
    if (found) {
      checked.errors = [found];
      return false;
    }
    if (!validate(value)) {
      checked.errors = validate.errors;
      return false;
    }
    checked.errors = null;
    return true;
  };
  return checked;
}

/**
 * Bodies are validated as sent: no type coercion ("123" is not a number) and unknown fields
 * are refused by the schemas. Query strings and params arrive as text, so they are coerced.
 */
export function createValidatorCompiler(): FastifySchemaCompiler<unknown> {
  const bodyAjv = new Ajv({ ...common, coerceTypes: false });
  const textAjv = new Ajv({ ...common, coerceTypes: 'array' });
  for (const ajv of [bodyAjv, textAjv]) addFormats(ajv);
  return ({ schema, httpPart }) => {
    const ajv = httpPart === 'body' ? bodyAjv : textAjv;
    // Path ids that are not ids answer 404 like any unknown id, so the text rule is for bodies and queries.
    const textRule = httpPart === 'body' || httpPart === 'querystring';
    return lazily(() => {
      const validate = ajv.compile(schema as object);
      return textRule ? withTextRule(validate) : validate;
    });
  };
}

/**
 * Compiling every route's schemas took most of start-up (0.45 s of Ajv, 0.2 s of
 * fast-json-stringify) and held code for routes an instance may never serve; each is compiled
 * on its first request instead. Schemas are the same objects every test runs through, so a
 * broken one still fails the suite, not a user.
 */
export function lazily(compile: () => Checked): Checked {
  let compiled: Checked | undefined;
  const checked: Checked = (value) => {
    compiled ??= compile();
    const valid = compiled(value);
    checked.errors = compiled.errors;
    return valid;
  };
  return checked;
}
