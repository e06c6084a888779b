// A key set's address with a user name and password (https://user:password@host/jwks) was taken
// at start, then every fetch of it failed — fetch refuses a URL that carries credentials — and
// the failure, the whole URL in its words, went to the server's log and to `parley doctor`, the
// password with it. Such an address is now refused at start, naming the variable, without the
// password: a key set is public, and one behind basic auth cannot be fetched.
import { describe, expect, it } from 'vitest';
import { configError } from '../helpers/config-error.js';

describe('a key set address carrying a user name or password', () => {
  it.each(['EXTERNAL_JWKS_URL', 'SUPABASE_URL'])('%s is refused at start, without the password', (variable) => {
    const error = configError({ [variable]: 'https://keys-user:Kq7sV9-not-for-print@keys.example/jwks' });
    expect(error.message).toContain(variable);
    expect(error.message).toMatch(/user name or password/);
    expect(error.message).not.toContain('Kq7sV9-not-for-print');
  });
});
