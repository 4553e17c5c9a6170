/**
 * Validation of EMV MPM payloads against a profile. Every failure is a named rule with the path of the object
 * that breaks it, and all failures are reported (a merchant fixing a sticker wants the whole list).
 *
 * Profiles:
 * - `emv`: EMV QRCPS Merchant-Presented Mode: `00` = "01" first, `63` last with a CRC-16/CCITT-FALSE over the
 *   UTF-8 bytes, ≤ 512 characters, no duplicate IDs at any level, mandatory 52/53/58/59/60 and at least one
 *   merchant account (02–51), field formats and maximum lengths, tip/convenience-fee consistency, template
 *   contents (GUI in 26–51 and 80–99, the language template's 00/01, 62's consumer-data request and channel).
 *   `01` is optional, and when present "11" (static) or "12" (dynamic). `54` is never required (some national
 *   schemes carry the amount behind a URL in their merchant template).
 * - `jpqr-static` / `jpqr-dynamic`: `emv` plus JPQR: `01` "11" / "12", currency "392", country "JP", a merchant
 *   account template whose `00` is "jp.or.paymentsjapan" carrying the 29-digit store id as 01 (13 digits),
 *   02 (4), 03 (6), 04 (6); the dynamic profile also needs `54`. With `storeId` given, the payload must carry
 *   exactly that store id (a sticker or a CSMS-supplied code pinned to the host's store).
 */
import { emvCrcHex } from './crc.js';
import {
  charCount,
  decodeEmv,
  isTemplate,
  type EmvFailure,
  type EmvNode,
  type EmvPath,
  type EmvEncodeRule,
  type EmvSyntaxRule,
} from './tlv.js';

/** The profiles a payload can be checked against. */
export type EmvProfile = 'emv' | 'jpqr-static' | 'jpqr-dynamic';
/** Every profile, for option parsing. */
export const EMV_PROFILES: readonly EmvProfile[] = ['emv', 'jpqr-static', 'jpqr-dynamic'];

/** Names of the content rules (syntax rules come from decoding). */
export type EmvContentRule =
  | 'FormatIndicatorNotFirst'
  | 'FormatIndicatorValue'
  | 'CrcMissing'
  | 'CrcNotLast'
  | 'CrcFormat'
  | 'CrcMismatch'
  | 'DuplicateId'
  | 'ValueEmpty'
  | 'ReservedId'
  | 'FieldMissing'
  | 'FieldTooLong'
  | 'PointOfInitiationValue'
  | 'MerchantAccountMissing'
  | 'TemplateGuiMissing'
  | 'MccFormat'
  | 'CurrencyFormat'
  | 'CountryFormat'
  | 'AmountFormat'
  | 'AmountZero'
  | 'TipIndicatorValue'
  | 'TipFeeMissing'
  | 'TipFeeFormat'
  | 'TipFeeZero'
  | 'TipFeeUnexpected'
  | 'TipPercentMissing'
  | 'TipPercentFormat'
  | 'TipPercentUnexpected'
  | 'ConsumerDataRequestFormat'
  | 'MerchantChannelLength'
  | 'LanguagePreferenceMissing'
  | 'LanguagePreferenceFormat'
  | 'LanguageNameMissing'
  | 'JpqrPointOfInitiation'
  | 'JpqrCurrency'
  | 'JpqrCountry'
  | 'JpqrAmountMissing'
  | 'JpqrTemplateMissing'
  | 'JpqrStoreIdFormat'
  | 'StoreIdMismatch';

/** Any rule a payload (or a tree to encode) can fail. */
export type EmvRule = EmvSyntaxRule | EmvEncodeRule | EmvContentRule;

/** Options of {@link checkEmv}. */
export interface EmvCheckOptions {
  /** Profile to check against (default `emv`). */
  profile?: EmvProfile;
  /** 29-digit JPQR store id the payload must carry (JPQR profiles only). */
  storeId?: string;
}

/** The outcome of checking a payload. `nodes` is null when the text did not decode. */
export interface EmvVerdict {
  valid: boolean;
  profile: EmvProfile;
  nodes: EmvNode[] | null;
  failures: EmvFailure<EmvRule>[];
}

/** The JPQR merchant account template's globally unique id. */
export const JPQR_GUI = 'jp.or.paymentsjapan';

/** Maximum lengths (characters) of top-level primitives, EMV MPM table 3.3. */
const TOP_MAX: Record<string, number> = {
  '00': 2,
  '01': 2,
  '52': 4,
  '53': 3,
  '54': 13,
  '55': 2,
  '56': 13,
  '57': 5,
  '58': 2,
  '59': 25,
  '60': 15,
  '61': 10,
  '63': 4,
};
/** Maximum lengths inside the additional data template 62 (table 3.7). */
const ADDITIONAL_MAX: Record<string, number> = {
  '01': 25,
  '02': 25,
  '03': 25,
  '04': 25,
  '05': 25,
  '06': 25,
  '07': 25,
  '08': 25,
  '09': 3,
  '10': 20,
  '11': 3,
};
/** Maximum lengths inside the language template 64 (table 3.8). */
const LANGUAGE_MAX: Record<string, number> = { '00': 2, '01': 25, '02': 15 };
const GUI_MAX = 32;

const AMOUNT = /^[0-9]+\.?[0-9]*$/;
const PERCENT = /^[0-9]{2}\.[0-9]{2}$/;
const ALPHA2 = /^[A-Za-z]{2}$/;

/**
 * Decodes and checks a payload against a profile.
 * @param payload the scanned text (hostile input; bounded by the decoder)
 * @param options profile (default `emv`) and an optional pinned JPQR store id
 * @returns the verdict: valid, the tree (null if it did not decode) and every failure found, in payload order
 *   for syntax failures and rule order otherwise
 */
export function checkEmv(payload: string, options: EmvCheckOptions = {}): EmvVerdict {
  const profile = options.profile ?? 'emv';
  const decoded = decodeEmv(payload);
  if (!decoded.ok) return { valid: false, profile, nodes: null, failures: [decoded.error] };
  const failures = checkEmvTree(payload, decoded.value, profile, options.storeId);
  return { valid: failures.length === 0, profile, nodes: decoded.value, failures };
}

/** Accumulates failures. */
class Findings {
  readonly list: EmvFailure<EmvRule>[] = [];
  add(rule: EmvContentRule, path: EmvPath, message: string): void {
    this.list.push({ rule, path, message });
  }
}

function valueOf(nodes: EmvNode[], id: string): string | undefined {
  const node = nodes.find((n) => n.id === id);
  return node && !isTemplate(node) ? node.value : undefined;
}

function childrenOf(nodes: EmvNode[], id: string): EmvNode[] | undefined {
  const node = nodes.find((n) => n.id === id);
  return node && isTemplate(node) ? node.children : undefined;
}

function isAllZero(amount: string): boolean {
  return !/[1-9]/.test(amount);
}

/**
 * Checks a decoded tree (content rules only; the text must be the one the tree was decoded from, for the CRC).
 * @param payload the original text
 * @param nodes its decoded tree
 * @param profile the profile
 * @param storeId optional pinned JPQR store id (29 digits)
 * @returns every failure found (empty when valid)
 */
export function checkEmvTree(
  payload: string,
  nodes: EmvNode[],
  profile: EmvProfile,
  storeId?: string,
): EmvFailure<EmvRule>[] {
  const f = new Findings();
  checkFrame(payload, nodes, f);
  checkEachObject(nodes, f);
  checkTopFields(nodes, f);
  if (profile !== 'emv') checkJpqr(nodes, profile, storeId, f);
  return f.list;
}

/** First/last objects, checksum, size. */
function checkFrame(payload: string, nodes: EmvNode[], f: Findings): void {
  const first = nodes[0];
  if (!first || first.id !== '00') f.add('FormatIndicatorNotFirst', ['00'], 'the payload must start with 00');
  const format = valueOf(nodes, '00');
  if (format !== undefined && format !== '01')
    f.add('FormatIndicatorValue', ['00'], `00 is ${format}, not 01`);
  const last = nodes[nodes.length - 1];
  if (!nodes.some((n) => n.id === '63')) {
    f.add('CrcMissing', ['63'], 'no checksum object 63');
    return;
  }
  if (!last || last.id !== '63') {
    f.add('CrcNotLast', ['63'], 'the checksum 63 must be the last object');
    return;
  }
  const stated = isTemplate(last) ? '' : last.value;
  if (!/^[0-9A-F]{4}$/.test(stated)) {
    f.add('CrcFormat', ['63'], `checksum ${JSON.stringify(stated)} is not 4 upper-case hex digits`);
    return;
  }
  const prefix = payload.slice(0, payload.length - 4);
  const computed = emvCrcHex(prefix);
  if (computed !== stated)
    f.add('CrcMismatch', ['63'], `checksum is ${stated}, the payload computes to ${computed}`);
}

/** Duplicates, empty values, reserved IDs, per-object lengths, template GUIs and template contents. */
function checkEachObject(nodes: EmvNode[], f: Findings): void {
  checkDuplicates(nodes, [], f);
  let accounts = 0;
  for (const node of nodes) {
    const path = [node.id];
    const n = Number(node.id);
    if (n >= 65 && n <= 79) f.add('ReservedId', path, `${node.id} is reserved for future use`);
    if (n >= 2 && n <= 51) accounts++;
    if (isTemplate(node)) {
      if (node.children.length === 0) f.add('ValueEmpty', path, `template ${node.id} is empty`);
      checkDuplicates(node.children, path, f);
      for (const child of node.children) {
        if (isTemplate(child)) continue;
        const childPath = [node.id, child.id];
        if (child.value.length === 0) f.add('ValueEmpty', childPath, `${childPath.join('/')} is empty`);
        const max =
          node.id === '62'
            ? ADDITIONAL_MAX[child.id]
            : node.id === '64'
              ? LANGUAGE_MAX[child.id]
              : child.id === '00'
                ? GUI_MAX
                : undefined;
        tooLong(child.value, max, childPath, f);
      }
      const guiTemplate = node.id !== '62' && node.id !== '64';
      if (guiTemplate && !node.children.some((c) => c.id === '00')) {
        f.add('TemplateGuiMissing', [...path, '00'], `template ${node.id} has no globally unique id 00`);
      }
    } else {
      if (node.value.length === 0) f.add('ValueEmpty', path, `${node.id} is empty`);
      tooLong(node.value, TOP_MAX[node.id], path, f);
    }
  }
  if (accounts === 0) f.add('MerchantAccountMissing', [], 'no merchant account information (02–51)');
}

function tooLong(value: string, max: number | undefined, path: EmvPath, f: Findings): void {
  if (max === undefined) return;
  const n = charCount(value);
  if (n > max) f.add('FieldTooLong', path, `${path.join('/')} has ${n} characters, at most ${max}`);
}

function checkDuplicates(nodes: EmvNode[], parent: EmvPath, f: Findings): void {
  const seen = new Set<string>();
  for (const node of nodes) {
    if (seen.has(node.id)) f.add('DuplicateId', [...parent, node.id], `${node.id} appears more than once`);
    seen.add(node.id);
  }
}

/** Mandatory fields and the formats of the top-level primitives and templates 62/64. */
function checkTopFields(nodes: EmvNode[], f: Findings): void {
  for (const id of ['52', '53', '58', '59', '60']) {
    if (!nodes.some((n) => n.id === id)) f.add('FieldMissing', [id], `mandatory ${id} is absent`);
  }
  const poi = valueOf(nodes, '01');
  if (poi !== undefined && poi !== '11' && poi !== '12') {
    f.add('PointOfInitiationValue', ['01'], `01 is ${JSON.stringify(poi)}, not 11 or 12`);
  }
  const mcc = valueOf(nodes, '52');
  if (mcc !== undefined && !/^[0-9]{4}$/.test(mcc)) f.add('MccFormat', ['52'], 'MCC is not 4 digits');
  const currency = valueOf(nodes, '53');
  if (currency !== undefined && !/^[0-9]{3}$/.test(currency)) {
    f.add('CurrencyFormat', ['53'], 'currency is not 3 digits (ISO 4217 numeric)');
  }
  const country = valueOf(nodes, '58');
  if (country !== undefined && !ALPHA2.test(country))
    f.add('CountryFormat', ['58'], 'country is not 2 letters');
  const amount = valueOf(nodes, '54');
  if (amount !== undefined) {
    if (!AMOUNT.test(amount))
      f.add('AmountFormat', ['54'], `amount ${JSON.stringify(amount)} is not a number`);
    else if (isAllZero(amount)) f.add('AmountZero', ['54'], 'amount is zero');
  }
  checkTip(nodes, f);
  checkAdditional(childrenOf(nodes, '62'), f);
  checkLanguage(childrenOf(nodes, '64'), f);
}

function checkTip(nodes: EmvNode[], f: Findings): void {
  const indicator = valueOf(nodes, '55');
  const fixed = valueOf(nodes, '56');
  const percent = valueOf(nodes, '57');
  if (indicator !== undefined && !['01', '02', '03'].includes(indicator)) {
    f.add('TipIndicatorValue', ['55'], `55 is ${JSON.stringify(indicator)}, not 01, 02 or 03`);
  }
  if (indicator === '02') {
    if (fixed === undefined) f.add('TipFeeMissing', ['56'], '55 is 02 but the fixed fee 56 is absent');
    else if (!AMOUNT.test(fixed)) f.add('TipFeeFormat', ['56'], 'fixed fee is not a number');
    else if (isAllZero(fixed)) f.add('TipFeeZero', ['56'], 'fixed fee is zero');
  } else if (fixed !== undefined) {
    f.add('TipFeeUnexpected', ['56'], 'fixed fee 56 present but 55 is not 02');
  }
  if (indicator === '03') {
    if (percent === undefined) f.add('TipPercentMissing', ['57'], '55 is 03 but the percentage 57 is absent');
    else if (!PERCENT.test(percent) || percent < '00.01' || percent > '99.99') {
      f.add('TipPercentFormat', ['57'], 'percentage is not 00.01–99.99');
    }
  } else if (percent !== undefined) {
    f.add('TipPercentUnexpected', ['57'], 'percentage 57 present but 55 is not 03');
  }
}

function checkAdditional(children: EmvNode[] | undefined, f: Findings): void {
  if (!children) return;
  const request = valueOf(children, '09');
  if (request !== undefined && request.length > 0) {
    const chars = Array.from(request);
    if (chars.some((c) => !'AME'.includes(c)) || new Set(chars).size !== chars.length) {
      f.add('ConsumerDataRequestFormat', ['62', '09'], '62/09 must list A, M, E at most once each');
    }
  }
  const channel = valueOf(children, '11');
  if (channel !== undefined && charCount(channel) !== 3) {
    f.add('MerchantChannelLength', ['62', '11'], 'merchant channel must be 3 characters');
  }
}

function checkLanguage(children: EmvNode[] | undefined, f: Findings): void {
  if (!children) return;
  const preference = valueOf(children, '00');
  if (preference === undefined) f.add('LanguagePreferenceMissing', ['64', '00'], '64 has no language 00');
  else if (!ALPHA2.test(preference))
    f.add('LanguagePreferenceFormat', ['64', '00'], 'language is not 2 letters');
  if (valueOf(children, '01') === undefined) f.add('LanguageNameMissing', ['64', '01'], '64 has no name 01');
}

/** The JPQR store id fields in a JPQR merchant account template. */
const STORE_ID_PARTS: readonly [string, number][] = [
  ['01', 13],
  ['02', 4],
  ['03', 6],
  ['04', 6],
];

/**
 * Finds the JPQR merchant account template (26–51 with GUI "jp.or.paymentsjapan") and reads its store id.
 * @param nodes decoded top-level objects
 * @returns the template id and the 29-digit store id (null when a part is missing or malformed), or undefined
 *   when there is no JPQR template
 */
export function findJpqrStoreId(
  nodes: EmvNode[],
): { templateId: string; storeId: string | null } | undefined {
  for (const node of nodes) {
    const n = Number(node.id);
    if (!isTemplate(node) || n < 26 || n > 51) continue;
    if (valueOf(node.children, '00') !== JPQR_GUI) continue;
    let storeId = '';
    for (const [id, digits] of STORE_ID_PARTS) {
      const part = valueOf(node.children, id);
      if (part === undefined || !new RegExp(`^[0-9]{${digits}}$`).test(part)) {
        return { templateId: node.id, storeId: null };
      }
      storeId += part;
    }
    return { templateId: node.id, storeId };
  }
  return undefined;
}

function checkJpqr(nodes: EmvNode[], profile: EmvProfile, storeId: string | undefined, f: Findings): void {
  const wantPoi = profile === 'jpqr-static' ? '11' : '12';
  if (valueOf(nodes, '01') !== wantPoi)
    f.add('JpqrPointOfInitiation', ['01'], `${profile} needs 01 = ${wantPoi}`);
  if (valueOf(nodes, '53') !== '392') f.add('JpqrCurrency', ['53'], 'JPQR needs currency 392 (JPY)');
  if (valueOf(nodes, '58') !== 'JP') f.add('JpqrCountry', ['58'], 'JPQR needs country JP');
  if (profile === 'jpqr-dynamic' && valueOf(nodes, '54') === undefined) {
    f.add('JpqrAmountMissing', ['54'], 'a dynamic JPQR code needs the amount 54');
  }
  const found = findJpqrStoreId(nodes);
  if (!found) {
    f.add('JpqrTemplateMissing', [], `no merchant account template with GUI ${JPQR_GUI}`);
    return;
  }
  if (found.storeId === null) {
    f.add('JpqrStoreIdFormat', [found.templateId], 'store id needs 01 (13 digits), 02 (4), 03 (6), 04 (6)');
    return;
  }
  if (storeId !== undefined && found.storeId !== storeId) {
    f.add('StoreIdMismatch', [found.templateId], `store id ${found.storeId} is not the pinned ${storeId}`);
  }
}
