/**
 * OCPP security profiles against a real peer: profile 1 (basic auth over ws://) refuses a wrong password,
 * profile 2 (TLS + basic auth) connects with a configured CA (a self-signed certificate made here with
 * openssl) and refuses a server the CA does not vouch for.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { OcppStation } from '../../wall-module/ocpp/station.js';
import { TestCsms } from '../support/csms.js';
import { selfSigned } from '../support/tls-cert.js';
import { manualStation, tempDb, untilOnline, waitFor, type TempDb } from './harness.js';

const PASSWORD = 'station-secret-0123456789';

describe('OCPP security profiles', () => {
  let dir: string;
  let csms: TestCsms | undefined;
  let tmp: TempDb | undefined;
  let station: OcppStation | undefined;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'boltcharge-tls-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  afterEach(async () => {
    await station?.stop();
    await csms?.close();
    tmp?.cleanup();
    station = csms = tmp = undefined;
  });

  it('profile 1: a wrong password is refused with HTTP 401 and retried with backoff, never accepted', async () => {
    csms = await TestCsms.start({ protocols: ['ocpp2.0.1'], password: PASSWORD });
    tmp = tempDb();
    const m = manualStation(tmp.db, {
      url: csms.url,
      identity: 'wall-p1',
      password: 'wrong-password-000000',
    });
    station = m.station;
    station.start();
    await waitFor(() => station!.status().lastError !== null, 'first refusal seen by the station');
    expect(csms.refused).toHaveLength(1);
    expect(station.status().lastError).toMatch(/401|Unauthorized/);
    await m.clock.advance(1000); // first backoff step
    await waitFor(() => csms!.refused.length === 2, 'retry after backoff');
    expect(station.status().connected).toBe(false);
    expect(csms.calls('BootNotification')).toHaveLength(0);
  });

  it('profile 2: TLS with a configured CA and basic auth boots; without that CA the server is refused', async () => {
    const server = selfSigned(dir, 'csms');
    csms = await TestCsms.start({ protocols: ['ocpp2.0.1', 'ocpp1.6'], password: PASSWORD, tls: server });
    expect(csms.url).toMatch(/^wss:\/\/localhost:/);
    tmp = tempDb();
    const db = tmp.db;
    const url = csms.url;
    const profile2 = (identity: string, caPem: string) =>
      manualStation(db, { url, identity, password: PASSWORD, caPem });
    const m = profile2('wall-p2', server.certPem);
    station = m.station;
    station.start();
    await untilOnline(station, m.clock);
    expect(station.status().protocol).toBe('ocpp2.0.1');
    expect(csms.calls('BootNotification')).toHaveLength(1);
    await station.stop();

    // a different CA: the station must not talk to this server
    const other = selfSigned(dir, 'other');
    const m2 = profile2('wall-p2b', other.certPem);
    station = m2.station;
    station.start();
    await waitFor(() => station!.status().lastError !== null, 'TLS failure');
    expect(station.status().lastError).toMatch(/certificate|self.signed|verify/i);
    expect(station.status().connected).toBe(false);
    expect(csms.calls('BootNotification')).toHaveLength(1);
    // the refused certificate is a security event, queued and reported once the right CSMS is reachable
    expect(station.status().outboxPending).toBe(1);
    await station.stop();
    const m3 = profile2('wall-p2', server.certPem);
    station = m3.station;
    station.start();
    await untilOnline(station, m3.clock);
    await waitFor(() => csms!.calls('SecurityEventNotification').length === 1, 'SecurityEventNotification');
    expect(csms.calls('SecurityEventNotification')[0]?.payload).toMatchObject({
      type: 'InvalidCsmsCertificate',
      techInfo: expect.stringMatching(/certificate|self.signed|verify/i) as unknown,
    });
    expect(csms.validationFailures).toEqual([]);
  });
});
