import type { Writable } from 'node:stream';
import type { Progress } from '../warming/load/loader.js';

const WIDTH = 24;

/** `1,234,567` */
export function count(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** `1:05`, `1:02:03` */
export function duration(ms: number): string {
  const total = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

/** Entries per second over the run so far. */
export function perSecond(progress: Progress): number {
  return progress.elapsedMs > 0 ? (progress.done * 1000) / progress.elapsedMs : 0;
}

/** One line: `[#########.......]  48%  12,345 done  8,130/s  ETA 0:07` (no bar and ETA when the size is unknown). */
export function progressLine(progress: Progress): string {
  const rate = perSecond(progress);
  const parts = [`${count(progress.done)} done`, `${count(rate)}/s`];
  const fraction = progress.fraction;
  if (fraction === undefined) return parts.join('  ');
  const filled = Math.round(fraction * WIDTH);
  const bar = `[${'#'.repeat(filled)}${'.'.repeat(WIDTH - filled)}] ${String(Math.floor(fraction * 100)).padStart(3)}%`;
  const etaMs = fraction > 0 ? (progress.elapsedMs * (1 - fraction)) / fraction : undefined;
  return [bar, ...parts, etaMs === undefined ? 'ETA -' : `ETA ${duration(etaMs)}`].join('  ');
}

/**
 * A progress bar redrawn in place on a terminal (`\r`, erase line) at most every 200 ms; lines printed
 * meanwhile go above it. Off a terminal it draws nothing.
 */
export class ProgressBar {
  #last: Progress | undefined;
  #drawn = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly out: Writable,
    private readonly isOn: boolean,
  ) {
    if (isOn) {
      this.#timer = setInterval(() => this.#draw(), 200);
      this.#timer.unref();
    }
  }

  update(progress: Progress): void {
    this.#last = progress;
  }

  /** Prints a line above the bar. */
  print(line: string): void {
    this.#erase();
    this.out.write(`${line}\n`);
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#erase();
  }

  #draw(): void {
    if (!this.isOn || this.#last === undefined) return;
    this.out.write(`\r\x1b[K${progressLine(this.#last)}`);
    this.#drawn = true;
  }

  #erase(): void {
    if (!this.#drawn) return;
    this.out.write('\r\x1b[K');
    this.#drawn = false;
  }
}
