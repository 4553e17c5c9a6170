/**
 * QR codes as a user sees them: headless Chromium (Debian `chromium`, driven by playwright-core) loads a page,
 * screenshots every `img.ocpp-qr`, and samples the centre of each module from the screenshot's pixels; the
 * result is compared with an independent encoding of the expected content (`qrcode`). Shared by the OCPP unit
 * tests (a rendered fragment) and the end-to-end tests (the wall daemon's own status page).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import QRCode from 'qrcode';
import { QR_ERROR_CORRECTION, QR_MARGIN_MODULES } from '../../wall-module/ocpp/display-render.js';

/** Where the Debian package installs Chromium. */
export const CHROMIUM = '/usr/bin/chromium';

/** A headless Chromium with a fresh profile; `close()` ends the browser and removes the profile. */
export interface HeadlessBrowser {
  context: BrowserContext;
  close(): Promise<void>;
}

/**
 * Launches headless Chromium with a fresh user-data dir, no GPU, no QUIC and no background traffic.
 *
 * @returns the browser context and its cleanup
 * @throws Error naming the missing binary and how to install it, when Chromium is absent
 */
export async function launchHeadlessChromium(): Promise<HeadlessBrowser> {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install chromium`);
  const profile = mkdtempSync(join(tmpdir(), 'boltcharge-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    deviceScaleFactor: 1,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** The browser APIs used to read a screenshot's pixels (the project compiles without DOM typings). */
interface BrowserCanvasApi {
  createImageBitmap(blob: Blob): Promise<{ width: number; height: number }>;
  OffscreenCanvas: new (
    w: number,
    h: number,
  ) => {
    getContext(kind: '2d'): {
      drawImage(image: unknown, x: number, y: number): void;
      getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray };
    };
  };
}

/**
 * Sampled QR modules (true = dark) of every `img.ocpp-qr` on a page, from a screenshot of each image.
 *
 * @param ctx browser context
 * @param url page to load
 * @param moduleCounts modules per side of each expected QR image, in page order (the page is polled until it
 *   shows exactly that many QR images)
 * @param timeoutMs how long to wait for the images, real ms
 * @returns one module matrix per image
 */
export async function qrModulesOnScreen(
  ctx: BrowserContext,
  url: string,
  moduleCounts: number[],
  timeoutMs = 20_000,
): Promise<boolean[][][]> {
  const page = await ctx.newPage();
  try {
    await page.setViewportSize({ width: 900, height: 1400 });
    await page.goto(url);
    const images = page.locator('img.ocpp-qr');
    const deadline = Date.now() + timeoutMs;
    while ((await images.count()) !== moduleCounts.length) {
      if (Date.now() > deadline)
        throw new Error(
          `timed out waiting for ${moduleCounts.length} QR images on ${url} (found ${await images.count()})`,
        );
      await new Promise((r) => setTimeout(r, 50));
    }
    const result: boolean[][][] = [];
    for (let i = 0; i < moduleCounts.length; i++) {
      const img = images.nth(i);
      await img.evaluate((el) => (el as unknown as { decode(): Promise<void> }).decode());
      const png = await img.screenshot();
      writeFileSync(join(tmpdir(), `boltcharge-ocpp-qr-${i}.png`), png);
      const size = moduleCounts[i]!;
      // decode the screenshot's pixels in the browser (a canvas), then sample each module's centre
      const modules = await page.evaluate(
        async ({ b64, size, margin }) => {
          const web = globalThis as unknown as BrowserCanvasApi;
          const bitmap = await web.createImageBitmap(
            await (await fetch(`data:image/png;base64,${b64}`)).blob(),
          );
          const canvas = new web.OffscreenCanvas(bitmap.width, bitmap.height);
          const g = canvas.getContext('2d');
          g.drawImage(bitmap, 0, 0);
          const px = g.getImageData(0, 0, bitmap.width, bitmap.height);
          const total = size + 2 * margin;
          const rows: boolean[][] = [];
          for (let r = 0; r < size; r++) {
            const row: boolean[] = [];
            for (let c = 0; c < size; c++) {
              const x = Math.floor(((margin + c + 0.5) * bitmap.width) / total);
              const y = Math.floor(((margin + r + 0.5) * bitmap.height) / total);
              const o = (y * bitmap.width + x) * 4;
              const lum = 0.299 * px.data[o]! + 0.587 * px.data[o + 1]! + 0.114 * px.data[o + 2]!;
              row.push(lum < 128);
            }
            rows.push(row);
          }
          return rows;
        },
        { b64: png.toString('base64'), size, margin: QR_MARGIN_MODULES },
      );
      result.push(modules);
    }
    await page.screenshot({ path: join(tmpdir(), 'boltcharge-ocpp-display-page.png'), fullPage: true });
    return result;
  } finally {
    await page.close();
  }
}

/**
 * The expected module matrix of `content`, encoded independently of the renderer.
 *
 * @param content the text the QR code must carry
 * @returns modules (true = dark), row by row
 */
export function expectedModules(content: string): boolean[][] {
  const qr = QRCode.create(content, { errorCorrectionLevel: QR_ERROR_CORRECTION });
  const n = qr.modules.size;
  return Array.from({ length: n }, (_, r) => Array.from({ length: n }, (_, c) => qr.modules.get(r, c) === 1));
}

/** Where zbarimg lives (Debian zbar-tools). */
export const ZBARIMG = '/usr/bin/zbarimg';

/**
 * The QR codes a user sees: loads `url`, waits until `minCount` images match `selector` and are loaded, then
 * screenshots each picture and decodes it with zbarimg (an independent decoder).
 *
 * @param ctx browser context
 * @param url page to load
 * @param selector CSS selector of the QR images (e.g. `#wu-web-qr`, `img.ocpp-qr`)
 * @param minCount images to wait for (0: decode whatever the page shows once loaded)
 * @returns the decoded content of each image, in page order
 * @throws when zbarimg is missing (names the package) or a picture holds no readable code
 */
export async function decodeQrImages(
  ctx: BrowserContext,
  url: string,
  selector: string,
  minCount = 1,
): Promise<string[]> {
  if (!existsSync(ZBARIMG))
    throw new Error(`${ZBARIMG} not found: run "node scripts/setup.mjs --for test" (apt zbar-tools)`);
  const page = await ctx.newPage();
  try {
    await page.setViewportSize({ width: 900, height: 1400 });
    await page.goto(url);
    await page.waitForLoadState('load');
    const images = page.locator(selector);
    await page.waitForFunction(
      ({ sel, n }) => {
        const doc = (
          globalThis as unknown as {
            document: { querySelectorAll(s: string): ArrayLike<{ src?: string; complete?: boolean }> };
          }
        ).document;
        const all = Array.from(doc.querySelectorAll(sel));
        return (
          all.length >= n && all.every((el) => (el.src ?? '').startsWith('data:') && el.complete === true)
        );
      },
      { sel: selector, n: minCount },
    );
    const dir = mkdtempSync(join(tmpdir(), 'boltcharge-qr-'));
    await page.screenshot({ path: join(dir, 'page.png'), fullPage: true });
    const out: string[] = [];
    for (let i = 0; i < (await images.count()); i++) {
      const png = join(dir, `qr-${i}.png`);
      writeFileSync(png, await images.nth(i).screenshot());
      out.push(
        execFileSync(ZBARIMG, ['--raw', '-q', '-Sdisable', '-Sqrcode.enable', png], {
          encoding: 'utf8',
        }).trim(),
      );
    }
    return out;
  } finally {
    await page.close();
  }
}
