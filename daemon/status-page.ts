/**
 * The status page's HTML: plain HTML, CSS and JavaScript, no build step. It loads `/api/status`, then follows
 * the WebSocket `/ws` and draws power (W) and energy (Wh) over time on a canvas.
 */

/**
 * Renders the page.
 *
 * @param role which daemon serves it (title and labels)
 * @returns a complete HTML document
 */
export function statusPageHtml(role: 'wall' | 'vehicle'): string {
  const title = role === 'wall' ? 'boltcharge wall module' : 'boltcharge vehicle module';
  const paidLabel = role === 'wall' ? 'Received' : 'Paid';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font-family:system-ui,sans-serif;margin:1.5rem;color:#1b1b1b;background:#fafafa}
h1{font-size:1.3rem;margin:0 0 1rem} .grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(9rem,1fr));gap:.6rem}
.card{background:#fff;border:1px solid #ddd;border-radius:6px;padding:.6rem}
.card b{display:block;font-size:1.25rem} .card span{font-size:.8rem;color:#666}
#alarms{color:#a00;font-weight:bold} canvas{width:100%;height:220px;background:#fff;border:1px solid #ddd;border-radius:6px;margin:1rem 0}
table{border-collapse:collapse;width:100%;font-size:.85rem;background:#fff} td,th{border:1px solid #ddd;padding:.25rem .4rem;text-align:right}
th{background:#f0f0f0} td.l{text-align:left;font-family:monospace} #conn{font-size:.8rem;color:#666}
</style></head>
<body>
<h1>${title} <span id="conn">connecting…</span></h1>
<div class="grid">
 <div class="card"><span>State</span><b id="state">–</b></div>
 <div class="card"><span>Power</span><b id="power">–</b></div>
 <div class="card"><span>Energy</span><b id="energy">–</b></div>
 <div class="card"><span>Price</span><b id="price">–</b></div>
 <div class="card"><span>Credit</span><b id="credit">–</b></div>
 <div class="card"><span>${paidLabel}</span><b id="paid">–</b></div>
</div>
<p id="session"></p><p id="alarms"></p>
<div id="extra"></div>
<canvas id="chart" width="900" height="220"></canvas>
<table><thead><tr><th>#</th><th>State</th><th>Amount (sat)</th><th>Energy (Wh)</th><th>Latency (ms)</th><th class="l">Payment hash</th></tr></thead>
<tbody id="ledger"></tbody></table>
<script>
const $ = (id) => document.getElementById(id);
const points = [];
function fmtSat(msat){ if (msat === null || msat === undefined) return '–'; return (Number(msat)/1000).toLocaleString(undefined,{maximumFractionDigits:3}); }
function render(s){
  $('state').textContent = s.state;
  $('power').textContent = (s.powerW/1000).toFixed(2) + ' kW';
  $('energy').textContent = (s.energyWh/1000).toFixed(3) + ' kWh';
  $('price').textContent = s.priceMsatPerWh === null ? '–' : s.priceMsatPerWh + ' msat/Wh';
  $('credit').textContent = s.creditWh + ' Wh';
  $('paid').textContent = fmtSat(s.paidMsat) + ' sat';
  $('session').textContent = s.sessionId ? 'Session ' + s.sessionId + (s.stopReason ? ' — stopped: ' + s.stopReason : '') : 'No session';
  $('alarms').textContent = (s.alarms || []).join(' · ');
  const rows = (s.ledger || []).slice(-50).reverse().map((l) =>
    '<tr><td>'+l.seq+'</td><td>'+l.state+'</td><td>'+fmtSat(l.amountMsat)+'</td><td>'+l.fromWh+'–'+l.toWh+'</td><td>'+(l.latencyMs ?? '–')+'</td><td class="l">'+(l.paymentHash||'').slice(0,16)+'</td></tr>');
  $('ledger').innerHTML = rows.join('');
  if (s.sessionId) { points.push([s.tMs, s.powerW, s.energyWh]); if (points.length > 2000) points.shift(); }
  draw();
}
function draw(){
  const c = $('chart'), g = c.getContext('2d'); g.clearRect(0,0,c.width,c.height);
  if (points.length < 2) return;
  const t0 = points[0][0], t1 = points[points.length-1][0] || t0+1;
  const maxP = Math.max(1, ...points.map(p=>p[1])), maxE = Math.max(1, ...points.map(p=>p[2]));
  const x = (t) => 40 + (c.width-50) * (t - t0) / Math.max(1, t1 - t0);
  const line = (idx, max, color) => { g.strokeStyle = color; g.beginPath();
    points.forEach((p,i) => { const y = c.height - 20 - (c.height-30) * p[idx] / max; i ? g.lineTo(x(p[0]),y) : g.moveTo(x(p[0]),y); }); g.stroke(); };
  line(1, maxP, '#0a6'); line(2, maxE, '#36c');
  g.fillStyle = '#0a6'; g.fillText('power (max ' + (maxP/1000).toFixed(1) + ' kW)', 45, 12);
  g.fillStyle = '#36c'; g.fillText('energy (' + (maxE/1000).toFixed(2) + ' kWh)', 250, 12);
}
async function extra(){ try { const r = await fetch('/api/extra'); $('extra').innerHTML = await r.text(); } catch {} }
function connect(){
  const ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws');
  ws.onopen = () => { $('conn').textContent = 'live'; };
  ws.onmessage = (e) => { const m = JSON.parse(e.data); if (m.type === 'status') render(m); };
  ws.onclose = () => { $('conn').textContent = 'reconnecting…'; setTimeout(connect, 1000); };
}
fetch('/api/status').then(r => r.json()).then(render).catch(() => {});
extra(); setInterval(extra, 5000);
connect();
</script>
</body></html>`;
}
