/**
 * A test CSMS on ocpp-rpc's RPCServer in strict mode (official OCPP JSON schemas for 1.6, 2.0.1 and 2.1):
 * records every CALL a station sends, answers like a permissive CSMS, can go down and come back on the same
 * port, can require basic auth and serve TLS, and can call the station (SetDisplayMessage...).
 */
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Socket } from 'node:net';
import { RPCServer, createRPCError } from 'ocpp-rpc';
import { extraStrictValidators } from '../../wall-module/ocpp/rpc-link.js';
import type { JsonObject, OcppVersion } from '../../wall-module/ocpp/types.js';

/** The part of ocpp-rpc's server-side client this CSMS uses (its shipped typings are not usable here). */
interface RpcServerClient {
  readonly identity: string | undefined;
  readonly protocol: string | undefined;
  call(method: string, params: unknown): Promise<unknown>;
  close(options: { force?: boolean }): Promise<unknown>;
  once(event: 'close', listener: () => void): unknown;
  on(
    event: string,
    listener: (ev: { method?: string; outbound?: boolean; error?: unknown }) => void,
  ): unknown;
  handle(handler: (call: { method?: string; params?: unknown }) => Promise<JsonObject>): void;
}

export interface TestCsmsOptions {
  /** subprotocols in the CSMS's order of preference */
  protocols: OcppVersion[];
  /** require basic auth with this password */
  password?: string;
  /** serve wss:// with this certificate */
  tls?: { certPem: string; keyPem: string };
  /** BootNotification statuses to answer in order; afterwards `Accepted` */
  bootReplies?: ('Pending' | 'Rejected' | 'Accepted')[];
  /** interval in boot replies, s */
  bootIntervalSec?: number;
  /**
   * Misbehaviour per received CALL: `error` answers CALLERROR InternalError, `drop` records the CALL and cuts
   * the connection without answering (the reply is lost in flight). Default: answer normally.
   */
  misbehave?: (call: ReceivedCall) => 'error' | 'drop' | undefined;
  /** TransactionEvent reply per request (default `{}`), e.g. a 2.1 `transactionLimit` */
  transactionEventReply?: (payload: JsonObject) => JsonObject;
  /** DataTransfer status per messageId (default Accepted) */
  dataTransferStatus?: (
    messageId: string,
  ) => 'Accepted' | 'Rejected' | 'UnknownMessageId' | 'UnknownVendorId';
}

/** One CALL received from a station. */
export interface ReceivedCall {
  identity: string;
  protocol: string;
  action: string;
  payload: JsonObject;
}

/** A schema violation seen by the CSMS. */
export interface CsmsValidationFailure {
  action: string;
  outbound: boolean;
  detail: string;
}

export class TestCsms {
  readonly received: ReceivedCall[] = [];
  readonly validationFailures: CsmsValidationFailure[] = [];
  readonly badMessages: string[] = [];
  /** handshakes refused (wrong password) */
  readonly refused: string[] = [];
  private readonly clients = new Map<string, RpcServerClient>();
  private readonly sockets = new Set<Socket>();
  private readonly rpc: RPCServer;
  private http: Server | undefined;
  private port = 0;
  private nextTxId16 = 1000;
  private bootIndex = 0;

  private constructor(private readonly options: TestCsmsOptions) {
    this.rpc = new RPCServer({
      protocols: options.protocols,
      strictMode: true,
      strictModeValidators: extraStrictValidators(),
      pingIntervalMs: 0,
      callTimeoutMs: 20_000,
    });
    this.rpc.auth((accept, reject, handshake) => {
      if (options.password !== undefined && handshake.password?.toString('utf8') !== options.password) {
        this.refused.push(handshake.identity);
        reject(401, 'Unauthorized');
        return;
      }
      accept({ identity: handshake.identity });
    });
    this.rpc.on('client', (client: unknown) => this.attach(client as RpcServerClient));
  }

  /**
   * Starts a CSMS on a free port of 127.0.0.1.
   *
   * @param options protocols, auth, TLS, scripted replies
   * @returns the running CSMS
   */
  static async start(options: TestCsmsOptions): Promise<TestCsms> {
    const csms = new TestCsms(options);
    await csms.up();
    return csms;
  }

  /** Base URL for a station (`ws://127.0.0.1:port` or `wss://localhost:port`). */
  get url(): string {
    return this.options.tls ? `wss://localhost:${this.port}` : `ws://127.0.0.1:${this.port}`;
  }

  /** Identities currently connected. */
  get connected(): string[] {
    return [...this.clients.keys()];
  }

  /** Negotiated protocol of a connected station. */
  protocolOf(identity: string): string | undefined {
    return this.clients.get(identity)?.protocol;
  }

  /** Calls of one action, in arrival order. */
  calls(action: string): ReceivedCall[] {
    return this.received.filter((c) => c.action === action);
  }

  /** Listens (again) on the same port. */
  async up(): Promise<void> {
    if (this.http) return;
    const server = this.options.tls
      ? createHttpsServer({ cert: this.options.tls.certPem, key: this.options.tls.keyPem })
      : createHttpServer();
    server.on('upgrade', this.rpc.handleUpgrade);
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    server.on('secureConnection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.http = server;
  }

  /** Goes down: stops listening and drops every connection abruptly (as a crashed CSMS would). */
  async down(): Promise<void> {
    const server = this.http;
    this.http = undefined;
    for (const client of this.clients.values()) void client.close({ force: true });
    this.clients.clear();
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Shuts down for good. */
  async close(): Promise<void> {
    await this.down();
    await this.rpc.close({ force: true });
  }

  /**
   * Calls a connected station.
   *
   * @param identity station identity
   * @param action OCPP action
   * @param payload request (validated by strict mode before sending)
   * @returns the station's reply
   */
  async call(identity: string, action: string, payload: JsonObject): Promise<JsonObject> {
    const client = this.clients.get(identity);
    if (!client) throw new Error(`station ${identity} is not connected`);
    return (await client.call(action, payload)) as JsonObject;
  }

  private attach(client: RpcServerClient): void {
    const identity = client.identity ?? '?';
    this.clients.set(identity, client);
    client.once('close', () => {
      if (this.clients.get(identity) === client) this.clients.delete(identity);
    });
    client.on('strictValidationFailure', (ev: { method?: string; outbound?: boolean; error?: unknown }) => {
      this.validationFailures.push({
        action: ev.method ?? '?',
        outbound: ev.outbound === true,
        detail: ev.error instanceof Error ? ev.error.message : String(ev.error),
      });
    });
    client.on('badMessage', (ev: { error?: unknown }) => {
      this.badMessages.push(ev.error instanceof Error ? ev.error.message : String(ev.error));
    });
    client.handle(async ({ method, params }) => {
      const action = method ?? '?';
      const payload = (params ?? {}) as JsonObject;
      const call: ReceivedCall = { identity, protocol: client.protocol ?? '?', action, payload };
      this.received.push(call);
      const misbehaviour = this.options.misbehave?.(call);
      if (misbehaviour === 'error') throw createRPCError('InternalError', 'test CSMS fails this call');
      if (misbehaviour === 'drop') {
        void client.close({ force: true });
        return new Promise<JsonObject>(() => undefined); // never answered
      }
      return this.reply(action, payload);
    });
  }

  private reply(action: string, payload: JsonObject): JsonObject {
    const now = new Date().toISOString();
    switch (action) {
      case 'BootNotification': {
        const status = this.options.bootReplies?.[this.bootIndex++] ?? 'Accepted';
        return { status, currentTime: now, interval: this.options.bootIntervalSec ?? 60 };
      }
      case 'Heartbeat':
        return { currentTime: now };
      case 'StartTransaction':
        return { transactionId: this.nextTxId16++, idTagInfo: { status: 'Accepted' } };
      case 'DataTransfer':
        return {
          status:
            this.options.dataTransferStatus?.(
              typeof payload.messageId === 'string' ? payload.messageId : '',
            ) ?? 'Accepted',
        };
      case 'TransactionEvent':
        return this.options.transactionEventReply?.(payload) ?? {};
      case 'StatusNotification':
      case 'MeterValues':
      case 'StopTransaction':
      case 'NotifyDisplayMessages':
      case 'NotifyReport':
      case 'SecurityEventNotification':
      case 'FirmwareStatusNotification':
      case 'LogStatusNotification':
      case 'DiagnosticsStatusNotification':
      case 'PublishFirmwareStatusNotification':
      case 'NotifySettlement':
        return {};
      default:
        throw new Error(`test CSMS does not handle ${action}`);
    }
  }
}
