/**
 * The shared-memory channel between the host thread and a plugin's worker.
 *
 * A `postMessage` round trip costs more than a whole plugin call, so calls go
 * through two SharedArrayBuffers instead: a control word that both sides wait
 * on with Atomics, and a growable data buffer that carries one message at a
 * time. The protocol is strictly alternating, so one buffer serves both ways.
 *
 *   host                          worker
 *   IDLE ──write request──▶ CALL  ──run guest──▶ RESULT ──▶ host reads, IDLE
 *                                  └─import needs host─▶ HOST_CALL
 *                          HOST_REPLY ◀──host answers──┘ (worker resumes, CALL)
 */
import { deserialize, serialize } from 'node:v8';

export const State = {
  IDLE: 0,
  CALL: 1,
  RESULT: 2,
  HOST_CALL: 3,
  HOST_REPLY: 4,
  /** The host marks the channel dead when the worker exits, to wake any waiter. */
  DEAD: 5,
} as const;

/** Control words: [state, payload length]. */
export const CTRL_BYTES = 8;
export const CTRL_STATE = 0;
export const CTRL_LENGTH = 1;

const FORMAT_JSON = 0;
const FORMAT_V8 = 1;

export interface Channel {
  ctrl: Int32Array;
  data: Uint8Array;
  dataBuffer: SharedArrayBuffer;
}

export function createChannel(maxMessageBytes: number): { ctrlBuffer: SharedArrayBuffer; dataBuffer: SharedArrayBuffer } {
  return {
    ctrlBuffer: new SharedArrayBuffer(CTRL_BYTES),
    dataBuffer: new (SharedArrayBuffer as unknown as GrowableSab)(64 * 1024, { maxByteLength: maxMessageBytes + 1 }),
  };
}

type GrowableSab = new (length: number, options: { maxByteLength: number }) => SharedArrayBuffer;

export function openChannel(ctrlBuffer: SharedArrayBuffer, dataBuffer: SharedArrayBuffer): Channel {
  // A view without a length tracks the buffer as it grows.
  return { ctrl: new Int32Array(ctrlBuffer), data: new Uint8Array(dataBuffer), dataBuffer };
}

/** Thrown when a message does not fit the channel's maximum size. */
export class MessageTooLargeError extends Error {
  constructor(readonly bytes: number, readonly max: number) {
    super(`message of ${bytes} bytes exceeds the limit of ${max} bytes`);
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Write `value` into the data buffer and return its length. JSON is twice as
 * fast as v8 serialization for the common case (strings and plain records);
 * values JSON cannot carry (bigint, byte arrays) go through v8.
 */
export function writeMessage(ch: Channel, value: unknown, binary = false): number {
  let bytes: Uint8Array;
  let format: number = FORMAT_JSON;
  let json: string | undefined;
  if (!binary) {
    try {
      json = JSON.stringify(value);
    } catch {
      json = undefined; // bigint
    }
  }
  if (json !== undefined) bytes = encoder.encode(json);
  else {
    format = FORMAT_V8;
    bytes = serialize(value);
  }
  const needed = bytes.length + 1;
  const sab = ch.dataBuffer as SharedArrayBuffer & { growable: boolean; maxByteLength: number; grow(n: number): void };
  if (needed > sab.byteLength) {
    if (needed > sab.maxByteLength) throw new MessageTooLargeError(needed - 1, sab.maxByteLength - 1);
    sab.grow(Math.min(sab.maxByteLength, Math.max(needed, sab.byteLength * 2)));
  }
  ch.data[0] = format;
  ch.data.set(bytes, 1);
  ch.ctrl[CTRL_LENGTH] = needed;
  return needed;
}

export function readMessage<T = unknown>(ch: Channel): T {
  const len = ch.ctrl[CTRL_LENGTH]!;
  const format = ch.data[0];
  // TextDecoder refuses views over shared memory: copy out first.
  const body = ch.data.slice(1, len);
  return (format === FORMAT_V8 ? deserialize(body) : JSON.parse(decoder.decode(body))) as T;
}

/** A request from the host to the worker. */
export interface Request {
  /** Export path, e.g. `tool.callTool`. */
  fn: string;
  args: unknown[];
}

/** The worker's answer to a request. */
export type Response =
  | { ok: unknown; logs: number }
  | { err: unknown; logs: number }
  | { trap: string; stderr: string; logs: number; memoryLimit?: boolean }
  | { fail: string; logs: number };

/** A call from the plugin to a host interface that the host thread serves. */
export interface HostCall {
  iface: string;
  fn: string;
  args: unknown[];
}

export type HostReply = { ok: unknown } | { err: unknown };

/** Messages the worker posts (asynchronously) to the host thread. */
export type WorkerEvent =
  | { type: 'ready'; instantiateMs: number }
  | { type: 'start-failed'; message: string; stderr: string }
  | { type: 'log'; level: string; message: string; seq: number };
