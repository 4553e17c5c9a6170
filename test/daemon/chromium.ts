/** Launches the machine's Debian Chromium headless for page tests (fails clearly when it is missing). */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

const executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium';

/** Opens a fresh headless Chromium context; close it with `context.close()`. */
export async function launchChromium(): Promise<BrowserContext> {
  if (!existsSync(executablePath))
    throw new Error(
      `Chromium not found at ${executablePath}: run "node scripts/setup.mjs --for test" (apt chromium)`,
    );
  return chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'chromium-')), {
    executablePath,
    headless: true,
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
}
