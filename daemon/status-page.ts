/**
 * The dashboard's HTML shell: plain HTML, no build step. The behaviour lives in `status-web/app.js` and the
 * charts in uPlot, both served by the daemon itself (`/assets/…`): the page loads nothing from elsewhere.
 *
 * Sections (one page, anchored navigation, usable from a phone and with the keyboard):
 * - wall: site overview (every connector), the live connector (tiles, chart, invoices, actions), history
 *   (per day/week and per session, with receipt downloads), alarms and faults with operator actions;
 * - vehicle: the live session, spending against the budgets, chargers used (node key and alias, energy, price,
 *   fees, refusals, use of the loss caps in the window and back-off), history.
 */

/**
 * Renders the page.
 *
 * @param role which daemon serves it (title, labels and sections)
 * @param opts `actions`: whether an operator token is configured (otherwise the page is read-only)
 * @returns a complete HTML document
 */
export function statusPageHtml(role: 'wall' | 'vehicle', opts: { actions?: boolean } = {}): string {
  const wall = role === 'wall';
  const title = wall ? 'boltcharge wall module' : 'boltcharge vehicle module';
  const paidLabel = wall ? 'Received' : 'Paid';
  const ledgerName = wall ? 'Invoices' : 'Payments';
  const actions = opts.actions === true;
  const nav = wall
    ? [
        ['overview', 'Site'],
        ['live', 'Live'],
        ['history', 'History'],
        ['alarms-panel', 'Alarms'],
      ]
    : [
        ['live', 'Live'],
        ['spend', 'Spending'],
        ['chargers', 'Chargers'],
        ['history', 'History'],
      ];
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<link rel="stylesheet" href="/assets/uplot.css">
<link rel="stylesheet" href="/assets/app.css">
</head>
<body data-role="${role}" data-actions="${actions ? '1' : '0'}">
<a class="skip" href="#live">Skip to the live view</a>
<header>
 <h1>${title}</h1>
 <p class="status-line"><span id="conn" role="status">connecting…</span> <span id="clock"></span></p>
 <nav aria-label="Sections"><ul>${nav.map(([id, label]) => `<li><a href="#${id}">${label}</a></li>`).join('')}</ul></nav>
</header>
<main>
${
  wall
    ? `<section id="overview" aria-labelledby="h-overview">
 <h2 id="h-overview">Site overview</h2>
 <div class="scroll" tabindex="0" role="region" aria-label="Connectors"><table>
  <caption class="sr">Connectors</caption>
  <thead><tr><th scope="col">Connector</th><th scope="col">State</th><th scope="col">Power</th><th scope="col">Energy</th><th scope="col">Session</th><th scope="col">Availability</th><th scope="col">Alarms</th></tr></thead>
  <tbody id="connectors"></tbody></table></div>
</section>`
    : ''
}
<section id="live" aria-labelledby="h-live">
 <h2 id="h-live">${wall ? 'Connector 1 — live' : 'Live session'}</h2>
 <div class="grid">
  <div class="card"><span>State</span><b id="state">–</b></div>
  <div class="card"><span>Power</span><b id="power">–</b></div>
  <div class="card"><span>Energy</span><b id="energy">–</b></div>
  <div class="card"><span>Price</span><b id="price">–</b></div>
  <div class="card"><span>Credit (prepaid − delivered)</span><b id="credit">–</b></div>
  <div class="card"><span>${paidLabel}</span><b id="paid">–</b></div>
 </div>
 <p id="session"></p>
 <p id="alarms" class="alarm" role="alert"></p>
 <div id="extra"></div>
 <figure class="chart-box">
  <div id="chart" role="img" aria-label="Power and energy of the current session"></div>
  <figcaption id="chart-caption">Power (kW, left axis) and energy (kWh, right axis) against time. The band between
  delivered and paid energy is the credit; ticks at the bottom are ${ledgerName.toLowerCase()} (green paid,
  amber unpaid, grey void); shaded spans are power cuts.</figcaption>
 </figure>
 <div id="actions" class="actions" ${actions ? '' : 'hidden'}>
  <h3>Operator actions</h3>
  <label for="token">Operator token</label>
  <input id="token" type="password" autocomplete="off" spellcheck="false">
  <div class="buttons">
   <button type="button" id="act-stop">Stop session</button>
   <button type="button" id="act-clear">Clear faults</button>
   ${wall ? '<button type="button" id="act-availability">Take out of service</button>' : ''}
  </div>
  <p id="action-result" role="status"></p>
 </div>
 <p id="readonly" class="note" ${actions ? 'hidden' : ''}>Read-only: no operator token is configured (status.operatorToken).</p>
 <h3>${ledgerName} of this session</h3>
 <div class="scroll" tabindex="0" role="region" aria-label="${ledgerName} of the current session, newest first"><table>
  <caption class="sr">${ledgerName} of the current session, newest first</caption>
  <thead><tr><th scope="col">#</th><th scope="col">State</th><th scope="col">Amount (sat)</th><th scope="col">Energy (Wh)</th><th scope="col">${wall ? 'Issued' : 'Recorded'}</th><th scope="col">Latency (ms, real)</th><th scope="col" class="l">Payment hash</th></tr></thead>
  <tbody id="ledger"></tbody></table></div>
</section>
${
  wall
    ? ''
    : `<section id="spend" aria-labelledby="h-spend">
 <h2 id="h-spend">Spending against the budgets</h2>
 <div class="grid" id="budgets"></div>
</section>
<section id="chargers" aria-labelledby="h-chargers">
 <h2 id="h-chargers">Chargers used</h2>
 <div class="scroll" tabindex="0" role="region" aria-label="Sessions per charger (wall node key)"><table>
  <caption class="sr">Sessions per charger (wall node key)</caption>
  <thead><tr><th scope="col" class="l">Charger node key and alias</th><th scope="col">Sessions</th><th scope="col">Energy (kWh)</th><th scope="col">Paid (sat)</th><th scope="col">Fees (sat)</th><th scope="col">Avg price (msat/Wh)</th><th scope="col">Paid, not delivered (Wh)</th><th scope="col">In the window, of the cap (Wh)</th><th scope="col" class="l">Back-off</th><th scope="col" class="l">Refusals (reason × count)</th></tr></thead>
  <tbody id="charger-rows"></tbody><tfoot id="charger-total"></tfoot></table></div>
</section>`
}
<section id="history" aria-labelledby="h-history">
 <h2 id="h-history">History</h2>
 <div class="row">
  <label for="bucket">Group by</label>
  <select id="bucket"><option value="day">day</option><option value="week">week</option></select>
 </div>
 <div class="scroll" tabindex="0" role="region" aria-label="Totals per period"><table>
  <caption class="sr">Totals per period</caption>
  <thead><tr><th scope="col" class="l">Period</th><th scope="col">Sessions</th><th scope="col">Energy (kWh)</th><th scope="col">${paidLabel} (sat)</th><th scope="col">Fees (sat)</th><th scope="col">Avg price (msat/Wh)</th><th scope="col">Unpaid energy (Wh)</th></tr></thead>
  <tbody id="bucket-rows"></tbody></table></div>
 <h3>Sessions</h3>
 <div class="scroll" tabindex="0" role="region" aria-label="Sessions, newest first"><table>
  <caption class="sr">Sessions, newest first</caption>
  <thead><tr><th scope="col" class="l">Started</th><th scope="col">Energy (kWh)</th><th scope="col">${paidLabel} (sat)</th><th scope="col">Fees (sat)</th><th scope="col">Avg price (msat/Wh)</th><th scope="col">Unpaid energy (Wh)</th><th scope="col" class="l">Stop reason</th><th scope="col" class="l">Receipt</th></tr></thead>
  <tbody id="session-rows"></tbody></table></div>
 <button type="button" id="more-sessions" hidden>Older sessions</button>
</section>
${
  wall
    ? `<section id="payouts-panel" aria-labelledby="h-payouts" hidden>
 <h2 id="h-payouts">Split payouts</h2>
 <p>Each share paid to a recipient, newest first. <a href="/api/payouts/statements.json" download>Signed statements</a> (check them with <code>boltcharge verify-statement FILE</code>).</p>
 <div class="scroll" tabindex="0" role="region" aria-label="Split payouts, newest first"><table>
  <caption class="sr">Split payouts, newest first</caption>
  <thead><tr><th scope="col" class="l">Planned</th><th scope="col" class="l">Recipient</th><th scope="col">Share (sat)</th><th scope="col">Routing fee (sat)</th><th scope="col">Carried (sat)</th><th scope="col" class="l">State</th><th scope="col">Sessions</th></tr></thead>
  <tbody id="payout-rows"></tbody></table></div>
</section>
<section id="alarms-panel" aria-labelledby="h-alarms">
 <h2 id="h-alarms">Alarms, faults and operator actions</h2>
 <ul id="alarm-list" class="events"></ul>
</section>`
    : ''
}
</main>
<script src="/assets/uplot.js"></script>
<script src="/assets/app.js"></script>
</body></html>`;
}
