/**
 * Typed reading and validation of a daemon's YAML configuration. Both daemons describe their options with a
 * `ConfigReader`: every getter names the key it reads, checks its type and range, and records a clear error
 * (the dotted key path and why) instead of throwing at the first problem, so an operator sees every mistake in
 * one run. Unknown keys are errors too (a typo must never silently fall back to a default).
 */
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { isUtf8 } from 'node:buffer';
import { parseDocument } from 'yaml';

/** Largest configuration file read, bytes (a config is a few KiB; anything huge is a mistake or an attack). */
export const MAX_CONFIG_BYTES = 1_048_576;
/** Most YAML alias expansions allowed (the yaml package's guard against "billion laughs" documents). */
const MAX_ALIAS_COUNT = 100;

/** One problem in a configuration: the dotted key path (e.g. `tariff.priceMsatPerWh`) and what is wrong. */
export interface ConfigProblem {
  key: string;
  reason: string;
}

/** The configuration is invalid; `problems` lists every bad key with the reason. */
export class ConfigInvalid extends Error {
  override readonly name = 'ConfigInvalid';
  /**
   * @param source file name (or `<inline>`) the configuration came from
   * @param problems every problem found, in document order
   */
  constructor(
    readonly source: string,
    readonly problems: readonly ConfigProblem[],
  ) {
    super(
      `invalid configuration in ${source}:\n` + problems.map((p) => `  - ${p.key}: ${p.reason}`).join('\n'),
    );
  }
}

type Plain = Record<string, unknown>;

const isPlain = (v: unknown): v is Plain => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Options shared by the numeric getters. */
export interface NumberRule {
  min?: number;
  max?: number;
}

/** Options of the bigint getter (amounts in msat). */
export interface BigRule {
  min?: bigint;
  max?: bigint;
}

/**
 * Reads one mapping of a configuration document. Getters return the value (or the default) and record a problem
 * when the value is missing, of the wrong type or out of range; after reading everything, call `done()` on the
 * root reader, which throws `ConfigInvalid` if anything was wrong.
 */
export class ConfigReader {
  private readonly seen = new Set<string>();
  private readonly children: ConfigReader[] = [];

  /**
   * @param data the mapping to read (`undefined` = an absent optional section)
   * @param path dotted path of this mapping ('' at the root)
   * @param problems shared problem list of the whole document
   * @param baseDir directory relative paths are resolved against (the config file's directory)
   * @param source file name used in the error message
   */
  constructor(
    private readonly data: Plain | undefined,
    readonly path: string,
    private readonly problems: ConfigProblem[],
    readonly baseDir: string,
    readonly source: string,
    private readonly warningList: ConfigProblem[] = [],
  ) {}

  /**
   * What the document says in an older way that is still accepted (a key read under its former name): the
   * dotted key path and what to write instead. Shared by the whole document; the daemon logs them at start.
   */
  get warnings(): readonly ConfigProblem[] {
    return this.warningList;
  }

  /** Records a warning for `name` (a key of this mapping). */
  warn(name: string, reason: string): void {
    this.warningList.push({ key: this.keyOf(name), reason });
  }

  /**
   * Reads a renamed key: under its name now (`read(name)`), or, when only its former name `old` is present,
   * `convert(read(old))` with a warning naming the new key. Both present is a problem (which one counts would be
   * a guess).
   *
   * @param name the key's name now
   * @param old the key's former name
   * @param read reads the value under the key it is given (a getter of this reader, with its default and range)
   * @param convert maps a value in the former unit to the current one (default: unchanged)
   * @param unitNote what the conversion is, for the warning (e.g. `percent × 10000 = ppm`)
   * @returns the value, in the current unit
   */
  renamed<T>(
    name: string,
    old: string,
    read: (key: string) => T,
    convert: (value: T) => T = (v) => v,
    unitNote = '',
  ): T {
    if (!this.has(old)) return read(name);
    if (this.has(name)) {
      this.raw(old);
      this.problem(old, `was renamed '${name}': set only '${name}'`);
      return read(name);
    }
    const value = convert(read(old));
    this.warn(
      old,
      `was renamed '${name}'${unitNote ? ` (${unitNote})` : ''}: write ${name}: ${String(value)}`,
    );
    return value;
  }

  /**
   * Parses YAML text into a root reader.
   *
   * @param text YAML document
   * @param source name for messages; relative paths in the document resolve against its directory
   * @returns a root reader (its problems include YAML syntax errors)
   */
  static fromYaml(text: string, source = '<inline>'): ConfigReader {
    const problems: ConfigProblem[] = [];
    let value: unknown = {};
    try {
      // logLevel 'error': no process warnings (a collection used as a key becomes a string key, reported unknown)
      const doc = parseDocument(text, { intAsBigInt: false, logLevel: 'error' });
      for (const e of doc.errors)
        problems.push({ key: '(yaml)', reason: e.message.split('\n')[0] ?? e.message });
      // toJS expands aliases; a document whose aliases expand past the limit (an alias bomb) throws here
      if (problems.length === 0) value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) ?? {};
    } catch (err) {
      problems.push({ key: '(yaml)', reason: (err as Error).message.split('\n')[0] ?? String(err) });
      value = {};
    }
    if (!isPlain(value)) problems.push({ key: '(root)', reason: 'the document must be a mapping of keys' });
    const baseDir = source === '<inline>' ? process.cwd() : dirname(resolve(source));
    return new ConfigReader(isPlain(value) ? value : {}, '', problems, baseDir, source);
  }

  /**
   * Reads a YAML file into a root reader. The file must be UTF-8 (invalid bytes are refused, never replaced) and
   * at most MAX_CONFIG_BYTES long.
   *
   * @param file path of the YAML file
   * @throws ConfigInvalid when the file cannot be read, is too large or is not UTF-8 (YAML errors, including
   *   alias bombs, are problems of the returned reader and surface at `done()`)
   */
  static fromFile(file: string): ConfigReader {
    let bytes: Buffer;
    try {
      if (statSync(file).size > MAX_CONFIG_BYTES) throw new Error(`larger than ${MAX_CONFIG_BYTES} bytes`);
      bytes = readFileSync(file);
    } catch (err) {
      throw new ConfigInvalid(file, [{ key: '(file)', reason: `cannot read: ${(err as Error).message}` }]);
    }
    const line = firstNonUtf8Line(bytes);
    if (line !== undefined)
      throw new ConfigInvalid(file, [
        { key: '(file)', reason: `line ${line} is not valid UTF-8 (save the file as UTF-8)` },
      ]);
    return ConfigReader.fromYaml(bytes.toString('utf8'), file);
  }

  private keyOf(name: string): string {
    return this.path ? `${this.path}.${name}` : name;
  }

  /** Records a problem for `name` (a key of this mapping). */
  problem(name: string, reason: string): void {
    this.problems.push({ key: this.keyOf(name), reason });
  }

  private raw(name: string): unknown {
    this.seen.add(name);
    return this.data?.[name];
  }

  /** True when the key is present in this mapping. */
  has(name: string): boolean {
    return this.data !== undefined && Object.prototype.hasOwnProperty.call(this.data, name);
  }

  /** True when this mapping exists in the document. */
  get present(): boolean {
    return this.data !== undefined;
  }

  /**
   * A nested mapping. An absent section yields a reader over nothing, so its getters return their defaults
   * (and required keys inside it are reported as missing).
   */
  section(name: string): ConfigReader {
    const v = this.raw(name);
    if (v !== undefined && v !== null && !isPlain(v)) this.problem(name, 'must be a mapping of keys');
    const child = new ConfigReader(
      isPlain(v) ? v : undefined,
      this.keyOf(name),
      this.problems,
      this.baseDir,
      this.source,
      this.warningList,
    );
    this.children.push(child);
    return child;
  }

  /** A string; `required` when no default is given. */
  string(name: string, def?: string): string {
    const v = this.raw(name);
    if (v === undefined || v === null) {
      if (def === undefined) this.problem(name, 'is required (a string)');
      return def ?? '';
    }
    if (typeof v !== 'string' || v.length === 0) {
      this.problem(name, `must be a non-empty string, got ${JSON.stringify(v)}`);
      return def ?? '';
    }
    return v;
  }

  /** An optional string: `undefined` when absent. */
  optionalString(name: string): string | undefined {
    if (!this.has(name) || this.data?.[name] === null) {
      this.seen.add(name);
      return undefined;
    }
    return this.string(name);
  }

  /** A file path resolved against the config file's directory; `undefined` when absent and optional. */
  filePath(name: string, def?: string): string {
    const v = this.string(name, def);
    return v && !isAbsolute(v) ? resolve(this.baseDir, v) : v;
  }

  /** An optional file path, resolved against the config file's directory. */
  optionalPath(name: string): string | undefined {
    const v = this.optionalString(name);
    return v === undefined ? undefined : isAbsolute(v) ? v : resolve(this.baseDir, v);
  }

  /**
   * An optional path of a file this daemon will create or append to (a log): its directory must exist and be
   * writable, and an existing file must be a writable regular file.
   */
  optionalWritableFile(name: string): string | undefined {
    const file = this.optionalPath(name);
    if (file === undefined) return undefined;
    const problem = writableFileProblem(file);
    if (problem !== undefined) this.problem(name, problem);
    return file;
  }

  /** A boolean. */
  bool(name: string, def: boolean): boolean {
    const v = this.raw(name);
    if (v === undefined || v === null) return def;
    if (typeof v !== 'boolean') {
      this.problem(name, `must be true or false, got ${JSON.stringify(v)}`);
      return def;
    }
    return v;
  }

  /** A safe integer (JS number, |n| < 2^53) within `rule`; required when no default is given. */
  int(name: string, def: number | undefined, rule: NumberRule = {}): number {
    return this.number(name, def, rule, true);
  }

  /** A finite number within `rule`; required when no default is given. */
  number(name: string, def: number | undefined, rule: NumberRule = {}, integer = false): number {
    const v = this.raw(name);
    if (v === undefined || v === null) {
      if (def === undefined) this.problem(name, `is required (${integer ? 'an integer' : 'a number'})`);
      return def ?? 0;
    }
    const n = typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v.trim()) ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isFinite(n) || (integer && !Number.isSafeInteger(n))) {
      this.problem(name, `must be ${integer ? 'an integer' : 'a number'}, got ${JSON.stringify(v)}`);
      return def ?? 0;
    }
    if (rule.min !== undefined && n < rule.min) this.problem(name, `must be >= ${rule.min}, got ${n}`);
    if (rule.max !== undefined && n > rule.max) this.problem(name, `must be <= ${rule.max}, got ${n}`);
    return n;
  }

  /**
   * An integer amount as bigint (msat, Wh totals); YAML numbers and decimal strings (for values beyond 2^53)
   * are accepted. Required when no default is given.
   */
  bigint(name: string, def: bigint | undefined, rule: BigRule = {}): bigint {
    const v = this.raw(name);
    if (v === undefined || v === null) {
      if (def === undefined) this.problem(name, 'is required (an integer)');
      return def ?? 0n;
    }
    let n: bigint | undefined;
    if (typeof v === 'number' && Number.isSafeInteger(v)) n = BigInt(v);
    else if (typeof v === 'string' && /^-?\d+$/.test(v.trim())) n = BigInt(v.trim());
    if (n === undefined) {
      this.problem(name, `must be an integer (quote values above 2^53), got ${JSON.stringify(v)}`);
      return def ?? 0n;
    }
    if (rule.min !== undefined && n < rule.min) this.problem(name, `must be >= ${rule.min}, got ${n}`);
    if (rule.max !== undefined && n > rule.max) this.problem(name, `must be <= ${rule.max}, got ${n}`);
    return n;
  }

  /** One of `choices`. */
  oneOf<T extends string>(name: string, choices: readonly T[], def?: T): T {
    const v = this.raw(name);
    if (v === undefined || v === null) {
      if (def === undefined) this.problem(name, `is required (one of ${choices.join(', ')})`);
      return def ?? (choices[0] as T);
    }
    if (typeof v !== 'string' || !(choices as readonly string[]).includes(v)) {
      this.problem(name, `must be one of ${choices.join(', ')}, got ${JSON.stringify(v)}`);
      return def ?? (choices[0] as T);
    }
    return v as T;
  }

  /** A list of non-empty strings (at most `max`); empty when absent. */
  stringList(name: string, max = 64): string[] {
    const v = this.raw(name);
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v) || v.length > max || !v.every((x) => typeof x === 'string' && x.length > 0)) {
      this.problem(name, `must be a list of at most ${max} non-empty strings`);
      return [];
    }
    return v as string[];
  }

  /**
   * Throws `ConfigInvalid` when any getter recorded a problem or when a mapping holds keys nobody read
   * (misspelled or unsupported options). Call on the root reader after reading everything.
   */
  done(): void {
    // a document that could not be parsed has no keys to report on: its YAML problems are the whole story
    const unparsed = this.problems.filter((p) => p.key === '(yaml)' || p.key === '(root)');
    if (unparsed.length > 0) throw new ConfigInvalid(this.source, unparsed);
    this.collectUnknown();
    if (this.problems.length > 0) throw new ConfigInvalid(this.source, this.problems);
  }

  private collectUnknown(): void {
    if (this.data) {
      for (const k of Object.keys(this.data)) {
        if (!this.seen.has(k)) {
          const near = [...this.seen].find((s) => closeTo(s, k));
          this.problem(k, `unknown key${near ? ` (did you mean '${near}'?)` : ''}`);
        }
      }
    }
    for (const c of this.children) c.collectUnknown();
  }
}

/**
 * Why `file` cannot be created or appended to, or undefined when it can.
 * @param file absolute path
 */
function writableFileProblem(file: string): string | undefined {
  const dir = dirname(file);
  try {
    if (!statSync(dir).isDirectory()) return `${dir} is not a directory`;
  } catch {
    return `directory ${dir} does not exist`;
  }
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch {
    return `directory ${dir} is not writable`;
  }
  try {
    if (!statSync(file).isFile()) return `${file} exists and is not a regular file`;
    accessSync(file, constants.W_OK);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return `${file} is not writable`;
  }
  return undefined;
}

/**
 * The 1-based number of the first line of `bytes` that is not valid UTF-8, or undefined when all of it is.
 * @param bytes file contents
 */
function firstNonUtf8Line(bytes: Buffer): number | undefined {
  if (isUtf8(bytes)) return undefined;
  let line = 1;
  let start = 0;
  for (;;) {
    const end = bytes.indexOf(0x0a, start);
    const stop = end < 0 ? bytes.length : end;
    if (!isUtf8(bytes.subarray(start, stop))) return line;
    if (end < 0) return line;
    start = end + 1;
    line++;
  }
}

/** True when two keys differ by case or by at most two edits (a likely typo). */
function closeTo(a: string, b: string): boolean {
  if (a.toLowerCase() === b.toLowerCase()) return true;
  const m = a.length;
  const n = b.length;
  if (Math.abs(m - n) > 2) return false;
  let prev = Array.from({ length: n + 1 }, (_, j) => j);
  for (let i = 1; i <= m; i++) {
    const cur = [i];
    for (let j = 1; j <= n; j++) {
      cur[j] = Math.min(
        (prev[j] ?? 0) + 1,
        (cur[j - 1] ?? 0) + 1,
        (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    prev = cur;
  }
  return (prev[n] ?? 99) <= 2;
}
