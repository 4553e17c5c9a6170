/**
 * Remote access to a simulated world running in another process (the demo or an end-to-end test harness): the
 * wall daemon's charger and meter and the vehicle daemon's meter are reached over one WebSocket each, so the
 * two daemons run as separate processes against one simulated car. `RemoteEvse` implements `Evse` and
 * `RemoteMeter` implements `EnergyMeter`; the server side is `scripts/demo/sim-bridge.ts`.
 *
 * Wire format (JSON text frames):
 *   client → server  {"id":1,"target":"evse"|"wall"|"vehicle","method":"read"|"status"|…,"args":[…]}
 *   server → client  {"id":1,"ok":true,"result":…} | {"id":1,"ok":false,"error":{"name":…,"message":…}}
 *   server → client  {"event":"status"|"fault"|"link","args":[…]}   (EVSE events, pushed)
 */
import { EventEmitter } from 'node:events';
import WebSocket from 'ws';
import type {
  Evse,
  EvseEvents,
  EvseReadings,
  EvseStatus,
  EvseWatchdogStatus,
} from '../hardware/evse/evse.js';
import { EvseCommandFailed, EvseUnreachable, EvseWatchdogUnsupported } from '../hardware/evse/evse.js';
import type { EnergyMeter, MeterReading } from '../hardware/meter/energy-meter.js';
import { MeterError, MeterTimeout } from '../hardware/meter/energy-meter.js';

/** A request to the bridge. */
export interface SimBridgeRequest {
  id: number;
  target: 'evse' | 'wall' | 'vehicle';
  method: string;
  args: unknown[];
}

/** A reply or a pushed event from the bridge. */
export type SimBridgeMessage =
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; error: { name: string; message: string } }
  | SimBridgeEvent;

/** An EVSE event pushed by the bridge. */
export interface SimBridgeEvent {
  event: 'status' | 'fault' | 'link';
  args: unknown[];
}

/** The simulated world's bridge cannot be reached. */
export class SimBridgeUnreachable extends Error {
  override readonly name = 'SimBridgeUnreachable';
}

/** One WebSocket connection to the bridge, with request/response matching and automatic reconnects. */
export class SimBridgeClient extends EventEmitter<{ event: [SimBridgeEvent] }> {
  private ws: WebSocket | null = null;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private closed = false;
  private connecting: Promise<WebSocket> | null = null;

  /** @param url ws:// URL of the bridge */
  constructor(readonly url: string) {
    super();
  }

  private connect(): Promise<WebSocket> {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) return Promise.resolve(this.ws);
    if (this.connecting) return this.connecting;
    this.connecting = new Promise<WebSocket>((resolve, reject) => {
      const ws = new WebSocket(this.url);
      ws.once('open', () => {
        this.ws = ws;
        this.connecting = null;
        resolve(ws);
      });
      ws.once('error', (err) => {
        this.connecting = null;
        reject(new SimBridgeUnreachable(`simulated world at ${this.url}: ${err.message}`));
      });
      ws.on('message', (data) => this.onMessage(String(data)));
      ws.on('close', () => {
        if (this.ws === ws) this.ws = null;
        for (const w of this.waiting.values()) w.reject(new SimBridgeUnreachable('bridge connection closed'));
        this.waiting.clear();
      });
    });
    return this.connecting;
  }

  private onMessage(text: string): void {
    const m = JSON.parse(text) as SimBridgeMessage;
    if ('event' in m) {
      this.emit('event', m);
      return;
    }
    const w = this.waiting.get(m.id);
    if (!w) return;
    this.waiting.delete(m.id);
    if (m.ok) w.resolve(m.result);
    else {
      const e = new Error(m.error.message);
      e.name = m.error.name;
      w.reject(e);
    }
  }

  /**
   * Calls a method on a simulated device.
   *
   * @param target which device
   * @param method its method name
   * @param args JSON arguments
   * @returns the JSON result
   * @throws SimBridgeUnreachable, or the device's error (name preserved)
   */
  async call(target: SimBridgeRequest['target'], method: string, args: unknown[] = []): Promise<unknown> {
    if (this.closed) throw new SimBridgeUnreachable('client closed');
    const ws = await this.connect();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      ws.send(JSON.stringify({ id, target, method, args } satisfies SimBridgeRequest));
    });
  }

  /** Opens the connection now (so pushed events flow before the first call). */
  async open(): Promise<void> {
    await this.connect();
  }

  /** Closes the connection. */
  close(): void {
    this.closed = true;
    this.ws?.close();
  }
}

/** The simulated charger, reached through the bridge. */
export class RemoteEvse extends EventEmitter<EvseEvents> implements Evse {
  /** @param client bridge connection (owned by this object) */
  constructor(private readonly client: SimBridgeClient) {
    super();
    client.on('event', (m) => {
      if (m.event === 'status') this.emit('status', m.args[0] as EvseStatus);
      else if (m.event === 'fault') this.emit('fault', m.args[0] as never, m.args[1] as EvseStatus);
      else if (m.event === 'link') this.emit('link', m.args[0] as boolean);
    });
  }

  /**
   * Connects to the bridge's charger.
   *
   * @param url ws:// URL of the bridge
   */
  static async connect(url: string): Promise<RemoteEvse> {
    const client = new SimBridgeClient(url);
    await client.open();
    await client.call('evse', 'subscribe');
    return new RemoteEvse(client);
  }

  private async call(method: string, args: unknown[] = []): Promise<unknown> {
    try {
      return await this.client.call('evse', method, args);
    } catch (err) {
      const e = err as Error;
      if (e.name === 'EvseUnreachable' || e instanceof SimBridgeUnreachable)
        throw new EvseUnreachable(e.message);
      if (e.name === 'EvseWatchdogUnsupported') throw new EvseWatchdogUnsupported(e.message);
      throw new EvseCommandFailed(method, e.message);
    }
  }

  async status(): Promise<EvseStatus> {
    return (await this.call('status')) as EvseStatus;
  }
  async readings(): Promise<EvseReadings> {
    return (await this.call('readings')) as EvseReadings;
  }
  async enable(): Promise<void> {
    await this.call('enable');
  }
  async pause(): Promise<void> {
    await this.call('pause');
  }
  async setCurrentLimitA(amps: number): Promise<number> {
    return (await this.call('setCurrentLimitA', [amps])) as number;
  }
  async watchdogStatus(): Promise<EvseWatchdogStatus | null> {
    return (await this.call('watchdogStatus')) as EvseWatchdogStatus | null;
  }
  async armWatchdog(intervalSec: number, fallbackCurrentA: number): Promise<EvseWatchdogStatus> {
    return (await this.call('armWatchdog', [intervalSec, fallbackCurrentA])) as EvseWatchdogStatus;
  }
  async petWatchdog(): Promise<EvseWatchdogStatus> {
    return (await this.call('petWatchdog')) as EvseWatchdogStatus;
  }
  async ackWatchdog(): Promise<EvseWatchdogStatus> {
    return (await this.call('ackWatchdog')) as EvseWatchdogStatus;
  }
  async close(): Promise<void> {
    this.client.close();
  }
}

/** A simulated meter, reached through the bridge. */
export class RemoteMeter implements EnergyMeter {
  private readonly client: SimBridgeClient;

  /**
   * @param url ws:// URL of the bridge
   * @param side which simulated meter (`wall` beside the charger, `vehicle` in the car)
   */
  constructor(
    url: string,
    private readonly side: 'wall' | 'vehicle',
  ) {
    this.client = new SimBridgeClient(url);
  }

  async read(): Promise<MeterReading> {
    try {
      return (await this.client.call(this.side, 'read')) as MeterReading;
    } catch (err) {
      const e = err as Error;
      if (e instanceof SimBridgeUnreachable)
        throw new MeterTimeout(`sim ${this.side} meter`, 0, 1, e.message);
      const m = new MeterError(e.message);
      throw m;
    }
  }
  async close(): Promise<void> {
    this.client.close();
  }
}
