// LLM_MAX_DURATION_MS: the longest one model call may take, whatever arrives (LLM_TIMEOUT_MS only
// bounds the wait between pieces of progress). Validated with one line naming the variables.
import { describe, expect, it } from 'vitest';
import { loadConfig, type Env } from '../../src/config/config.js';
import { configError } from '../helpers/config-error.js';

const llm = (env: Env) => loadConfig(env).llm;


describe('LLM_MAX_DURATION_MS', () => {
  it('defaults to 10 minutes, the longest LLM_TIMEOUT_MS allowed, so either can be raised alone', () => {
    expect(llm({})).toMatchObject({ maxDurationMs: 600_000 });
    expect(llm({ LLM_TIMEOUT_MS: '600000' })).toMatchObject({ timeoutMs: 600_000, maxDurationMs: 600_000 });
  });

  it('reads milliseconds', () => {
    expect(llm({ LLM_MAX_DURATION_MS: '1800000' })).toMatchObject({ maxDurationMs: 1_800_000 });
  });

  it.each(['soon', '10m', '0', '999', '3600001'])('refuses %j, naming the variable', (value) => {
    const error = configError({ LLM_MAX_DURATION_MS: value });
    expect(error.message).toContain('LLM_MAX_DURATION_MS');
    expect(error.message).not.toContain('\n');
  });

  it('refuses a duration shorter than LLM_TIMEOUT_MS, naming both', () => {
    const error = configError({ LLM_TIMEOUT_MS: '120000', LLM_MAX_DURATION_MS: '60000' });
    expect(error.message).toMatch(/LLM_MAX_DURATION_MS.*LLM_TIMEOUT_MS/);
  });
});
