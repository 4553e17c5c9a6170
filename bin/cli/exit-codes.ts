/** Exit codes of the `boltcharge` commands. */
export const ExitCode = {
  /** done; a daemon stopped by a signal */
  OK: 0,
  /** a runtime failure: a daemon that failed safe (power cut), a node that did not answer at start, a bug */
  FAILURE: 1,
  /** usage or configuration error (including Lightning credentials and settings the machine refuses) */
  CONFIG: 2,
  /** the store cannot be used: empty, damaged, foreign, unwritable, disk full, locked by a running daemon */
  STORE: 3,
} as const;
