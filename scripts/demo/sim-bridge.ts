/**
 * Serves a simulated world (`hardware/sim`) to daemons in other processes over WebSocket (see
 * `daemon/sim-remote.ts` for the wire format). The demo and the end-to-end tests run the world in their own
 * process, so they can plug, unplug and inject faults, while the daemons run as real child processes.
 */
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { SimWorld } from '../../hardware/sim/sim-world.js';
import type { SimBridgeMessage, SimBridgeRequest } from '../../daemon/sim-remote.js';

const evseMethods = new Set([
  'status',
  'readings',
  'enable',
  'pause',
  'setCurrentLimitA',
  'watchdogStatus',
  'armWatchdog',
  'petWatchdog',
  'ackWatchdog',
]);

/** A running bridge. */
export interface SimBridge {
  /** ws:// URL for the daemons' `evse.url` / `meter.url` */
  url: string;
  close(): Promise<void>;
}

/**
 * Starts serving `world` on a free port (loopback unless told otherwise).
 *
 * @param world the simulated world (its charger emits status events that are pushed to subscribers)
 * @param port TCP port (0 = any free port)
 * @param host literal address to listen on (default loopback; a namespace's daemons use the cable's address)
 * @returns the bridge's URL and a close function
 */
export async function startSimBridge(world: SimWorld, port = 0, host = '127.0.0.1'): Promise<SimBridge> {
  const wss = new WebSocketServer({ host, port });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  const subscribers = new Set<WebSocket>();
  const push = (m: SimBridgeMessage): void => {
    const text = JSON.stringify(m);
    for (const ws of subscribers) if (ws.readyState === ws.OPEN) ws.send(text);
  };
  world.evse.on('status', (s) => push({ event: 'status', args: [s] }));
  world.evse.on('fault', (f, s) => push({ event: 'fault', args: [f, s] }));
  wss.on('connection', (ws) => {
    ws.on('close', () => subscribers.delete(ws));
    ws.on('message', (data) => {
      const req = JSON.parse(String(data)) as SimBridgeRequest;
      void handle(req).then(
        (result) => ws.send(JSON.stringify({ id: req.id, ok: true, result: result ?? null })),
        (err: Error) =>
          ws.send(JSON.stringify({ id: req.id, ok: false, error: { name: err.name, message: err.message } })),
      );
    });
    async function handle(req: SimBridgeRequest): Promise<unknown> {
      if (req.target === 'evse') {
        if (req.method === 'subscribe') {
          subscribers.add(ws);
          return null;
        }
        if (!evseMethods.has(req.method)) throw new Error(`unknown evse method ${req.method}`);
        const evse = world.evse as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
        return evse[req.method]!.apply(world.evse, req.args);
      }
      if (req.method !== 'read') throw new Error(`unknown meter method ${req.method}`);
      return (req.target === 'wall' ? world.wallMeter : world.vehicleMeter).read();
    }
  });
  const addr = wss.address() as AddressInfo;
  return {
    url: `ws://${host.includes(':') ? `[${host}]` : host}:${addr.port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => resolve());
      }),
  };
}
