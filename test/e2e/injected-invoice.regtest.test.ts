import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { SystemClock } from '../../hardware/clock.js';
import { createCableLink } from '../../hardware/link/create-cable-link.js';
import { sealMessage, sellerChannel } from '../../protocol/index.js';
import { restoreSellerState } from '../../protocol/serialize.js';
import { readBooks, regtestNodes } from '../../scripts/demo/books.js';
import { ChargeRig } from '../../scripts/demo/rig.js';
import { VehicleStore } from '../../vehicle-module/store.js';

const BITRATE = 500_000;

describe('invoices injected on the CAN bus', () => {
  const connectionFile = inject('regtestConnectionPath');
  let rig: ChargeRig;
  afterAll(async () => {
    await rig?.stop();
  });

  it('a forged frame is rejected, and a wrong-payee invoice sealed with the session keys is refused and never paid', async () => {
    rig = await ChargeRig.create({
      dir: mkdtempSync(join(tmpdir(), 'e2e-inject-')),
      connectionFile,
      link: 'can',
      bitrate: BITRATE,
      speed: 10,
      extraAdapters: ['attacker'],
      wall: { session: { heartbeatTimeoutMs: 100_000 } },
      vehicle: { session: { heartbeatTimeoutMs: 100_000 } },
    });
    await rig.startDaemons();
    rig.world.plug();
    await rig.until('charging with invoices paid', async () => {
      const w = await rig.wall.status();
      return w.state === 'charging' && w.ledger.filter((l) => l.state === 'settled').length >= 3;
    });
    const attacker = createCableLink('wall', {
      medium: 'slcan',
      path: rig.emulator!.paths.attacker!,
      bitrate: BITRATE,
    });
    await attacker.open();
    // the attacker waits for a quiet bus: the wall is frozen while the frames go out, so the two ISO-TP
    // transfers on 0x7CD do not interleave
    const wallPid = rig.wall.pid!;
    process.kill(wallPid, 'SIGSTOP');
    let wallFrozen = true;
    try {
      await new Promise((r) => setTimeout(r, 300));
      // 1. an outsider's frame: the wall's session header with garbage ciphertext → rejected by the channel
      const db = new Database(rig.files.wallDb, { readonly: true });
      const row = db.prepare("SELECT state_json FROM machine_state WHERE slot = 'main'").get() as {
        state_json: string;
      };
      db.close();
      const wall = restoreSellerState(row.state_json);
      expect(wall.ok).toBe(true);
      if (!wall.ok) return;
      const channel = sellerChannel(wall.value);
      if (channel === null) throw new Error('the wall has no channel');
      const n = regtestNodes(connectionFile);
      const price = wall.value.schedule[0]!.priceMsatPerWh;
      const forged = sealMessage(
        { ...channel, sendKey: '11'.repeat(32), sendCounter: channel.sendCounter + 10 },
        { type: 'ping', atMs: rig.clock.now() },
      );
      expect(forged.ok).toBe(true);
      if (forged.ok) await attacker.send(forged.value.frame);

      // 2. an invoice payable to another node (here: the vehicle's own node), sealed with the leaked session key
      const blockWh = 48;
      const other = await n.vehicle.createInvoice({
        amountMsat: price * BigInt(blockWh),
        memo: 'not the wall',
        expirySec: 3600,
      });
      const sealed = sealMessage(
        { ...channel, sendCounter: channel.sendCounter + 20 },
        {
          type: 'invoice',
          seq: wall.value.invoices.length + 5,
          fromWh: wall.value.paidWh,
          blockWh,
          priceMsatPerWh: price,
          amountMsat: price * BigInt(blockWh),
          bolt11: other.bolt11,
        },
      );
      expect(sealed.ok).toBe(true);
      if (sealed.ok) await attacker.send(sealed.value.frame);
      await new Promise((r) => setTimeout(r, 300));
      process.kill(wallPid, 'SIGCONT');
      wallFrozen = false;

      await rig.until(
        'the vehicle refused it and ended',
        async () => (await rig.vehicle.status()).state === 'ended',
        60_000,
      );
      expect((await rig.vehicle.status()).stopReason).toBe('INVOICE_WRONG_PAYEE');
      await rig.until('the wall ended too', async () => (await rig.wall.status()).state === 'ended', 60_000);
      await rig.stop();

      const store = VehicleStore.open(rig.files.vehicleDb, new SystemClock());
      try {
        const events = store.events({ limit: 100_000 }).map((e) => `${e.kind} ${JSON.stringify(e.data)}`);
        expect(events.some((e) => e.startsWith('machine.frameRejected'))).toBe(true);
        expect(
          events.some((e) => e.startsWith('machine.invoiceRefused') && e.includes('INVOICE_WRONG_PAYEE')),
        ).toBe(true);
        expect(store.findPayment(other.paymentHash)).toBeUndefined();
      } finally {
        store.close();
      }
      expect((await n.vehicle.paymentStatus(other.paymentHash)).state).toBe('unknown');
      expect((await n.vehicle.lookupInvoice(other.paymentHash)).state).toBe('open');
      const books = await readBooks(rig.files, connectionFile);
      expect(books.problems).toEqual([]);
    } finally {
      if (wallFrozen) process.kill(wallPid, 'SIGCONT');
      await attacker.close();
    }
  });
});
