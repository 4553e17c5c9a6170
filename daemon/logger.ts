/**
 * A small structured logger for the daemons: one JSON object per line (time, level, message, fields) to stderr
 * and optionally to a file. Bigints are written as decimal strings.
 */
import { appendFileSync } from 'node:fs';
import type { Clock } from '../hardware/clock.js';
import { toJson } from './session-store.js';

/** Log levels, least to most severe. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const rank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Where log lines go. */
export interface Logger {
  debug(msg: string, fields?: object): void;
  info(msg: string, fields?: object): void;
  warn(msg: string, fields?: object): void;
  error(msg: string, fields?: object): void;
}

/**
 * Creates a JSON-lines logger.
 *
 * @param opts daemon name, minimum level, optional file, clock for timestamps, and an optional sink (tests)
 */
export function createLogger(opts: {
  name: string;
  level: LogLevel;
  file?: string;
  clock: Clock;
  sink?: (line: string) => void;
}): Logger {
  const write = (level: LogLevel, msg: string, fields?: object): void => {
    if (rank[level] < rank[opts.level]) return;
    const line = toJson({
      t: new Date(opts.clock.now()).toISOString(),
      level,
      daemon: opts.name,
      msg,
      ...fields,
    });
    if (opts.sink) opts.sink(line);
    else process.stderr.write(line + '\n');
    if (opts.file) appendFileSync(opts.file, line + '\n');
  };
  return {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
  };
}
