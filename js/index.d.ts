// Types for the exportkit npm entry (js/index.js).

// The codes come from the wasm core's own declaration (src/wasm/errors.rs), so they are written once.
import type { ExportErrorCode as CoreErrorCode } from "../pkg/exportkit.js";
/** The core's codes, plus E_INTERNAL for a failure outside it (a wasm trap). */
export type ExportErrorCode = CoreErrorCode | "E_INTERNAL";

export class ExportError extends Error {
  name: "ExportError";
  code: ExportErrorCode;
  status?: number;
  field?: string;
  retryAfterMs?: number;
  line?: number;
  column?: number;
  resetsAtMs?: number;
  limit?: number;
  jobId?: string;
  state?: string;
}

export default function init(input?: WebAssembly.Module | BufferSource | URL | string | Promise<unknown>): Promise<unknown>;
export function initSync(module: WebAssembly.Module | BufferSource): void;
export function toExportError(e: unknown): ExportError;

export interface KeyValueStore {
  get(key: string): string | null;
  set(key: string, value: string): void;
}
export function memoryStore(): KeyValueStore;
export function localStorageStore(storage?: Storage): KeyValueStore;

export type QueryObject = "account" | "opportunity" | "user" | "activity";
export type Period = "last_7_days" | "last_30_days" | "last_90_days" | "current_quarter" | "last_quarter";
export const PERIODS: readonly Period[];
export const OBJECTS: readonly QueryObject[];

export interface Column { slug: string; variation_id?: string; variationId?: string }
export type Operator = "$eq" | "$ne" | "$gt" | "$gte" | "$lt" | "$lte" | "$in";
export type Scalar = string | number | boolean;
export type Filter =
  | { attribute: { slug: string }; clause: Partial<Record<Exclude<Operator, "$in">, Scalar>> | { $in: Scalar[] } }
  | { $and: Filter[] }
  | { $or: Filter[] };
export interface SortKey { attribute: { slug: string }; direction?: "asc" | "desc" }
export interface Query { object: QueryObject; columns: Column[]; filter?: Filter; sort?: SortKey[] }

export interface Progress { phase: "token" | "request" | "download" | "done"; bytes: number; rows: number }
export interface RowError { code: "TooFewFields" | "TooManyFields" | "InvalidUtf8"; row: number; line: number; message: string }
export interface MissingColumn { slug: string; variationId: string | null }

export interface QueryOptions {
  signal?: AbortSignal;
  /** A deadline for the whole call, backoffs included: past it the call fails with E_TIMEOUT. */
  timeoutMs?: number;
  onProgress?: (p: Progress) => void;
  /** Called with each batch of rows; return a promise to hold the download until it settles. */
  onBatch?: (rows: string[][]) => void | Promise<void>;
  /** The raw body bytes as they arrive. */
  onRawChunk?: (bytes: Uint8Array) => void;
  /** Keep rows and text in the result (default true). */
  collect?: boolean;
  /** Call even when today's count says the allowance is spent. */
  force?: boolean;
  /** Fail on the first malformed record instead of reporting it in `errors`. */
  strict?: boolean;
  batchRows?: number;
  cacheTtlMs?: number;
  /** Ignore a cached result. */
  refresh?: boolean;
}

export interface QueryResult {
  header: string[];
  rows: string[][];
  csv: string;
  rowCount: number;
  bytes: number;
  missingColumns: MissingColumn[];
  unexpectedColumns: string[];
  errors: RowError[];
  fromCache: boolean;
  callsLeft: number;
}

export interface QueryBatch { header: string[]; missingColumns: MissingColumn[]; firstRow: number; rows: string[][] }
export interface BatchIterator<T, R> extends AsyncIterableIterator<T> { result(): Promise<R> }

export interface BackstoryClientOptions {
  baseUrl?: string;
  clientId?: string;
  clientSecret?: string;
  /** The edge worker's URL: then no credentials are given here, the worker holds them. */
  proxyUrl?: string;
  quotaStore?: KeyValueStore;
  cacheTtlMs?: number;
}

export class BackstoryClient {
  constructor(options: BackstoryClientOptions);
  validateQuery(query: Query | string): Query;
  callsLeftToday(): number;
  query(query: Query | string, options?: QueryOptions): Promise<QueryResult>;
  queryBatches(query: Query | string, options?: QueryOptions): BatchIterator<QueryBatch, Omit<QueryResult, "rows" | "csv" | "fromCache">>;
}

export interface CsvOptions { delimiter?: string; header?: boolean; strict?: boolean; batchRows?: number }
export interface PackedBatch { text: string; fieldEnds: Uint32Array; rowEnds: Uint32Array; firstRow: number }
export class CsvStreamParser {
  constructor(options?: CsvOptions);
  push(chunk: Uint8Array): PackedBatch[];
  finish(): PackedBatch[];
  header(): string[] | null;
  takeMeta(): { rows: number; bytes: number; errors: RowError[] };
  free(): void;
}
export function batchRows(batch: PackedBatch): string[][];
export function parseCsv(input: string | Uint8Array, options?: CsvOptions): { data: string[][]; errors: RowError[]; meta: { fields: string[] | null; rows: number; bytes: number } };
export function variation(slug: string, period: Period | string): string;
export function knownSlugs(object: QueryObject): { slug: string; label: string; timeBased: boolean; periods: Period[] }[];
