/**
 * Hardware bring-up smoke test for a real OpenEVSE (RAPI over serial) and a real Eastron SDM meter.
 *
 *   npx tsx scripts/hardware-smoke.ts --evse /dev/ttyUSB0 --meter /dev/ttyUSB1 [options]
 *   npx tsx scripts/hardware-smoke.ts --emulate --toggle        (no hardware: simulator behind socat PTYs)
 *
 * Prints the EVSE's firmware, state, current limit and own readings and the meter's readings once a second;
 * with `--toggle` it enables charging, watches the energy flow, pauses (sleep, `$FS`), checks with the meter
 * that the current really stopped, and puts the EVSE back the way it found it. Exit code 0 when everything
 * answered and (with `--toggle`) the cut was verified; 1 on any failure, naming the error; 2 on bad usage.
 *
 * Options:
 *   --evse PATH            OpenEVSE serial device (115200 baud)
 *   --meter PATH           SDM meter serial device (RS-485 adapter)
 *   --model SDM120|SDM630  meter model (default SDM120)
 *   --unit N               Modbus unit id (default 1)
 *   --baud N               meter baud rate (default 2400 for SDM120, 9600 for SDM630)
 *   --parity none|even|odd meter parity (default none)
 *   --seconds N            how long to print readings before/without toggling (default 5)
 *   --toggle               enable charging, watch, pause, verify the cut, restore
 *   --charge-seconds N     how long to charge during --toggle (default 20)
 *   --amps N               set the advertised current (volatile) before toggling
 *   --emulate              run against the simulator on PTYs instead of hardware (needs socat)
 */
import { parseArgs } from 'node:util';
import { SystemClock } from '../hardware/clock.js';
import type { EvseStatus } from '../hardware/evse/evse.js';
import { OpenEvse } from '../hardware/evse/openevse.js';
import { PowerCutVerifier } from '../hardware/evse/power-cut-verifier.js';
import type { MeterReading } from '../hardware/meter/energy-meter.js';
import { SdmMeter, type SerialParity } from '../hardware/meter/sdm-meter.js';
import type { SdmModel } from '../hardware/meter/sdm-registers.js';
import { startEmulatedHardware, type EmulatedHardware } from '../hardware/sim/emulated-hardware.js';
import { createSimWorld, type SimWorld } from '../hardware/sim/sim-world.js';

const usage =
  'usage: hardware-smoke.ts [--evse PATH] [--meter PATH] [--model SDM120|SDM630] [--unit N] [--baud N]\n' +
  '       [--parity none|even|odd] [--seconds N] [--toggle] [--charge-seconds N] [--amps N] [--emulate]';

function fail(message: string, code = 2): never {
  console.error(message);
  process.exit(code);
}

let parsed: ReturnType<typeof parse>;
function parse() {
  return parseArgs({
    options: {
      evse: { type: 'string' },
      meter: { type: 'string' },
      model: { type: 'string', default: 'SDM120' },
      unit: { type: 'string', default: '1' },
      baud: { type: 'string' },
      parity: { type: 'string', default: 'none' },
      seconds: { type: 'string', default: '5' },
      toggle: { type: 'boolean', default: false },
      'charge-seconds': { type: 'string', default: '20' },
      amps: { type: 'string' },
      emulate: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
}
try {
  parsed = parse();
} catch (err) {
  fail(`${(err as Error).message}\n${usage}`);
}
const opt = parsed.values;
if (opt.help) fail(usage, 0);
const num = (name: string, v: string | undefined): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) fail(`--${name} must be a number >= 0, got ${v}\n${usage}`);
  return n;
};
const model = opt.model as SdmModel;
if (model !== 'SDM120' && model !== 'SDM630') fail(`--model must be SDM120 or SDM630\n${usage}`);
const parity = opt.parity as SerialParity;
if (!['none', 'even', 'odd'].includes(parity)) fail(`--parity must be none, even or odd\n${usage}`);
const seconds = num('seconds', opt.seconds) ?? 5;
const chargeSeconds = num('charge-seconds', opt['charge-seconds']) ?? 20;
const amps = num('amps', opt.amps);
const unitId = num('unit', opt.unit) ?? 1;
const baud = num('baud', opt.baud);

const clock = new SystemClock();
let world: SimWorld | null = null;
let emulated: EmulatedHardware | null = null;
let evsePath = opt.evse;
let meterPath = opt.meter;
if (opt.emulate) {
  world = createSimWorld({ clock, plugged: true, charger: { startEnabled: false } });
  emulated = await startEmulatedHardware({ world, wallMeterModel: model });
  evsePath = emulated.evsePath;
  meterPath = emulated.wallMeterPath;
  console.log(`emulating: OpenEVSE on ${evsePath}, ${model} on ${meterPath} (simulated car plugged in)`);
}
if (!evsePath && !meterPath) fail(`give --evse and/or --meter (or --emulate)\n${usage}`);
if (opt.toggle && !evsePath) fail('--toggle needs --evse');

const evse = evsePath ? new OpenEvse({ path: evsePath, timeoutMs: 1000, retries: 2 }) : null;
const meter = meterPath
  ? new SdmMeter({ path: meterPath, model, unitId, baudRate: baud, parity, timeoutMs: 1000, retries: 1 })
  : null;

const fmtStatus = (s: EvseStatus): string =>
  `pilot ${s.pilot} ${s.plugged ? 'plugged' : 'unplugged'} ${s.charging ? 'CHARGING' : 'not charging'}` +
  `${s.sleeping ? ' (sleeping)' : ''}${s.disabled ? ' (disabled)' : ''}${s.fault ? ` FAULT ${s.fault}` : ''}` +
  ` limit ${s.currentLimitA} A`;
const fmtMeter = (r: MeterReading): string =>
  `meter ${r.energyImportWh.toFixed(1)} Wh import, ${r.powerW.toFixed(0)} W, ${r.voltageV.toFixed(1)} V, ` +
  `${r.currentA.toFixed(2)} A`;

async function printOnce(): Promise<void> {
  const parts: string[] = [new Date(clock.now()).toISOString().slice(11, 19)];
  if (evse) {
    const s = await evse.status();
    const r = await evse.readings();
    parts.push(
      `evse ${fmtStatus(s)}; own ammeter ${Number.isNaN(r.currentA) ? 'n/a' : r.currentA.toFixed(2) + ' A'}, ` +
        `session ${r.sessionEnergyWh.toFixed(1)} Wh`,
    );
  }
  if (meter) parts.push(fmtMeter(await meter.read()));
  console.log(parts.join(' | '));
}

async function watch(forSeconds: number): Promise<void> {
  for (let i = 0; i < forSeconds; i++) {
    await printOnce();
    await clock.sleep(1000);
  }
}

let exitCode = 0;
try {
  if (evse) {
    evse.on('status', (s) => console.log(`  event: ${fmtStatus(s)}`));
    evse.on('fault', (f) => console.log(`  event: FAULT ${f}`));
    const s = await evse.open();
    const gv = await evse.rapi.command('GV');
    console.log(`OpenEVSE firmware ${gv[0] ?? '?'} (RAPI ${gv[1] ?? '?'}) on ${evsePath}: ${fmtStatus(s)}`);
    console.log(`vehicle connection ($G0): ${await evse.connectState()}`);
  }
  if (meter) {
    const r = await meter.read();
    console.log(`${model} unit ${unitId} on ${meterPath}: ${fmtMeter(r)}`);
  }
  await watch(seconds);

  if (opt.toggle && evse) {
    const initial = await evse.status();
    if (amps !== undefined)
      console.log(`current limit set to ${await evse.setCurrentLimitA(amps)} A (volatile)`);
    const e0 = meter ? await meter.read() : null;
    console.log('enabling ($FE) ...');
    await evse.enable();
    await watch(chargeSeconds);
    const e1 = meter ? await meter.read() : null;
    if (e0 && e1)
      console.log(`energy while enabled: ${(e1.energyImportWh - e0.energyImportWh).toFixed(1)} Wh`);
    console.log('pausing ($FS, sleep) ...');
    const cutAt = clock.now();
    await evse.pause();
    if (meter) {
      const outcome = await new PowerCutVerifier(meter, clock, { thresholdA: 0.5, withinMs: 5000 }).verify(
        cutAt,
      );
      if (outcome.ok)
        console.log(`power cut verified: ${outcome.currentA.toFixed(2)} A after ${outcome.elapsedMs} ms`);
      else {
        console.log(
          `POWER CUT NOT VERIFIED (${outcome.reason}): ${outcome.lastCurrentA.toFixed(2)} A still flowing ` +
            `after ${outcome.elapsedMs} ms${outcome.lastError ? `; last error ${outcome.lastError.name}` : ''}`,
        );
        exitCode = 1;
      }
    } else {
      await clock.sleep(5000);
      const r = await evse.readings();
      console.log(`EVSE ammeter 5 s after the pause: ${r.currentA} A (no meter given to verify)`);
    }
    if (!initial.sleeping && !initial.disabled) {
      console.log('restoring: enabling again as found');
      await evse.enable();
    } else console.log('left asleep, as found');
  }
} catch (err) {
  const e = err as Error;
  console.error(`FAILED: ${e.name}: ${e.message}`);
  exitCode = 1;
} finally {
  await evse?.close();
  await meter?.close();
  await emulated?.close();
  world?.stop();
}
process.exit(exitCode);
