// Waiting assertions on Playwright locators for vitest (playwright-core ships no `expect`): each
// polls until the page shows what is expected, or fails with the last value seen.
import type { Locator } from 'playwright-core';
import { expect } from 'vitest';

export function see(locator: Locator, timeout = 10_000) {
  const poll = <T>(read: () => Promise<T>) => expect.poll(read, { timeout });
  return {
    /** Every matching element's text, in order. */
    texts: (expected: string[]) => poll(() => locator.allTextContents()).toEqual(expected),
    /** The first matching element's text contains this (or matches this expression). */
    contains: (part: string | RegExp) => poll(async () => (await locator.first().textContent()) ?? '').toMatch(part),
    visible: () => poll(() => locator.first().isVisible()).toBe(true),
    hidden: () => poll(() => locator.first().isHidden()).toBe(true),
    focused: () => poll(() => locator.first().evaluate((element) => (element.getRootNode() as unknown as { activeElement: unknown }).activeElement === element)).toBe(true),
    attribute: (name: string, value: string | null) => poll(() => locator.first().getAttribute(name)).toBe(value),
    value: (value: string) => poll(() => locator.first().inputValue()).toBe(value),
    disabled: () => poll(() => locator.first().isDisabled()).toBe(true),
    count: (n: number) => poll(() => locator.count()).toBe(n),
  };
}
