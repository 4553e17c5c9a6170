// One wall daemon (the CLI), two connectors, walk-up on every connector, on real regtest lnd: a car charges over
// the cable on connector 1 (its vehicle daemon pays the wall's invoices from the vehicle node) while, on
// connector 2, a phone (the phone lnd, behind the router) reads connector 2's walk-up status, follows its LNURL
// (at /connectors/2/walkup/lnurlp), pays the deposit hold invoice, the simulated car on connector 2 charges, the
// driver stops it through connector 2's stop endpoint, the phone pays the final invoice and the signed receipt is
// served under connector 2's prefix. Connector 2's TOTP code is refused by connector 1's /walkup/lnurlp. Then the
// operator stops connector 1's cable session (the car gets its receipt over the cable) and the car leaves. After
// the run the books equal the nodes: connector 1's cable ledger (wall and vehicle), connector 2's walk-up ledger,
// every invoice the wall's lnd settled during the run booked once to the one connector it was for.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { getInvoices, getWalletInfo, verifyMessage, type AuthenticatedLnd } from 'lightning';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { decodeLnurl, parseLnurlJson } from '../../payments/lnurl.js';
import { connectorTotpSecret, totpCounter, totpForCounter } from '../../payments/totp.js';
import { SiteRig } from '../../scripts/bench/site/rig.js';
import { readBooks } from '../../scripts/demo/books.js';
import { freePort } from '../../scripts/demo/rig.js';
import { walkupSection } from '../../scripts/demo/walkup.js';
import { closeLnd } from '../../scripts/regtest/network.js';
import { walkupNetwork } from '../support/walkup-network.js';
import {
  channelMsat,
  lndFor,
  phonePays,
  requestDeposit,
  walkupStatus,
  PRICE_MSAT_PER_WH,
  WALL_TOTP_SECRET,
} from './walkup-e2e.js';

/** Connector 2's walk-up prefix (connector 1, the first listed, is served at /walkup). */
const C2 = '/connectors/2/walkup';
/** The wall's operator token (its status server's actions: the stop of connector 1's cable session). */
const OPERATOR_TOKEN = 'site-walkup-operator-0123456789';
/** The QR's code length (the walk-up default). */
const TOTP_LENGTH = 12;

/** The TOTP codes connector `id` may show now (its key per docs/OPERATING.md; the code may just have rotated). */
function codesOf(id: number): string[] {
  const secret = id === 1 ? WALL_TOTP_SECRET : connectorTotpSecret(WALL_TOTP_SECRET, id);
  const counter = totpCounter(Date.now() / 1000, 30);
  return [counter, counter - 1].map((c) => totpForCounter(secret, c, TOTP_LENGTH));
}

/** Hashes and amounts of the wall node's invoices created since `since` (settled ones only if `settled`). */
async function wallInvoices(
  lnd: AuthenticatedLnd,
  since: Date,
): Promise<{ hash: string; settled: boolean; receivedMsat: bigint }[]> {
  const out: { hash: string; settled: boolean; receivedMsat: bigint }[] = [];
  let token: string | undefined;
  do {
    const page = await getInvoices({
      lnd,
      created_after: since.toISOString(),
      ...(token ? { token } : { limit: 100 }),
    });
    for (const i of page.invoices)
      out.push({ hash: i.id, settled: i.is_confirmed, receivedMsat: BigInt(i.received_mtokens) });
    token = page.next;
  } while (token);
  return out;
}

describe('a site: walk-up on connector 2 while connector 1 charges a car over the cable', () => {
  const connectionFile = inject('regtestConnectionPath');
  let phone: AuthenticatedLnd | undefined;
  let wallLnd: AuthenticatedLnd | undefined;
  let rig: SiteRig | undefined;

  beforeAll(async () => {
    // the phone and the router join the fork's network (built on the first call; fast when already up)
    const net = await walkupNetwork();
    phone = lndFor(net.phone);
    wallLnd = lndFor(net.wall);
  });
  afterAll(async () => {
    await rig?.stop();
    if (phone) closeLnd(phone);
    if (wallLnd) closeLnd(wallLnd);
  });

  it('the phone pays and charges on connector 2 only, the car keeps charging on connector 1; books per connector equal the node', async () => {
    const ph = phone!;
    const wl = wallLnd!;
    // every wall invoice of the run is created from here on (minus the few of the last minute, listed now)
    const since = new Date(Date.now() - 60_000);
    const earlier = new Set((await wallInvoices(wl, since)).map((i) => i.hash));
    const port = await freePort();
    const baseUrl = `http://127.0.0.1:${port}`;
    rig = await SiteRig.create({
      dir: mkdtempSync(join(tmpdir(), 'e2e-site-walkup-')),
      connectionFile,
      speed: 10,
      wall: {
        status: { listen: '127.0.0.1', port, operatorToken: OPERATOR_TOKEN },
        // the walk-up timeouts run on the daemon clock (10× real time): leave the phone real seconds to pay
        walkup: walkupSection(baseUrl, { quoteTimeoutMs: 600_000, finalInvoiceTimeoutMs: 600_000 }),
      },
    });
    const r = rig;
    // connector 2 has a simulated car but no vehicle daemon: the walk-up driver's car only plugs in
    await r.start([1]);

    // 1. connector 1: a car plugs in and charges over the cable, paying from the vehicle node
    r.car(1).world.plug();
    await r.until(
      'connector 1 charges past 50 Wh over the cable',
      async () => {
        const c = await r.connector(1);
        return c.state === 'charging' && c.energyWh > 50 && BigInt(c.paidMsat) > 0n;
      },
      60_000,
    );
    const cableId = (await r.connector(1)).sessionId!;
    // connector 1's display offers no walk-up while its cable session runs
    expect((await walkupStatus(baseUrl)).available).toBe(false);

    // 2. connector 2: the phone reads its display's status; the LNURL points at connector 2's own endpoint
    const s2 = await walkupStatus(baseUrl, C2);
    expect(s2).toMatchObject({ available: true, connector: 'idle', session: null });
    const qr = s2.qr!;
    const lnurl = decodeLnurl(qr.content.replace(/^lightning:/i, ''), { allowHttp: true });
    if (!lnurl.ok) throw new Error(`connector 2's QR: ${lnurl.error.message}`);
    const url = new URL(lnurl.value.url);
    expect(`${url.origin}${url.pathname}`).toBe(`${baseUrl}${C2}/lnurlp`);
    const code2 = url.searchParams.get('totp')!;
    expect(codesOf(2)).toContain(code2);
    expect(codesOf(1)).not.toContain(code2);

    // 3. connector 2's code is refused by connector 1's pay endpoint and its callback (real HTTP), by name
    for (const path of [
      `/walkup/lnurlp?totp=${code2}`,
      `/walkup/lnurlp/callback?totp=${code2}&amount=20000000`,
    ]) {
      const text = await (await fetch(`${baseUrl}${path}`)).text();
      expect(parseLnurlJson(text).ok, text).toBe(false);
      expect(JSON.parse(text), path).toMatchObject({ status: 'ERROR', name: 'TotpRefused' });
      expect(text).toContain('TotpUnknown');
    }

    // (connector 1's own code there meets another refusal: its cable session holds it)
    const own = await (await fetch(`${baseUrl}/walkup/lnurlp?totp=${codesOf(1)[0]}`)).json();
    expect(own).toMatchObject({ status: 'ERROR', name: 'CONNECTOR_BUSY' });
    // the code is connector 2's own: its endpoint takes it
    const pay2 = await (await fetch(`${baseUrl}${C2}/lnurlp?totp=${code2}`)).json();
    expect(pay2).toMatchObject({
      tag: 'payRequest',
      callback: `${baseUrl}${C2}/lnurlp/callback?totp=${code2}`,
    });

    // ... and the phone pays the deposit on connector 2 (the car there plugs in first)
    r.car(2).world.plug();
    const phoneBefore = await channelMsat(ph);
    const depositMsat = 50_000_000n; // 50 000 sat = 50 kWh of credit at 1 sat/Wh
    const offer = await requestDeposit(qr.content, depositMsat);
    expect(offer.callbackUrl.startsWith(`${baseUrl}${C2}/lnurlp/callback?`)).toBe(true);
    const deposit = phonePays(ph, offer.bolt11);
    await r.until(
      'the walk-up on connector 2 charges',
      async () => (await walkupStatus(baseUrl, C2)).session?.phase === 'charging',
      60_000,
    );
    const walkupId = (await walkupStatus(baseUrl, C2)).session!.sessionId;
    expect((await walkupStatus(baseUrl, C2)).available).toBe(false);
    // connector 1's display shows none of connector 2's session
    expect((await walkupStatus(baseUrl)).session).toBeNull();
    const paid1 = BigInt((await r.connector(1)).paidMsat);
    await r.until(
      'connector 2 delivered 100 Wh',
      async () => (await walkupStatus(baseUrl, C2)).session!.deliveredWh >= 100,
      60_000,
    );
    expect(r.car(2).world.truth().currentA).toBeGreaterThan(10);
    // connector 1 charges and is paid on meanwhile
    await r.until(
      'connector 1 is paid again during the walk-up',
      async () => BigInt((await r.connector(1)).paidMsat) > paid1,
      30_000,
    );
    expect((await r.connector(1)).state).toBe('charging');
    expect(r.car(1).world.truth().currentA).toBeGreaterThan(10);

    // the driver stops connector 2 from its display (the stop endpoint under connector 2's prefix, loopback)
    const stop = await fetch(`${baseUrl}${C2}/stop`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ sessionId: walkupId }),
    });
    expect(stop.status, await stop.clone().text()).toBe(200);
    await r.until(
      "connector 2's final invoice",
      async () => (await walkupStatus(baseUrl, C2)).session?.finalBolt11 != null,
      60_000,
    );
    const stopped = (await walkupStatus(baseUrl, C2)).session!;
    expect(stopped.stopReason).toBe('DRIVER_STOPPED');
    const final = await phonePays(ph, stopped.finalBolt11!).result;
    if (!final.ok) throw new Error(`the phone could not pay the final invoice: ${final.error}`);
    expect((await deposit.result).ok).toBe(false); // the deposit HTLC went back to the phone
    await r.until(
      "connector 2's receipt is signed",
      async () => (await walkupStatus(baseUrl, C2)).session?.receiptSigned === true,
      60_000,
    );
    const done = (await walkupStatus(baseUrl, C2)).session!;
    expect(done).toMatchObject({ sessionId: walkupId, phase: 'ended', endReason: 'FINAL_PAID' });
    const costMsat = BigInt(done.costMsat!);
    expect(costMsat).toBe(BigInt(done.deliveredWh) * PRICE_MSAT_PER_WH);
    expect(done.deliveredWh).toBeGreaterThanOrEqual(100);
    expect(phoneBefore - (await channelMsat(ph))).toBe(costMsat + final.feeMsat);
    // the receipt: under connector 2's prefix, signed by the wall's node key; connector 1 does not serve it
    const receiptRes = await fetch(`${baseUrl}${C2}/receipt?session=${walkupId}`);
    expect(receiptRes.status).toBe(200);
    const receipt = (await receiptRes.json()) as {
      text: string;
      signature: string;
      receipt: Record<string, string | number | null>;
    };
    expect(receipt.receipt.settledMsat).toBe(costMsat.toString());
    expect(receipt.receipt.depositOutcome).toBe('cancelled');
    const wallPub = (await getWalletInfo({ lnd: wl })).public_key;
    expect(
      (await verifyMessage({ lnd: ph, message: receipt.text, signature: receipt.signature })).signed_by,
    ).toBe(wallPub);
    const foreign = await fetch(`${baseUrl}/walkup/receipt?session=${walkupId}`);
    expect(foreign.status).toBe(404);
    expect(await foreign.json()).toMatchObject({ name: 'NotFound' });
    r.car(2).world.unplug();
    await r.until(
      'connector 2 offers walk-up again',
      async () => (await walkupStatus(baseUrl, C2)).available,
    );

    // connector 1 never stopped; the operator ends its session with the car still plugged in (the receipt
    // goes over the cable), then the car leaves
    expect((await r.connector(1)).state).toBe('charging');
    const stop1 = await fetch(`${baseUrl}/api/actions/stop`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-operator-token': OPERATOR_TOKEN },
      body: JSON.stringify({ connectorId: 1 }),
    });
    expect(stop1.status, await stop1.clone().text()).toBe(200);
    await r.until(
      'the car on connector 1 ended its session (receipt received)',
      async () => (await r.car(1).vehicle.status()).state === 'ended',
      30_000,
    );
    await r.until(
      'connector 1 ended its session',
      async () => (await r.connector(1)).state === 'ended',
      30_000,
    );
    r.car(1).world.unplug();
    await r.stop();

    // 4. the books equal the node, per connector
    const cable = await r.books();
    const walkups = await r.walkupBooks();
    const c1 = cable.get(1)!;
    expect(c1.sessions).toBe(1);
    expect(c1.settled).toBeGreaterThan(0);
    expect(c1.storeMsat).toBe(c1.nodeMsat);
    // connector 2 has no paid cable session: nothing invoiced there over the cable (see the greeting row below)
    expect(cable.get(2)).toMatchObject({ storeMsat: 0n, nodeMsat: 0n, settled: 0 });
    expect(walkups.get(1)!.sessions).toEqual([]); // no walk-up on connector 1
    const w2 = walkups.get(2)!;
    expect(w2.sessions).toEqual([{ sessionId: walkupId, phase: 'ended', endReason: 'FINAL_PAID' }]);
    const byPurpose = (p: string) => w2.invoices.filter((i) => i.purpose === p);
    // the deposit: held for its full amount, then cancelled (lnd still reports the cancelled HTLC's amount as
    // received: only settled invoices count)
    expect(byPurpose('deposit')).toMatchObject([
      { sessionId: walkupId, ledger: 'cancelled', amountMsat: depositMsat, node: 'cancelled' },
    ]);
    expect(byPurpose('final')).toMatchObject([
      {
        sessionId: walkupId,
        ledger: 'settled',
        node: 'settled',
        amountMsat: costMsat,
        nodeReceivedMsat: costMsat,
      },
    ]);
    expect(w2.ledgerMsat).toBe(costMsat);
    expect(w2.nodeMsat).toBe(costMsat);
    // the cable session on both ledgers (wall and vehicle) and both nodes, and its receipt
    const both = await readBooks({ wallDb: r.wallDb, vehicleDb: r.car(1).vehicleDb }, connectionFile);
    expect(both.problems).toEqual([]);
    const cableBooks = both.sessions.find((x) => x.sessionId === cableId)!;
    expect(cableBooks.wallSettledMsat).toBe(c1.storeMsat);
    expect(cableBooks.vehiclePaidMsat).toBe(c1.storeMsat);
    expect(cableBooks.receiptValid).toBe(true);
    // the rows name their connector
    const db = new Database(r.wallDb, { readonly: true });
    try {
      const rows = db
        .prepare(
          'SELECT id, connector_id AS c, peer, paid_msat AS paid, energy_wh AS wh FROM sessions ORDER BY started_at_ms',
        )
        .all() as { id: string; c: number; peer: string | null; paid: number; wh: number }[];
      // the one cable session of a car that proved its key is connector 1's
      expect(rows.filter((x) => x.peer !== null).map((x) => [x.id, x.c])).toEqual([[cableId, 1]]);
      // on connector 2 the wall only greeted the walk-up car (no vehicle module answered): no peer, no invoice,
      // nothing paid, and none of the walk-up's energy (it is the walk-up's, booked in its own ledger only)
      const greeted = rows.filter((x) => x.c !== 1);
      expect(greeted.length).toBeGreaterThan(0);
      expect(greeted.every((x) => x.c === 2 && x.peer === null && x.paid === 0 && x.wh === 0)).toBe(true);
      const greetedSamples = db
        .prepare(
          `SELECT COUNT(*) AS n FROM meter_samples WHERE session_id IN (${greeted.map(() => '?').join(',')})`,
        )
        .get(...greeted.map((x) => x.id)) as { n: number };
      expect(greetedSamples.n).toBe(0);
      const c2Invoices = db
        .prepare(
          'SELECT COUNT(*) AS n FROM invoices i JOIN sessions s ON s.id = i.session_id WHERE s.connector_id = 2',
        )
        .get() as { n: number };
      expect(c2Invoices.n).toBe(0);
      expect(db.prepare('SELECT session_id AS s, connector_id AS c FROM walkup_sessions').all()).toEqual([
        { s: walkupId, c: 2 },
      ]);
    } finally {
      db.close();
    }
    // every invoice the wall's lnd settled during the run is booked exactly once, to the connector it was for
    const settledOnNode = (await wallInvoices(wl, since)).filter((i) => i.settled && !earlier.has(i.hash));
    const c1Hashes = new Set(c1.settledHashes);
    const c2Hashes = new Set(w2.invoices.filter((i) => i.ledger === 'settled').map((i) => i.paymentHash));
    expect([...c1Hashes].filter((h) => c2Hashes.has(h))).toEqual([]);
    expect(new Set(settledOnNode.map((i) => i.hash))).toEqual(new Set([...c1Hashes, ...c2Hashes]));
    const onNode = (hashes: Set<string>) =>
      settledOnNode.filter((i) => hashes.has(i.hash)).reduce((a, i) => a + i.receivedMsat, 0n);
    expect(onNode(c1Hashes)).toBe(c1.storeMsat);
    expect(onNode(c2Hashes)).toBe(w2.ledgerMsat);
  }, 120_000);
});
