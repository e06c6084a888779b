// The model host's shared lookup (src/llm/host-lookup.ts) against a resolver that answers when
// told to: what it keeps, for how long, and what it never keeps.
import type { LookupAddress, LookupOptions } from 'node:dns';
import { describe, expect, it } from 'vitest';
import { sharedLookup } from '../../src/llm/host-lookup.js';

type Answer = (error: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void;

function resolver() {
  const asked: Array<{ hostname: string; options: LookupOptions; answer: Answer }> = [];
  return { asked, resolve: (hostname: string, options: LookupOptions, answer: Answer) => void asked.push({ hostname, options, answer }) };
}

const lookUp = (lookup: ReturnType<typeof sharedLookup>, hostname: string, options: LookupOptions) =>
  new Promise<{ error: NodeJS.ErrnoException | null; address: unknown; family?: number }>((resolve) => lookup(hostname, options, (error, address, family) => resolve({ error, address, family })));

const V4: LookupAddress[] = [
  { address: '203.0.113.7', family: 4 },
  { address: '203.0.113.8', family: 4 },
];

describe('the shared lookup of the model host', () => {
  it('asks once for lookups made while one is under way, and answers each in the form it asked for', async () => {
    const { asked, resolve } = resolver();
    const lookup = sharedLookup({ resolve });
    const every = lookUp(lookup, 'api.example.test', { all: true });
    const first = lookUp(lookup, 'api.example.test', {});
    expect(asked).toHaveLength(1);
    expect(asked[0]!.options).toEqual({ all: true });
    asked[0]!.answer(null, V4);
    expect(await every).toEqual({ error: null, address: V4, family: undefined });
    expect(await first).toEqual({ error: null, address: '203.0.113.7', family: 4 });
  });

  it('keeps an answer for its time, then asks again; a name or a family of its own is asked apart', async () => {
    let clock = 0;
    const { asked, resolve } = resolver();
    const lookup = sharedLookup({ resolve, ttlMs: 1_000, now: () => clock });
    const answered = lookUp(lookup, 'api.example.test', { all: true });
    asked[0]!.answer(null, V4);
    await answered;
    clock = 999;
    expect((await lookUp(lookup, 'api.example.test', { all: true })).address).toEqual(V4);
    expect(asked).toHaveLength(1);
    void lookUp(lookup, 'api.example.test', { all: true, family: 6 });
    void lookUp(lookup, 'other.example.test', { all: true });
    expect(asked.map((a) => [a.hostname, a.options.family])).toEqual([
      ['api.example.test', undefined],
      ['api.example.test', 6],
      ['other.example.test', undefined],
    ]);
    clock = 1_000;
    void lookUp(lookup, 'api.example.test', { all: true });
    expect(asked).toHaveLength(4);
  });

  it('never keeps a failure: every waiting lookup gets it, and the next one asks again', async () => {
    const { asked, resolve } = resolver();
    const lookup = sharedLookup({ resolve });
    const waiting = [lookUp(lookup, 'api.example.test', { all: true }), lookUp(lookup, 'api.example.test', {})];
    asked[0]!.answer(Object.assign(new Error('getaddrinfo EAI_AGAIN api.example.test'), { code: 'EAI_AGAIN' }), []);
    for (const result of await Promise.all(waiting)) expect(result.error?.code).toBe('EAI_AGAIN');
    const again = lookUp(lookup, 'api.example.test', {});
    expect(asked).toHaveLength(2);
    // An empty answer is a failure too, not an address to connect to.
    asked[1]!.answer(null, []);
    expect((await again).error?.code).toBe('ENOTFOUND');
    void lookUp(lookup, 'api.example.test', {});
    expect(asked).toHaveLength(3);
  });
});
