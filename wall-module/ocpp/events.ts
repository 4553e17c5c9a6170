/**
 * Version-neutral transaction events, as stored in the outbox. The OCPP payload is built from them at send
 * time for the negotiated version (`ocpp201-messages.ts`, `ocpp16-messages.ts`), so a message queued before
 * the version is known, or before OCPP 1.6's transactionId arrived, is sent with the right framing and ids.
 */

/** Why the station ended a transaction (OCPP 2.x `stoppedReason` names). */
export type StopReason =
  | 'LocalOutOfCredit'
  | 'EVDisconnected'
  | 'Local'
  | 'Remote'
  | 'PowerLoss'
  | 'Reboot'
  | 'EnergyLimitReached'
  | 'TimeLimitReached'
  /** the 2.1 transactionLimit maxCost was reached: stoppedReason `LocalOutOfCredit`, trigger `CostLimitReached` */
  | 'CostLimitReached'
  | 'Other';

/** Why power was cut while the cable stays plugged. */
export type PowerCutReason = 'non-payment' | 'vehicle-request' | 'fault' | 'other';

/** Security events this station reports (OCPP 2.x part 2 appendix, Security events). */
export type SecurityEventType =
  | 'StartupOfTheDevice'
  | 'ResetOrReboot'
  | 'ReconfigurationOfSecurityParameters'
  | 'TamperDetectionActivated'
  | 'InvalidMessages'
  | 'InvalidCsmsCertificate';

/** DataTransfer messageIds of the Lightning report. */
export type LightningMessageId =
  | 'InvoiceIssued'
  | 'InvoicePaid'
  | 'PowerCutNonPayment'
  | 'SessionReceipt'
  | 'VehicleNodeKey'
  /** a split payout settled: the signed settlement statement (issue 14) */
  | 'SplitSettled'
  /** offline case 1b: back online, a stocked invoice handed out while the node was unreachable was reconciled
   * with the node (`settled` true: paid; false: never paid, cancelled or expired) */
  | 'StockReconciled'
  /** offline case 3: a block credited on the car's signed promise to pay (the signature is the evidence) */
  | 'InvoicePromised'
  /** offline case 3: a promised invoice was paid once the car's node was back (possibly after its session) */
  | 'PromisePaid'
  /** offline case 3: a promised invoice expired unpaid: the car broke its promise */
  | 'PromiseUnpaid';

/** Fields of one Lightning report (`lightning-report.ts` renders them as the DataTransfer `data` text). */
export interface LightningReportFields {
  sessionId: string;
  /** invoice sequence number within the session (the last one for a receipt) */
  seq: number | null;
  paymentHash: string | null;
  /** msat, decimal string (bigint-safe) */
  amountMsat: string | null;
  /** msat per Wh, decimal string (bigint-safe) */
  priceMsatPerWh: string | null;
  energyFromWh: number | null;
  energyToWh: number | null;
  /** when the reported fact happened, ms since epoch */
  atMs: number;
  /** extra timestamps (issuedAtMs, paidAtMs, startedAtMs, endedAtMs), ms since epoch */
  times: Record<string, number>;
  /** extra facts (receipt totals, cut reason, the receipt's payment hashes) */
  extra: Record<string, string | number | boolean | null | string[]>;
}

interface Base {
  txKey: string;
  evseId: number;
  connectorId: number;
  /** ms since epoch */
  atMs: number;
}

export type StationEvent =
  | (Base & { kind: 'EvPlugged'; meterWh?: number; remoteStartId?: number })
  | (Base & {
      kind: 'ChargingStarted';
      sessionId: string;
      meterStartWh: number;
      newTransaction: boolean;
      remoteStartId?: number;
      /** the car's key (hex): 2.0.1 idToken `Local` = its first 36 characters (absent: `NoAuthorization`) */
      payerKey?: string;
      /** the first paid invoice's payment hash: 2.1 idToken `DirectPayment` */
      paymentHash?: string;
    })
  /** a 2.x Updated event the CSMS caused (remote start on an open transaction, TriggerMessage) */
  | (Base & {
      kind: 'TxUpdated';
      triggerReason: 'RemoteStart' | 'Trigger';
      chargingState: string;
      remoteStartId?: number;
      energyWh: number | null;
    })
  /** a security event (txKey empty: not part of a transaction) */
  | (Base & { kind: 'SecurityEvent'; type: SecurityEventType; techInfo?: string })
  | (Base & { kind: 'MeterSample'; energyWh: number; powerW: number })
  | (Base & { kind: 'ChargingSuspended'; reason: PowerCutReason; energyWh: number | null })
  | (Base & { kind: 'ChargingResumed'; energyWh: number | null })
  | (Base & {
      kind: 'TransactionEnded';
      reason: StopReason;
      meterStopWh: number | null;
      /** true when a 1.6 StartTransaction was sent for this transaction and no StopTransaction yet */
      hadSession: boolean;
      /** ended by the unplug (2.x chargingState Idle, trigger EVCommunicationLost) */
      cableGone?: boolean;
    })
  /** the Lightning session ended while the cable stays plugged: 2.x Updated (EVConnected), 1.6 StopTransaction */
  | (Base & {
      kind: 'SessionFinished';
      reason: StopReason;
      meterStopWh: number;
      /** true when a 1.6 StartTransaction was sent for the session */
      hadSession: boolean;
    })
  | (Base & { kind: 'Lightning'; messageId: LightningMessageId; fields: LightningReportFields })
  /** QR payment model 1: the payment behind a DirectPayment session was settled (2.1 NotifySettlement) */
  | (Base & { kind: 'Settlement'; settlement: SettlementFields });

/** What the 2.1 NotifySettlement (or its 2.0.1/1.6 DataTransfer backport) reports. */
export interface SettlementFields {
  /** the payment reference the CSMS gave as the DirectPayment idToken (≤ 255 characters) */
  pspRef: string;
  status: 'Settled' | 'Canceled' | 'Rejected' | 'Failed';
  /** the amount settled, msat, decimal string (sent as a decimal number of sat, 3 decimals) */
  amountMsat: string;
  /** the OCPP transaction (absent when the payment was cancelled before a transaction began) */
  transactionId?: string;
  /** why (rejected, failed), or the session's end reason */
  statusInfo?: string;
  /** the session's receipt id (≤ 50 characters) */
  receiptId?: string;
  /** reported on OCPP 2.1 only (a split payout: older versions get DataTransfer `SplitSettled` instead) */
  only21?: boolean;
}

/** An outbox row as the sender sees it. */
export interface OutboxEntry {
  /** outbox row id: delivery order */
  id: number;
  /** idempotent message id */
  messageKey: string;
  event: StationEvent;
  /** OCPP 2.x seqNo within the transaction */
  seqNo: number;
  /** produced while the CSMS link was down */
  offline: boolean;
  attempts: number;
  createdAtMs: number;
}
