// @ts-check
// Nocturne's service worker: turns a decrypted stream into a download the
// browser saves to disk, for browsers without the File System Access API.
//
// The page registers a download (a random token, the file's name and
// plaintext size) together with a MessagePort whose other end is the file
// worker; then it opens /__download/<token>. This worker answers that
// navigation with a streamed `Content-Disposition: attachment` response fed
// from the port, asking for one chunk at a time, so memory stays bounded.
// If decryption fails the stream errors and the browser marks the download
// failed rather than saving a partial file. Nothing here reaches the server:
// the name travels only inside this browser. It caches nothing and handles
// no other request. Its messages, with the file worker's: docs/worker.md.

/**
 * Page → service worker, with two ports: this end of the download stream,
 * whose other end the file worker has (`event.ports[0]`), and one to
 * acknowledge on (`event.ports[1]`, answered `{type: "download-ready"}`).
 * @typedef {object} DownloadRegistration
 * @property {"download"} type
 * @property {string} token Random, hex; the download opens at `/__download/<token>`.
 * @property {string} name The file's name, for `Content-Disposition`.
 * @property {number} [size] The plaintext's length, if known: `Content-Length`.
 */

/**
 * A registered download, waiting to be opened.
 * @typedef {object} Pending
 * @property {MessagePort} port
 * @property {string} name
 * @property {number | undefined} size
 */

// This script runs as a service worker; the type checker's `self` is only
// a WorkerGlobalScope.
const sw = /** @type {ServiceWorkerGlobalScope} */ (/** @type {unknown} */ (self));

const PREFIX = "/__download/";
// Registered downloads not yet opened (a bound: a page cannot pile them up).
const MAX_PENDING = 16;
/** @type {Map<string, Pending>} */
const pending = new Map();

sw.addEventListener("install", () => sw.skipWaiting());
sw.addEventListener("activate", (event) => event.waitUntil(sw.clients.claim()));

sw.addEventListener("message", (event) => {
  /** @type {DownloadRegistration | undefined} */
  const msg = event.data;
  if (!msg || msg.type !== "download" || !event.ports[0]) return;
  if (pending.size >= MAX_PENDING) {
    const oldest = pending.keys().next().value;
    // Its worker must not wait for a reader that will never come.
    /** @type {StreamRequest} */
    const cancel = { cancel: true };
    pending.get(oldest).port.postMessage(cancel);
    pending.delete(oldest);
  }
  pending.set(msg.token, { port: event.ports[0], name: String(msg.name), size: msg.size });
  // The page waits for this before opening the download.
  if (event.ports[1]) event.ports[1].postMessage({ type: "download-ready" });
});

sw.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (url.origin !== sw.location.origin || !url.pathname.startsWith(PREFIX)) return;
  const token = url.pathname.slice(PREFIX.length);
  const entry = pending.get(token);
  pending.delete(token);
  if (!entry) {
    // 204: the browser stays on the page (the app and its keys survive);
    // the page reports the transfer's failure itself.
    event.respondWith(new Response(null, { status: 204 }));
    return;
  }
  event.respondWith(streamed(entry));
});

/**
 * @typedef {import("./file-worker.js").StreamRequest} StreamRequest
 * @typedef {import("./file-worker.js").StreamMessage} StreamMessage
 */

/**
 * The download's response, streamed from the file worker's port.
 * @param {Pending} entry
 * @returns {Response}
 */
function streamed({ port, name, size }) {
  /** @type {(() => void) | null} */
  let arrived = null;
  const stream = new ReadableStream(
    {
      start(controller) {
        /** @param {MessageEvent<StreamMessage>} event */
        port.onmessage = (event) => {
          const msg = event.data;
          if (msg.chunk) controller.enqueue(new Uint8Array(msg.chunk));
          else if (msg.done) controller.close();
          else if (msg.error) controller.error(new Error(msg.error));
          if (arrived) {
            arrived();
            arrived = null;
          }
        };
      },
      pull() {
        // One chunk per pull: the worker sends only what was asked for.
        /** @type {StreamRequest} */
        const pull = { pull: 1 };
        port.postMessage(pull);
        return new Promise((resolve) => (arrived = resolve));
      },
      cancel() {
        /** @type {StreamRequest} */
        const cancel = { cancel: true };
        port.postMessage(cancel);
      },
    },
    new CountQueuingStrategy({ highWaterMark: 4 }),
  );
  /** @type {Record<string, string>} */
  const headers = {
    "content-type": "application/octet-stream",
    "content-disposition": contentDisposition(name),
    "x-content-type-options": "nosniff",
  };
  if (Number.isSafeInteger(size) && size >= 0) headers["content-length"] = String(size);
  return new Response(stream, { headers });
}

/**
 * RFC 6266 / 5987: an ASCII fallback and the exact UTF-8 name.
 * @param {string} name
 */
function contentDisposition(name) {
  const encoded = encodeURIComponent(name).replace(
    /['()*]/g,
    (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase(),
  );
  const ascii = name.replace(/[^\x20-\x7e]|["\\]/g, "_");
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}
