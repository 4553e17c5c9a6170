// `npm run regtest -- up [--walkup] [--split] | down | status [--json] | mine <n>`: the regtest Lightning network manager.
// `--walkup` also brings up the walk-up nodes (router, phone); `--split` the operator node. See scripts/regtest/network.ts.
import { connectionFilePath, down, mine, status, up } from './regtest/network.js';

const usage = 'usage: npm run regtest -- up [--walkup] [--split] | down | status [--json] | mine <n>';

async function main(argv: string[]): Promise<number> {
  const [command, arg] = argv;
  const json = argv.includes('--json');
  switch (command) {
    case 'up': {
      const r = await up({ walkup: argv.includes('--walkup'), split: argv.includes('--split') });
      const secs = (r.elapsedMs / 1000).toFixed(1);
      console.log(
        r.alreadyUp
          ? `regtest network already up (checked in ${secs} s); connection file ${r.connectionPath}`
          : `regtest network up in ${secs} s; connection file ${r.connectionPath}`,
      );
      return 0;
    }
    case 'down': {
      const r = await down({ log: () => {} });
      console.log(r.stopped.length ? `stopped ${r.stopped.join(', ')}` : 'nothing was running');
      return 0;
    }
    case 'status': {
      const s = await status();
      if (json) {
        console.log(JSON.stringify(s));
        return s.up ? 0 : 1;
      }
      console.log(`regtest network: ${s.up ? 'UP' : 'DOWN'}`);
      for (const [name, pid] of Object.entries(s.processes)) {
        console.log(`  ${name.padEnd(8)} ${pid === undefined ? 'not running' : `pid ${pid}`}`);
      }
      if (s.blockHeight !== undefined)
        console.log(`  height   ${s.blockHeight} (tip ${Math.max(0, s.tipAgeSec ?? 0)} s old)`);
      for (const [name, n] of Object.entries(s.nodes)) {
        console.log(
          `  ${name.padEnd(8)} ${n.pubkey.slice(0, 16)}… synced=${n.synced} onchain=${n.onchainSat} sat ` +
            `channel local=${n.channelLocalMsat} msat remote=${n.channelRemoteMsat} msat`,
        );
        for (const c of n.channels) {
          console.log(
            `           channel ${c.active ? 'active' : 'INACTIVE'} capacity=${c.capacitySat} sat ` +
              `local=${c.localSat} remote=${c.remoteSat}`,
          );
        }
      }
      for (const p of s.problems) console.log(`  problem: ${p}`);
      if (s.up) console.log(`  connection file ${connectionFilePath()}`);
      return s.up ? 0 : 1;
    }
    case 'mine': {
      const n = Number(arg ?? '1');
      const r = await mine(n);
      console.log(`mined ${n} block(s); height ${r.height}`);
      return 0;
    }
    default:
      console.error(usage);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? `${err.name}: ${err.message}` : String(err));
    process.exit(1);
  },
);
