// pino JSON logs that meet CHECKLIST 3.3: timestamp (ISO 8601), level (DEBUG/INFO/WARN/ERROR),
// service, trace_id (32 lower-case hex), semantic tags @log.kind, @span.id, @error.cause.
// Every line passes through a validating sink: a record that fails the schema goes to the
// dead-letter sink (with the reason), never silently dropped.

import { Ajv, type ValidateFunction } from 'ajv';
import pino, { type Logger } from 'pino';
import { newTraceIdHex } from './ids.js';

export { BatchingLineSink, processSinks } from './log-sinks.js';

export type { Logger };

export const logRecordSchema = {
  type: 'object',
  required: ['timestamp', 'level', 'service', 'trace_id', 'message'],
  properties: {
    timestamp: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?(Z|[+-]\\d{2}:\\d{2})$' },
    level: { enum: ['DEBUG', 'INFO', 'WARN', 'ERROR'] },
    service: { type: 'string', minLength: 1 },
    trace_id: { type: 'string', pattern: '^[0-9a-f]{32}$' },
    message: { type: 'string' },
    '@log.kind': { enum: ['access', 'event', 'audit'] },
    '@span.id': { type: 'string', pattern: '^[0-9a-f]{16}$' },
    '@error.cause': { type: 'string' },
  },
} as const;

const ajv = new Ajv({ allErrors: false, strict: false });
export const validateLogRecord = ajv.compile(logRecordSchema);

export interface LineSink {
  write(line: string): void;
}

/** Where schema-valid and dead-letter lines go, and a hook to count dead letters. */
export interface LogSinks {
  out: LineSink;
  deadLetter: LineSink;
  onDeadLetter?: (reason: string) => void;
}

/** The stream pino writes to: validates each line and routes it. */
export class ValidatingLogStream {
  validLines = 0;
  deadLetters = 0;
  constructor(private readonly sinks: LogSinks) {}

  write(chunk: string): void {
    // pino writes one whole line per call; be tolerant of several in one chunk.
    const nl = chunk.indexOf('\n');
    if (nl === chunk.length - 1) this.writeLine(chunk.slice(0, nl), chunk);
    else if (nl < 0) this.writeLine(chunk, `${chunk}\n`);
    else for (const line of chunk.split('\n')) this.writeLine(line, `${line}\n`);
  }

  /**
   * One record given as its generated head and the caller's fields (the hot paths' access and
   * audit lines, written without pino). `head` is the serialised start of the record (`{"level":
   * ...,"timestamp":...,"service":...`, built by the logger from trusted values); `fields` are
   * checked against the schema less those generated keys (which they must not repeat), so the
   * line need not be parsed back; a failing record goes to the dead-letter sink like any line.
   * Serialised by hand, one field at a time: the same text JSON.stringify gives for the merged
   * record, at under half its cost, and no merged object is built.
   */
  writeFields(head: string, fields: Record<string, unknown>, message: string, shared?: SharedFields): void {
    let line: string;
    try {
      line = `${head}${shared === undefined ? '' : shared.text}${serialiseFields(fields)}${messageFragment(message)}`;
    } catch (err) {
      this.route(`${head}}`, '', `not serialisable: ${(err as Error).message}`);
      return;
    }
    this.route(line, `${line}\n`, shared === undefined ? schemaFailure(validateFields, fields) : (shared.failure ?? schemaFailure(shared.shape.validateRest, fields)));
  }

  /** `line` without its newline, `out` with it. */
  private writeLine(line: string, out: string): void {
    if (line.length === 0) return;
    let reason: string | undefined;
    try {
      reason = schemaFailure(validateLogRecord, JSON.parse(line));
    } catch (err) {
      reason = `not JSON: ${(err as Error).message}`;
    }
    this.route(line, out, reason);
  }

  /** A valid line (`reason` undefined) goes out as `out`; any other to the dead-letter sink with the reason. */
  private route(line: string, out: string, reason: string | undefined): void {
    if (reason === undefined) {
      this.validLines++;
      this.sinks.out.write(out);
    } else {
      this.deadLetters++;
      this.sinks.onDeadLetter?.(reason);
      this.sinks.deadLetter.write(`${JSON.stringify({ dead_letter_reason: reason, record: line })}\n`);
    }
  }
}

/** The keys `SidecarLoggers.info` writes itself, from trusted values, around the caller's fields. */
const GENERATED_KEYS: readonly string[] = ['level', 'timestamp', 'service', 'message'];
/**
 * The schema a hot-path record's fields must meet: `logRecordSchema` less the generated keys,
 * which the fields must not carry (a `false` schema), derived here so the two cannot drift.
 */
const FIELD_PROPERTIES: Record<string, unknown> = Object.fromEntries(Object.entries(logRecordSchema.properties).map(([k, v]) => [k, GENERATED_KEYS.includes(k) ? false : v]));
const FIELDS_REQUIRED: readonly string[] = logRecordSchema.required.filter((k) => !GENERATED_KEYS.includes(k));
const validateFields = ajv.compile({ type: 'object', required: FIELDS_REQUIRED, properties: FIELD_PROPERTIES });
/**
 * The keys several lines share (a call's trace_id, @span.id, env_id, test_group: its access and
 * audit lines), for serialising and schema-checking their values once (`share`) instead of once
 * per line. A line written with shared fields is the same record, with the same verdict, as one
 * written with the shared fields first and its own after them: the shared values are checked
 * against the fields schema's property schemas of their keys (a required key among them must
 * be there; no other key may be), and a line's own fields against the fields schema with those
 * keys no longer required and not allowed again (a `false` schema).
 */
export class SharedShape {
  private readonly validateShared: ValidateFunction;
  readonly validateRest: ValidateFunction;

  constructor(readonly keys: readonly string[]) {
    this.validateShared = ajv.compile({
      type: 'object',
      required: FIELDS_REQUIRED.filter((k) => keys.includes(k)),
      properties: Object.fromEntries(keys.map((k) => [k, FIELD_PROPERTIES[k] ?? {}])),
      additionalProperties: false,
    });
    const rest: Record<string, unknown> = { ...FIELD_PROPERTIES };
    for (const k of keys) rest[k] = false;
    this.validateRest = ajv.compile({ type: 'object', required: FIELDS_REQUIRED.filter((k) => !keys.includes(k)), properties: rest });
  }

  /** The values of this shape's keys, serialised and checked (not reused by the caller afterwards). */
  share(fields: Record<string, unknown>): SharedFields {
    let text: string;
    let failure: string | undefined;
    try {
      text = serialiseFields(fields);
      failure = schemaFailure(this.validateShared, fields);
    } catch (err) {
      text = '';
      failure = `not serialisable: ${(err as Error).message}`;
    }
    return { text, failure, shape: this };
  }
}

/** A shape's values, serialised and checked once, for the lines that share them (loggers.info's `shared`). */
export interface SharedFields {
  /** The members as JSON text, each preceded by a comma. */
  readonly text: string;
  /** Why the shared values fail the schema (every line written with them goes to the dead letters); undefined when they pass. */
  readonly failure: string | undefined;
  readonly shape: SharedShape;
}

/** `,"message":"..."}` for each message seen (bounded: messages are the code's constants). */
const MESSAGE_FRAGMENTS = new Map<string, string>();
function messageFragment(message: string): string {
  let f = MESSAGE_FRAGMENTS.get(message);
  if (f === undefined) {
    f = `,"message":${jsonString(message)}}`;
    if (MESSAGE_FRAGMENTS.size < 256) MESSAGE_FRAGMENTS.set(message, f);
  }
  return f;
}

// What JSON.stringify would escape in a string: a quote, a backslash, a control character or a
// surrogate (a lone one is written as \u escape). Strings without any are copied between quotes.
// eslint-disable-next-line no-control-regex -- control characters are exactly what must be escaped
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;
function jsonString(s: string): string {
  return NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : `"${s}"`;
}

/** `,"key":` for each key seen, serialised once (bounded: keys are the code's, not the request's). */
const KEY_FRAGMENTS = new Map<string, string>();
function keyFragment(k: string): string {
  let f = KEY_FRAGMENTS.get(k);
  if (f === undefined) {
    f = `,${jsonString(k)}:`;
    if (KEY_FRAGMENTS.size < 1024) KEY_FRAGMENTS.set(k, f);
  }
  return f;
}

/**
 * A number as JSON.stringify writes it. The access line's durations are milliseconds rounded to
 * microseconds (k / 1000 for an integer k): for those the text is built from the integer k, the
 * same text as String(v) (the shortest that reads back as v, since no other decimal with at most
 * three fraction digits lies within half a unit in the last place of v below 1e9), at a third of
 * the cost of the general double-to-text conversion. Any other number goes through String.
 */
function numberText(v: number): string {
  const k = Math.round(v * 1000);
  if (k / 1000 !== v || !(k >= 0 && k < 1e12)) return Number.isFinite(v) ? String(v) : 'null';
  const whole = Math.floor(k / 1000);
  const frac = k - whole * 1000;
  if (frac === 0) return String(whole);
  if (frac % 100 === 0) return `${whole}.${frac / 100}`;
  if (frac % 10 === 0) return `${whole}.${frac < 100 ? '0' : ''}${frac / 10}`;
  return `${whole}.${frac < 10 ? '00' : frac < 100 ? '0' : ''}${frac}`;
}

/** An object JSON.stringify writes member by member (no toJSON, a plain prototype), as serialiseFields can. */
function isPlainRecord(v: object): v is Record<string, unknown> {
  const proto = Object.getPrototypeOf(v) as unknown;
  return (proto === Object.prototype || proto === null) && typeof (v as { toJSON?: unknown }).toJSON !== 'function';
}

/**
 * The fields as JSON.stringify writes an object's members (each preceded by a comma): strings,
 * numbers and booleans directly, a plain object one level down (the access line's `phases_ms`)
 * member by member, anything else through JSON.stringify; undefined, functions and symbols left
 * out, non-finite numbers as null. Throws where JSON.stringify would.
 */
function serialiseFields(fields: Record<string, unknown>, nested = false): string {
  let out = '';
  for (const k in fields) {
    if (!Object.prototype.hasOwnProperty.call(fields, k)) continue;
    const v = fields[k];
    switch (typeof v) {
      case 'string':
        out += keyFragment(k) + jsonString(v);
        break;
      case 'number':
        out += keyFragment(k) + numberText(v);
        break;
      case 'boolean':
        out += keyFragment(k) + (v ? 'true' : 'false');
        break;
      case 'undefined':
      case 'function':
      case 'symbol':
        break;
      default: {
        if (!nested && typeof v === 'object' && v !== null && !Array.isArray(v) && isPlainRecord(v)) {
          const members = serialiseFields(v, true);
          out += `${keyFragment(k)}{${members.slice(1)}}`;
          break;
        }
        const json = JSON.stringify(v) as string | undefined;
        if (json !== undefined) out += keyFragment(k) + json;
      }
    }
  }
  return out;
}

/**
 * Why `value` fails `validate` (its first error), or undefined when it passes: the whole-record
 * schema for lines written through pino, the fields schema for the hot-path lines (whose only
 * `false` schemas are the keys the logger writes itself).
 */
function schemaFailure(validate: ValidateFunction, value: unknown): string | undefined {
  if (validate(value)) return undefined;
  const e = validate.errors?.[0];
  if (e?.keyword === 'false schema') return `${e.instancePath} is written by the logger, not a field`;
  return `${e?.instancePath || '(root)'} ${e?.message ?? 'invalid'}`;
}

const LEVELS: Record<string, string> = { trace: 'DEBUG', debug: 'DEBUG', info: 'INFO', warn: 'WARN', error: 'ERROR', fatal: 'ERROR' };

export interface SidecarLoggers {
  /** Process-level events; carries the process's boot trace id. */
  event: Logger;
  /** A logger bound to one request's trace and span. */
  forRequest(traceId: string, spanId: string): Logger;
  /** The underlying logger (no trace binding): for children that bind their own trace_id. */
  root: Logger;
  stream: ValidatingLogStream;
  setLevel(level: 'debug' | 'info' | 'warn' | 'error'): void;
  /**
   * An INFO record written without pino, for the per-request access and audit lines: the same
   * fields a `root.info(fields, message)` line gets (timestamp, level, service, message), the
   * same schema check and sinks, at a fraction of the cost. `fields` must not carry secrets
   * (pino's redaction does not run here) and must not be reused by the caller.
   */
  info(fields: Record<string, unknown>, message: string, shared?: SharedFields): void;
}

// Date#toISOString costs more than the rest of a log line's serialisation: lines written in the
// same millisecond share one string.
let lastStampMs = -1;
let lastIso = '';
let lastStamp = '';
function isoNow(): string {
  const now = Date.now();
  if (now !== lastStampMs) {
    lastStampMs = now;
    lastIso = new Date(now).toISOString();
    lastStamp = `,"timestamp":"${lastIso}"`;
  }
  return lastIso;
}
function isoTimestamp(): string {
  isoNow();
  return lastStamp;
}

export function createLoggers(options: { service: string; level?: string; sinks: LogSinks }): SidecarLoggers {
  // The schema wants a non-empty service on every line; the hot-path head is not checked per line.
  if (options.service.length === 0) throw new Error('log service name must not be empty');
  const stream = new ValidatingLogStream(options.sinks);
  const root = pino(
    {
      level: options.level ?? 'info',
      base: { service: options.service },
      messageKey: 'message',
      timestamp: isoTimestamp,
      formatters: { level: (label) => ({ level: LEVELS[label] ?? 'INFO' }) },
      redact: { paths: ['authorization', 'headers.authorization', 'token', 'key'], censor: '[redacted]' },
    },
    stream,
  );
  // The generated head of every hot-path INFO line, rebuilt when the millisecond changes.
  const serviceJson = JSON.stringify(options.service);
  let headStamp = '';
  let head = '';
  const infoHead = (): string => {
    const stamp = isoNow();
    if (stamp !== headStamp) {
      headStamp = stamp;
      head = `{"level":"INFO","timestamp":"${stamp}","service":${serviceJson}`;
    }
    return head;
  };
  const bootTraceId = newTraceIdHex();
  const event = root.child({ trace_id: bootTraceId, '@log.kind': 'event' });
  return {
    root,
    event,
    stream,
    forRequest: (traceId, spanId) => root.child({ trace_id: traceId, '@span.id': spanId }),
    info: (fields, message, shared) => {
      if (!root.isLevelEnabled('info')) return;
      stream.writeFields(infoHead(), fields, message, shared);
    },
    setLevel: (level) => {
      root.level = level;
      event.level = level;
    },
  };
}
