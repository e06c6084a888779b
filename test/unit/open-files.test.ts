// The open-file limit as /proc tells it, and the turns it leaves room for (MAX_CONCURRENT_TURNS=auto).
import { describe, expect, it } from 'vitest';
import { openFileCount, openFileLimit, parseOpenFileLimit, turnsWithRoom } from '../../src/lib/open-files.js';

const limits = (soft: string, hard: string) => `Limit                     Soft Limit           Hard Limit           Units\nMax open files            ${soft.padEnd(20)} ${hard.padEnd(20)} files\n`;

describe('the open-file limit', () => {
  it('is the soft limit of /proc/<pid>/limits, unlimited or absent', () => {
    expect(parseOpenFileLimit(limits('1024', '524288'))).toBe(1024);
    expect(parseOpenFileLimit(limits('unlimited', 'unlimited'))).toBe(Number.POSITIVE_INFINITY);
    expect(parseOpenFileLimit('Max processes 100 100 processes\n')).toBeNull();
  });

  it('is read, and the files open counted, for this very process on Linux', () => {
    if (process.platform !== 'linux') return;
    const before = openFileCount()!;
    expect(openFileLimit()).toBeGreaterThan(before);
    expect(before).toBeGreaterThan(2);
  });
});

describe('turns with room', () => {
  it('gives each turn two descriptors after what is open, what opens later and a spare 128', () => {
    expect(turnsWithRoom(1024, 80, 256)).toEqual({ turns: 280, limit: 1024, open: 80 });
    expect(turnsWithRoom(65_536, 30, 10)).toMatchObject({ turns: 32_684 });
  });

  it('leaves one turn under a limit with no room, and no cap where the limit is unknown or unlimited', () => {
    expect(turnsWithRoom(256, 200, 256).turns).toBe(1);
    expect(turnsWithRoom(null, 80, 10).turns).toBeNull();
    expect(turnsWithRoom(Number.POSITIVE_INFINITY, 80, 10).turns).toBeNull();
    expect(turnsWithRoom(1024, null, 10).turns).toBeNull();
  });
});
