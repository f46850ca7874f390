// Types for the exportkit npm entry (js/index.js).

// The codes come from the wasm core's own declaration (src/wasm/errors.rs), so they are written once.
import type { ExportErrorCode as CoreErrorCode } from "../pkg/exportkit.js";
// Option objects the core reads through serde (src/wasm/options.rs) and results it hands back the
// same way (src/wasm/results.rs): their types are generated from those Rust structs by tsify. What
// stays in this file is what Rust cannot say: signals, callbacks, iterators, the wrapper classes.
import type {
  ActivityDownloadOptions, CsvParseOptions, CsvWriteOptions, ActivityExportType, ActivityFragmentProgress,
  ActivityJob, ActivityJobState, ActivityLateField, ActivityProgress, ActivitySummary,
  ActivityType, BadRecord, BadRecordCode, BadRecordType, DeprecatedPollOptions, ExportWarning,
  ForecastProgress, ForecastRunOptions,
  ForecastSummary, ForecastTotalChange, KnownSlug, LookupOptions, MissingColumn, Period,
  PollOptions, QueryRunOptions, UserpilotDownloadOptions, UserpilotFileLink, UserpilotFileSummary,
  UserpilotJob, UserpilotJobProgress, UserpilotLateField, UserpilotRowsSummary,
  UserpilotStartRunOptions,
} from "../pkg/exportkit.js";
export type {
  ActivityDownloadOptions, CsvParseOptions, CsvWriteOptions, ActivityExportType, ActivityFragmentProgress,
  ActivityJob, ActivityJobState, ActivityLateField, ActivityProgress, ActivitySummary,
  ActivityType, BadRecord, BadRecordCode, BadRecordType, DeprecatedPollOptions, ExportWarning,
  ForecastProgress, ForecastRunOptions,
  ForecastSummary, ForecastTotalChange, KnownSlug, LookupOptions, MissingColumn, Period,
  PollOptions, QueryRunOptions, UserpilotDownloadOptions, UserpilotFileLink, UserpilotFileSummary,
  UserpilotJob, UserpilotJobProgress, UserpilotLateField, UserpilotRowsSummary,
  UserpilotStartRunOptions,
};
/** @deprecated The one bad-record shape: {@link BadRecord}. */
export type ActivityDataError = BadRecord;
/** @deprecated The one bad-record shape: {@link BadRecord}. */
export type UserpilotRowError = BadRecord;
/** @deprecated The one bad-record shape: {@link BadRecord}. */
export type RowError = BadRecord;
/** @deprecated The one bad-record shape: {@link BadRecord}. */
export type JsonlLineError = BadRecord;
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
  /** E_REDIRECT: the host `Location` named (never the URL), when the runtime showed it. */
  host?: string;
  /** Where a download failed: the Activities fragment, or the Userpilot file (its index or name). */
  fragment?: number;
  file?: string;
  /**
   * On a failed download (activities, forecasts, Userpilot rows): what had been handed over
   * before the failure, so nothing is lost silently. The shape depends on the API (see each).
   */
  delivered?: ActivityDelivered | ForecastDelivered | UserpilotDelivered;
}

/** What an activities download had delivered when it failed. */
export interface ActivityDelivered { records: number; rows: number; bytes: number; jobId: string | null; window: number | null; fragment: number | null }
/** The forecast pages (and their records) handed over before a run failed; `page` is the last one. */
export interface ForecastDelivered { pages: number; records: number; page: number | null }
/** What a Userpilot rows run had handed over: the last file, and in it the last JSON line or the CSV data rows. */
export interface UserpilotDelivered { records: number; file: number | null; filename: string | null; line: number | null; row: number | null }

/** Options of every CSV writer: the CSV-injection guard is on unless `csvGuard: false`. */
export interface CsvGuardOptions {
  /**
   * Default true: a cell a spreadsheet would run as a formula (it starts with = + - @ tab or CR
   * and is not a plain number such as -5) gets a leading apostrophe (OWASP). false: cells as they are.
   */
  csvGuard?: boolean;
}

/** One wasm module as `init()` takes it. */
export type WasmInput = WebAssembly.Module | BufferSource | URL | string | Promise<unknown>;
/**
 * Loads exportkit: the parse module at once, the client module (the vendor clients) when the
 * first client is made where it can be loaded synchronously then (Node, workerd), else here.
 * One input is the client module (`exportkit/exportkit_bg.wasm`); `{ parse, client }` names both
 * (`exportkit/exportkit_parse_bg.wasm` is the parse module).
 */
export default function init(input?: WasmInput | { parse?: WasmInput; client?: WasmInput | (() => WebAssembly.Module | BufferSource) }): Promise<unknown>;
/** The same function as the default export, by name (handy from CommonJS: `const { init } = require("exportkit")`). */
export { init };
/** Loads the client module now, rather than when the first client is made. */
export function initClient(input?: WasmInput): Promise<void>;
/** workerd: the compiled client module, or `{ parse, client }` (both compiled). */
export function initSync(module: WebAssembly.Module | BufferSource | { parse?: WebAssembly.Module | BufferSource; client?: WebAssembly.Module | BufferSource }): void;
export function toExportError(e: unknown): ExportError;

export interface KeyValueStore {
  get(key: string): string | null;
  set(key: string, value: string): void;
}
export function memoryStore(): KeyValueStore;
export function localStorageStore(storage?: Storage): KeyValueStore;

export type QueryObject = "account" | "opportunity" | "user" | "activity";
/** From the wasm (the Rust providers): empty until `init()` (or `initSync`) has run. */
export const PERIODS: readonly Period[];
/** From the wasm (the Rust providers): empty until `init()` (or `initSync`) has run. */
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

export interface QueryOptions extends QueryRunOptions {
  signal?: AbortSignal;
  onProgress?: (p: Progress) => void;
  /** Called with each batch of rows; return a promise to hold the download until it settles. */
  onBatch?: (rows: string[][]) => void | Promise<void>;
  /** The raw body bytes as they arrive: the vendor's, not formula-guarded (see `csv`). */
  onRawChunk?: (bytes: Uint8Array) => void;
  /** Keep rows and text in the result (default true). */
  collect?: boolean;
  batchRows?: number;
  /** Leave out blank lines (`true`) or rows of only blank fields (`"greedy"`); off by default, so a blank value in a one-column export is a row. */
  skipEmptyLines?: SkipEmptyLines;
  cacheTtlMs?: number;
  /** Ignore a cached result. */
  refresh?: boolean;
}

export interface QueryResult {
  header: string[];
  rows: string[][];
  /**
   * The CSV exactly as the vendor sent it, not formula-guarded: a library hands data on. To write
   * a file for spreadsheets, write `rows` (or `queryBatches`) with `writeCsv`, guarded by default,
   * as `exportkit query` does.
   */
  csv: string;
  rowCount: number;
  bytes: number;
  missingColumns: MissingColumn[];
  unexpectedColumns: string[];
  errors: BadRecord[];
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
  forecasts: ForecastsApi;
  activities: ActivitiesApi;
}

/**
 * Papa Parse's option: `true` leaves out records that are one empty field (blank lines),
 * `"greedy"` also records whose fields are all empty or whitespace. Off by default: a blank line
 * is a row of one empty field.
 */
export type SkipEmptyLines = boolean | "greedy";
/** The CSV parser's options (generated from `CsvParseOptions` in src/wasm/options.rs). */
export type CsvOptions = CsvParseOptions;
export interface PackedBatch {
  text: string;
  fieldEnds: Uint32Array;
  rowEnds: Uint32Array;
  firstRow: number;
  /** Rows in this batch (also when the text is not kept). */
  rows: number;
  /** One per `numericColumns` entry: NaN where a field is empty or not a number. */
  numbers?: Float64Array[];
}
export class CsvStreamParser {
  constructor(options?: CsvOptions);
  push(chunk: Uint8Array): PackedBatch[];
  finish(): PackedBatch[];
  header(): string[] | null;
  takeMeta(): { rows: number; bytes: number; errors: BadRecord[] };
  free(): void;
}
export function batchRows(batch: PackedBatch): string[][];
/** Rows as CSV text (RFC 4180, CRLF), the same writer and guard as every exportkit CSV. `width` pads or cuts rows. */
export function writeCsv(rows: unknown[][], options?: CsvWriteOptions): string;
/** Whether a spreadsheet could run `cell` as a formula (the guard's rule). */
export function csvCellIsFormula(cell: string): boolean;
/** `cell` with a leading apostrophe if it is a formula, else unchanged. */
export function guardCsvCell(cell: string): string;
export function parseCsvNumbers(input: string | Uint8Array, options: Omit<CsvOptions, "numericColumns" | "text"> & { columns: (string | number)[] }): { columns: Record<string, Float64Array>; rows: number; errors: BadRecord[] };
export function parseCsv(input: string | Uint8Array, options?: CsvOptions): { data: string[][]; errors: BadRecord[]; meta: { fields: string[] | null; rows: number; bytes: number } };
export function variation(slug: string, period: Period | string): string;
export function knownSlugs(object: QueryObject): KnownSlug[];

// ---- Forecasting Query API (client.forecasts) ----

/** Query parameters as the vendor takes them (snake_case); the camelCase spellings are accepted too. */
export interface ForecastParams {
  forecast_type_id?: number;
  forecastTypeId?: number;
  /** 1..1000, required (as per_page or perPage). */
  per_page?: number;
  perPage?: number;
  /** The first page to fetch (default 1). */
  page?: number;
  /** At most one of fiscal_period_id / fiscal_period_external_id (default: the current period). */
  fiscal_period_id?: string;
  fiscalPeriodId?: string;
  fiscal_period_external_id?: string;
  fiscalPeriodExternalId?: string;
  sort?: "default" | "hierarchy_level";
  /** At most one of hierarchy_node_id / hierarchy_node_ownership_external_id. */
  hierarchy_node_id?: number;
  hierarchyNodeId?: number;
  hierarchy_node_ownership_external_id?: string;
  hierarchyNodeOwnershipExternalId?: string;
  include_descendants?: boolean;
  includeDescendants?: boolean;
  /** Snapshots: `latest` (the default without a timeframe) or `all`; since/until in epoch ms, since <= until. */
  timeframe?: { snapshots: "latest" | "all"; since?: number; until?: number };
}

export interface ForecastRecord {
  hierarchy_node_id: number;
  hierarchy_node_ownership_external_id: string;
  hierarchy_node_name: string;
  cadence_period_id: string;
  submitted_by: number | null;
  submitted_at: number | null;
  notes: string | null;
  fields: Record<string, { value: number | null }>;
}

export interface ForecastPage {
  page: number;
  /** X-Page-Last; without it, what the pages so far imply (a full page: at least one more). */
  pageLast: number;
  /** X-Total-Count; null when the vendor did not send it. */
  totalCount: number | null;
  limit: number;
  records: ForecastRecord[];
  /** This page's total differs from the first page's: records may repeat or be missing. */
  totalChanged: boolean;
}



export interface ForecastQueryOptions extends ForecastRunOptions {
  signal?: AbortSignal;
  onProgress?: (p: ForecastProgress) => void;
  onTotalChange?: (change: ForecastTotalChange) => void;
}


/** One row per record (a node at a snapshot); columns: the record's properties, then `fields.<slug>.value` for the union of fields. */
export interface ForecastTableData { columns: string[]; rows: (string | number | boolean | null)[][] }

export interface ForecastAllResult extends Omit<ForecastSummary, "records"> {
  records: ForecastRecord[];
  table(): ForecastTableData;
  toCsv(options?: CsvGuardOptions): string;
}

export interface ForecastsApi {
  /** Checks parameters (throws an ExportError naming the field); returns them in wire form. */
  validate(params: ForecastParams | string): ForecastParams;
  /** Every page in order; throws at once on bad parameters. A failure carries `delivered` ({@link ForecastDelivered}), as does all()'s. */
  query(params: ForecastParams | string, options?: ForecastQueryOptions): BatchIterator<ForecastPage, ForecastSummary>;
  all(params: ForecastParams | string, options?: ForecastQueryOptions): Promise<ForecastAllResult>;
  table(records: ForecastRecord[]): ForecastTableData;
  toCsv(records: ForecastRecord[], options?: CsvGuardOptions): string;
}

// ---- Raw Activity Data API (client.activities) ----


/** camelCase or the vendor's snake_case. Dates are yyyy-MM-dd (UTC days, inclusive). */
export interface ActivityParams {
  startDate: string;
  endDate: string;
  activityType?: ActivityType;
  exportType?: ActivityExportType;
  /** Always "JSONLines" (the only format the API offers). */
  outputFormat?: "JSONLines";
  /** export(): days per job for a long delta range (1..14, default 14). */
  windowDays?: number;
}

export interface ActivityWindow { startDate: string; endDate: string; activityType: ActivityType; exportType: ActivityExportType }




export interface ActivityWaitOptions extends PollOptions, DeprecatedPollOptions {
  signal?: AbortSignal;
  onProgress?: (p: { phase: "waiting" | "done"; job: ActivityJob }) => void;
  onJob?: (job: ActivityJob) => void;
}

export interface ActivityRowsOptions extends ActivityDownloadOptions, PollOptions, DeprecatedPollOptions {
  signal?: AbortSignal;
  onProgress?: (p: ActivityProgress) => void;
  onJob?: (job: ActivityJob, window: number) => void;
  /**
   * Called with where the run stands, once every batch the checkpoint covers has been through
   * your loop. Plain JSON: store it (JSON.stringify) and pass it back as `checkpoint`.
   */
  onCheckpoint?: (checkpoint: ActivityCheckpoint) => void;
  /**
   * Continues a run from a checkpoint `onCheckpoint` received (same parameters and output): the
   * same vendor jobs, the fragments it covers not fetched again, the one in progress from its
   * line. Another export's or job's checkpoint throws E_INVALID_ARGUMENT with field `checkpoint`.
   */
  checkpoint?: ActivityCheckpoint;
}

/** Where the core's ordered download stands: the parts (fragments, files) before `head` are done. */
export interface DownloadState { version: 1; parts: number; head: number; restarts: number; renewals: number }

/** One job's download: of the head fragment, lines through `lines` (records, CSV) or its first `bytes` (jsonl). */
export interface ActivityDownloadCheckpoint { version: 1; job_id: string; download: DownloadState; lines: number; bytes: number; bytes_before: number }

/** An activities run's checkpoint (issue 18): ids, counts and offsets, never records. */
export interface ActivityCheckpoint {
  version: 1;
  api: "activities";
  /** The planned windows (null: rows() of one job). */
  windows: ActivityWindow[] | null;
  output: { format: "records" | "csv" | "jsonl"; explode: string | null };
  /** Each window's vendor job, once created. */
  jobs: (string | null)[];
  /** Windows before this one are delivered in full. */
  window: number;
  /** The download of `window`'s job, when it has begun. */
  download: ActivityDownloadCheckpoint | null;
  /** format "csv": the header line already delivered. */
  csvHeader: string | null;
}

interface ActivityBatchPlace { jobId: string; window: number; fragment: number | null }
export type ActivityBatch =
  | (ActivityBatchPlace & { kind: "records"; records: Record<string, unknown>[]; firstLine: number })
  | (ActivityBatchPlace & { kind: "csv"; csv: string; rows: number })
  | (ActivityBatchPlace & { kind: "jsonl"; bytes: Uint8Array });




export interface ActivitiesApi {
  /** Checks parameters (throws an ExportError naming the field); returns the jobs export() will run. */
  plan(params: ActivityParams | string): ActivityWindow[];
  columns(options?: { explode?: string }): string[];
  start(params: ActivityParams | string, options?: { signal?: AbortSignal }): Promise<ActivityJob>;
  get(job: ActivityJob | string, options?: { signal?: AbortSignal }): Promise<ActivityJob>;
  list(options?: { signal?: AbortSignal }): Promise<ActivityJob[]>;
  wait(job: ActivityJob | string, options?: ActivityWaitOptions): Promise<ActivityJob>;
  /** How many data requests a Completed job's download plans: the units of `rows()`'s `parts: [from, to]`. */
  dataParts(job: Pick<ActivityJob, "fragmentCount" | "resultsSize">): number;
  /** Errors thrown by the iterator carry `delivered` ({@link ActivityDelivered}). */
  rows(job: ActivityJob | string, options?: ActivityRowsOptions): BatchIterator<ActivityBatch, ActivitySummary>;
  export(params: ActivityParams | string, options?: ActivityRowsOptions): BatchIterator<ActivityBatch, ActivitySummary>;
}

// ---------------------------------------------------------------- Userpilot (issue 5)

export type UserpilotEventType = "identify_user" | "identify_company" | "page_view" | "track" | "track_feature" | "interaction";
export type UserpilotLookup =
  | "user_properties" | "company_properties" | "features_events" | "events_properties" | "segments" | "flows"
  | "banners" | "spotlights" | "surveys" | "resource_center_modules" | "checklists" | "embeds";
/** From the wasm (the Rust providers): empty until `init()` (or `initSync`) has run. */
export const USERPILOT_EVENT_TYPES: readonly UserpilotEventType[];
/** From the wasm (the Rust providers): empty until `init()` (or `initSync`) has run. */
export const USERPILOT_LOOKUPS: readonly UserpilotLookup[];

/** Export parameters; camelCase or the vendor's snake_case keys (not both for one field). */
export interface UserpilotExportParams {
  /** YYYY-MM-DD */
  from: string;
  /** YYYY-MM-DD, not before `from` */
  to: string;
  emails?: string[];
  eventType?: UserpilotEventType[];
  userId?: string[];
  companyId?: string[];
  segmentId?: string;
  format?: "json" | "csv";
  exclusions?: boolean;
}

export interface UserpilotCreated { jobId: string; environmentAppToken: string | null; environmentName: string | null; links: string | null; startTime: string | null }


export interface UserpilotWaitOptions extends PollOptions, DeprecatedPollOptions {
  signal?: AbortSignal;
  onProgress?: (job: UserpilotJob) => void;
}

export interface UserpilotStartOptions extends UserpilotWaitOptions, UserpilotStartRunOptions {
  onWaiting?: (runningJobId: string | null) => void;
}

export interface UserpilotRowsProgress { filesDone: number; filesTotal: number; records: number; duplicates: number; bytes: number; renewals: number; restarts: number }

/** Errors thrown by the rows iterator carry `delivered` ({@link UserpilotDelivered}). */
export interface UserpilotRowsOptions extends Omit<UserpilotWaitOptions, "onProgress">, UserpilotDownloadOptions {
  onProgress?: (p: UserpilotRowsProgress) => void;
  /**
   * Called with where the run stands, once every batch the checkpoint covers has been through
   * your loop. Plain JSON: store it and pass it back as `checkpoint`.
   */
  onCheckpoint?: (checkpoint: UserpilotCheckpoint) => void;
  /**
   * Continues from a checkpoint `onCheckpoint` received: the files it covers are not fetched
   * again, the one in progress goes on at its line, and events delivered before it are not
   * delivered again. Another job's checkpoint throws E_INVALID_ARGUMENT with field `checkpoint`.
   */
  checkpoint?: UserpilotCheckpoint;
  /** Overrides the client's {@link UserpilotClientOptions.fetchFile} for this run. */
  fetchFile?: FetchFile;
}

/**
 * A fetch for presigned file links only (they carry no credential). It may refuse a link by
 * throwing an ExportError (its `field` and message are kept; the run fails with
 * E_INVALID_ARGUMENT, not retried). The CLI supplies one that enforces where links may point.
 */
export type FetchFile = (url: string, init: { method: string; headers: Record<string, string>; signal?: AbortSignal }) => Promise<Response>;

/** Of the head file: JSON Lines through `line`, CSV data rows before `rows`. */
export interface UserpilotDownloadCheckpoint { version: 1; job_id: string; download: DownloadState; line: number; rows: number }

/** A Userpilot rows run's checkpoint (issue 18). */
export interface UserpilotCheckpoint {
  version: 1;
  api: "userpilot";
  jobId: string;
  output: { dedupe: boolean; flatten: boolean };
  download: UserpilotDownloadCheckpoint | null;
  /** dedupe: the `internal_event_id` of every event delivered, so a repeat after the resume point is dropped. */
  seenIds: string[];
  /** flatten: the CSV header line already delivered. */
  csvHeader: string | null;
}

export type UserpilotBatch =
  | { format: "json"; file: number; filename: string; records: Record<string, unknown>[]; firstLine: number; lastLine: number }
  | { format: "csv"; file: number; filename: string; header: string[]; rows: string[][]; firstRow: number }
  | { format: "csv-text"; file: number; filename: string; csv: string; rows: number };


export interface UserpilotExportsApi {
  /** Checks parameters without a call; returns the wire body. Throws an ExportError naming the field. */
  validate(params: UserpilotExportParams | string): Record<string, unknown>;
  start(params: UserpilotExportParams | string, options?: UserpilotStartOptions): Promise<UserpilotCreated>;
  get(job: string | { jobId: string }, options?: { signal?: AbortSignal }): Promise<UserpilotJob>;
  list(options?: { signal?: AbortSignal }): Promise<UserpilotJob[]>;
  wait(job: string | { jobId: string }, options?: UserpilotWaitOptions): Promise<UserpilotJob>;
  rows(job: string | { jobId: string }, options?: UserpilotRowsOptions): BatchIterator<UserpilotBatch, UserpilotRowsSummary>;
}

export interface UserpilotPage {
  data: unknown[];
  after: string | null;
  before: string | null;
  limit: number | null;
  totalCount: number | null;
  totalCountCapExceeded: boolean | null;
}

export interface UserpilotLookupsApi {
  get(name: UserpilotLookup, options?: LookupOptions & { signal?: AbortSignal }): Promise<UserpilotPage>;
  pages(name: UserpilotLookup, options?: Pick<LookupOptions, "limit"> & { signal?: AbortSignal }): AsyncIterableIterator<UserpilotPage> & { result(): Promise<{ pages: number; items: number }> };
  all(name: UserpilotLookup, options?: Pick<LookupOptions, "limit"> & { signal?: AbortSignal }): Promise<unknown[]>;
}

export interface UserpilotClientOptions {
  /** Default https://appex.userpilot.io */
  baseUrl?: string;
  apiKey?: string;
  /** A proxy that adds the key (the edge worker): then no apiKey here. */
  proxyUrl?: string;
  /**
   * Fetches presigned file links instead of the global fetch (default: the global fetch, with the
   * runtime's own rules). Requests that carry the API key never go through it, and never follow
   * redirects: a 3xx fails with E_REDIRECT naming the Location host.
   */
  fetchFile?: FetchFile;
}

export class UserpilotClient {
  constructor(options: UserpilotClientOptions);
  readonly exports: UserpilotExportsApi;
  readonly lookups: UserpilotLookupsApi;
}

/**
 * A whole gzip file (one or more members) inflated in one call. Throws E_DECODE for corrupt or
 * truncated input (the message names the compressed byte) and for output past `maxOutputBytes`.
 */
export function gunzip(input: Uint8Array | ArrayBufferView | ArrayBuffer, options?: { /** Default and most 1 GiB. */ maxOutputBytes?: number }): Uint8Array;

/** The Rust gzip decoder (for runtimes without DecompressionStream). */
export class GunzipStream {
  constructor();
  push(chunk: Uint8Array): Uint8Array;
  /** Throws E_DECODE if the stream stopped anywhere but between members. */
  finish(): void;
  free(): void;
}

// ---- JSON Lines on their own ----

export interface JsonlOptions {
  strict?: boolean;
  /** Records per batch (default 2048). */
  batchRecords?: number;
  /** A longer line is a bad record (its bytes are dropped as they stream by): default 16 MiB, 1 KiB..1 GiB. */
  maxLineBytes?: number;
  /** A record nested deeper than this many arrays/objects is a bad record: default 128, 1..1000. */
  maxDepth?: number;
  /**
   * The first batch goes out once its text reaches this many bytes, even short of
   * `batchRecords`: JsonlStreamParser 64 KiB (first records in a millisecond or two),
   * JsonlCsvWriter 1 MiB (its header is discovered from the first batch). At most 4 MiB.
   */
  firstBatchBytes?: number;
}
export function parseJsonl(input: string | Uint8Array, options?: JsonlOptions): { data: Record<string, unknown>[]; errors: BadRecord[]; meta: { records: number; lines: number; bytes: number } };
export interface JsonlCsvOptions extends JsonlOptions, CsvGuardOptions {
  /** Written first, in this order. */
  columns?: string[];
  explode?: string;
  /** Add the fields found in the first batch (2048 records or 1 MiB) after `columns`; later ones are `lateFields`. */
  discover?: boolean;
}
export function jsonlToCsv(input: string | Uint8Array, options?: JsonlCsvOptions): { csv: string; errors: BadRecord[]; meta: { records: number; rows: number; header: string[]; lateFields: { column: string; firstLine: number; count: number }[]; bytes: number } };
export class JsonlStreamParser {
  constructor(options?: JsonlOptions);
  /** Batches completed so far: `text` is a JSON array of the records. */
  push(chunk: Uint8Array): { text: string; count: number; firstLine: number }[];
  finish(): { text: string; count: number; firstLine: number }[];
  takeMeta(): { records: number; lines: number; bytes: number; errors: BadRecord[] };
  free(): void;
}
export class JsonlCsvWriter {
  constructor(options?: JsonlCsvOptions);
  push(chunk: Uint8Array): string;
  finish(): string;
  takeMeta(): { records: number; lines: number; bytes: number; rows: number; header: string[]; lateFields: { column: string; firstLine: number; count: number }[]; errors: BadRecord[] };
  free(): void;
}
