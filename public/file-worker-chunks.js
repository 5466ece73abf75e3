// @ts-check
// The file worker's chunk cipher: AES-256-GCM through WebCrypto (native
// AES) when the browser has it, else the WASM sealer and opener; Noctis-256
// always in WASM. Keys, nonces and tag lengths come from the WASM exports of
// `frontend/src/files.rs` (`noctis::format`); no number of the format is
// repeated here. The WASM must be initialised (`init`) by the importer.

import { FileOpener, FileSealer, Sha256Stream, aes_content_key, chunk_nonce, is_aes_256_gcm, tag_len } from "./pkg/nocturne-worker.js";

/** Errors the user should read as they are. */
export class Stop extends Error {}

/**
 * Bytes a WASM export returned, typed as what they are: wasm-bindgen copies
 * them out of WASM memory into a new ArrayBuffer of their own, which
 * WebCrypto and transfers need (its declarations only say `Uint8Array`).
 * @param {Uint8Array} bytes
 * @returns {Uint8Array<ArrayBuffer>}
 */
export function fromWasm(bytes) {
  return /** @type {Uint8Array<ArrayBuffer>} */ (bytes);
}

/**
 * A file's chunk AEAD, keyed: `seal` when made for sealing (uploads), `open`
 * otherwise (downloads); with WebCrypto both.
 * @typedef {object} ChunkCipher
 * @property {number} tagLen Bytes the tag adds to each chunk.
 * @property {boolean} parallel Whether several chunks may be in flight at
 *   once (WebCrypto, chunk workers); the in-thread WASM takes one at a time.
 * @property {() => void} free Releases what keys it (WASM objects, workers' ciphers).
 * @property {(index: number, last: boolean, plain: Uint8Array<ArrayBuffer>) =>
 *   Promise<Uint8Array<ArrayBuffer>>} [seal]
 * @property {(index: number, last: boolean, sealed: Uint8Array<ArrayBuffer>) =>
 *   Promise<Uint8Array<ArrayBuffer>>} [open]
 */

/**
 * Seals or opens chunk `index` of a file: WebCrypto for AES, WASM otherwise.
 * @param {Uint8Array<ArrayBuffer>} key
 * @param {Uint8Array<ArrayBuffer>} header
 * @param {boolean} forSealing
 * @returns {Promise<ChunkCipher>}
 */
export async function chunkCipher(key, header, forSealing) {
  const tagLen = tag_len(header);
  if (is_aes_256_gcm(header) && self.crypto && self.crypto.subtle) {
    const raw = fromWasm(aes_content_key(key, header));
    const aesKey = await crypto.subtle.importKey("raw", raw, "AES-GCM", false, [
      "encrypt",
      "decrypt",
    ]);
    raw.fill(0);
    /** @param {number} index @param {boolean} last @returns {AesGcmParams} */
    const params = (index, last) => ({
      name: "AES-GCM",
      iv: fromWasm(chunk_nonce(header, index, last)),
      additionalData: header,
      tagLength: tagLen * 8,
    });
    return {
      tagLen,
      parallel: true,
      free: () => {},
      seal: async (index, last, plain) =>
        new Uint8Array(await crypto.subtle.encrypt(params(index, last), aesKey, plain)),
      open: async (index, last, sealed) => {
        try {
          return new Uint8Array(await crypto.subtle.decrypt(params(index, last), aesKey, sealed));
        } catch {
          throw new Stop(MODIFIED);
        }
      },
    };
  }
  const workers = chunkWorkers();
  if (workers.length > 0) return pooledCipher(workers, key, header, forSealing, tagLen);
  if (forSealing) {
    const sealer = new FileSealer(key, header);
    return {
      tagLen,
      parallel: false,
      free: () => sealer.free(),
      seal: async (index, last, plain) => fromWasm(sealer.seal(index, plain, last)),
    };
  }
  const opener = new FileOpener(key, header);
  return {
    tagLen,
    parallel: false,
    free: () => opener.free(),
    open: async (index, last, sealed) => {
      try {
        return fromWasm(opener.open(index, last, sealed));
      } catch {
        throw new Stop(MODIFIED);
      }
    },
  };
}

// ------------------------------------------------------------ chunk workers

/** @typedef {import("./file-worker-protocol.js").ToChunkWorker} ToChunkWorker */
/** @typedef {import("./file-worker-protocol.js").FromChunkWorker} FromChunkWorker */

// Chunk workers for Noctis-256: one per core the browser reports, at most
// four, started on first use and kept. With them a file's WASM work runs on
// every core while this thread reads, sends and writes (browser bench, 2
// cores: see docs/worker.md for the figures).
const MAX_CHUNK_WORKERS = 4;
/** @type {Worker[] | null} */
let pool = null;
let nextJob = 1;
/** Chunks waiting for their worker's answer, by job then index. @type {Map<number, Map<number, {resolve: (b: ArrayBuffer) => void, reject: (e: Error) => void}>>} */
const waiting = new Map();
/** Parts being hashed, by request. @type {Map<number, {resolve: (r: {hash: Uint8Array<ArrayBuffer>, bytes: Uint8Array<ArrayBuffer>}) => void, reject: (e: Error) => void}>} */
const hashes = new Map();
let nextHash = 1;

/** @returns {Worker[]} */
function chunkWorkers() {
  if (pool) return pool;
  const cores = (self.navigator && self.navigator.hardwareConcurrency) || 1;
  // One core is no gain over this thread; where nested workers do not
  // exist, the WASM runs here.
  if (typeof Worker !== "function" || cores < 2) return (pool = []);
  pool = [];
  for (let i = 0; i < Math.min(cores, MAX_CHUNK_WORKERS); i++) {
    const worker = new Worker(new URL("./chunk-worker.js", import.meta.url), { type: "module" });
    /** @param {MessageEvent<FromChunkWorker>} event */
    worker.onmessage = (event) => {
      const msg = event.data;
      if (msg.kind === "hash") {
        const request = hashes.get(msg.hashed);
        hashes.delete(msg.hashed);
        if (!request) return;
        if (msg.hash) request.resolve({ hash: new Uint8Array(msg.hash), bytes: new Uint8Array(msg.data) });
        else request.reject(new Error(msg.error));
        return;
      }
      const entry = waiting.get(msg.job)?.get(msg.index);
      if (!entry) return;
      waiting.get(msg.job)?.delete(msg.index);
      if (msg.data) entry.resolve(msg.data);
      else entry.reject(new Error(msg.error));
    };
    // A worker whose script failed to load or that crashed answers
    // nothing: everything waiting on the pool fails, and later files run
    // their WASM on this thread.
    worker.onerror = (event) => {
      event.preventDefault();
      const error = new Error("A chunk worker stopped.");
      waiting.forEach((chunks) => chunks.forEach((entry) => entry.reject(error)));
      waiting.clear();
      hashes.forEach((request) => request.reject(error));
      hashes.clear();
      (pool || []).forEach((w) => w.terminate());
      pool = [];
    };
    pool.push(worker);
  }
  return pool;
}

/**
 * A Noctis-256 cipher whose chunks go to the chunk workers, chunk i to
 * worker i mod n.
 * @param {Worker[]} workers
 * @param {Uint8Array<ArrayBuffer>} key
 * @param {Uint8Array<ArrayBuffer>} header
 * @param {boolean} forSealing
 * @param {number} tagLen
 * @returns {ChunkCipher}
 */
function pooledCipher(workers, key, header, forSealing, tagLen) {
  const job = nextJob++;
  waiting.set(job, new Map());
  workers.forEach((worker, first) => {
    /** @type {ToChunkWorker} */
    const start = {
      type: "start",
      job,
      key: key.slice(),
      header,
      sealing: forSealing,
      first,
      step: workers.length,
    };
    worker.postMessage(start);
  });
  // Chunks go out in index order: a strided sealer takes its chunks in
  // order, and the reads that produce them may finish in any order.
  /** @type {Map<number, ToChunkWorker & {type: "chunk"}>} */
  const held = new Map();
  let nextOut = 0;
  /**
   * @param {number} index
   * @param {boolean} last
   * @param {Uint8Array<ArrayBuffer>} bytes
   * @returns {Promise<Uint8Array<ArrayBuffer>>}
   */
  const run = (index, last, bytes) =>
    new Promise((resolve, reject) => {
      const chunks = waiting.get(job);
      if (!chunks) return reject(new Error("the file's cipher was freed"));
      chunks.set(index, { resolve: (b) => resolve(new Uint8Array(b)), reject });
      // Its own buffer, whole, so it can be transferred rather than copied.
      const data =
        bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
          ? bytes.buffer
          : bytes.slice().buffer;
      held.set(index, { type: "chunk", job, index, last, data });
      for (let chunk = held.get(nextOut); chunk; chunk = held.get(nextOut)) {
        held.delete(nextOut);
        workers[nextOut % workers.length].postMessage(chunk, [chunk.data]);
        nextOut += 1;
      }
    });
  return {
    tagLen,
    parallel: true,
    free() {
      const chunks = waiting.get(job);
      waiting.delete(job);
      chunks?.forEach((entry) => entry.reject(new Error("the file's cipher was freed")));
      /** @type {ToChunkWorker} */
      const end = { type: "end", job };
      workers.forEach((worker) => worker.postMessage(end));
    },
    seal: forSealing ? run : undefined,
    open: forSealing
      ? undefined
      : async (index, last, sealed) => {
          try {
            return await run(index, last, sealed);
          } catch {
            throw new Stop(MODIFIED);
          }
        },
  };
}

export const MODIFIED =
  "This file was modified after it was encrypted (or is damaged). Nothing of it was saved.";

/**
 * SHA-256 of `bytes` in this thread: WebCrypto (native; Chromium hashes on
 * the calling thread), or WASM where the page is not a secure context.
 * @param {Uint8Array<ArrayBuffer>} bytes
 * @returns {Promise<Uint8Array<ArrayBuffer>>}
 */
export async function sha256(bytes) {
  if (!(self.crypto && self.crypto.subtle)) {
    const hasher = new Sha256Stream();
    hasher.update(bytes);
    const out = hasher.finish();
    hasher.free();
    return Uint8Array.from(out.match(/../g) || [], (h) => parseInt(h, 16));
  }
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

/**
 * An upload part's SHA-256, and the part's buffer back: taken in a chunk
 * worker where there are some (the buffer goes there and returns, by
 * transfer), else here. Hashing 8 MiB parts on the file worker's thread
 * took a fifth of it during an AES upload (browser bench).
 * @param {Uint8Array<ArrayBuffer>} bytes A whole buffer.
 * @returns {Promise<{hash: Uint8Array<ArrayBuffer>, bytes: Uint8Array<ArrayBuffer>}>}
 */
export async function hashPart(bytes) {
  // The chunk workers hash with WebCrypto, which a page outside a secure
  // context lacks (as does this worker then): such a page hashes here.
  const workers = self.crypto && self.crypto.subtle ? chunkWorkers() : [];
  if (workers.length === 0 || bytes.byteOffset !== 0 || bytes.byteLength !== bytes.buffer.byteLength) {
    return { hash: await sha256(bytes), bytes };
  }
  const id = nextHash++;
  return new Promise((resolve, reject) => {
    hashes.set(id, { resolve, reject });
    /** @type {ToChunkWorker} */
    const request = { type: "hash", id, data: bytes.buffer };
    workers[id % workers.length].postMessage(request, [bytes.buffer]);
  });
}

/** @param {Uint8Array} digest */
export function toHex(digest) {
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

