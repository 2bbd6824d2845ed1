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
import type { Refusal } from '../capabilities/refusal.js';

export const State = {
  IDLE: 0,
  CALL: 1,
  RESULT: 2,
  HOST_CALL: 3,
  HOST_REPLY: 4,
  /** The host marks the channel dead when the worker exits, to wake any waiter. */
  DEAD: 5,
} as const;

/** A call the host makes to this thread itself, not to the plugin: what it holds in memory. */
export const MEMORY_PROBE = '$airlock.memory';
/** A round trip to the thread that runs no plugin code (`host.ping`): the floor a call stands on. */
export const PING = '$airlock.ping';
/**
 * Calls that hand a thread from one instance of a plugin to the next (a
 * reload): PARK drops the instance and everything of it, RESET starts the
 * component the host posted on the thread's setup port.
 */
export const PARK = '$airlock.park';
export const RESET = '$airlock.reset';
/**
 * The lifecycle hooks (contract 0.1.2): INIT runs the instance's `init` if it
 * has not run yet (every call does so first; the host sends INIT at load so
 * that a failing `init` fails the load), SHUTDOWN runs `shutdown` before the
 * host retires an instance that has started.
 */
export const INIT = '$airlock.init';
export const SHUTDOWN = '$airlock.shutdown';

/** What this thread holds: its V8 heap and the current instance's linear memories. */
export interface WorkerMemory {
  /** Bytes of the current instance's linear memories (never shrink while it lives). */
  linearBytes: number;
  /** V8 heap of this thread, in use and reserved. */
  heapUsedBytes: number;
  heapTotalBytes: number;
  /** Memory outside the V8 heap that V8 tracks (array buffers, including wasm memories), and malloc'd by V8. */
  externalBytes: number;
  mallocedBytes: number;
  /** Resources (chat streams) the plugin returned and the host has not dropped. */
  resources: number;
  /** With `collect`: wasm memories still alive in the thread after the collection (the current instance's, unless something leaks). */
  wasmMemories?: number;
  /** Linear memories of the current instance. */
  instanceMemories: number;
  /** The worker thread's id: the same across reloads that reuse the thread. */
  threadId: number;
}

/** Control words: [state, payload length]. */
export const CTRL_BYTES = 8;
export const CTRL_STATE = 0;
export const CTRL_LENGTH = 1;

const FORMAT_JSON = 0;
const FORMAT_V8 = 1;

export interface Channel {
  ctrl: Int32Array;
  dataBuffer: SharedArrayBuffer;
  /** A Buffer over the data buffer, re-created when either side grows it. */
  buf: Buffer;
}

export function createChannel(maxMessageBytes: number): { ctrlBuffer: SharedArrayBuffer; dataBuffer: SharedArrayBuffer } {
  return {
    ctrlBuffer: new SharedArrayBuffer(CTRL_BYTES),
    dataBuffer: new (SharedArrayBuffer as unknown as GrowableSab)(Math.min(64 * 1024, maxMessageBytes + 1), { maxByteLength: maxMessageBytes + 1 }),
  };
}

type GrowableSab = new (length: number, options: { maxByteLength: number }) => SharedArrayBuffer;

export function openChannel(ctrlBuffer: SharedArrayBuffer, dataBuffer: SharedArrayBuffer): Channel {
  return { ctrl: new Int32Array(ctrlBuffer), dataBuffer, buf: Buffer.from(dataBuffer) };
}

type GrowableBuffer = SharedArrayBuffer & { maxByteLength: number; grow(n: number): void };

/** The current Buffer view, after the other side may have grown the data buffer. */
function view(ch: Channel): Buffer {
  if (ch.buf.length !== ch.dataBuffer.byteLength) ch.buf = Buffer.from(ch.dataBuffer);
  return ch.buf;
}

function ensureCapacity(ch: Channel, bytes: number): Buffer {
  const sab = ch.dataBuffer as GrowableBuffer;
  if (bytes + 1 > sab.byteLength) {
    if (bytes + 1 > sab.maxByteLength) throw new MessageTooLargeError(bytes, sab.maxByteLength - 1);
    sab.grow(Math.min(sab.maxByteLength, Math.max(bytes + 1, sab.byteLength * 2)));
  }
  return view(ch);
}

/** Thrown when a message does not fit the channel's maximum size. */
export class MessageTooLargeError extends Error {
  constructor(readonly bytes: number, readonly max: number) {
    super(`message of ${bytes} bytes exceeds the limit of ${max} bytes`);
  }
}

/**
 * Write `value` into the data buffer and record its length. JSON is twice as
 * fast as v8 serialization for the common case (strings and plain records);
 * values JSON cannot carry (bigint, byte arrays) go through v8.
 */
export function writeMessage(ch: Channel, value: unknown, binary = false): void {
  let json: string | undefined;
  if (!binary) {
    try {
      json = JSON.stringify(value);
    } catch {
      json = undefined; // a bigint
    }
  }
  if (json === undefined) {
    const bytes = serialize(value);
    const buf = ensureCapacity(ch, bytes.length);
    buf[0] = FORMAT_V8;
    buf.set(bytes, 1);
    ch.ctrl[CTRL_LENGTH] = bytes.length + 1;
    return;
  }
  // A UTF-16 code unit never takes more than 3 UTF-8 bytes: skip measuring small messages.
  let buf = view(ch);
  if (json.length * 3 + 1 > buf.length) buf = ensureCapacity(ch, Buffer.byteLength(json));
  buf[0] = FORMAT_JSON;
  ch.ctrl[CTRL_LENGTH] = buf.write(json, 1, 'utf8') + 1;
}

export function readMessage<T = unknown>(ch: Channel): T {
  const len = ch.ctrl[CTRL_LENGTH]!;
  const buf = view(ch);
  // v8.deserialize copies what it needs; JSON is decoded straight from shared memory.
  return (buf[0] === FORMAT_V8 ? deserialize(buf.subarray(1, len)) : JSON.parse(buf.toString('utf8', 1, len))) as T;
}

/** A request from the host to the worker. */
export interface Request {
  /** Export path, e.g. `tool.callTool`. */
  fn: string;
  args: unknown[];
  /**
   * For `tool.callTool`: check the arguments against the tool's schema in the
   * worker first. A plugin's schema runs in the plugin's thread, under its
   * deadline, so a pathological `pattern` cannot stall the host.
   */
  validate?: boolean;
}

/** The worker's answer to a request. */
export type Response = (
  | { ok: unknown }
  | { err: unknown }
  | { trap: string; stderr: string }
  | { tooLarge: number; max: number }
  | { invalid: { path: string; message: string }[] }
  | { fail: string }
  | { initFailed: string }
) & {
  /** Log lines posted so far, to deliver before this response. */
  logs: number;
  /** The plugin ended the call at (or near) its memory cap; the instance was replaced. */
  memoryLimit?: boolean;
};

/** A call from the plugin to a host interface that the host thread serves. */
export interface HostCall {
  iface: string;
  fn: string;
  args: unknown[];
}

/**
 * The host's answer to a host call. `refused` (the refusal behind an `err`) stays
 * on the host thread: the instance collects it for the call's outcome.
 */
/**
 * The host's answer to a host call. `shared` is memory the answer shares with
 * the plugin's thread (a response body's ring): a reply's encoding cannot
 * carry it, so the host posts it on the thread's setup port and the reply
 * says `shared: true`; the worker adds it to `ok` as `ok.shared`.
 */
export type HostReply = { ok: unknown; shared?: SharedArrayBuffer } | { err: unknown; refused?: Refusal };

/** A host reply as the plugin's thread reads it from the channel. */
export type ChannelReply = { ok: unknown; shared?: true } | { err: unknown };

/** An interface id without its version, as both threads name an integrator's interface: `acme:kb/search@1.0.0` → `acme:kb/search`. */
export const unversioned = (id: string): string => id.replace(/@[^/]*$/, '');

/** The call a request is, as the audit log names it: `tool add_note` for a tool call, else the export (`provider.chatStream`). */
export function callLabel(fn: string, args: readonly unknown[]): string {
  return fn === 'tool.callTool' && typeof args[0] === 'string' ? `tool ${args[0].slice(0, 64)}` : fn;
}

/** A use of the filesystem capability, from a plugin's thread, for the audit log. */
export interface FsAuditEvent {
  type: 'audit';
  /** Numbered with the log lines: delivered before the result of the call it happened in. */
  seq: number;
  call: string | undefined;
  action: string;
  target: string;
  outcome: 'allowed' | 'refused';
  detail: string | undefined;
}

/** Messages the worker posts (asynchronously) to the host thread. */
export type WorkerEvent =
  | FsAuditEvent
  | { type: 'ready'; instantiateMs: number }
  | { type: 'start-failed'; message: string; stderr: string }
  | { type: 'log'; level: string; message: string; seq: number }
  /** The running call reported progress; numbered with the log lines. */
  | { type: 'progress'; fraction: number; message: string | undefined; seq: number }
  /** A V8 code cache of the glue script, made after the first call when none was given or V8 rejected it; the host stores it. */
  | { type: 'code-cache'; data: Uint8Array }
  /** The instance's linear memories grew past the most this thread has reported (a high-water mark, for metrics). */
  | { type: 'memory'; linearBytes: number };
