// The benchmark's repeated figures: the median with the min-max spread of the repeats.
import { describe, expect, it } from 'vitest';
import { spread } from '../src/bench/types.js';

describe('bench figures from repeats', () => {
  it('median, min and max of the repeats; a single run has no spread', () => {
    expect(spread('x.fps', [12.34, 9.87, 11.11], 'fps')).toEqual({
      name: 'x.fps',
      value: 11.1,
      unit: 'fps',
      min: 9.9,
      max: 12.3,
      repeats: 3,
    });
    // Even count: the mean of the middle two; the rounding is the caller's.
    expect(spread('r', [0.5, 0.2, 0.4, 0.3], 'fraction', (v) => Math.round(v * 100) / 100)).toMatchObject({
      value: 0.35,
      min: 0.2,
      max: 0.5,
      repeats: 4,
    });
    expect(spread('one', [7.25], 'ms')).toEqual({ name: 'one', value: 7.3, unit: 'ms' });
  });
});
