/**
 * The static merchant-presented code a host prints on a charger's sticker: EMV MPM with the JPQR merchant
 * account template carrying the host's 29-digit unified store id (company 13 digits, brand 4, store 6,
 * terminal/sticker 6; unregistered levels are zeros), placed in the lowest free template ID (26 when no other
 * network's template is given).
 */
import { fail, ok, type Result } from '../../protocol/errors.js';
import { checkEmv, JPQR_GUI, type EmvProfile, type EmvVerdict } from './rules.js';
import { withEmvCrc, type EmvNode } from './tlv.js';

/** What a sticker says about the merchant. */
export interface StickerInput {
  /** 29-digit JPQR unified store id. */
  storeId: string;
  /** Merchant name in Latin letters (59, at most 25 characters). */
  name: string;
  /** Merchant city (60, at most 15 characters). */
  city: string;
  /** ISO 18245 merchant category code (52), default "5552" (electric vehicle charging). */
  mcc?: string;
  /** Postal code (61), optional. */
  postalCode?: string;
  /** Merchant name in Japanese (64/01), optional; with it 64/00 is "JA". */
  nameJa?: string;
  /** Amount in yen for a dynamic code (54); without it the code is static. */
  amountYen?: bigint;
  /** Other networks' merchant account templates (IDs 26–51) to carry beside the JPQR one. */
  otherAccounts?: EmvNode[];
}

/** Why a sticker cannot be made. */
export type StickerInvalid =
  | { name: 'StoreIdFormat'; storeId: string }
  | { name: 'NoFreeTemplateId' }
  | { name: 'StickerInvalid'; verdict: EmvVerdict };

/** Default merchant category: ISO 18245 5552, electric vehicle charging. */
export const MCC_EV_CHARGING = '5552';

/**
 * Builds a JPQR/EMV payload for a charger's sticker (static) or screen (dynamic, with an amount), and checks it
 * with the JPQR profile before returning it.
 * @param input store id, names, city and options (see {@link StickerInput})
 * @returns the payload text, or `StoreIdFormat`, `NoFreeTemplateId`, or `StickerInvalid` with the verdict when a
 *   field breaks a rule (e.g. a name longer than 25 characters)
 */
export function jpqrPayload(input: StickerInput): Result<string, StickerInvalid> {
  if (!/^[0-9]{29}$/.test(input.storeId)) return fail({ name: 'StoreIdFormat', storeId: input.storeId });
  const others = input.otherAccounts ?? [];
  const used = new Set(others.map((n) => n.id));
  let templateId: string | undefined;
  for (let id = 26; id <= 51 && templateId === undefined; id++)
    if (!used.has(String(id))) templateId = String(id);
  if (templateId === undefined) return fail({ name: 'NoFreeTemplateId' });
  const s = input.storeId;
  const dynamic = input.amountYen !== undefined;
  const nodes: EmvNode[] = [
    { id: '00', value: '01' },
    { id: '01', value: dynamic ? '12' : '11' },
    ...others,
    {
      id: templateId,
      children: [
        { id: '00', value: JPQR_GUI },
        { id: '01', value: s.slice(0, 13) },
        { id: '02', value: s.slice(13, 17) },
        { id: '03', value: s.slice(17, 23) },
        { id: '04', value: s.slice(23, 29) },
      ],
    },
    { id: '52', value: input.mcc ?? MCC_EV_CHARGING },
    { id: '53', value: '392' },
    ...(dynamic ? [{ id: '54', value: String(input.amountYen) }] : []),
    { id: '58', value: 'JP' },
    { id: '59', value: input.name },
    { id: '60', value: input.city },
    ...(input.postalCode !== undefined ? [{ id: '61', value: input.postalCode }] : []),
    ...(input.nameJa !== undefined
      ? [
          {
            id: '64',
            children: [
              { id: '00', value: 'JA' },
              { id: '01', value: input.nameJa },
            ],
          },
        ]
      : []),
  ];
  const profile: EmvProfile = dynamic ? 'jpqr-dynamic' : 'jpqr-static';
  const payload = withEmvCrc(nodes);
  if (!payload.ok) {
    return fail({
      name: 'StickerInvalid',
      verdict: { valid: false, profile, nodes, failures: [payload.error] },
    });
  }
  const verdict = checkEmv(payload.value, { profile, storeId: input.storeId });
  if (!verdict.valid) return fail({ name: 'StickerInvalid', verdict });
  return ok(payload.value);
}
