/**
 * Renders display messages as an HTML fragment for the wall's status page: text escaped, QR content as an
 * inline SVG image (data URI) drawn by `qrcode`, URIs also as a link.
 */
import QRCode from 'qrcode';
import type { DisplayMessage } from './display-messages.js';

/** QR error-correction level used for display messages. */
export const QR_ERROR_CORRECTION = 'M' as const;
/** Quiet zone around the QR code, in modules. */
export const QR_MARGIN_MODULES = 4;

/** Station state for `state`-bound messages. */
export type StationDisplayState = 'Charging' | 'Idle';

function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/**
 * Which messages are showing now: within their start/end window and matching the station state.
 *
 * @param messages stored messages, most prominent first
 * @param nowMs ms since epoch
 * @param state the station's state
 * @returns the visible messages, in display order
 */
export function visibleMessages(
  messages: readonly DisplayMessage[],
  nowMs: number,
  state: StationDisplayState,
): DisplayMessage[] {
  return messages.filter(
    (m) =>
      (m.startMs === null || m.startMs <= nowMs) &&
      (m.endMs === null || nowMs < m.endMs) &&
      (m.state === null || m.state === state),
  );
}

/**
 * Renders messages as an HTML fragment (a `<section>`; empty section when there is nothing to show).
 *
 * @param messages the messages to render, in display order
 * @returns HTML text; QR codes are `<img class="ocpp-qr">` with an SVG data URI
 */
export async function renderDisplayMessagesHtml(messages: readonly DisplayMessage[]): Promise<string> {
  const parts: string[] = [];
  for (const m of messages) {
    const lang = m.language === null ? '' : ` lang="${escapeHtml(m.language)}"`;
    const inner: string[] = [];
    if (m.asQr) {
      const options = { errorCorrectionLevel: QR_ERROR_CORRECTION, margin: QR_MARGIN_MODULES } as const;
      const modules = QRCode.create(m.content, options).modules.size + 2 * QR_MARGIN_MODULES;
      const sizePx = Math.max(256, modules * 4); // at least 4 screen pixels per module, for cameras
      const svg = await QRCode.toString(m.content, { ...options, type: 'svg' });
      const src = `data:image/svg+xml;base64,${Buffer.from(svg, 'utf8').toString('base64')}`;
      inner.push(
        `<img class="ocpp-qr" width="${sizePx}" height="${sizePx}" style="image-rendering:pixelated" alt="QR code: ${escapeHtml(m.content)}" src="${src}">`,
      );
    }
    if (m.format === 'URI' && /^(https?|lightning):/i.test(m.content))
      inner.push(
        `<p class="ocpp-text" style="overflow-wrap:anywhere"><a href="${escapeHtml(m.content)}">${escapeHtml(m.content)}</a></p>`,
      );
    else inner.push(`<p class="ocpp-text" style="overflow-wrap:anywhere">${escapeHtml(m.content)}</p>`);
    parts.push(
      `<article class="ocpp-display-message" data-id="${m.id}" data-priority="${m.priority}" data-format="${m.format}"${lang}>${inner.join('')}</article>`,
    );
  }
  return `<section class="ocpp-display-messages">${parts.join('')}</section>`;
}
