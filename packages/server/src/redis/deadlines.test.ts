import { describe, expect, it } from 'vitest';
import { Deadlines } from './deadlines.js';

const never = new Promise<never>(() => {});
const timeout = () => new Error('timed out');

describe('Deadlines', () => {
  it('settles as the work does when it finishes in time', async () => {
    const deadlines = new Deadlines(200);
    await expect(deadlines.race(Promise.resolve('ok'), timeout)).resolves.toBe('ok');
    await expect(deadlines.race(Promise.reject(new Error('boom')), timeout)).rejects.toThrow('boom');
  });

  it('rejects work that is still running after the duration, within one granularity', async () => {
    const deadlines = new Deadlines(100, 10);
    const started = performance.now();
    await expect(deadlines.race(never, timeout)).rejects.toThrow('timed out');
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(99);
    expect(elapsed).toBeLessThan(200);
  });

  it('expires only the slow ones among many, in order', async () => {
    const deadlines = new Deadlines(80, 5);
    const results = await Promise.allSettled(
      Array.from({ length: 3000 }, (_, i) =>
        deadlines.race(i % 3 === 0 ? never : new Promise((done) => setTimeout(() => done(i), 10)), timeout),
      ),
    );
    expect(results.filter((r) => r.status === 'rejected')).toHaveLength(1000);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(2000);
  });

  it('can time out again after a quiet period (the timer stops and restarts)', async () => {
    const deadlines = new Deadlines(30, 5);
    await expect(deadlines.race(never, timeout)).rejects.toThrow();
    await new Promise((done) => setTimeout(done, 50));
    await expect(deadlines.race(never, timeout)).rejects.toThrow();
  });
});
