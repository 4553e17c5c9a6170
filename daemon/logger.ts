/**
 * The daemons' structured logger, on pino: one JSON object per line with `t` (ISO time of the daemon's clock),
 * `level`, `daemon`, `msg` and the call's fields (bigints written as decimal strings), to stderr and optionally
 * to a file. Writes are asynchronous (pino's SonicBoom destinations; `flush()` before exiting); rotation is left
 * to journald or logrotate (the file is opened for append: rotate it with logrotate's `copytruncate`). A context function (`setContext`) adds the current session id to every line logged while a
 * session is active, so callers need not pass it.
 */
import pino, { type DestinationStream } from 'pino';
import type { Clock } from '../hardware/clock.js';
import { toJson } from './session-store.js';

/** Log levels, least to most severe. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** Where log lines go. */
export interface Logger {
  debug(msg: string, fields?: object): void;
  info(msg: string, fields?: object): void;
  warn(msg: string, fields?: object): void;
  error(msg: string, fields?: object): void;
}

/** The logger `createLogger` returns: a `Logger` plus context and flushing. */
export interface DaemonLogger extends Logger {
  /**
   * Sets the fields added to every line (e.g. `() => ({ sessionId })`); fields a call passes win, and null or
   * undefined values are left out.
   */
  setContext(context: () => object): void;
  /** Writes out everything buffered (call before the process exits). */
  flush(): void;
}

/**
 * Creates a JSON-lines logger.
 *
 * @param opts daemon name, minimum level, optional file (appended, created with its directory), clock for
 *   timestamps, and an optional synchronous sink that receives each line without its newline (tests)
 * @returns the logger
 */
export function createLogger(opts: {
  name: string;
  level: LogLevel;
  file?: string;
  clock: Clock;
  sink?: (line: string) => void;
}): DaemonLogger {
  const streams: { stream: DestinationStream; level: LogLevel }[] = [];
  const flushers: (() => void)[] = [];
  if (opts.sink) {
    const sink = opts.sink;
    streams.push({ stream: { write: (line: string) => sink(line.trimEnd()) }, level: opts.level });
  } else {
    const stderr = pino.destination({ fd: 2, sync: false });
    streams.push({ stream: stderr, level: opts.level });
    flushers.push(() => stderr.flushSync());
  }
  if (opts.file) {
    const file = pino.destination({ dest: opts.file, sync: false, mkdir: true, append: true });
    streams.push({ stream: file, level: opts.level });
    flushers.push(() => file.flushSync());
  }
  let context: () => object = () => ({});
  const p = pino(
    {
      level: opts.level,
      base: { daemon: opts.name },
      messageKey: 'msg',
      timestamp: () => `,"t":${JSON.stringify(new Date(opts.clock.now()).toISOString())}`,
      formatters: {
        level: (label) => ({ level: label }),
        // bigints as decimal strings, as the store and the status API write them
        log: (fields) => JSON.parse(toJson(fields)) as Record<string, unknown>,
      },
      mixin: () => {
        const out: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(context())) if (v !== null && v !== undefined) out[k] = v;
        return out;
      },
    },
    pino.multistream(streams),
  );
  return {
    debug: (m, f) => p.debug(f ?? {}, m),
    info: (m, f) => p.info(f ?? {}, m),
    warn: (m, f) => p.warn(f ?? {}, m),
    error: (m, f) => p.error(f ?? {}, m),
    setContext: (c) => {
      context = c;
    },
    flush: () => {
      for (const f of flushers) {
        try {
          f();
        } catch {
          // nothing written yet (the destination is still opening)
        }
      }
    },
  };
}
