// The gate that stores the replies of clients who left: a few per loop turn, and, with `settle`,
// only once a burst of clients leaving is over (their upstream calls are closed first).
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createLoopGate } from '../../src/lib/loop-gate.js';

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'setImmediate', 'performance'] });
});
afterEach(() => {
  vi.useRealTimers();
});

/** Calls the gate `count` times, `everyMs` apart, and records when each caller got through. */
async function arrivals(gate: () => Promise<void>, count: number, everyMs: number) {
  const through: number[] = [];
  for (let i = 0; i < count; i++) {
    void gate().then(() => through.push(performance.now()));
    if (everyMs > 0) await vi.advanceTimersByTimeAsync(everyMs);
  }
  return through;
}

describe('the loop gate', () => {
  it('lets through at most its number per loop turn, in arrival order', async () => {
    const gate = createLoopGate(16);
    const order: number[] = [];
    for (let i = 0; i < 40; i++) void gate().then(() => order.push(i));
    await vi.advanceTimersToNextTimerAsync();
    expect(order).toHaveLength(16);
    await vi.advanceTimersToNextTimerAsync();
    expect(order).toHaveLength(32);
    await vi.advanceTimersToNextTimerAsync();
    expect(order).toEqual([...Array(40).keys()]);
  });

  it('with settle, holds everyone until nobody has arrived for the quiet time', async () => {
    const gate = createLoopGate(16, { quietMs: 50, maxWaitMs: 1000 });
    const through = await arrivals(gate, 30, 10);
    const lastArrival = performance.now() - 10;
    expect(through).toEqual([]);
    await vi.advanceTimersByTimeAsync(100);
    expect(through).toHaveLength(30);
    expect(Math.min(...through)).toBeGreaterThanOrEqual(lastArrival + 50);
  });

  it('with settle, lets nobody wait beyond the longest wait while arrivals never stop', async () => {
    const gate = createLoopGate(16, { quietMs: 50, maxWaitMs: 1000 });
    const start = performance.now();
    const through = await arrivals(gate, 300, 10);
    // 3 s of arrivals 10 ms apart, never quiet: each is let through about a second after it came.
    expect(through.length).toBeGreaterThan(150);
    expect(Math.min(...through)).toBeGreaterThanOrEqual(start + 1000);
    expect(Math.min(...through)).toBeLessThan(start + 1100);
  });

  it('with settle, lets a lone caller through after the quiet time', async () => {
    const gate = createLoopGate(16, { quietMs: 50, maxWaitMs: 1000 });
    const through = await arrivals(gate, 1, 0);
    await vi.advanceTimersByTimeAsync(49);
    expect(through).toEqual([]);
    await vi.advanceTimersByTimeAsync(2);
    expect(through).toHaveLength(1);
  });
});
