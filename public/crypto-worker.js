// @ts-check
// Nocturne's crypto worker: runs the expensive key derivation (Argon2id,
// 64 MiB) off the page's main thread, with the same WASM the page uses.
// One worker per derivation: terminating it gives Argon2id's memory back.
// Its two messages are in docs/worker.md.
import init, { derive_account_keys } from "./pkg/nocturne-worker.js";

/**
 * Page → worker (`app/src/client/worker.rs`): the password, the account's
 * salt and Argon2id cost.
 * @typedef {object} DeriveRequest
 * @property {string} password
 * @property {Uint8Array} salt
 * @property {number} m_kib Memory, KiB.
 * @property {number} t Passes.
 * @property {number} p Lanes.
 */

/**
 * Worker → page: the 64 derived bytes (key-encryption key, then auth key;
 * the buffer is transferred), or why there are none.
 * @typedef {{keys: Uint8Array, error?: undefined} | {error: string, keys?: undefined}} DeriveAnswer
 */

const ready = init({ module_or_path: new URL("./pkg/nocturne-worker_bg.wasm", import.meta.url) });

/** @param {MessageEvent<DeriveRequest>} event */
self.onmessage = async (event) => {
  const { password, salt, m_kib, t, p } = event.data;
  try {
    await ready;
    const keys = derive_account_keys(password, salt, m_kib, t, p);
    /** @type {DeriveAnswer} */
    const answer = { keys };
    self.postMessage(answer, [keys.buffer]);
  } catch (error) {
    /** @type {DeriveAnswer} */
    const answer = { error: String(error) };
    self.postMessage(answer);
  }
};
