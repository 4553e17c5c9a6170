/**
 * The only file that touches ocpp-rpc. It turns ocpp-rpc's loosely typed client into `RpcLink`: one open,
 * strictly validated OCPP-J WebSocket with typed calls, typed handlers and typed errors. Connection policy
 * (retries, backoff) lives in `connection.ts`; this file opens exactly one connection and never reconnects.
 */
import { createRequire } from 'node:module';
import type * as OcppRpc from 'ocpp-rpc';
import type { Validator } from 'ocpp-rpc/lib/validator.js';
import {
  OcppCallError,
  OcppCallTimeout,
  OcppConnectFailed,
  OcppLinkClosed,
  OcppPayloadInvalid,
  OcppResponseInvalid,
} from './errors.js';
import type { JsonObject, OcppVersion } from './types.js';

export interface RpcLinkOptions {
  /** CSMS base URL, `ws://` or `wss://`; the identity is appended as the last path segment */
  url: string;
  /** charging station identity (basic-auth user name) */
  identity: string;
  /** basic-auth password (security profiles 1 and 2) */
  password?: string;
  /** PEM CA bundle trusted for `wss://` (security profile 2); default: the system store */
  caPem?: string;
  /** subprotocols offered, most preferred first */
  protocols: readonly OcppVersion[];
  /** reply timeout per CALL, ms */
  callTimeoutMs: number;
  /** WebSocket ping interval, s (0 disables) */
  pingIntervalSec: number;
  /** opening handshake timeout, ms */
  handshakeTimeoutMs: number;
}

/** A handler's answer: the CALLRESULT payload, and optionally work to do once it has been sent. */
export interface HandlerReply {
  reply: JsonObject;
  /** runs after the CALLRESULT has been written (e.g. NotifyDisplayMessages after GetDisplayMessages) */
  after?: () => void;
}

/** Handles one incoming CALL; a thrown error becomes a CALLERROR (GenericError/InternalError). */
export type IncomingHandler = (payload: JsonObject) => HandlerReply | Promise<HandlerReply>;

/** A schema violation seen by the link, in either direction. */
export interface ValidationFailure {
  action: string;
  /** true: something this station sent (or was about to send) */
  outbound: boolean;
  /** true: a CALL payload; false: a CALLRESULT payload */
  isCall: boolean;
  detail: string;
}

export interface RpcLink {
  /** the negotiated subprotocol */
  readonly protocol: OcppVersion;
  /**
   * Sends a CALL and waits for its CALLRESULT.
   *
   * @param action OCPP action, e.g. `TransactionEvent`
   * @param payload request payload; validated against the official schema before sending
   * @returns the CALLRESULT payload (schema-validated)
   * @throws OcppPayloadInvalid | OcppResponseInvalid | OcppCallError | OcppCallTimeout | OcppLinkClosed
   */
  call(action: string, payload: JsonObject): Promise<JsonObject>;
  /** Registers the handler for incoming CALLs of `action` (validated before the handler runs). */
  handle(action: string, handler: IncomingHandler): void;
  /** Called once when the WebSocket closes, for whatever reason. */
  onClose(listener: (code: number, reason: string) => void): void;
  /** Called for every schema violation in either direction. */
  onValidationFailure(listener: (failure: ValidationFailure) => void): void;
  /** Closes the WebSocket; `force` terminates it without a close handshake. */
  close(force?: boolean): Promise<void>;
}

const OCPP_VERSIONS: readonly OcppVersion[] = ['ocpp2.1', 'ocpp2.0.1', 'ocpp1.6'];

function isOcppVersion(value: unknown): value is OcppVersion {
  return typeof value === 'string' && (OCPP_VERSIONS as readonly string[]).includes(value);
}

let validator21: Validator | undefined;
let ocppRpc: typeof OcppRpc | undefined;

/** ocpp-rpc, loaded on first use (about 30 MB of RSS with its schemas): a wall without `ocpp:` never loads it. */
function loadOcppRpc(): typeof OcppRpc {
  ocppRpc ??= createRequire(import.meta.url)('ocpp-rpc') as typeof OcppRpc;
  return ocppRpc;
}

/**
 * Strict-mode validators to pass to ocpp-rpc (client or server) beside its built-in 1.6 and 2.0.1 ones.
 * ocpp-rpc 2.2.1 bundles the OCPP 2.1 schemas with ids `urn:XRequest`/`urn:XResponse` while it looks up
 * `urn:X.req`/`urn:X.conf`, so 2.1 strict mode fails out of the box; this re-keys the same official schemas.
 *
 * @returns validators for `ocpp2.1`
 */
export function extraStrictValidators(): Validator[] {
  if (!validator21) {
    const require = createRequire(import.meta.url);
    const raw: unknown = require('ocpp-rpc/lib/schemas/ocpp2_1.json');
    if (!Array.isArray(raw)) throw new Error('ocpp-rpc 2.1 schema bundle is not an array');
    const rekeyed = raw.map((schema: unknown) => {
      const s = schema as { $id?: unknown; definitions?: Record<string, Record<string, unknown>> };
      const id = typeof s.$id === 'string' ? s.$id : '';
      const renamed = id
        .replace(/^urn:(\w+)Request$/, 'urn:$1.req')
        .replace(/^urn:(\w+)Response$/, 'urn:$1.conf');
      // the 2.1 bundle puts `additionalProperties` on string enums: no effect, but Ajv warns about it
      const definitions = Object.fromEntries(
        Object.entries(s.definitions ?? {}).map(([name, def]) => {
          if (def.type === 'object') return [name, def];
          const { additionalProperties: _unused, ...rest } = def;
          return [name, rest];
        }),
      );
      return { ...(schema as object), $id: renamed, definitions };
    });
    validator21 = loadOcppRpc().createValidator('ocpp2.1', rekeyed);
  }
  return [validator21];
}

interface RpcErrorLike {
  rpcErrorCode?: unknown;
  rpcErrorMessage?: unknown;
  message?: unknown;
  code?: unknown;
  name?: unknown;
}

function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/**
 * Opens one OCPP-J connection. Resolves once the WebSocket is open and a subprotocol was agreed.
 *
 * @param options see `RpcLinkOptions`
 * @returns the open link
 * @throws OcppConnectFailed (refused, TLS failure, HTTP status such as 401, no common subprotocol)
 */
export async function openRpcLink(options: RpcLinkOptions): Promise<RpcLink> {
  const safeUrl = options.url.replace(/\/\/[^@/]*@/, '//');
  const wsOpts: Record<string, unknown> = { handshakeTimeout: options.handshakeTimeoutMs };
  if (options.caPem !== undefined) wsOpts.ca = options.caPem;
  const { RPCClient } = loadOcppRpc();
  const client = new RPCClient({
    endpoint: options.url.replace(/\/+$/, ''),
    identity: options.identity,
    password: options.password ?? null,
    protocols: [...options.protocols],
    strictMode: true,
    strictModeValidators: extraStrictValidators(),
    reconnect: false,
    maxReconnects: 0,
    callTimeoutMs: options.callTimeoutMs,
    pingIntervalMs: options.pingIntervalSec * 1000,
    deferPingsOnActivity: true,
    respondWithDetailedErrors: false,
    callConcurrency: 1,
    maxBadMessages: Infinity,
    wsOpts,
    headers: {},
    // unused (reconnect is off) but validated by ocpp-rpc: maxDelay must exceed initialDelay
    backoff: { initialDelay: 1000, maxDelay: 2000, factor: 2, randomisationFactor: 0 },
  });

  const validationListeners: ((f: ValidationFailure) => void)[] = [];
  // ocpp-rpc validates an outgoing CALL synchronously before sending and reports it through this event;
  // remembering the rejected params object lets `call` tell a local schema failure from a CSMS CALLERROR.
  const rejectedOutbound = new WeakSet<object>();
  const rejectedReplies = new WeakSet<object>();
  client.on('strictValidationFailure', (ev: unknown) => {
    const e = ev as {
      method?: unknown;
      outbound?: unknown;
      isCall?: unknown;
      error?: unknown;
      params?: unknown;
    };
    const failure: ValidationFailure = {
      action: typeof e.method === 'string' ? e.method : '?',
      outbound: e.outbound === true,
      isCall: e.isCall === true,
      detail: errorText(e.error),
    };
    if (failure.outbound && failure.isCall && typeof e.params === 'object' && e.params !== null)
      rejectedOutbound.add(e.params);
    if (!failure.outbound && !failure.isCall && typeof e.params === 'object' && e.params !== null)
      rejectedReplies.add(e.params);
    for (const l of validationListeners) l(failure);
  });
  client.on('socketError', () => {
    /* surfaced through 'close' */
  });

  try {
    await client.connect();
  } catch (err: unknown) {
    const e = err as RpcErrorLike;
    const status = typeof e.code === 'number' ? e.code : undefined;
    throw new OcppConnectFailed(safeUrl, errorText(err), status);
  }
  const negotiated = client.protocol;
  if (!isOcppVersion(negotiated) || !options.protocols.includes(negotiated)) {
    await client.close({ force: true });
    throw new OcppConnectFailed(
      safeUrl,
      `CSMS selected no offered subprotocol (got '${String(negotiated)}')`,
    );
  }

  let closed = false;
  const closeListeners: ((code: number, reason: string) => void)[] = [];
  client.once('close', (ev: unknown) => {
    closed = true;
    const e = ev as { code?: unknown; reason?: unknown };
    const code = typeof e.code === 'number' ? e.code : 1006;
    const reason = typeof e.reason === 'string' ? e.reason : '';
    for (const l of closeListeners) l(code, reason);
  });

  return {
    protocol: negotiated,
    async call(action, payload) {
      if (closed) throw new OcppLinkClosed(`${action}: link closed`);
      try {
        const result = await client.call(action, payload);
        if (typeof result !== 'object' || result === null || Array.isArray(result))
          throw new OcppResponseInvalid(action, 'reply is not a JSON object');
        return result as JsonObject;
      } catch (err: unknown) {
        if (err instanceof OcppResponseInvalid) throw err;
        const e = err as RpcErrorLike;
        if (rejectedOutbound.has(payload)) throw new OcppPayloadInvalid(action, errorText(err));
        if (rejectedReplies.has(payload)) throw new OcppResponseInvalid(action, errorText(err));
        if (e.name === 'TimeoutError' || (err instanceof Error && err.constructor.name === 'TimeoutError'))
          throw new OcppCallTimeout(action);
        if (typeof e.rpcErrorCode === 'string' && !closed && client.state === RPCClient.OPEN)
          throw new OcppCallError(action, e.rpcErrorCode, errorText(err));
        throw new OcppLinkClosed(`${action}: ${errorText(err)}`);
      }
    },
    handle(action, handler) {
      client.handle(action, async ({ params }) => {
        const payload = (typeof params === 'object' && params !== null ? params : {}) as JsonObject;
        const { reply, after } = await handler(payload);
        if (after) setImmediate(after);
        return reply;
      });
    },
    onClose(listener) {
      closeListeners.push(listener);
    },
    onValidationFailure(listener) {
      validationListeners.push(listener);
    },
    async close(force = false) {
      if (closed) return;
      await client.close(force ? { force: true } : { code: 1000, reason: 'station stopping' });
    },
  };
}
