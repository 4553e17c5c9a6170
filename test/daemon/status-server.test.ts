import { request } from 'node:http';
import { afterAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { StatusServer } from '../../daemon/status-server.js';
import { WallBooksFixture } from './status-fixture.js';

/** A raw HTTP request with any Host/Origin (fetch would not let us forge Host). */
function raw(
  url: string,
  opts: { method?: string; path: string; headers?: Record<string, string>; body?: string },
): Promise<{ status: number; body: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        method: opts.method ?? 'GET',
        path: opts.path,
        headers: opts.headers,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

describe('status server: hostile callers', () => {
  const fx = new WallBooksFixture();
  const servers: StatusServer[] = [];
  afterAll(async () => {
    for (const s of servers) await s.close();
    fx.store.close();
  });
  const start = async (opts: Parameters<typeof StatusServer.start>[3] = {}): Promise<StatusServer> => {
    const s = await StatusServer.start(fx.source, '127.0.0.1', 0, opts);
    servers.push(s);
    return s;
  };

  it('refuses a foreign Host (DNS rebinding) with 421 and a foreign Origin with 403, on HTTP and WebSocket', async () => {
    const s = await start({ allowedHosts: ['charger.local'], allowedOrigins: ['https://proxy.example.org'] });
    const port = new URL(s.url).port;
    const ok = await raw(s.url, { path: '/api/status', headers: { host: `127.0.0.1:${port}` } });
    expect(ok.status).toBe(200);
    expect((await raw(s.url, { path: '/api/status', headers: { host: `localhost:${port}` } })).status).toBe(
      200,
    );
    expect(
      (await raw(s.url, { path: '/api/status', headers: { host: `charger.local:${port}` } })).status,
    ).toBe(200);
    const rebound = await raw(s.url, { path: '/api/status', headers: { host: `attacker.example:${port}` } });
    expect(rebound.status).toBe(421);
    expect(JSON.parse(rebound.body)).toMatchObject({ error: 'HostNotAllowed' });
    const cross = await raw(s.url, {
      path: '/api/sessions',
      headers: { host: `127.0.0.1:${port}`, origin: 'http://evil.example' },
    });
    expect(cross.status).toBe(403);
    expect(JSON.parse(cross.body)).toMatchObject({ error: 'OriginNotAllowed' });
    const same = await raw(s.url, {
      path: '/api/status',
      headers: { host: `127.0.0.1:${port}`, origin: `http://127.0.0.1:${port}` },
    });
    expect(same.status).toBe(200);
    const proxied = await raw(s.url, {
      path: '/api/status',
      headers: { host: `charger.local:${port}`, origin: 'https://proxy.example.org' },
    });
    expect(proxied.status).toBe(200);

    // WebSocket: the same checks at the upgrade
    const wsStatus = (headers: Record<string, string>): Promise<number> =>
      new Promise((resolve) => {
        const ws = new WebSocket(s.url.replace('http', 'ws') + 'ws', { headers });
        ws.on('open', () => {
          ws.close();
          resolve(101);
        });
        ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        ws.on('error', () => resolve(-1));
      });
    expect(await wsStatus({ origin: `http://127.0.0.1:${port}` })).toBe(101);
    expect(await wsStatus({ origin: 'http://evil.example' })).toBe(403);
    expect(await wsStatus({ host: `rebind.example:${port}` })).toBe(421);
  });

  it('actions: POST only, token in a header, JSON body bounded; without a configured token the page is read-only', async () => {
    const readOnly = await start();
    const r0 = await fetch(readOnly.url + 'api/actions/stop', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-operator-token': 'anything' },
      body: '{}',
    });
    expect(r0.status).toBe(403);
    expect(await r0.json()).toMatchObject({ error: 'OperatorTokenMissing' });

    const s = await start({ operatorToken: 'sekret-token' });
    const post = (headers: Record<string, string>, body = '{}'): Promise<Response> =>
      fetch(s.url + 'api/actions/clear-fault', { method: 'POST', headers, body });
    expect((await post({ 'content-type': 'application/json' })).status).toBe(401);
    expect((await post({ 'content-type': 'application/json', 'x-operator-token': 'wrong' })).status).toBe(
      401,
    );
    // a cookie is not a token
    expect(
      (await post({ 'content-type': 'application/json', cookie: 'x-operator-token=sekret-token' })).status,
    ).toBe(401);
    // not JSON (a form post from another site would be this)
    expect(
      (
        await post({
          'content-type': 'application/x-www-form-urlencoded',
          'x-operator-token': 'sekret-token',
        })
      ).status,
    ).toBe(415);
    expect(
      (
        await post(
          { 'content-type': 'application/json', 'x-operator-token': 'sekret-token' },
          JSON.stringify({ pad: 'x'.repeat(10_000) }),
        )
      ).status,
    ).toBe(413);
    // GET on an action is not an action
    expect((await fetch(s.url + 'api/actions/stop')).status).toBe(405);
    const ok = await post({ 'content-type': 'application/json', 'x-operator-token': 'sekret-token' });
    expect(ok.status).toBe(200);
    const ev = (await (await fetch(s.url + 'api/alarms')).json()) as { kind: string }[];
    expect(ev.map((e) => e.kind)).toContain('operator.clearFault');
  });

  it('closes a WebSocket that sends a frame over the cap, and drops a reader that does not read', async () => {
    const s = await start({ maxPayloadBytes: 1024, maxBufferedBytes: 64 * 1024 });
    const big = new WebSocket(s.url.replace('http', 'ws') + 'ws');
    await new Promise((r) => big.once('message', r));
    const closed = new Promise<number>((r) => big.once('close', (code) => r(code)));
    big.send('x'.repeat(100_000));
    expect(await closed).toBe(1009); // message too big

    // a slow reader: its socket stops reading; pushes pile up until the server drops it
    const slow = new WebSocket(s.url.replace('http', 'ws') + 'ws');
    await new Promise((r) => slow.once('message', r));
    (slow as unknown as { _socket: { pause(): void } })._socket.pause();
    // make every push large: a long ledger
    await fx.start();
    for (let i = 0; i < 60; i++) await fx.invoice(false);
    const fast = new WebSocket(s.url.replace('http', 'ws') + 'ws');
    let fastMessages = 0;
    fast.on('message', () => fastMessages++);
    await new Promise((r) => fast.once('open', r));
    const before = s.droppedSlowReaders;
    for (let i = 0; i < 2000 && s.droppedSlowReaders === before; i++) {
      s.publish();
      await new Promise((r) => setImmediate(r));
    }
    expect(s.droppedSlowReaders).toBe(before + 1);
    expect(s.clientCount).toBe(1); // the reader that reads stays
    await new Promise((r) => setTimeout(r, 50));
    expect(fastMessages).toBeGreaterThan(1);
    fast.close();
    slow.terminate();
    fx.end();
  });
});
