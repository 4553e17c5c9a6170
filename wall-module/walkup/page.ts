/**
 * The walk-up display page the charger's kiosk browser shows (`GET /walkup`, or `GET /connectors/<id>/walkup` on
 * a site) and the receipt page. Plain HTML; the behaviour is `web/walkup.js` (served by the daemon under the same
 * prefix, no inline script), which polls `<prefix>/api/status` and
 * shows: the QR code of the LNURL-pay link (re-keyed every `validityTimeSec` with the C25 TOTP), the price per
 * kWh, a `lightning:` link for a wallet on the same phone, the QR of the CSMS's C25 payment page (QR payment
 * model 1, when OCPP web payments are enabled), the live session (credit, energy, stop button), the
 * final invoice to pay after unplugging, and the receipt at the end.
 */
import type { ServedReceipt } from './routes.js';

const STYLE = `
body{font-family:system-ui,sans-serif;margin:0;padding:1rem;background:#fff;color:#111;max-width:40rem}
h1{font-size:1.4rem;margin:.2rem 0 1rem}
.qr{width:360px;height:360px;image-rendering:pixelated;background:#fff;display:block}
.grid{display:grid;grid-template-columns:repeat(2,minmax(0,1fr));gap:.5rem;margin:1rem 0}
.card{border:1px solid #999;border-radius:.4rem;padding:.5rem}
.card span{display:block;font-size:.8rem;color:#444}
.card b{font-size:1.2rem}
a.pay{display:inline-block;margin:.5rem 0;padding:.6rem 1rem;background:#f7931a;color:#000;border-radius:.4rem;text-decoration:none;word-break:break-all}
button{font-size:1.1rem;padding:.6rem 1.2rem}
.note{color:#444;font-size:.9rem}
.hidden{display:none}
pre{white-space:pre-wrap;word-break:break-all;font-size:.75rem}
`;

/**
 * The display page.
 * @param opts.pathPrefix the walk-up prefix the page is served under (its script and fetches use it; default
 *   `/walkup`)
 * @param opts.label what the heading names, e.g. `connector 2` (absent: nothing)
 * @returns the display page's HTML document
 */
export function walkupPageHtml(opts: { pathPrefix?: string; label?: string } = {}): string {
  const prefix = esc(opts.pathPrefix ?? '/walkup');
  const label = opts.label ? ` (${esc(opts.label)})` : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Pay with Lightning${label} — boltcharge</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>${STYLE}</style></head>
<body data-walkup-prefix="${prefix}">
<h1>Charge here${label} — pay with a Lightning wallet</h1>
<p id="wu-conn" role="status">connecting…</p>
<section id="wu-offer" class="hidden" aria-labelledby="h-offer">
 <h2 id="h-offer">Scan to pay a deposit</h2>
 <p>Price: <b id="wu-price">–</b> per kWh. Deposit <span id="wu-range">–</span>; you pay only the energy delivered.</p>
 <img id="wu-qr" class="qr walkup-qr" alt="QR code: LNURL-pay link of this charger" width="360" height="360">
 <p class="note">The code changes every <span id="wu-validity">–</span> s (<span id="wu-left">–</span> s left).</p>
 <a id="wu-link" class="pay" href="#">Open in a wallet on this phone</a>
</section>
<section id="wu-web" class="hidden" aria-labelledby="h-web">
 <h2 id="h-web">Or pay on the operator's web page</h2>
 <img id="wu-web-qr" class="qr" alt="QR code: the operator's payment page for this charger" width="360" height="360">
 <p class="note">This code changes too (<span id="wu-web-left">–</span> s left).</p>
 <a id="wu-web-link" class="pay" href="#">Open the payment page</a>
</section>
<section id="wu-busy" class="hidden"><p>This charger is in use (<span id="wu-owner">–</span>).</p></section>
<section id="wu-live" class="hidden" aria-labelledby="h-live">
 <h2 id="h-live">Your session</h2>
 <div class="grid">
  <div class="card"><span>State</span><b id="wu-state">–</b></div>
  <div class="card"><span>Energy</span><b id="wu-energy">–</b></div>
  <div class="card"><span>Deposit held</span><b id="wu-deposit">–</b></div>
  <div class="card"><span>Credit left</span><b id="wu-credit">–</b></div>
  <div class="card"><span>Cost so far</span><b id="wu-cost">–</b></div>
  <div class="card"><span>Stop reason</span><b id="wu-stopreason">–</b></div>
 </div>
 <button type="button" id="wu-stop" class="hidden">Stop charging</button>
 <div id="wu-final" class="hidden">
  <h3>Pay the energy delivered</h3>
  <p>Pay <b id="wu-final-amount">–</b>; your deposit is then released in full.</p>
  <img id="wu-final-qr" class="qr" alt="QR code: final invoice" width="360" height="360">
  <a id="wu-final-link" class="pay" href="#">Pay the final invoice</a>
 </div>
 <p id="wu-end" class="hidden"></p>
 <p id="wu-receipt" class="hidden"><a id="wu-receipt-link" href="#">Your signed receipt</a></p>
</section>
<script src="${prefix}/walkup.js"></script>
</body></html>`;
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

/**
 * The receipt as a page: every field, the signed text and its signature (anyone can check it with the wall's
 * node key: `lncli verifymessage`).
 * @param r the served receipt
 * @returns HTML document
 */
export function walkupReceiptHtml(r: ServedReceipt): string {
  const rows = Object.entries(r.receipt)
    .map(([k, v]) => `<tr><th scope="row">${esc(k)}</th><td>${esc(v === null ? '–' : String(v))}</td></tr>`)
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Receipt ${esc(r.sessionId)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>${STYLE}</style></head>
<body><h1>Charging receipt</h1>
<table>${rows}</table>
<h2>Signature</h2>
<p>Signed by the charger's Lightning node <code>${esc(r.signerPubkey ?? 'not signed')}</code>.</p>
<pre id="receipt-signature">${esc(r.signature ?? '')}</pre>
<h2>Signed text</h2>
<pre id="receipt-text">${esc(r.text)}</pre>
</body></html>`;
}
