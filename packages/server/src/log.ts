import pino, { type BaseLogger } from 'pino';

/** What the gateway's parts log with: any pino-style logger. */
export type Logger = Pick<BaseLogger, 'error' | 'warn' | 'info' | 'debug'>;

/** How log lines are written: JSON for machines, one readable line per entry for a person at a terminal. */
export type LogFormat = 'auto' | 'json' | 'pretty';

const LEVELS: Record<number, [label: string, color: number]> = {
  10: ['TRACE', 90],
  20: ['DEBUG', 36],
  30: ['INFO ', 32],
  40: ['WARN ', 33],
  50: ['ERROR', 31],
  60: ['FATAL', 35],
};

/**
 * The gateway's logger: JSON lines on stdout, or with `pretty` (and `auto` when stdout is a terminal) the
 * same entries as `12:00:00.123 INFO  listening address=...`. Development setups read the second; anything
 * that collects logs (Docker, systemd, a pipe) gets the first, because stdout is then no terminal.
 * @see docs/decisions/0204-readable-development-logs.md
 */
export function createLogger(
  level: string,
  format: LogFormat,
  out: NodeJS.WriteStream = process.stdout,
): pino.Logger {
  const pretty = format === 'pretty' || (format === 'auto' && out.isTTY === true);
  // pino's own destination already stops writing once stdout is a closed pipe (EPIPE).
  if (!pretty) return pino({ level });
  return pino({ level }, prettyDestination(out));
}

/** A pino destination that rewrites each JSON line for a person; colours only on a terminal. */
export function prettyDestination(out: NodeJS.WriteStream): { write(line: string): void } {
  const color = out.isTTY === true && process.env.NO_COLOR === undefined;
  const paint = (code: number, text: string) => (color ? `\u001b[${code}m${text}\u001b[0m` : text);
  let closed = false;
  // A reader that went away (closed pipe, closed terminal) must not turn a log line into a crash, nor keep
  // shutdown waiting: stop writing, as pino does for JSON.
  out.on('error', () => {
    closed = true;
  });
  return {
    write(line: string) {
      if (closed) return;
      out.write(`${formatLine(line, paint)}\n`);
    },
  };
}

/** One JSON log line as text: time, level, message, then the other fields as key=value. */
export function formatLine(line: string, paint: (code: number, text: string) => string = (_c, t) => t) {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line.trimEnd();
  }
  const { level, time, msg, pid: _pid, hostname: _hostname, err, ...fields } = entry;
  const [label, code] = LEVELS[level as number] ?? [String(level), 0];
  const clock = new Date(typeof time === 'number' ? time : Date.now()).toISOString().slice(11, 23);
  const {
    stack,
    message,
    code: errCode,
  } = (err ?? {}) as { stack?: string; message?: string; code?: string };
  // An error without a stack (a Redis refusal, a socket error: pino gives it stack "") would otherwise
  // vanish from the line.
  if (!stack && message) {
    fields.err = errCode === undefined || message.includes(errCode) ? message : `${message} (${errCode})`;
  }
  const rest = Object.entries(fields).map(
    ([key, value]) => `${paint(90, `${key}=`)}${typeof value === 'string' ? value : JSON.stringify(value)}`,
  );
  const text = [paint(90, clock), paint(code, label), msg ?? '', ...rest].join(' ');
  return stack ? `${text}\n    ${stack.split('\n').join('\n    ')}` : text;
}
