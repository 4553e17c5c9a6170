/**
 * `boltcharge qr …`: the EMV MPM / JPQR codec on the command line.
 *   boltcharge qr decode <payload|-> [--json] [--profile emv|jpqr-static|jpqr-dynamic] [--store-id <29 digits>]
 *   boltcharge qr encode --json <file|-> [--profile p]
 *   boltcharge qr sticker --store-id <29 digits> --name <name> --city <city> [--name-ja <name>] [--postal <code>]
 *                         [--mcc <4 digits>] [--amount-yen <n>] [--png <out.png>] [--json]
 * Exit codes: 0 valid, 1 invalid (the failing rules are printed), 2 usage error.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import QRCode from 'qrcode';
import { checkEmv, EMV_PROFILES, type EmvProfile, type EmvVerdict } from '../../payments/emv/rules.js';
import { jpqrPayload } from '../../payments/emv/sticker.js';
import { encodeEmv, withEmvCrc, type EmvNode } from '../../payments/emv/tlv.js';

const usage = `usage:
  boltcharge qr decode <payload|-> [--json] [--profile emv|jpqr-static|jpqr-dynamic] [--store-id <29 digits>]
  boltcharge qr encode --json <file|-> [--profile <profile>]
  boltcharge qr sticker --store-id <29 digits> --name <name> --city <city> [--name-ja <name>] [--postal <code>]
                        [--mcc <4 digits>] [--amount-yen <n>] [--png <out.png>] [--json]
`;

/** Largest JSON tree file read, bytes (a payload is at most 512 characters; its tree is far smaller). */
const MAX_TREE_FILE_BYTES = 64 * 1024;

/**
 * Runs one `boltcharge qr` command.
 * @param argv arguments after `qr`
 * @param out where results go (stdout by default)
 * @param err where diagnostics go (stderr by default)
 * @returns the exit code: 0 valid, 1 invalid, 2 usage
 */
export async function qrMain(
  argv: string[],
  out: (text: string) => void = (t) => process.stdout.write(t),
  err: (text: string) => void = (t) => process.stderr.write(t),
): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        json: { type: 'boolean' },
        profile: { type: 'string' },
        'store-id': { type: 'string' },
        name: { type: 'string' },
        'name-ja': { type: 'string' },
        city: { type: 'string' },
        postal: { type: 'string' },
        mcc: { type: 'string' },
        'amount-yen': { type: 'string' },
        png: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    err(`${(e as Error).message}\n${usage}`);
    return 2;
  }
  return run(parsed.positionals, parsed.values, out, err);
}

type Values = Record<string, string | boolean | undefined>;

async function run(
  positionals: string[],
  values: Values,
  out: (text: string) => void,
  err: (text: string) => void,
): Promise<number> {
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    (values.help ? out : err)(usage);
    return values.help ? 0 : 2;
  }
  const profile = (values.profile as string | undefined) ?? 'emv';
  if (!EMV_PROFILES.includes(profile as EmvProfile)) {
    err(`unknown profile ${profile}; one of ${EMV_PROFILES.join(', ')}\n`);
    return 2;
  }
  const json = values.json === true;
  switch (command) {
    case 'decode': {
      // `-` reads the payload from stdin (one line; surrounding newline removed).
      const payload = rest[0] === '-' ? readFileSync(0, 'utf8').replace(/\r?\n$/, '') : rest[0];
      if (payload === undefined) {
        err(`boltcharge qr decode: give the payload\n${usage}`);
        return 2;
      }
      const verdict = checkEmv(payload, {
        profile: profile as EmvProfile,
        ...(typeof values['store-id'] === 'string' ? { storeId: values['store-id'] } : {}),
      });
      report(verdict, json, out, err);
      return verdict.valid ? 0 : 1;
    }
    case 'encode': {
      const file = rest[0];
      if (!json || file === undefined) {
        err(`boltcharge qr encode: give --json <file> (or - for stdin)\n${usage}`);
        return 2;
      }
      const nodes = readTree(file);
      if (typeof nodes === 'string') {
        err(`boltcharge qr encode: ${nodes}\n`);
        return 2;
      }
      const last = nodes[nodes.length - 1];
      const encoded = last?.id === '63' ? encodeEmv(nodes) : withEmvCrc(nodes);
      if (!encoded.ok) {
        err(
          `invalid: ${encoded.error.rule} at ${encoded.error.path.join('/') || '(payload)'}: ${encoded.error.message}\n`,
        );
        return 1;
      }
      out(encoded.value + '\n');
      const verdict = checkEmv(encoded.value, { profile: profile as EmvProfile });
      if (!verdict.valid) report(verdict, false, () => undefined, err);
      return verdict.valid ? 0 : 1;
    }
    case 'sticker':
      return sticker(values, json, out, err);
    default:
      err(`unknown qr command ${command}\n${usage}`);
      return 2;
  }
}

async function sticker(
  values: Values,
  json: boolean,
  out: (text: string) => void,
  err: (text: string) => void,
): Promise<number> {
  const storeId = values['store-id'];
  const name = values.name;
  const city = values.city;
  if (typeof storeId !== 'string' || typeof name !== 'string' || typeof city !== 'string') {
    err(`boltcharge qr sticker: --store-id, --name and --city are required\n${usage}`);
    return 2;
  }
  const amount = values['amount-yen'];
  if (amount !== undefined && (typeof amount !== 'string' || !/^[1-9][0-9]{0,12}$/.test(amount))) {
    err('boltcharge qr sticker: --amount-yen must be a whole number of yen\n');
    return 2;
  }
  const r = jpqrPayload({
    storeId,
    name,
    city,
    ...(typeof values['name-ja'] === 'string' ? { nameJa: values['name-ja'] } : {}),
    ...(typeof values.postal === 'string' ? { postalCode: values.postal } : {}),
    ...(typeof values.mcc === 'string' ? { mcc: values.mcc } : {}),
    ...(typeof amount === 'string' ? { amountYen: BigInt(amount) } : {}),
  });
  if (!r.ok) {
    if (r.error.name === 'StickerInvalid') report(r.error.verdict, false, () => undefined, err);
    else err(`invalid: ${r.error.name}\n`);
    return 1;
  }
  if (typeof values.png === 'string') {
    await QRCode.toFile(values.png, r.value, { errorCorrectionLevel: 'M', margin: 4, width: 600 });
  }
  out(json ? JSON.stringify({ payload: r.value, png: values.png ?? null }) + '\n' : r.value + '\n');
  return 0;
}

/** Prints a verdict: JSON (tree + failures) or text (first line the verdict, then one line per failure). */
function report(
  verdict: EmvVerdict,
  json: boolean,
  out: (text: string) => void,
  err: (text: string) => void,
): void {
  if (json) {
    out(
      JSON.stringify({
        valid: verdict.valid,
        profile: verdict.profile,
        failures: verdict.failures,
        nodes: verdict.nodes,
      }) + '\n',
    );
    return;
  }
  if (verdict.valid) {
    out(`valid (${verdict.profile})\n`);
    for (const line of treeLines(verdict.nodes ?? [], '')) out(line + '\n');
    return;
  }
  for (const f of verdict.failures) {
    err(`invalid: ${f.rule} at ${f.path.join('/') || '(payload)'}: ${f.message}\n`);
  }
}

function treeLines(nodes: EmvNode[], indent: string): string[] {
  return nodes.flatMap((n) =>
    'children' in n
      ? [`${indent}${n.id}`, ...treeLines(n.children, indent + '  ')]
      : [`${indent}${n.id} ${n.value}`],
  );
}

/** Reads and shape-checks a JSON tree: an array of nodes, or `{nodes: [...]}` as `decode --json` prints it. */
function readTree(file: string): EmvNode[] | string {
  let text: string;
  try {
    const bytes = readFileSync(file === '-' ? 0 : file);
    if (bytes.length > MAX_TREE_FILE_BYTES) return `${file} is larger than ${MAX_TREE_FILE_BYTES} bytes`;
    text = bytes.toString('utf8');
  } catch (e) {
    return `cannot read ${file}: ${(e as Error).message}`;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return `${file} is not JSON`;
  }
  const list = Array.isArray(value) ? value : (value as { nodes?: unknown } | null)?.nodes;
  const nodes = toNodes(list, 0);
  return nodes ?? `${file}: expected an array of {id, value} or {id, children} objects`;
}

function toNodes(list: unknown, depth: number): EmvNode[] | null {
  if (!Array.isArray(list) || depth > 1) return null;
  const nodes: EmvNode[] = [];
  for (const item of list) {
    if (typeof item !== 'object' || item === null) return null;
    const { id, value, children } = item as { id?: unknown; value?: unknown; children?: unknown };
    if (typeof id !== 'string') return null;
    if (typeof value === 'string' && children === undefined) nodes.push({ id, value });
    else if (value === undefined && children !== undefined) {
      const inner = toNodes(children, depth + 1);
      if (inner === null) return null;
      nodes.push({ id, children: inner });
    } else return null;
  }
  return nodes;
}
