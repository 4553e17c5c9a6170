/* global document, fetch, setInterval, location, URLSearchParams */
// The walk-up display page's behaviour (served as <prefix>/walkup.js; see ../page.ts): polls <prefix>/api/status every
// second and renders the offer (QR, price, lightning: link), the live session, the final invoice and the receipt.
// <prefix> is the connector's walk-up path the page was served under (`data-walkup-prefix` on the body:
// `/walkup` for the first connector, `/connectors/<id>/walkup` for any).
(() => {
  'use strict';
  const $ = (id) => document.getElementById(id);
  const prefix = document.body.dataset.walkupPrefix || '/walkup';
  const show = (id, on) => $(id).classList.toggle('hidden', !on);
  const sat = (msat) =>
    msat === null || msat === undefined ? '–' : `${(Number(msat) / 1000).toLocaleString('en')} sat`;
  const kwh = (wh) => `${(wh / 1000).toFixed(3)} kWh`;
  let sessionId = null;
  let lastQr = '';
  let lastFinal = '';
  let lastWeb = '';

  async function refresh() {
    let s;
    try {
      const r = await fetch(`${prefix}/api/status`, { cache: 'no-store' });
      s = await r.json();
    } catch {
      $('wu-conn').textContent = 'charger unreachable, retrying…';
      return;
    }
    $('wu-conn').textContent = s.available ? 'Ready' : 'In use';
    $('wu-price').textContent = `${((Number(s.priceMsatPerWh) * 1000) / 1000).toLocaleString('en')} sat`;
    $('wu-range').textContent = `${sat(s.minDepositMsat)} – ${sat(s.maxDepositMsat)}`;
    show('wu-offer', s.qr !== null);
    if (s.qr) {
      if (s.qr.svgDataUrl !== lastQr) {
        $('wu-qr').src = s.qr.svgDataUrl;
        lastQr = s.qr.svgDataUrl;
      }
      $('wu-qr').dataset.content = s.qr.content;
      $('wu-link').href = s.qr.lightningUri;
      $('wu-validity').textContent = String(s.qr.validityTimeSec);
      $('wu-left').textContent = String(s.qr.secondsLeft);
    }
    // QR payment model 1 (OCPP C25): the CSMS's payment page, its URL re-keyed with the TOTP of now
    show('wu-web', Boolean(s.webPayment));
    if (s.webPayment) {
      if (s.webPayment.svgDataUrl !== lastWeb) {
        $('wu-web-qr').src = s.webPayment.svgDataUrl;
        lastWeb = s.webPayment.svgDataUrl;
      }
      $('wu-web-qr').dataset.content = s.webPayment.url;
      $('wu-web-link').href = s.webPayment.url;
      $('wu-web-left').textContent = String(s.webPayment.secondsLeft);
    }
    const se = s.session;
    const live =
      se !== null && se.phase !== 'idle' && !(s.available && se.phase === 'ended' && !se.receiptUrl);
    show('wu-busy', !s.available && (se === null || se.phase === 'ended' || se.phase.startsWith('refund')));
    $('wu-owner').textContent = s.connector;
    show('wu-live', live);
    if (!se) return;
    sessionId = se.sessionId;
    $('wu-state').textContent = se.phase;
    $('wu-energy').textContent = kwh(se.deliveredWh);
    $('wu-deposit').textContent = sat(se.heldMsat);
    $('wu-credit').textContent = sat(se.creditMsat);
    $('wu-cost').textContent = sat(se.costMsat ?? se.meteredCostMsat);
    $('wu-stopreason').textContent = se.stopReason ?? '–';
    show('wu-stop', se.phase === 'charging' || se.phase === 'awaitingDeposit');
    show('wu-final', se.finalLightningUri !== null);
    if (se.finalLightningUri) {
      $('wu-final-amount').textContent = sat(se.costMsat);
      $('wu-final-link').href = se.finalLightningUri;
      if (se.finalQrDataUrl !== lastFinal) {
        $('wu-final-qr').src = se.finalQrDataUrl;
        lastFinal = se.finalQrDataUrl;
      }
    }
    show('wu-end', se.endReason !== null);
    $('wu-end').textContent = se.endReason ? `Session ${se.phase}: ${se.endReason}` : '';
    show('wu-receipt', se.receiptUrl !== null);
    if (se.receiptUrl) $('wu-receipt-link').href = se.receiptUrl;
  }

  $('wu-stop').addEventListener('click', async () => {
    if (!sessionId) return;
    // the kiosk's secret (walkup.kioskToken) rides in the page URL's fragment, which is never sent to a server
    const kiosk = new URLSearchParams(location.hash.slice(1)).get('kiosk');
    await fetch(`${prefix}/stop`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(kiosk ? { 'x-boltcharge-kiosk': kiosk } : {}) },
      body: JSON.stringify({ sessionId }),
    });
    void refresh();
  });

  void refresh();
  setInterval(() => void refresh(), 1000);
})();
