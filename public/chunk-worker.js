// @ts-check
// A Noctis-256 chunk worker: seals or opens the chunks of a file that the
// file worker (`file-worker.js`) hands it, in WASM, so the chunks of one
// file are processed on several cores at once, and hashes upload parts.
// AES-256-GCM chunks never come here: they stay with WebCrypto in the file
// worker.
//
// A file's chunk i goes to worker i mod n. For uploads each worker keys a
// strided sealer (`FileSealer.strided`: chunks k, k + n, …, in order), so no
// two workers ever seal under one nonce; downloads open any chunk by index.
// The messages, field by field: docs/worker.md (its table's chunk-worker rows).
import init, { FileOpener, FileSealer } from "./pkg/nocturne-worker.js";

/** @typedef {import("./file-worker-protocol.js").ToChunkWorker} ToChunkWorker */
/** @typedef {import("./file-worker-protocol.js").FromChunkWorker} FromChunkWorker */

/** Why the WASM could not start, if it could not: every request then gets an error answer, so the file worker never waits for ever. @type {unknown} */
let broken = null;
const ready = init({ module_or_path: new URL("./pkg/nocturne-worker_bg.wasm", import.meta.url) }).catch((error) => {
  broken = error;
});

/** @type {Map<number, FileSealer | FileOpener>} */
const ciphers = new Map();

/** @param {FromChunkWorker} message @param {Transferable[]} [transfer] */
function reply(message, transfer) {
  self.postMessage(message, transfer || []);
}

/** @param {MessageEvent<ToChunkWorker>} event */
self.onmessage = async (event) => {
  const msg = event.data;
  await ready;
  if (broken) {
    const error = `This browser could not start a chunk worker: ${String(broken)}`;
    if (msg.type === "chunk") reply({ kind: "chunk", job: msg.job, index: msg.index, error });
    if (msg.type === "hash") reply({ kind: "hash", hashed: msg.id, error, data: msg.data }, [msg.data]);
    if (msg.type === "start") msg.key.fill(0);
    return;
  }
  switch (msg.type) {
    case "start": {
      try {
        ciphers.set(
          msg.job,
          msg.sealing
            ? FileSealer.strided(msg.key, msg.header, msg.first, msg.step)
            : new FileOpener(msg.key, msg.header),
        );
      } catch {
        // Reported on the job's first chunk, which finds no cipher.
      } finally {
        msg.key.fill(0);
      }
      break;
    }
    case "chunk": {
      const cipher = ciphers.get(msg.job);
      try {
        if (!cipher) throw new Error("no cipher for this file");
        const out =
          cipher instanceof FileSealer
            ? cipher.seal(msg.index, new Uint8Array(msg.data), msg.last)
            : cipher.open(msg.index, msg.last, new Uint8Array(msg.data));
        const data = /** @type {ArrayBuffer} */ (out.buffer);
        reply({ kind: "chunk", job: msg.job, index: msg.index, data }, [data]);
      } catch (error) {
        reply({ kind: "chunk", job: msg.job, index: msg.index, error: String(error && error.message ? error.message : error) });
      }
      break;
    }
    case "hash": {
      // WebCrypto's digest, in this thread; the buffer goes back with it.
      try {
        const hash = await crypto.subtle.digest("SHA-256", msg.data);
        reply({ kind: "hash", hashed: msg.id, hash, data: msg.data }, [hash, msg.data]);
      } catch (error) {
        reply({ kind: "hash", hashed: msg.id, error: String(error), data: msg.data }, [msg.data]);
      }
      break;
    }
    case "end": {
      const cipher = ciphers.get(msg.job);
      ciphers.delete(msg.job);
      if (cipher) cipher.free();
      break;
    }
  }
};
