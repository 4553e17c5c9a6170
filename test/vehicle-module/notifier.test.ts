import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SystemClock } from '../../hardware/clock.js';
import { createLogger } from '../../daemon/logger.js';
import { Notifier, type PaymentNotification } from '../../vehicle-module/notifier.js';
import { VehicleStore } from '../../vehicle-module/store.js';

const closers: (() => void)[] = [];
afterEach(() => closers.splice(0).forEach((c) => c()));

const note: PaymentNotification = {
  type: 'payment',
  time: '2026-01-01T00:00:00.000Z',
  sessionId: 's1',
  seq: 3,
  outcome: 'succeeded',
  amountMsat: 4_900n,
  feeMsat: 1n,
  energyWh: 49,
  priceMsatPerWh: 100n,
  seller: '02ab',
  paymentHash: 'cd'.repeat(32),
};

describe('payment notifier', () => {
  it('logs every payment and POSTs it to the webhook, retrying until the endpoint accepts', async () => {
    const received: { auth: string | undefined; body: Record<string, unknown> }[] = [];
    let calls = 0;
    const server = createServer((req, res) => {
      let text = '';
      req.on('data', (c: Buffer) => (text += c.toString()));
      req.on('end', () => {
        calls++;
        if (calls <= 2) {
          res.writeHead(503).end();
          return;
        }
        received.push({ auth: req.headers.authorization, body: JSON.parse(text) as Record<string, unknown> });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    closers.push(() => server.close());
    const port = (server.address() as AddressInfo).port;
    const clock = new SystemClock();
    const store = VehicleStore.open(join(mkdtempSync(join(tmpdir(), 'notif-')), 'v.sqlite'), clock);
    closers.push(() => store.close());
    const lines: string[] = [];
    const log = createLogger({ name: 'vehicle', level: 'info', clock, sink: (l) => lines.push(l) });
    const n = new Notifier(
      {
        log: true,
        webhook: {
          url: `http://127.0.0.1:${port}/hook`,
          attempts: 5,
          backoffMs: 20,
          timeoutMs: 1000,
          secret: 's3',
        },
      },
      store,
      clock,
      log,
    );
    closers.push(() => n.stop());
    n.start();
    n.notify(note);
    for (let i = 0; i < 500 && store.notifications()[0]?.state !== 'delivered'; i++) await clock.sleep(20);
    expect(calls).toBe(3);
    expect(received[0]?.auth).toBe('Bearer s3');
    expect(received[0]?.body).toMatchObject({ amountMsat: '4900', energyWh: 49, seller: '02ab', seq: 3 });
    expect(store.notifications()[0]).toMatchObject({ state: 'delivered', attempts: 3 });
    expect(lines.some((l) => l.includes('"payment succeeded"') && l.includes('"amountMsat":"4900"'))).toBe(
      true,
    );
  });

  it('gives up after the configured attempts and keeps the record', async () => {
    const clock = new SystemClock();
    const store = VehicleStore.open(join(mkdtempSync(join(tmpdir(), 'notif-')), 'v.sqlite'), clock);
    closers.push(() => store.close());
    const log = createLogger({ name: 'vehicle', level: 'error', clock, sink: () => {} });
    // a port nothing listens on
    const n = new Notifier(
      { log: false, webhook: { url: 'http://127.0.0.1:9/hook', attempts: 2, backoffMs: 10, timeoutMs: 500 } },
      store,
      clock,
      log,
    );
    closers.push(() => n.stop());
    n.start();
    n.notify(note);
    for (let i = 0; i < 500 && store.notifications()[0]?.state !== 'failed'; i++) await clock.sleep(20);
    expect(store.notifications()[0]).toMatchObject({ state: 'failed', attempts: 2 });
  });
});
