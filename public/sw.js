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
// no other request.

const PREFIX = "/__download/";
// Registered downloads not yet opened (a bound: a page cannot pile them up).
const MAX_PENDING = 16;
const pending = new Map();

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

self.addEventListener("message", (event) => {
  const msg = event.data;
  if (!msg || msg.type !== "download" || !event.ports[0]) return;
  if (pending.size >= MAX_PENDING) {
    const oldest = pending.keys().next().value;
    // Its worker must not wait for a reader that will never come.
    pending.get(oldest).port.postMessage({ cancel: true });
    pending.delete(oldest);
  }
  pending.set(msg.token, { port: event.ports[0], name: String(msg.name), size: msg.size });
  // The page waits for this before opening the download.
  if (event.ports[1]) event.ports[1].postMessage({ type: "download-ready" });
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (url.origin !== self.location.origin || !url.pathname.startsWith(PREFIX)) return;
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

function streamed({ port, name, size }) {
  let arrived = null;
  const stream = new ReadableStream(
    {
      start(controller) {
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
        port.postMessage({ pull: 1 });
        return new Promise((resolve) => (arrived = resolve));
      },
      cancel() {
        port.postMessage({ cancel: true });
      },
    },
    new CountQueuingStrategy({ highWaterMark: 4 }),
  );
  const headers = {
    "content-type": "application/octet-stream",
    "content-disposition": contentDisposition(name),
    "x-content-type-options": "nosniff",
  };
  if (Number.isSafeInteger(size) && size >= 0) headers["content-length"] = String(size);
  return new Response(stream, { headers });
}

/** RFC 6266 / 5987: an ASCII fallback and the exact UTF-8 name. */
function contentDisposition(name) {
  const encoded = encodeURIComponent(name).replace(
    /['()*]/g,
    (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase(),
  );
  const ascii = name.replace(/[^\x20-\x7e]|["\\]/g, "_");
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}
