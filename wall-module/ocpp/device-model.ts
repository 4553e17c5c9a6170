/**
 * The station's device model: one store of configuration variables behind OCPP 2.x GetVariables /
 * SetVariables / GetBaseReport and OCPP 1.6 GetConfiguration / ChangeConfiguration. A variable is defined once
 * (component, EVSE, name, mutability, data type, optional 1.6 key) and answers both versions from the same row
 * of `ocpp_variables`, so a value the CSMS set over 1.6 reads back over 2.0.1 after a reconnect.
 *
 * Values are strings, as on the wire; integers are compared as bigint so a price never passes through `Number`.
 */
import type { Database } from 'better-sqlite3';

/** OCPP 2.x mutability. */
export type Mutability = 'ReadOnly' | 'ReadWrite' | 'WriteOnly';

/** OCPP 2.x data types used by this station. */
export type DataType =
  'string' | 'integer' | 'decimal' | 'boolean' | 'OptionList' | 'SequenceList' | 'MemberList';

/** Which base reports list a variable. */
export type ReportBase = 'ConfigurationInventory' | 'FullInventory' | 'SummaryInventory';

/** One variable of the device model: where it is (component, EVSE, name) and what it holds. */
export interface VariableDef extends VariableRef {
  mutability: Mutability;
  dataType: DataType;
  /** unit reported in variableCharacteristics (e.g. `s`, `Wh`) */
  unit?: string;
  /** inclusive bounds for integer/decimal values (bigint: msat prices exceed 2^53) */
  min?: bigint;
  max?: bigint;
  /** allowed values (OptionList) or allowed members (MemberList/SequenceList) */
  valuesList?: readonly string[];
  /** maximum length of a string value (default 2500, the OCPP 2.x attribute limit) */
  maxLength?: number;
  /** the value when nothing was set: from configuration, or live state for read-only status variables */
  initial: () => string;
  /** a change is persisted but takes effect only after a reboot (SetVariables `RebootRequired`) */
  rebootRequired?: boolean;
  /** the OCPP 1.6 configuration key that shows this variable, if any */
  key16?: string;
  /** listed in SummaryInventory (availability and identity) */
  summary?: boolean;
  /** a change is a security reconfiguration (SecurityEventNotification `ReconfigurationOfSecurityParameters`) */
  security?: boolean;
}

/** Addresses a variable as a 2.x request does. */
export interface VariableRef {
  /** component name, e.g. `OCPPCommCtrlr` */
  component: string;
  /** component instance (absent for most) */
  componentInstance?: string;
  /** EVSE the component belongs to (EVSE, Connector, WebPaymentsCtrlr per EVSE) */
  evseId?: number;
  /** connector within that EVSE (Connector component) */
  connectorId?: number;
  /** variable name, e.g. `HeartbeatInterval` */
  variable: string;
  /** variable instance (e.g. `TransactionEvent` for MessageAttempts) */
  variableInstance?: string;
}

/** Outcome of a lookup by reference. */
export type LookupResult = { def: VariableDef } | { missing: 'UnknownComponent' | 'UnknownVariable' };

/** Outcome of a write (the 2.x SetVariableStatus subset this store decides). */
export type SetOutcome = 'Accepted' | 'Rejected' | 'RebootRequired';

/** A change, as listeners hear it. */
export interface VariableChange {
  def: VariableDef;
  value: string;
  previous: string;
}

function refKey(r: VariableRef): string {
  return [
    r.component,
    r.componentInstance ?? '',
    r.evseId ?? '',
    r.connectorId ?? '',
    r.variable,
    r.variableInstance ?? '',
  ].join('|');
}

const INTEGER = /^-?[0-9]{1,30}$/;
const DECIMAL = /^-?[0-9]{1,30}(\.[0-9]{1,10})?$/;

/**
 * Whether a value is acceptable for a variable (type, bounds, list membership, length).
 *
 * @param def the variable
 * @param value the proposed value as on the wire
 * @returns undefined when acceptable, else why not
 */
export function valueProblem(def: VariableDef, value: string): string | undefined {
  if (value.length > (def.maxLength ?? 2500)) return `longer than ${def.maxLength ?? 2500} characters`;
  switch (def.dataType) {
    case 'integer':
    case 'decimal': {
      if (!(def.dataType === 'integer' ? INTEGER : DECIMAL).test(value)) return `not ${def.dataType}`;
      const whole = BigInt(value.split('.')[0] ?? '0');
      if (def.min !== undefined && whole < def.min) return `below ${def.min}`;
      if (def.max !== undefined && whole > def.max) return `above ${def.max}`;
      return undefined;
    }
    case 'boolean':
      return value === 'true' || value === 'false' ? undefined : 'not true/false';
    case 'OptionList':
      return def.valuesList?.includes(value) ? undefined : `not one of ${def.valuesList?.join(',')}`;
    case 'MemberList':
    case 'SequenceList': {
      if (value === '') return undefined;
      const bad = value.split(',').filter((m) => !def.valuesList?.includes(m));
      return bad.length === 0 ? undefined : `unknown members ${bad.join(',')}`;
    }
    case 'string':
      return undefined;
  }
}

/** The device model store. */
export class DeviceModel {
  private readonly byRef = new Map<string, VariableDef>();
  private readonly by16 = new Map<string, VariableDef>();
  private readonly components = new Set<string>();
  private readonly listeners: ((change: VariableChange) => void)[] = [];

  /**
   * @param db wall-store database holding `ocpp_variables` (created by `migrateOcppTables`)
   * @param defs the station's variables; a duplicate reference or 1.6 key is a programming error
   * @param nowMs clock for the `updated_at_ms` column, ms since epoch
   */
  constructor(
    private readonly db: Database,
    private readonly defs: readonly VariableDef[],
    private readonly nowMs: () => number,
  ) {
    for (const d of defs) {
      const k = refKey(d);
      if (this.byRef.has(k)) throw new Error(`device model: duplicate variable ${k}`);
      this.byRef.set(k, d);
      this.components.add(this.componentKey(d));
      if (d.key16 !== undefined) {
        if (this.by16.has(d.key16.toLowerCase())) throw new Error(`device model: duplicate key ${d.key16}`);
        this.by16.set(d.key16.toLowerCase(), d);
      }
    }
  }

  /** @returns every variable, in definition order */
  all(): readonly VariableDef[] {
    return this.defs;
  }

  /** @returns the variables a base report lists */
  report(base: ReportBase): VariableDef[] {
    if (base === 'FullInventory') return [...this.defs];
    if (base === 'ConfigurationInventory') return this.defs.filter((d) => d.mutability !== 'ReadOnly');
    return this.defs.filter((d) => d.summary === true);
  }

  /**
   * Finds a variable as a 2.x request names it.
   *
   * @param ref component (name, instance, EVSE, connector) and variable (name, instance)
   * @returns the variable, or whether the component or only the variable is unknown
   */
  lookup(ref: VariableRef): LookupResult {
    const def = this.byRef.get(refKey(ref));
    if (def) return { def };
    return { missing: this.components.has(this.componentKey(ref)) ? 'UnknownVariable' : 'UnknownComponent' };
  }

  /**
   * @param key OCPP 1.6 configuration key (case-insensitive, as 1.6 CSMSs vary)
   * @returns the variable behind it, if any
   */
  byKey16(key: string): VariableDef | undefined {
    return this.by16.get(key.toLowerCase());
  }

  /** @returns the variables that have a 1.6 key, in definition order */
  keys16(): VariableDef[] {
    return this.defs.filter((d) => d.key16 !== undefined);
  }

  /**
   * @param def the variable
   * @returns its current value: the persisted one, else its initial value
   */
  value(def: VariableDef): string {
    const row = this.db.prepare('SELECT value FROM ocpp_variables WHERE ref = ?').get(refKey(def)) as
      { value: string } | undefined;
    return row?.value ?? def.initial();
  }

  /**
   * Writes a variable (persisted before listeners run).
   *
   * @param def the variable
   * @param value the new value, as on the wire
   * @returns `Rejected` for read-only or invalid values, `RebootRequired` when the change applies after a
   *   restart, else `Accepted`
   */
  set(def: VariableDef, value: string): SetOutcome {
    if (def.mutability === 'ReadOnly') return 'Rejected';
    if (valueProblem(def, value) !== undefined) return 'Rejected';
    const previous = this.value(def);
    this.db
      .prepare(
        `INSERT INTO ocpp_variables (ref, value, updated_at_ms) VALUES (?, ?, ?)
         ON CONFLICT(ref) DO UPDATE SET value = excluded.value, updated_at_ms = excluded.updated_at_ms`,
      )
      .run(refKey(def), value, this.nowMs());
    for (const l of this.listeners) l({ def, value, previous });
    return def.rebootRequired === true ? 'RebootRequired' : 'Accepted';
  }

  /**
   * The persisted value of a variable, without falling back to its initial value (used at start-up to apply
   * CSMS changes that needed a reboot).
   *
   * @param ref the variable
   * @returns the stored value, or undefined when the CSMS never set it
   */
  stored(ref: VariableRef): string | undefined {
    return readStoredVariable(this.db, ref);
  }

  /**
   * Keeps a station fact that is not a variable (e.g. an EVSE made Inoperative by the CSMS) in the same table.
   *
   * @param name fact name
   * @param value the value, or null to forget it
   */
  remember(name: string, value: string | null): void {
    const ref = `internal|${name}`;
    if (value === null) this.db.prepare('DELETE FROM ocpp_variables WHERE ref = ?').run(ref);
    else
      this.db
        .prepare(
          `INSERT INTO ocpp_variables (ref, value, updated_at_ms) VALUES (?, ?, ?)
           ON CONFLICT(ref) DO UPDATE SET value = excluded.value, updated_at_ms = excluded.updated_at_ms`,
        )
        .run(ref, value, this.nowMs());
  }

  /** @returns a fact kept by `remember`, or undefined */
  recall(name: string): string | undefined {
    const row = this.db.prepare('SELECT value FROM ocpp_variables WHERE ref = ?').get(`internal|${name}`) as
      { value: string } | undefined;
    return row?.value;
  }

  /** Subscribes to accepted writes. */
  onChange(listener: (change: VariableChange) => void): void {
    this.listeners.push(listener);
  }

  private componentKey(r: VariableRef): string {
    return `${r.component}|${r.componentInstance ?? ''}|${r.evseId ?? ''}|${r.connectorId ?? ''}`;
  }
}

/**
 * Reads a variable the CSMS set, straight from the database (for code that runs before a station exists, e.g.
 * applying a changed price at daemon start).
 *
 * @param db wall-store database (the table is created if missing)
 * @param ref the variable
 * @returns the stored value, or undefined
 */
export function readStoredVariable(db: Database, ref: VariableRef): string | undefined {
  db.exec(VARIABLES_TABLE_SQL);
  const row = db.prepare('SELECT value FROM ocpp_variables WHERE ref = ?').get(refKey(ref)) as
    { value: string } | undefined;
  return row?.value;
}

/** DDL of the device model table (also run by `migrateOcppTables`). */
export const VARIABLES_TABLE_SQL = `CREATE TABLE IF NOT EXISTS ocpp_variables (
  ref TEXT PRIMARY KEY,
  value TEXT NOT NULL,
  updated_at_ms INTEGER NOT NULL
);`;
