// sd_notify against a unix datagram socket the test listens on: READY=1, WATCHDOG=1 at half of WATCHDOG_USEC
// (driven by loop ticks on an injected clock), STOPPING=1; path and abstract sockets; inactive without
// NOTIFY_SOCKET; WATCHDOG_PID for another process disables the pings.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SdNotify } from '../../daemon/sd-notify.js';
import { NotifyListener } from './notify-listener.js';

let listener: NotifyListener | null = null;
let notify: SdNotify | null = null;
afterEach(() => {
  notify?.close();
  listener?.close();
  notify = null;
  listener = null;
});

async function settle(count: number): Promise<void> {
  const deadline = Date.now() + 5000;
  while (listener!.received.length < count && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 20));
}

describe('sd_notify', () => {
  for (const kind of ['path', 'abstract'] as const) {
    it(`sends READY=1, then WATCHDOG=1 at half of WATCHDOG_USEC from loop ticks, STOPPING=1 (${kind} socket)`, async () => {
      const socket =
        kind === 'path'
          ? join(mkdtempSync(join(tmpdir(), 'sdnotify-')), 'notify.sock')
          : `@boltcharge-test-${process.pid}-${Date.now()}`;
      listener = await NotifyListener.listen(socket);
      let nowMs = 1_000_000;
      notify = SdNotify.fromEnv({
        env: { NOTIFY_SOCKET: socket, WATCHDOG_USEC: '10000000', WATCHDOG_PID: '4242' },
        pid: 4242,
        nowMs: () => nowMs,
      });
      expect(notify.active).toBe(true);
      expect(notify.watchdogPingMs).toBe(5000);
      // the loop ticks while the daemon still starts: no ping before READY=1
      notify.loopAlive();
      await notify.ready('charging');
      // a tick every second for 30 s: a ping at 0, 5, 10, ... 30 s
      for (let t = 0; t <= 30_000; t += 1000) {
        nowMs = 1_000_000 + t;
        notify.loopAlive();
      }
      await notify.stopping();
      await settle(9);
      const texts = listener.received.map((n) => n.text.split('\n')[0]);
      expect(texts).toEqual(['READY=1', ...Array<string>(7).fill('WATCHDOG=1'), 'STOPPING=1']);
      expect(listener.received[0]!.text).toContain('STATUS=charging');
      expect(listener.received[0]!.text).toContain(`MAINPID=${process.pid}`);
    });
  }

  it('does nothing without NOTIFY_SOCKET, and sends no pings when WATCHDOG_PID names another process', async () => {
    const off = SdNotify.fromEnv({ env: {} });
    expect(off.active).toBe(false);
    await off.ready();
    off.loopAlive();
    await off.stopping();
    const socket = join(mkdtempSync(join(tmpdir(), 'sdnotify-')), 'notify.sock');
    listener = await NotifyListener.listen(socket);
    notify = SdNotify.fromEnv({
      env: { NOTIFY_SOCKET: socket, WATCHDOG_USEC: '1000000', WATCHDOG_PID: '1' },
      pid: 4242,
    });
    expect(notify.watchdogPingMs).toBeNull();
    notify.loopAlive();
    await notify.ready();
    await settle(1);
    await new Promise((r) => setTimeout(r, 200));
    expect(listener.received.map((n) => n.text.split('\n')[0])).toEqual(['READY=1']);
  });
});
