import { ConfigError, loadConfig, type Env } from '../../src/config/config.js';

/** The ConfigError that `env` causes (fails the test when there is none). */
export function configError(env: Env): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(env)}`);
}
