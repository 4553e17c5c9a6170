/**
 * SetDisplayMessage from a CSMS shows a QR code on the real wall daemon's own status page: a 2.0.1 URI message
 * and, with a CSMS that speaks only OCPP 2.1 (the daemon offers `ocpp2.1` first), a 2.1 QRCODE message. The
 * page is loaded in headless Chromium and the QR's on-screen pixels are compared module by module with an
 * independent encoding of the content (test/support/qr-on-screen.ts); clearing the message removes it.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { ChargeRig } from '../../scripts/demo/rig.js';
import type { OcppVersion } from '../../wall-module/ocpp/types.js';
import { TestCsms } from '../support/csms.js';
import {
  expectedModules,
  launchHeadlessChromium,
  qrModulesOnScreen,
  type HeadlessBrowser,
} from '../support/qr-on-screen.js';
import { SPEED } from './ocpp-e2e.js';

const STATION = 'WALL-DISPLAY';

describe('CSMS display messages on the wall daemon status page', () => {
  const connectionFile = inject('regtestConnectionPath');
  let browser: HeadlessBrowser;
  let rig: ChargeRig | undefined;
  let csms: TestCsms | undefined;

  beforeAll(async () => {
    browser = await launchHeadlessChromium();
  });
  afterEach(async () => {
    await rig?.stop();
    await csms?.close();
    rig = undefined;
    csms = undefined;
  });
  afterAll(async () => {
    await browser?.close();
  });

  /** A CSMS speaking `csmsProtocols` and a running wall daemon (no car) connected and booted on it. */
  async function wallOnline(csmsProtocols: OcppVersion[], wallProtocols?: string): Promise<ChargeRig> {
    csms = await TestCsms.start({ protocols: csmsProtocols });
    const c = csms;
    rig = await ChargeRig.create({
      dir: mkdtempSync(join(tmpdir(), 'e2e-ocpp-display-')),
      connectionFile,
      link: 'can',
      speed: SPEED,
      wall: {
        ocpp: {
          url: c.url,
          stationId: STATION,
          vendorId: 'org.boltcharge',
          ...(wallProtocols ? { protocols: wallProtocols } : {}),
        },
      },
    });
    await rig.wall.start();
    await rig.until(
      'the wall booted',
      () => c.calls('BootNotification').length >= 1 && c.connected.includes(STATION),
      30_000,
    );
    return rig;
  }

  /** The text of the wall's status page's CSMS section (what /api/extra serves). */
  async function extraHtml(r: ChargeRig): Promise<string> {
    return (await fetch(new URL('api/extra', r.wall.statusUrl))).text();
  }

  it('2.0.1: a URI message is drawn as a QR code on the page, and cleared', async () => {
    const r = await wallOnline(['ocpp2.0.1']);
    const c = csms!;
    expect(c.protocolOf(STATION)).toBe('ocpp2.0.1');
    const uri = 'https://pay.example.com/charge?evse=1&station=WALL-DISPLAY';
    expect(
      await c.call(STATION, 'SetDisplayMessage', {
        message: { id: 11, priority: 'InFront', message: { format: 'URI', content: uri } },
      }),
    ).toEqual({ status: 'Accepted' });
    // the spec's replies for what the wall cannot show
    expect(
      await c.call(STATION, 'SetDisplayMessage', {
        message: { id: 12, priority: 'InFront', message: { format: 'HTML', content: '<b>pay</b>' } },
      }),
    ).toEqual({ status: 'NotSupportedMessageFormat' });

    const [onScreen] = await qrModulesOnScreen(browser.context, r.wall.statusUrl, [
      expectedModules(uri).length,
    ]);
    expect(onScreen).toEqual(expectedModules(uri));
    expect(onScreen).not.toEqual(expectedModules(`${uri}0`)); // the comparison discriminates
    expect(await extraHtml(r)).toContain(`href="${uri.replace(/&/g, '&amp;')}"`);

    expect(await c.call(STATION, 'ClearDisplayMessage', { id: 11 })).toEqual({ status: 'Accepted' });
    await r.until(
      'the page no longer shows the QR code',
      async () => !(await extraHtml(r)).includes('ocpp-qr'),
    );
    expect(c.validationFailures).toEqual([]);
  });

  it('2.1: the daemon negotiates ocpp2.1 and a QRCODE message is drawn on the page', async () => {
    const r = await wallOnline(['ocpp2.1'], 'ocpp2.1,ocpp2.0.1,ocpp1.6');
    const c = csms!;
    expect(c.protocolOf(STATION)).toBe('ocpp2.1');
    const invoice = `lightning:lnbcrt${'q'.repeat(400)}`;
    expect(
      await c.call(STATION, 'SetDisplayMessage', {
        message: { id: 21, priority: 'AlwaysFront', message: { format: 'QRCODE', content: invoice } },
      }),
    ).toEqual({ status: 'Accepted' });
    const [onScreen] = await qrModulesOnScreen(browser.context, r.wall.statusUrl, [
      expectedModules(invoice).length,
    ]);
    expect(onScreen).toEqual(expectedModules(invoice));
    expect(c.validationFailures).toEqual([]);
  });
});
