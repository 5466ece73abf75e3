// @ts-check
// The file worker's messages, as JSDoc types only (nothing runs here): what
// the page sends `file-worker.js`, what it answers, and what flows over a
// download's port to the service worker. docs/worker.md has the same as a
// table; `tsc -p tsconfig.json` holds both sides to these.


/**
 * A part of a resumed upload that the server already holds.
 * @typedef {object} ReceivedPart
 * @property {number} index The part's index, from 0.
 * @property {string} sha256 SHA-256 of the part's ciphertext, lowercase hex.
 */

/**
 * Page → worker: encrypt `file` and send it as the parts of the upload
 * `upload`, then finish it.
 * @typedef {object} UploadRequest
 * @property {"upload"} type
 * @property {number} job The page's id for the transfer; every answer carries it.
 * @property {File} file The picked file (plaintext).
 * @property {Uint8Array<ArrayBuffer>} key The file's 32-byte data key; its buffer is transferred.
 * @property {Uint8Array<ArrayBuffer>} header The file's format header, as the page generated it.
 * @property {string} upload The upload's id on the server.
 * @property {number} partSize Ciphertext bytes per part (the last one may be shorter).
 * @property {number} size The ciphertext's total length, declared when the upload was created.
 * @property {number} [plainLen] The plaintext's length with padding (zeros past the file's end); the file's size if absent.
 * @property {ReceivedPart[]} received Parts the server already holds (a resumed upload), else empty.
 */

/**
 * Page → worker: fetch a file's ciphertext, decrypt it and write the
 * plaintext to a sink: `handle`, else `port`, else back to the page
 * (`chunk` messages).
 * @typedef {object} DownloadRequest
 * @property {"download"} type
 * @property {number} job The page's id for the transfer.
 * @property {string} file The file's id.
 * @property {string} url Where the ciphertext is: `/api/files/{id}/content`, or a share link's.
 * @property {Uint8Array<ArrayBuffer>} key The file's 32-byte data key; its buffer is transferred.
 * @property {number} size The ciphertext's total length.
 * @property {string} [auth] A share download's claim, sent as `Authorization: Bearer`.
 * @property {number} [plainSize] A padded file's real length: the plaintext past it is dropped.
 * @property {FileSystemFileHandle & {remove?: () => Promise<void>}} [handle] A file from the
 *   save dialog (File System Access API); `remove` where the browser has it.
 * @property {MessagePort} [port] The service worker's download stream; transferred.
 */

/**
 * Page → worker: pause, resume or cancel transfer `job` (ignored once it
 * has ended).
 * @typedef {object} ControlRequest
 * @property {"pause" | "resume" | "cancel"} type
 * @property {number} job
 */

/** @typedef {UploadRequest | DownloadRequest | ControlRequest} ToWorker */

/**
 * Worker → page: how far a transfer is. Uploads: `sent` ciphertext bytes
 * the server has taken and `encrypted` plaintext bytes sealed; downloads:
 * `sent` ciphertext bytes received and decrypted. `size` is the
 * ciphertext's total length.
 * @typedef {object} ProgressMessage
 * @property {"progress"} type
 * @property {number} job
 * @property {number} sent
 * @property {number} size
 * @property {number} [encrypted] Uploads only.
 */

/**
 * Worker → page: the next piece of a download's plaintext, for a download
 * without `handle` or `port`; the buffer is transferred.
 * @typedef {object} ChunkMessage
 * @property {"chunk"} type
 * @property {number} job
 * @property {ArrayBuffer} chunk
 */

/**
 * Worker → page: the transfer completed. An upload adds the server's
 * answer to `POST /api/uploads/{id}/finish` (the new file), a download the
 * plaintext bytes it wrote.
 * @typedef {object} DoneMessage
 * @property {"done"} type
 * @property {number} job
 * @property {unknown} [file] Uploads only.
 * @property {number} [written] Downloads only.
 */

/**
 * Worker → page: the transfer stopped; `message` is for the user to read.
 * @typedef {object} FailedMessage
 * @property {"failed"} type
 * @property {number} job
 * @property {string} message
 */

/**
 * Worker → page: the transfer stopped because it was cancelled.
 * @typedef {object} CancelledMessage
 * @property {"cancelled"} type
 * @property {number} job
 */

/** @typedef {ProgressMessage | ChunkMessage | DoneMessage | FailedMessage | CancelledMessage} FromWorker */

/**
 * Service worker → worker, on a download's `port`: `pull` asks for that
 * many more chunks; `cancel` says the browser's download was cancelled
 * (or never opened).
 * @typedef {{pull: number, cancel?: undefined} | {cancel: true, pull?: undefined}} StreamRequest
 */

/**
 * Worker → service worker, on a download's `port`: a chunk of plaintext
 * (its buffer transferred), the end of the file, or why it failed.
 * @typedef {{chunk: ArrayBuffer, done?: undefined, error?: undefined}
 *   | {done: true, chunk?: undefined, error?: undefined}
 *   | {error: string, chunk?: undefined, done?: undefined}} StreamMessage
 */

/** @typedef {{file?: unknown, written?: number}} Outcome What a `done` message adds. */

/**
 * File worker → chunk worker: key a file's Noctis-256 cipher. `sealing`:
 * a strided sealer for chunks `first`, `first + step`, …; otherwise an
 * opener. The worker zeroes `key` once keyed.
 * @typedef {object} ChunkJobStart
 * @property {"start"} type
 * @property {number} job
 * @property {Uint8Array<ArrayBuffer>} key
 * @property {Uint8Array<ArrayBuffer>} header
 * @property {boolean} sealing
 * @property {number} first
 * @property {number} step
 */

/**
 * File worker → chunk worker: seal (plaintext) or open (sealed chunk)
 * chunk `index`, its buffer transferred.
 * @typedef {object} ChunkJobChunk
 * @property {"chunk"} type
 * @property {number} job
 * @property {number} index
 * @property {boolean} last
 * @property {ArrayBuffer} data
 */

/**
 * File worker → chunk worker: the file is done (or stopped); free its cipher.
 * @typedef {object} ChunkJobEnd
 * @property {"end"} type
 * @property {number} job
 */

/**
 * File worker → chunk worker: the SHA-256 of an upload part (its buffer
 * transferred; it comes back with the answer).
 * @typedef {object} ChunkHash
 * @property {"hash"} type
 * @property {number} id
 * @property {ArrayBuffer} data
 */

/** @typedef {ChunkJobStart | ChunkJobChunk | ChunkJobEnd | ChunkHash} ToChunkWorker */

/**
 * Chunk worker → file worker: chunk `index` sealed or opened (`data`,
 * transferred), or why not (`error`; an opened chunk that does not
 * authenticate says only that).
 * A part's hash comes back (`kind: "hash"`) as `hashed`, the request's id,
 * with `hash` and the part's buffer, or `error`.
 * @typedef {{kind: "chunk", job: number, index: number, data: ArrayBuffer, error?: undefined}
 *   | {kind: "chunk", job: number, index: number, error: string, data?: undefined}
 *   | {kind: "hash", hashed: number, hash: ArrayBuffer, data: ArrayBuffer, error?: undefined}
 *   | {kind: "hash", hashed: number, error: string, data: ArrayBuffer, hash?: undefined}} FromChunkWorker
 */


export {};
