/**
 * Negative control for the test CSMS: its strict mode really validates what a station sends, so the
 * "no validation failures" assertions of the other OCPP tests mean something.
 */
import { RPCClient } from 'ocpp-rpc';
import { afterEach, describe, expect, it } from 'vitest';
import { TestCsms } from '../support/csms.js';

describe('test CSMS strict mode', () => {
  let csms: TestCsms | undefined;
  afterEach(async () => {
    await csms?.close();
  });

  it.each(['ocpp2.0.1', 'ocpp1.6', 'ocpp2.1'] as const)(
    'rejects and records an invalid %s BootNotification',
    async (protocol) => {
      csms = await TestCsms.start({ protocols: [protocol] });
      const client = new RPCClient({
        endpoint: csms.url,
        identity: 'sloppy-station',
        protocols: [protocol],
        strictMode: false,
        reconnect: false,
      } as ConstructorParameters<typeof RPCClient>[0]);
      await client.connect();
      try {
        await expect(client.call('BootNotification', { chargingStation: { model: 42 } })).rejects.toThrow();
        expect(csms.validationFailures).toHaveLength(1);
        expect(csms.validationFailures[0]).toMatchObject({ action: 'BootNotification', outbound: false });
        expect(csms.calls('BootNotification')).toHaveLength(0);
      } finally {
        await client.close({ force: true });
      }
    },
  );
});
