/**
 * The CSMS's device-model requests, answered from a `DeviceModel`: OCPP 2.x GetVariables, SetVariables and the
 * NotifyReport parts of GetBaseReport; OCPP 1.6 GetConfiguration and ChangeConfiguration. Pure mapping between
 * request/response payloads and the store (the store's writes are the only side effect).
 */
import type { DeviceModel, ReportBase, VariableChange, VariableDef, VariableRef } from './device-model.js';
import type { Json, JsonObject } from './types.js';

function obj(v: Json | undefined): JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? v : {};
}

function list(v: Json | undefined): JsonObject[] {
  return Array.isArray(v) ? v.map((x) => obj(x)) : [];
}

function str(v: Json | undefined): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function num(v: Json | undefined): number | undefined {
  return typeof v === 'number' ? v : undefined;
}

/** Reads a 2.x `{component, variable}` pair into a reference. */
function refOf(item: JsonObject): VariableRef {
  const component = obj(item.component);
  const variable = obj(item.variable);
  const evse = obj(component.evse);
  const ref: VariableRef = { component: str(component.name) ?? '', variable: str(variable.name) ?? '' };
  const ci = str(component.instance);
  if (ci !== undefined) ref.componentInstance = ci;
  const evseId = num(evse.id);
  if (evseId !== undefined) ref.evseId = evseId;
  const connectorId = num(evse.connectorId);
  if (connectorId !== undefined) ref.connectorId = connectorId;
  const vi = str(variable.instance);
  if (vi !== undefined) ref.variableInstance = vi;
  return ref;
}

/** The 2.x `component` object of a variable. */
function componentOf(d: VariableDef): JsonObject {
  const c: JsonObject = { name: d.component };
  if (d.componentInstance !== undefined) c.instance = d.componentInstance;
  if (d.evseId !== undefined)
    c.evse = d.connectorId !== undefined ? { id: d.evseId, connectorId: d.connectorId } : { id: d.evseId };
  return c;
}

/** The 2.x `variable` object of a variable. */
function variableOf(d: VariableDef): JsonObject {
  return d.variableInstance !== undefined
    ? { name: d.variable, instance: d.variableInstance }
    : { name: d.variable };
}

/**
 * GetVariables (2.0.1/2.1).
 *
 * @param model the device model
 * @param req GetVariablesRequest
 * @returns GetVariablesResponse: one result per requested item, in order
 */
export function getVariables(model: DeviceModel, req: JsonObject): JsonObject {
  const results = list(req.getVariableData).map((item): JsonObject => {
    const r = resolveItem(model, item);
    if ('reply' in r) return r.reply;
    if (r.def.mutability === 'WriteOnly') return { ...r.base, attributeStatus: 'Rejected' };
    return { ...r.base, attributeStatus: 'Accepted', attributeValue: model.value(r.def) };
  });
  return { getVariableResult: results };
}

/**
 * Resolves one Get/SetVariables item: the result skeleton (attributeType, component, variable echoed) and the
 * variable, or the finished result when the item names nothing this station has or a non-Actual attribute.
 */
function resolveItem(
  model: DeviceModel,
  item: JsonObject,
): { reply: JsonObject } | { base: JsonObject; def: VariableDef } {
  const attributeType = str(item.attributeType) ?? 'Actual';
  const base: JsonObject = { attributeType, component: item.component ?? {}, variable: item.variable ?? {} };
  const found = model.lookup(refOf(item));
  if ('missing' in found) return { reply: { ...base, attributeStatus: found.missing } };
  if (attributeType !== 'Actual') return { reply: { ...base, attributeStatus: 'NotSupportedAttributeType' } };
  return { base, def: found.def };
}

/**
 * SetVariables (2.0.1/2.1). Each accepted item is persisted before the reply.
 *
 * @param model the device model
 * @param req SetVariablesRequest
 * @returns the SetVariablesResponse and the changes made
 */
export function setVariables(
  model: DeviceModel,
  req: JsonObject,
): { reply: JsonObject; changes: VariableChange[] } {
  const changes: VariableChange[] = [];
  const results = list(req.setVariableData).map((item): JsonObject => {
    const r = resolveItem(model, item);
    if ('reply' in r) return r.reply;
    const value = str(item.attributeValue) ?? '';
    const previous = model.value(r.def);
    const status = model.set(r.def, value);
    if (status !== 'Rejected') changes.push({ def: r.def, value, previous });
    return { ...r.base, attributeStatus: status };
  });
  return { reply: { setVariableResult: results }, changes };
}

function reportDatum(model: DeviceModel, d: VariableDef): JsonObject {
  const attribute: JsonObject = {
    type: 'Actual',
    mutability: d.mutability,
    persistent: true,
    constant: d.mutability === 'ReadOnly' && d.summary !== true,
  };
  if (d.mutability !== 'WriteOnly') attribute.value = model.value(d);
  const characteristics: JsonObject = { dataType: d.dataType, supportsMonitoring: false };
  if (d.unit !== undefined) characteristics.unit = d.unit;
  if (d.min !== undefined) characteristics.minLimit = Number(d.min);
  if (d.max !== undefined) characteristics.maxLimit = Number(d.max);
  if (d.valuesList !== undefined) characteristics.valuesList = d.valuesList.join(',');
  return {
    component: componentOf(d),
    variable: variableOf(d),
    variableAttribute: [attribute],
    variableCharacteristics: characteristics,
  };
}

/**
 * The NotifyReport requests answering a GetBaseReport, split in parts (`tbc` on all but the last).
 *
 * @param model the device model
 * @param requestId the GetBaseReport requestId
 * @param base which report
 * @param generatedAtMs report time, ms since epoch
 * @param perPart variables per NotifyReport (≥ 1)
 * @returns NotifyReportRequest payloads in seqNo order (empty when the report lists nothing)
 */
export function notifyReportParts(
  model: DeviceModel,
  requestId: number,
  base: ReportBase,
  generatedAtMs: number,
  perPart: number,
): JsonObject[] {
  const defs = model.report(base);
  const parts: JsonObject[] = [];
  const generatedAt = new Date(generatedAtMs).toISOString();
  for (let i = 0, seqNo = 0; i < defs.length; i += perPart, seqNo++) {
    const payload: JsonObject = {
      requestId,
      generatedAt,
      seqNo,
      reportData: defs.slice(i, i + perPart).map((d) => reportDatum(model, d)),
    };
    if (i + perPart < defs.length) payload.tbc = true;
    parts.push(payload);
  }
  return parts;
}

/**
 * GetConfiguration (1.6): the named keys, or all of them.
 *
 * @param model the device model
 * @param req GetConfiguration.req
 * @returns GetConfiguration.conf
 */
export function getConfiguration16(model: DeviceModel, req: JsonObject): JsonObject {
  const asked = Array.isArray(req.key) ? req.key.filter((k): k is string => typeof k === 'string') : [];
  const defs = asked.length === 0 ? model.keys16() : [];
  const unknownKey: string[] = [];
  for (const k of asked) {
    const d = model.byKey16(k);
    if (d) defs.push(d);
    else unknownKey.push(k);
  }
  const reply: JsonObject = {};
  const configurationKey = defs.map((d): JsonObject => {
    const entry: JsonObject = { key: d.key16 ?? d.variable, readonly: d.mutability === 'ReadOnly' };
    if (d.mutability !== 'WriteOnly') entry.value = model.value(d).slice(0, 500);
    return entry;
  });
  if (configurationKey.length > 0) reply.configurationKey = configurationKey;
  if (unknownKey.length > 0) reply.unknownKey = unknownKey;
  return reply;
}

/**
 * ChangeConfiguration (1.6). Booleans are accepted in any case (`True`), as 1.6 CSMSs send them.
 *
 * @param model the device model
 * @param req ChangeConfiguration.req
 * @returns the ChangeConfiguration.conf and the change made, if any
 */
export function changeConfiguration16(
  model: DeviceModel,
  req: JsonObject,
): { reply: JsonObject; change: VariableChange | undefined } {
  const d = model.byKey16(str(req.key) ?? '');
  if (!d) return { reply: { status: 'NotSupported' }, change: undefined };
  let value = str(req.value) ?? '';
  if (d.dataType === 'boolean') value = value.toLowerCase();
  const previous = model.value(d);
  const status = model.set(d, value);
  return {
    reply: { status },
    change: status === 'Rejected' ? undefined : { def: d, value, previous },
  };
}
