// parseLndConnection: lndconnect URIs and explicit socket + cert + macaroon, values or files.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InvalidLndConnection, parseLndConnection } from '../../lightning/connection.js';

// A real self-signed certificate shape is not needed: parsing only moves bytes between encodings.
const derBytes = Buffer.from('3082010a0282010100c0ffee', 'hex');
const macaroonBytes = Buffer.from('0201036c6e6402f801030a10', 'hex');
const b64url = (b: Buffer) => b.toString('base64').replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
const pem = `-----BEGIN CERTIFICATE-----\n${derBytes.toString('base64')}\n-----END CERTIFICATE-----\n`;

const dir = mkdtempSync(join(tmpdir(), 'boltcharge-conn-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('parseLndConnection: lndconnect URI', () => {
  it('reads host, port, DER cert (as base64 PEM) and macaroon (as hex)', () => {
    const uri = `lndconnect://node.example:10010?cert=${b64url(derBytes)}&macaroon=${b64url(macaroonBytes)}`;
    const c = parseLndConnection(uri);
    expect(c.socket).toBe('node.example:10010');
    expect(c.macaroon).toBe(macaroonBytes.toString('hex'));
    const certPem = Buffer.from(c.cert!, 'base64').toString('utf8');
    expect(certPem).toMatch(/^-----BEGIN CERTIFICATE-----\n/);
    expect(Buffer.from(certPem.split('\n')[1]!, 'base64').equals(derBytes)).toBe(true);
  });

  it('defaults the port to 10009 and allows no cert (CA-signed)', () => {
    const c = parseLndConnection(`lndconnect://10.0.0.5?macaroon=${b64url(macaroonBytes)}`);
    expect(c).toEqual({ socket: '10.0.0.5:10009', cert: undefined, macaroon: macaroonBytes.toString('hex') });
  });

  it('rejects other schemes, a missing macaroon and non-base64 values with a named error', () => {
    expect(() => parseLndConnection('https://x:1?macaroon=AA')).toThrow(InvalidLndConnection);
    expect(() => parseLndConnection('lndconnect://x:1?cert=AAAA')).toThrow(/no macaroon/);
    expect(() => parseLndConnection('lndconnect://x:1?macaroon=%%%')).toThrow(/not base64url/);
    expect(() => parseLndConnection('not a uri')).toThrow(InvalidLndConnection);
  });
});

describe('parseLndConnection: explicit details', () => {
  it('takes PEM text or base64 PEM, and hex or base64 macaroon', () => {
    const a = parseLndConnection({
      socket: 'localhost:10009',
      cert: pem,
      macaroon: macaroonBytes.toString('hex'),
    });
    const b = parseLndConnection({
      socket: 'localhost:10009',
      cert: Buffer.from(pem).toString('base64'),
      macaroon: macaroonBytes.toString('base64'),
    });
    expect(a).toEqual(b);
    expect(Buffer.from(a.cert!, 'base64').toString()).toBe(pem);
    expect(a.macaroon).toBe(macaroonBytes.toString('hex'));
  });

  it('reads cert and macaroon from files', () => {
    writeFileSync(join(dir, 'tls.cert'), pem);
    writeFileSync(join(dir, 'admin.macaroon'), macaroonBytes);
    const c = parseLndConnection({
      socket: '127.0.0.1:10009',
      certPath: join(dir, 'tls.cert'),
      macaroonPath: join(dir, 'admin.macaroon'),
    });
    expect(Buffer.from(c.cert!, 'base64').toString()).toBe(pem);
    expect(c.macaroon).toBe(macaroonBytes.toString('hex'));
  });

  it('rejects a bad socket, a missing macaroon, a non-certificate and ambiguous inputs', () => {
    expect(() => parseLndConnection({ socket: 'localhost', macaroon: 'aa' })).toThrow(/host:port/);
    expect(() => parseLndConnection({ socket: 'localhost:1' })).toThrow(/macaroon/);
    expect(() =>
      parseLndConnection({
        socket: 'localhost:1',
        cert: Buffer.from('hello').toString('base64'),
        macaroon: 'aa',
      }),
    ).toThrow(/PEM/);
    expect(() =>
      parseLndConnection({ socket: 'localhost:1', cert: pem, certPath: '/x', macaroon: 'aa' }),
    ).toThrow(/not both/);
  });
});
