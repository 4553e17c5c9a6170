/**
 * Display messages set by the CSMS (SetDisplayMessage / GetDisplayMessages / ClearDisplayMessage, OCPP 2.0.1
 * and 2.1), validated and kept in SQLite. Rendering lives in `display-render.ts`.
 *
 * Supported: ASCII, UTF8, URI (shown as text and as a QR code) and, on 2.1, QRCODE. HTML is answered
 * `NotSupportedMessageFormat`: the status page does not inject CSMS-supplied markup. On 2.0.1 a message whose
 * `display` component is `QRCodeDisplay` is drawn as a QR code (the OCA's QR payment guidance).
 */
import type { Database } from 'better-sqlite3';
import type { Json, JsonObject, OcppVersion } from './types.js';

export type MessagePriority = 'AlwaysFront' | 'InFront' | 'NormalCycle';
export type MessageFormat = 'ASCII' | 'HTML' | 'URI' | 'UTF8' | 'QRCODE';

/** A stored display message. */
export interface DisplayMessage {
  id: number;
  priority: MessagePriority;
  /** station state in which to show it (`Charging`, `Idle`, ...), null = always */
  state: string | null;
  format: MessageFormat;
  /** RFC 5646 language tag */
  language: string | null;
  content: string;
  /** show from, ms since epoch (null = now) */
  startMs: number | null;
  /** show until, ms since epoch (null = no end) */
  endMs: number | null;
  /** only during this OCPP transaction (removed when it ends) */
  transactionId: string | null;
  /** display component named by the CSMS */
  display: { name: string; instance: string | null } | null;
  /** whether the station draws it as a QR code (QRCODE, URI, or a QRCodeDisplay component) */
  asQr: boolean;
  receivedAtMs: number;
}

/** SetDisplayMessageResponse statuses. */
export type SetDisplayStatus =
  | 'Accepted'
  | 'NotSupportedMessageFormat'
  | 'Rejected'
  | 'NotSupportedPriority'
  | 'NotSupportedState'
  | 'UnknownTransaction';

interface Row {
  id: number;
  priority: string;
  state: string | null;
  format: string;
  language: string | null;
  content: string;
  start_ms: number | null;
  end_ms: number | null;
  transaction_id: string | null;
  display_name: string | null;
  display_instance: string | null;
  received_at_ms: number;
}

const PRIORITIES: readonly string[] = ['AlwaysFront', 'InFront', 'NormalCycle'];
const STATES: readonly string[] = ['Charging', 'Faulted', 'Idle', 'Unavailable', 'Suspended', 'Discharging'];

function str(v: Json | undefined): string | undefined {
  return typeof v === 'string' ? v : undefined;
}
function obj(v: Json | undefined): JsonObject | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? v : undefined;
}

function showsAsQr(format: string, displayName: string | null): boolean {
  return format === 'QRCODE' || format === 'URI' || displayName === 'QRCodeDisplay';
}

function fromRow(r: Row): DisplayMessage {
  return {
    id: r.id,
    priority: r.priority as MessagePriority,
    state: r.state,
    format: r.format as MessageFormat,
    language: r.language,
    content: r.content,
    startMs: r.start_ms,
    endMs: r.end_ms,
    transactionId: r.transaction_id,
    display: r.display_name === null ? null : { name: r.display_name, instance: r.display_instance },
    asQr: showsAsQr(r.format, r.display_name),
    receivedAtMs: r.received_at_ms,
  };
}

/** @returns the message as an OCPP MessageInfoType (for NotifyDisplayMessages) */
export function toMessageInfo(m: DisplayMessage): JsonObject {
  const message: JsonObject = { format: m.format, content: m.content };
  if (m.language !== null) message.language = m.language;
  const info: JsonObject = { id: m.id, priority: m.priority, message };
  if (m.state !== null) info.state = m.state;
  if (m.startMs !== null) info.startDateTime = new Date(m.startMs).toISOString();
  if (m.endMs !== null) info.endDateTime = new Date(m.endMs).toISOString();
  if (m.transactionId !== null) info.transactionId = m.transactionId;
  if (m.display !== null) {
    const display: JsonObject = { name: m.display.name };
    if (m.display.instance !== null) display.instance = m.display.instance;
    info.display = display;
  }
  return info;
}

export class DisplayMessageStore {
  constructor(private readonly db: Database) {}

  /**
   * Validates and stores a SetDisplayMessageRequest (already schema-valid). A message with the same id is
   * replaced, as the spec requires.
   *
   * @param request the request payload
   * @param protocol negotiated version (QRCODE only on 2.1)
   * @param isOpenTransaction whether a transactionId names an open transaction of this station
   * @param nowMs ms since epoch
   * @returns the SetDisplayMessageResponse status
   */
  set(
    request: JsonObject,
    protocol: OcppVersion,
    isOpenTransaction: (transactionId: string) => boolean,
    nowMs: number,
  ): SetDisplayStatus {
    const info = obj(request.message);
    const content = obj(info?.message);
    const id = info?.id;
    const priority = str(info?.priority);
    const format = str(content?.format);
    const text = str(content?.content);
    if (!info || !content || typeof id !== 'number' || !Number.isInteger(id) || id < 0) return 'Rejected';
    if (priority === undefined || !PRIORITIES.includes(priority)) return 'NotSupportedPriority';
    if (text === undefined || format === undefined) return 'Rejected';
    if (format === 'HTML') return 'NotSupportedMessageFormat';
    if (format === 'QRCODE' && protocol !== 'ocpp2.1') return 'NotSupportedMessageFormat';
    if (!['ASCII', 'UTF8', 'URI', 'QRCODE'].includes(format)) return 'NotSupportedMessageFormat';
    const maxLength = protocol === 'ocpp2.1' ? 1024 : 512;
    if (text.length === 0 || text.length > maxLength) return 'Rejected';
    if (format === 'ASCII' && !/^[\x20-\x7e\t\r\n]*$/.test(text)) return 'Rejected';
    if (format === 'URI' && !URL.canParse(text)) return 'Rejected';
    const state = str(info.state) ?? null;
    if (state !== null && !STATES.includes(state)) return 'NotSupportedState';
    const transactionId = str(info.transactionId) ?? null;
    if (transactionId !== null && !isOpenTransaction(transactionId)) return 'UnknownTransaction';
    const startMs =
      str(info.startDateTime) === undefined ? null : Date.parse(str(info.startDateTime) as string);
    const endMs = str(info.endDateTime) === undefined ? null : Date.parse(str(info.endDateTime) as string);
    if (Number.isNaN(startMs) || Number.isNaN(endMs)) return 'Rejected';
    if (startMs !== null && endMs !== null && endMs <= startMs) return 'Rejected';
    const display = obj(info.display);
    this.db
      .prepare(
        `INSERT OR REPLACE INTO ocpp_display_messages
         (id, priority, state, format, language, content, start_ms, end_ms, transaction_id, display_name,
          display_instance, received_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        id,
        priority,
        state,
        format,
        str(content.language) ?? null,
        text,
        startMs,
        endMs,
        transactionId,
        str(display?.name) ?? null,
        str(display?.instance) ?? null,
        nowMs,
      );
    return 'Accepted';
  }

  /** @returns all stored messages, most prominent first (AlwaysFront, InFront, NormalCycle; then by id) */
  all(): DisplayMessage[] {
    const rows = this.db.prepare('SELECT * FROM ocpp_display_messages ORDER BY id').all() as Row[];
    return rows
      .map(fromRow)
      .sort((a, b) => PRIORITIES.indexOf(a.priority) - PRIORITIES.indexOf(b.priority) || a.id - b.id);
  }

  /**
   * Messages matching a GetDisplayMessagesRequest.
   *
   * @param request the request payload (`id[]`, `priority`, `state` filters, all optional)
   * @returns matching messages
   */
  query(request: JsonObject): DisplayMessage[] {
    const ids = Array.isArray(request.id)
      ? request.id.filter((x): x is number => typeof x === 'number')
      : null;
    const priority = str(request.priority);
    const state = str(request.state);
    return this.all().filter(
      (m) =>
        (ids === null || ids.includes(m.id)) &&
        (priority === undefined || m.priority === priority) &&
        (state === undefined || m.state === state),
    );
  }

  /** Deletes a message. @returns whether it existed */
  clear(id: number): boolean {
    return this.db.prepare('DELETE FROM ocpp_display_messages WHERE id = ?').run(id).changes === 1;
  }

  /** Deletes messages bound to an ended transaction (the spec removes them when it ends). */
  clearForTransaction(transactionId: string): void {
    this.db.prepare('DELETE FROM ocpp_display_messages WHERE transaction_id = ?').run(transactionId);
  }

  /** Deletes messages whose end time has passed. */
  expire(nowMs: number): void {
    this.db.prepare('DELETE FROM ocpp_display_messages WHERE end_ms IS NOT NULL AND end_ms <= ?').run(nowMs);
  }
}
