// @ts-check
// The file worker's chunk cipher: AES-256-GCM through WebCrypto (native
// AES) when the browser has it, else the WASM sealer and opener; Noctis-256
// always in WASM. Keys, nonces and tag lengths come from the WASM exports of
// `frontend/src/files.rs` (`noctis::format`); no number of the format is
// repeated here. The WASM must be initialised (`init`) by the importer.

import { FileOpener, FileSealer, Sha256Stream, aes_content_key, chunk_nonce, is_aes_256_gcm, tag_len } from "/pkg/nocturne.js";

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
 * @property {FileSealer | FileOpener} [wasm] The WASM object behind it, to free.
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
  if (forSealing) {
    const sealer = new FileSealer(key, header);
    return {
      tagLen,
      wasm: sealer,
      seal: async (_index, last, plain) => fromWasm(sealer.seal(plain, last)),
    };
  }
  const opener = new FileOpener(key, header);
  return {
    tagLen,
    wasm: opener,
    open: async (index, last, sealed) => {
      try {
        return fromWasm(opener.open(index, last, sealed));
      } catch {
        throw new Stop(MODIFIED);
      }
    },
  };
}

export const MODIFIED =
  "This file was modified after it was encrypted (or is damaged). Nothing of it was saved.";

/**
 * SHA-256 of `bytes`: WebCrypto (native, off this thread, one call per
 * part), or WASM where the page is not a secure context. WebCrypto copies
 * the bytes when called, so the buffer may go on to `fetch` at once.
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

/** @param {Uint8Array} digest */
export function toHex(digest) {
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

