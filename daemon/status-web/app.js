/* global document, window, location, fetch, WebSocket, uPlot, getComputedStyle, setTimeout, sessionStorage */
/**
 * The boltcharge dashboard (served by the daemon; no build step). On load it reads the current session's whole
 * history from the JSON API (meter samples and ledger, paged), then follows the WebSocket: each push updates the
 * tiles at once and fetches what the store gained since (so reloading never loses the picture). Times are shown
 * in the browser's time zone and numbers in its locale; the demo's accelerated clock is labelled as such.
 */
(() => {
  'use strict';
  const $ = (id) => document.getElementById(id);
  const role = document.body.dataset.role;
  const wall = role === 'wall';
  const nf = (digits) =>
    new Intl.NumberFormat(undefined, { minimumFractionDigits: digits, maximumFractionDigits: digits });
  const fmt = (v, digits) => (v === null || v === undefined || Number.isNaN(v) ? '–' : nf(digits).format(v));
  const satOf = (msat) => (msat === null || msat === undefined ? null : Number(BigInt(msat)) / 1000);
  const fmtSat = (msat) => {
    const v = satOf(msat);
    return v === null ? '–' : new Intl.NumberFormat(undefined, { maximumFractionDigits: 3 }).format(v);
  };
  const timeFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'short', timeStyle: 'medium' });
  const dayFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' });
  const fmtTime = (ms) => (ms === null || ms === undefined ? '–' : timeFmt.format(new Date(ms)));
  const text = (el, v) => {
    if (el) el.textContent = v;
  };
  const esc = (s) =>
    String(s ?? '').replace(
      /[&<>"']/g,
      (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c],
    );
  /** A table row: cells are text (escaped) or [text, class] or {html, cls} (already safe HTML). */
  const tr = (cells, attrs = '') =>
    '<tr' +
    attrs +
    '>' +
    cells
      .map((c) => {
        const [v, cls] = Array.isArray(c) ? c : [c, ''];
        const body = v !== null && typeof v === 'object' ? v.html : esc(v);
        return '<td' + (cls ? ' class="' + cls + '"' : '') + '>' + body + '</td>';
      })
      .join('') +
    '</tr>';
  /** The books columns shared by the period and session rows. */
  const booksCells = (b) => [
    [fmt(b.energyWh / 1000, 3), 'kwh'],
    [fmtSat(b.paidMsat), 'sat'],
    fmtSat(b.feesMsat),
    fmt(b.avgPriceMsatPerWh, 2),
    fmt(b.unpaidWh, 0),
  ];
  const getJson = async (path) => {
    const r = await fetch(path, { headers: { accept: 'application/json' } });
    if (!r.ok) throw new Error(path + ': HTTP ' + r.status);
    return r.json();
  };

  /** The chart's state for the session shown. */
  const chart = {
    sessionId: null,
    wantedSessionId: undefined,
    startedAtMs: null,
    baseWh: null,
    sampleCursor: 0,
    /** [tMs, powerW, energyWh (session)] */
    points: [],
    /** seq → ledger line */
    ledger: new Map(),
    power: [],
    plot: null,
    loading: null,
  };
  let clockSpeed = 1;
  let last = null;

  // ---------------------------------------------------------------- chart
  const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  const paidWhAt = (tMs) => {
    let wh = 0;
    for (const l of chart.ledger.values())
      if (l.outcome === 'paid' && l.paidAtMs !== null && l.paidAtMs <= tMs) wh += l.toWh - l.fromWh;
    return wh;
  };
  const chartData = () => {
    const xs = [];
    const kw = [];
    const kwh = [];
    const paid = [];
    for (const [t, p, e] of chart.points) {
      xs.push(t / 1000);
      kw.push(p / 1000);
      kwh.push(e / 1000);
      paid.push(paidWhAt(t) / 1000);
    }
    return [xs, kw, kwh, paid];
  };
  const drawMarks = (u) => {
    const ctx = u.ctx;
    const { left, top, width, height } = u.bbox;
    ctx.save();
    // power cuts: shaded from the cut to the resume (or the last point)
    ctx.fillStyle = css('--cut');
    let cutAt = null;
    const lastT = chart.points.length ? chart.points[chart.points.length - 1][0] : null;
    const spans = [];
    for (const c of chart.power) {
      if (c.kind === 'cut' && cutAt === null) cutAt = c.tMs;
      else if (c.kind === 'resume' && cutAt !== null) {
        spans.push([cutAt, c.tMs]);
        cutAt = null;
      }
    }
    if (cutAt !== null && lastT !== null) spans.push([cutAt, lastT]);
    for (const [a, b] of spans) {
      const x0 = u.valToPos(a / 1000, 'x', true);
      const x1 = u.valToPos(b / 1000, 'x', true);
      ctx.fillRect(
        Math.max(left, x0),
        top,
        Math.max(1, Math.min(left + width, x1) - Math.max(left, x0)),
        height,
      );
    }
    // invoices / payments: ticks at the bottom at their issue time, coloured by outcome
    const colour = { paid: css('--ok'), unpaid: css('--warn'), void: css('--void') };
    for (const l of chart.ledger.values()) {
      if (l.issuedAtMs === null) continue;
      const x = u.valToPos(l.issuedAtMs / 1000, 'x', true);
      if (x < left || x > left + width) continue;
      ctx.fillStyle = colour[l.outcome] || colour.void;
      ctx.fillRect(
        x - 1.5 * devicePixelRatioOf(),
        top + height - 12 * devicePixelRatioOf(),
        3 * devicePixelRatioOf(),
        12 * devicePixelRatioOf(),
      );
    }
    ctx.restore();
  };
  const devicePixelRatioOf = () => window.devicePixelRatio || 1;
  const makePlot = () => {
    const el = $('chart');
    el.textContent = '';
    const width = Math.max(280, el.clientWidth || 800);
    const axis = {
      stroke: css('--fg'),
      grid: { stroke: css('--line'), width: 1 },
      ticks: { stroke: css('--line') },
    };
    const speedNote = clockSpeed !== 1 ? ' (simulated, ×' + clockSpeed + ')' : '';
    chart.plot = new uPlot(
      {
        width,
        height: width < 500 ? 240 : 300,
        scales: {
          x: { time: true },
          kW: { range: (u, min, max) => [0, Math.max(1, max * 1.1)] },
          kWh: { range: (u, min, max) => [0, Math.max(0.1, max * 1.1)] },
        },
        series: [
          {
            label: 'Time' + speedNote,
            value: (u, v) => (v === null ? '–' : timeFmt.format(new Date(v * 1000))),
          },
          { label: 'Power (kW)', scale: 'kW', stroke: css('--power'), width: 2, value: (u, v) => fmt(v, 2) },
          {
            label: 'Energy delivered (kWh)',
            scale: 'kWh',
            stroke: css('--energy'),
            width: 2,
            value: (u, v) => fmt(v, 3),
          },
          {
            label: 'Energy paid (kWh)',
            scale: 'kWh',
            stroke: css('--paid'),
            width: 1,
            dash: [6, 4],
            value: (u, v) => fmt(v, 3),
          },
        ],
        bands: [{ series: [3, 2], fill: css('--credit') }],
        axes: [
          { ...axis, label: 'Time' + speedNote },
          { ...axis, scale: 'kW', label: 'Power (kW)', values: (u, vals) => vals.map((v) => fmt(v, 1)) },
          {
            ...axis,
            scale: 'kWh',
            side: 1,
            label: 'Energy (kWh)',
            grid: { show: false },
            values: (u, vals) => vals.map((v) => fmt(v, 2)),
          },
        ],
        hooks: { draw: [drawMarks] },
      },
      chartData(),
      el,
    );
    window.boltchargeChart = chart.plot;
  };
  const redraw = () => {
    if (!chart.plot) makePlot();
    else chart.plot.setData(chartData());
    const n = chart.points.length;
    const lastPoint = chart.points[n - 1];
    $('chart').setAttribute(
      'aria-label',
      n && lastPoint
        ? 'Chart of the session since ' +
            fmtTime(chart.startedAtMs) +
            ': ' +
            fmt(lastPoint[2] / 1000, 3) +
            ' kWh delivered, ' +
            fmt(lastPoint[1] / 1000, 2) +
            ' kW now'
        : 'Chart: no session data yet',
    );
  };

  /** Reads every sample and ledger line the store has that the chart lacks. */
  const catchUp = async () => {
    const id = chart.sessionId;
    if (!id || chart.noHistory) return;
    for (;;) {
      const page = await getJson(
        '/api/sessions/' + id + '/samples?after=' + chart.sampleCursor + '&limit=2000',
      );
      if (id !== chart.sessionId) return;
      if (chart.baseWh === null && page.baseWh !== null) chart.baseWh = page.baseWh;
      for (const s of page.items) {
        const e = s.energyWh - chart.baseWh;
        const prev = chart.points[chart.points.length - 1];
        if (prev && s.tMs < prev[0]) continue;
        chart.points.push([s.tMs, s.powerW, e]);
      }
      chart.sampleCursor = page.cursor;
      if (!page.more) break;
    }
    // ledger: from the first line that can still change
    let after = -1;
    for (;;) {
      const l = chart.ledger.get(after + 1);
      if (!l || !l.fromStore || l.outcome === 'unpaid') break;
      after = l.seq;
    }
    for (;;) {
      const page = await getJson('/api/sessions/' + id + '/ledger?after=' + after + '&limit=1000');
      if (id !== chart.sessionId) return;
      for (const l of page.items) chart.ledger.set(l.seq, { ...l, fromStore: true });
      if (page.next === null) break;
      after = page.next;
    }
    chart.power = await getJson('/api/sessions/' + id + '/power');
    redraw();
    renderLedger();
  };
  const loadSession = async (sessionId) => {
    chart.sessionId = sessionId;
    chart.baseWh = null;
    chart.sampleCursor = 0;
    chart.points = [];
    chart.ledger = new Map();
    chart.power = [];
    if (!sessionId) {
      redraw();
      renderLedger();
      return;
    }
    const books = await getJson('/api/sessions/' + sessionId + '/books').catch(() => null);
    chart.noHistory = books === null;
    chart.startedAtMs = books ? books.startedAtMs : null;
    if (books) chart.points.push([books.startedAtMs, 0, 0]);
    await catchUp();
    if (last && last.sessionId === sessionId) applySnapshot(last);
  };

  // ---------------------------------------------------------------- live tiles and ledger
  const renderLedger = () => {
    const lines = [...chart.ledger.values()].sort((a, b) => b.seq - a.seq).slice(0, 50);
    $('ledger').innerHTML = lines
      .map((l) =>
        tr([
          l.seq,
          [l.state, l.outcome],
          fmtSat(l.amountMsat),
          l.fromWh + '–' + l.toWh,
          fmtTime(l.issuedAtMs),
          l.latencyRealMs === null ? '–' : fmt(l.latencyRealMs, 0),
          [(l.paymentHash || '').slice(0, 16), 'l hash'],
        ]),
      )
      .join('');
  };
  const renderTiles = (s) => {
    text($('state'), s.state);
    text($('power'), fmt(s.powerW / 1000, 2) + ' kW');
    text($('energy'), fmt(s.energyWh / 1000, 3) + ' kWh');
    text($('price'), s.priceMsatPerWh === null ? '–' : fmt(Number(s.priceMsatPerWh), 0) + ' msat/Wh');
    text($('credit'), fmt(s.creditWh, 0) + ' Wh');
    text($('paid'), fmtSat(s.paidMsat) + ' sat');
    text(
      $('session'),
      s.sessionId
        ? 'Session ' +
            s.sessionId +
            (s.peer ? ' with ' + s.peer.slice(0, 16) + '…' : '') +
            (s.stopReason ? ' — stopped: ' + s.stopReason : '')
        : 'No session',
    );
    text($('alarms'), (s.alarms || []).join(' · '));
    clockSpeed = s.clockSpeed || 1;
    const c = $('clock');
    c.className = clockSpeed !== 1 ? 'fast' : '';
    text(c, (clockSpeed !== 1 ? 'Simulated clock ×' + clockSpeed + ': ' : 'Daemon time: ') + fmtTime(s.tMs));
    if (wall) renderConnectors(s);
    const btn = $('act-availability');
    const conn = (s.connectors || [])[0];
    if (btn && conn) btn.textContent = conn.available ? 'Take out of service' : 'Return to service';
  };
  const renderConnectors = (s) => {
    $('connectors').innerHTML = (s.connectors || [])
      .map((c) =>
        tr([
          {
            // a site links each connector to its own page; a single connector is the page itself
            html:
              (s.connectors.length > 1
                ? '<a href="connectors/' + Number(c.connectorId) + '">'
                : '<a href="#live">') +
              'Connector ' +
              Number(c.connectorId) +
              '</a>',
          },
          c.state,
          fmt(c.powerW / 1000, 2) + ' kW',
          fmt(c.energyWh / 1000, 3) + ' kWh',
          [(c.sessionId || '–').slice(0, 16), 'l hash'],
          c.available ? 'available' : 'out of service',
          [c.alarms.length ? c.alarms[c.alarms.length - 1] : 'none', 'l'],
        ]),
      )
      .join('');
  };

  /** Takes the pushed snapshot's ledger lines (state changes at once) and, without a history API, its point. */
  const applySnapshot = (s) => {
    for (const l of s.ledger || []) {
      const had = chart.ledger.get(l.seq);
      if (!had || had.state !== l.state)
        chart.ledger.set(l.seq, {
          issuedAtMs: null,
          paidAtMs: null,
          ...had,
          ...l,
          outcome: outcomeOf(l.state),
          latencyRealMs: l.latencyMs,
          fromStore: false,
        });
    }
    renderLedger();
    // a daemon without the history API: the chart follows the pushes only
    if (chart.noHistory && s.sessionId) {
      chart.points.push([s.tMs, s.powerW, s.energyWh]);
      redraw();
    }
  };
  // every read of the store runs in order, one at a time; pushes arriving meanwhile fold into one more read
  let queue = Promise.resolve();
  const enqueue = (fn) => (queue = queue.then(fn).catch(showError));
  let readQueued = false;
  const onStatus = (s) => {
    // a session that just ended belongs in the history now
    if (last && last.state !== s.state && s.state === 'ended') void refreshHistory();
    last = s;
    renderTiles(s);
    // instant state changes of lines we hold; the store fills in times and new lines
    if (s.sessionId === chart.sessionId) applySnapshot(s);
    if (s.sessionId !== chart.wantedSessionId) {
      chart.wantedSessionId = s.sessionId;
      chart.loading = enqueue(() => loadSession(s.sessionId)).then(refreshHistory);
      return;
    }
    if (readQueued) return;
    readQueued = true;
    enqueue(() => {
      readQueued = false;
      return catchUp();
    });
  };
  const showError = (e) => {
    document.body.dataset.error = e.message;
  };
  const outcomeOf = (state) =>
    state === 'settled' || state === 'succeeded'
      ? 'paid'
      : ['cancelled', 'expired', 'abandoned', 'failed'].includes(state)
        ? 'void'
        : 'unpaid';

  // ---------------------------------------------------------------- history
  let sessionsBefore = null;
  const renderBuckets = async () => {
    const bucket = $('bucket').value;
    const rows = await getJson(
      '/api/history/buckets?bucket=' + bucket + '&tzOffsetMin=' + -new Date().getTimezoneOffset(),
    );
    $('bucket-rows').innerHTML = rows
      .map((b) =>
        tr([
          [(bucket === 'week' ? 'week of ' : '') + dayFmt.format(new Date(b.startMs)), 'l'],
          b.sessions,
          ...booksCells(b),
        ]),
      )
      .join('');
  };
  const sessionRow = (s) => {
    const base = '/api/sessions/' + encodeURIComponent(s.id) + '/statement.';
    return tr(
      [
        [fmtTime(s.startedAtMs), 'l'],
        ...booksCells(s),
        [s.stopReason || (s.status === 'active' ? 'active' : '–'), 'l'],
        [
          {
            html: '<a href="' + base + 'json" download>JSON</a> · <a href="' + base + 'csv" download>CSV</a>',
          },
          'l',
        ],
      ],
      ' data-session="' + esc(s.id) + '"',
    );
  };
  const renderSessions = async (more) => {
    const q = more && sessionsBefore !== null ? '&before=' + sessionsBefore : '';
    const page = await getJson('/api/history/sessions?limit=50' + q);
    const html = page.items.map(sessionRow).join('');
    if (more) $('session-rows').insertAdjacentHTML('beforeend', html);
    else $('session-rows').innerHTML = html;
    sessionsBefore = page.next;
    $('more-sessions').hidden = page.next === null;
  };
  const renderAlarms = async () => {
    if (!wall) return;
    const rows = await getJson('/api/alarms?limit=50');
    $('alarm-list').innerHTML = rows.length
      ? rows
          .map(
            (a) =>
              '<li><time datetime="' +
              new Date(a.tMs).toISOString() +
              '">' +
              esc(fmtTime(a.tMs)) +
              '</time><b>' +
              esc(a.kind) +
              '</b> ' +
              esc(a.message) +
              '</li>',
          )
          .join('')
      : '<li>No alarms.</li>';
  };
  // split payouts (a wall with `split:` serves /api/payouts; elsewhere the panel stays hidden)
  const renderPayouts = async () => {
    if (!wall) return;
    const r = await fetch('/api/payouts', { headers: { accept: 'application/json' } });
    if (r.status === 404) return;
    if (!r.ok) throw new Error('/api/payouts: HTTP ' + r.status);
    const { payouts } = await r.json();
    $('payouts-panel').hidden = false;
    $('payout-rows').innerHTML = payouts.length
      ? payouts
          .map((p) =>
            tr([
              [fmtTime(p.plannedAtMs), 'l'],
              [p.recipient, 'l'],
              fmtSat(p.amountMsat),
              p.feeMsat === null ? '–' : fmtSat(p.feeMsat),
              fmtSat(p.carriedOutMsat),
              [p.status + (p.lastError ? ' (' + p.lastError + ')' : ''), 'l'],
              p.sessionIds.length,
            ]),
          )
          .join('')
      : tr([['No payouts yet.', 'l']]);
  };
  const renderSpend = async () => {
    if (wall) return;
    const s = await getJson('/api/spend');
    const card = (label, spentMsat, budgetMsat) => {
      const spent = satOf(spentMsat);
      const budget = satOf(budgetMsat);
      return (
        '<div class="card"><span>' +
        esc(label) +
        '</span><b>' +
        fmtSat(spentMsat) +
        ' sat' +
        (budget === null ? '' : ' of ' + fmtSat(budgetMsat)) +
        '</b>' +
        (budget === null
          ? '<span>no budget set</span>'
          : '<meter min="0" max="' +
            budget +
            '" value="' +
            Math.min(spent, budget) +
            '" aria-label="' +
            esc(label) +
            ' against the budget"></meter>') +
        '</div>'
      );
    };
    $('budgets').innerHTML =
      card('Spent today (UTC day)', s.todayMsat, s.dailyBudgetMsat) +
      card('Spent this month (UTC)', s.monthMsat, s.monthlyBudgetMsat) +
      card('This session', last ? last.paidMsat : '0', s.sessionBudgetMsat);
    const caps = s.lossCaps;
    /** Use of a loss cap: "used of cap" Wh and a meter (or a dash without a loss bound). */
    const capUse = (usedWh, capWh, label) =>
      usedWh === null || usedWh === undefined || !caps
        ? '–'
        : {
            html:
              '<span class="cap-use">' +
              fmt(usedWh, 0) +
              ' of ' +
              fmt(capWh, 0) +
              '</span> <meter min="0" max="' +
              capWh +
              '" value="' +
              Math.min(usedWh, capWh) +
              '" aria-label="' +
              esc(label) +
              '"></meter>',
          };
    const backoff = (ms) =>
      ms === null || ms === undefined
        ? 'no'
        : {
            html: 'until <time datetime="' + new Date(ms).toISOString() + '">' + esc(fmtTime(ms)) + '</time>',
          };
    $('charger-rows').innerHTML = s.chargers
      .map((c) =>
        tr([
          [
            {
              html:
                '<span title="' +
                esc(c.peer) +
                '">' +
                esc(c.peer.slice(0, 20)) +
                '…</span>' +
                (c.alias ? ' <span class="alias">' + esc(c.alias) + '</span>' : ''),
            },
            'l hash',
          ],
          c.sessions,
          fmt(c.energyWh / 1000, 3),
          fmtSat(c.paidMsat),
          fmtSat(c.feesMsat),
          fmt(c.avgPriceMsatPerWh, 2),
          fmt(c.undeliveredWh, 0),
          [
            capUse(
              c.undeliveredWindowWh,
              caps && caps.perWallWh,
              'Undelivered with this charger against its cap',
            ),
            'cap',
          ],
          [backoff(c.backoffUntilMs), 'l'],
          [c.refusals.length ? c.refusals.map((r) => r.reason + ' × ' + r.count).join(', ') : 'none', 'l'],
        ]),
      )
      .join('');
    $('charger-total').innerHTML = caps
      ? tr([
          ['All chargers (last ' + fmt(caps.windowSec / 3600, 1) + ' h)', 'l'],
          '',
          '',
          '',
          '',
          '',
          '',
          [
            capUse(
              caps.undeliveredTotalWh,
              caps.totalWh,
              'Undelivered over all chargers against the total cap',
            ),
            'cap',
          ],
          ['', 'l'],
          ['', 'l'],
        ])
      : '';
  };
  const refreshHistory = () =>
    Promise.all([
      renderBuckets(),
      renderSessions(false),
      renderAlarms(),
      renderPayouts(),
      renderSpend(),
    ]).catch(showError);

  // ---------------------------------------------------------------- actions
  const act = async (path, body) => {
    const token = $('token').value;
    if (token) sessionStorage.setItem('boltcharge-operator-token', token);
    const r = await fetch('/api/actions/' + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-operator-token': token },
      body: JSON.stringify({ connectorId: 1, ...body }),
    });
    const res = await r.json().catch(() => ({}));
    text(
      $('action-result'),
      r.ok ? 'Done: ' + res.detail : 'Refused (' + r.status + '): ' + (res.message || res.error || ''),
    );
    renderAlarms().catch(showError);
  };
  if (document.body.dataset.actions === '1') {
    $('token').value = sessionStorage.getItem('boltcharge-operator-token') || '';
    $('act-stop').addEventListener('click', () => void act('stop', {}));
    $('act-clear').addEventListener('click', () => void act('clear-fault', {}));
    const av = $('act-availability');
    if (av)
      av.addEventListener(
        'click',
        () =>
          void act('availability', {
            available: !(last && last.connectors && last.connectors[0] && last.connectors[0].available),
          }),
      );
  }
  $('bucket').addEventListener('change', () => void renderBuckets().catch(showError));
  $('more-sessions').addEventListener('click', () => void renderSessions(true).catch(showError));

  // ---------------------------------------------------------------- wiring
  const extra = async () => {
    try {
      const r = await fetch('/api/extra');
      $('extra').innerHTML = await r.text();
    } catch {
      /* next time */
    }
  };
  const connect = () => {
    const ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws');
    ws.onopen = () => text($('conn'), 'live');
    ws.onmessage = (e) => {
      const m = JSON.parse(e.data);
      if (m.type === 'status') onStatus(m);
    };
    ws.onclose = () => {
      text($('conn'), 'reconnecting…');
      setTimeout(connect, 1000);
    };
  };
  let historyTimer = 0;
  const periodic = () => {
    void extra();
    if (++historyTimer % 3 === 0) void refreshHistory();
    setTimeout(periodic, 5000);
  };
  // the chart's colours come from the CSS variables: rebuild it when the system switches light/dark
  window.matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => {
    if (!chart.plot) return;
    chart.plot.destroy();
    chart.plot = null;
    redraw();
  });
  window.addEventListener('resize', () => {
    if (chart.plot)
      chart.plot.setSize({
        width: Math.max(280, $('chart').clientWidth),
        height: $('chart').clientWidth < 500 ? 240 : 300,
      });
  });
  getJson('/api/status').then(onStatus).catch(showError);
  periodic();
  connect();
  window.boltchargeDashboard = { chart, ready: () => chart.loading };
})();
