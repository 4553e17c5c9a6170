// `boltcharge qr`: decode (exit 0 valid / 1 invalid with the rule), encode from a JSON tree, and the host's
// JPQR sticker with its store id (payload + PNG).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import QRCode from 'qrcode';
import { describe, expect, it } from 'vitest';
import { qrMain } from '../../bin/cli/qr.js';
import { checkEmv } from '../../payments/emv/rules.js';
import { EMVCO_SAMPLE, JPQR_MERCARI } from './emv-vectors.js';

const bin = fileURLToPath(new URL('../../bin/boltcharge.js', import.meta.url));

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await qrMain(
    args,
    (t) => (out += t),
    (t) => (err += t),
  );
  return { code, out, err };
}

describe('boltcharge qr', () => {
  const dir = mkdtempSync(join(tmpdir(), 'qr-cli-'));

  it('is dispatched by the boltcharge binary', () => {
    const r = spawnSync(process.execPath, [bin, 'qr', 'decode', EMVCO_SAMPLE.slice(0, -1) + 'B'], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('invalid: CrcMismatch at 63');
    const stdin = spawnSync(process.execPath, [bin, 'qr', 'decode', '-', '--profile', 'jpqr-static'], {
      input: JPQR_MERCARI + '\n',
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(stdin.status).toBe(0);
    expect(stdin.stdout).toContain('valid (jpqr-static)');
  });

  it('decode: valid payload exits 0, prints the tree; --json prints nodes and failures', async () => {
    const text = await cli('decode', EMVCO_SAMPLE);
    expect(text.code).toBe(0);
    expect(text.out).toContain('valid (emv)');
    expect(text.out).toContain('  01 最佳运输');
    const json = await cli('decode', JPQR_MERCARI, '--json', '--profile', 'jpqr-static');
    expect(json.code).toBe(0);
    const parsed = JSON.parse(json.out) as { valid: boolean; profile: string; nodes: unknown[] };
    expect(parsed).toMatchObject({ valid: true, profile: 'jpqr-static', failures: [] });
  });

  it('decode: an invalid payload exits 1 naming the rule; usage errors exit 2', async () => {
    const bad = await cli('decode', EMVCO_SAMPLE, '--profile', 'jpqr-static');
    expect(bad.code).toBe(1);
    expect(bad.err).toContain('invalid: JpqrPointOfInitiation at 01');
    const json = await cli('decode', 'garbage', '--json');
    expect(json.code).toBe(1);
    expect(JSON.parse(json.out)).toMatchObject({ valid: false, failures: [{ rule: 'IdNotDigits' }] });
    expect((await cli('decode')).code).toBe(2);
    expect((await cli('decode', EMVCO_SAMPLE, '--profile', 'nope')).code).toBe(2);
    expect((await cli('frobnicate')).code).toBe(2);
    expect((await cli('decode', EMVCO_SAMPLE, '--unknown')).code).toBe(2);
  });

  it('encode: decode --json output encodes back byte for byte; a tree without 63 gets its CRC', async () => {
    const file = join(dir, 'tree.json');
    writeFileSync(file, (await cli('decode', EMVCO_SAMPLE, '--json')).out);
    expect(await cli('encode', '--json', file)).toEqual({ code: 0, out: EMVCO_SAMPLE + '\n', err: '' });
    const nodes = (JSON.parse(readFileSync(file, 'utf8')) as { nodes: { id: string }[] }).nodes;
    writeFileSync(file, JSON.stringify(nodes.filter((n) => n.id !== '63')));
    expect((await cli('encode', '--json', file)).out).toBe(EMVCO_SAMPLE + '\n');
    writeFileSync(file, JSON.stringify([{ id: '00', value: '01' }]));
    const invalid = await cli('encode', '--json', file);
    expect(invalid.code).toBe(1);
    expect(invalid.err).toContain('FieldMissing');
    writeFileSync(file, '{"nodes": [{"id": 5}]}');
    expect((await cli('encode', '--json', file)).code).toBe(2);
    expect((await cli('encode', '--json', join(dir, 'missing.json'))).code).toBe(2);
  });

  it('sticker: a JPQR static payload pinned to the store id, and its PNG', async () => {
    const png = join(dir, 'sticker.png');
    const storeId = '12345678901230001000042000007';
    const r = await cli(
      'sticker',
      '--store-id',
      storeId,
      '--name',
      'BOLT CHARGE',
      '--city',
      'SHIBUYA',
      '--name-ja',
      'ボルトチャージ 渋谷',
      '--png',
      png,
      '--json',
    );
    expect(r.code).toBe(0);
    const { payload } = JSON.parse(r.out) as { payload: string };
    expect(checkEmv(payload, { profile: 'jpqr-static', storeId }).failures).toEqual([]);
    const image = readFileSync(png);
    expect(image.subarray(1, 4).toString()).toBe('PNG');
    const same = await QRCode.toBuffer(payload, { errorCorrectionLevel: 'M', margin: 4, width: 600 });
    expect(image.equals(same)).toBe(true);
    const dynamic = await cli(
      'sticker',
      '--store-id',
      storeId,
      '--name',
      'BC',
      '--city',
      'TOKYO',
      '--amount-yen',
      '1500',
    );
    expect(checkEmv(dynamic.out.trim(), { profile: 'jpqr-dynamic', storeId }).valid).toBe(true);
    expect((await cli('sticker', '--store-id', '1', '--name', 'BC', '--city', 'TOKYO')).code).toBe(1);
    expect(
      (await cli('sticker', '--store-id', storeId, '--name', 'N'.repeat(26), '--city', 'T')).err,
    ).toContain('FieldTooLong at 59');
    expect((await cli('sticker', '--name', 'BC')).code).toBe(2);
    expect(
      (await cli('sticker', '--store-id', storeId, '--name', 'BC', '--city', 'T', '--amount-yen', '1.5'))
        .code,
    ).toBe(2);
  });
});
