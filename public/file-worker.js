// @ts-check
// Nocturne's file worker: encrypts uploads and decrypts downloads off the
// page's main thread, so a 1 GiB file never freezes the page.
//
// The page (WASM, `app/src/client/transfer.rs`) keeps the keys of the
// account; for each transfer it hands this worker one file's data key, and
// for uploads the format header it generated and sealed into the upload's
// metadata. Chunks are the exact bytes `noctis::format` writes: AES-256-GCM
// through WebCrypto (native AES), Noctis-256 and the running SHA-256 in WASM.
// Every fact about the format's layout (header length, chunk size, tag
// length, nonces, chunk counts, encrypted size) comes from the WASM exports
// of `frontend/src/files.rs`, which ask `noctis::format`; none is repeated
// here. Buffers move between threads by transfer, never by copy.
//
// The messages in and out, field by field: docs/worker.md. The same
// protocol as JSDoc types is `file-worker-protocol.js`, and the chunk
// cipher is `file-worker-chunks.js`; `tsc -p tsconfig.json` checks all.
import init, {
  chunk_count,
  chunk_size,
  ciphertext_len,
  header_len,
  parts_digest,
  sealed_chunk_count,
  sealed_chunk_len,
} from "./pkg/nocturne-worker.js";
import { MODIFIED, Stop, chunkCipher, fromWasm, hashPart, toHex } from "./file-worker-chunks.js";

// The protocol's types (docs/worker.md has the same as a table).
/** @typedef {import("./file-worker-protocol.js").ToWorker} ToWorker */
/** @typedef {import("./file-worker-protocol.js").FromWorker} FromWorker */
/** @typedef {import("./file-worker-protocol.js").UploadRequest} UploadRequest */
/** @typedef {import("./file-worker-protocol.js").DownloadRequest} DownloadRequest */
/** @typedef {import("./file-worker-protocol.js").ReceivedPart} ReceivedPart */
/** @typedef {import("./file-worker-protocol.js").StreamRequest} StreamRequest */
/** @typedef {import("./file-worker-protocol.js").StreamMessage} StreamMessage */
/** @typedef {import("./file-worker-protocol.js").Outcome} Outcome */
/** @typedef {import("./file-worker-chunks.js").ChunkCipher} ChunkCipher */

// ---------------------------------------------------------------- worker

const ready = init({ module_or_path: new URL("./pkg/nocturne-worker_bg.wasm", import.meta.url) });

// Parts in flight at once: enough to keep the connection busy while the
// next part is encrypted; bounds memory at (IN_FLIGHT + 1) parts. Measured
// (1 GiB, AES): 3 in flight 106 MiB/s, 6 in flight 116.5 MiB/s.
const IN_FLIGHT = 6;
// Bytes read from the picked file at once (whole chunks): each
// `slice().arrayBuffer()` is a round trip to the browser process, which
// per 512 KiB chunk took 17 % of this thread in the browser bench.
const READ_BLOCK = 4 << 20;
// Attempts per part before the upload stops and asks the user.
const ATTEMPTS = 5;
// Chunks sealed or opened at once, through WebCrypto or the chunk workers:
// waiting on one chunk at a time left reads, sends and writes idle between
// calls. (Chromium's WebCrypto runs its AES on the calling thread, so with
// AES the gain is overlap, not parallel AES; the in-thread WASM sealer is
// stateful and takes one at a time.)
const CHUNKS_AHEAD = 6;
// Plaintext writes to a File System Access file in flight at once: each is
// a round trip to the browser process, and waiting for one before opening
// the next left this thread idle.
const WRITES_AHEAD = 4;
// Progress goes to the page at most this often: each message re-renders
// its transfer row, and one per 1 MiB chunk kept the page's main thread
// 18 % busy during a download (browser bench).
const PROGRESS_EVERY_MS = 100;

/**
 * `report`, called at most once per `PROGRESS_EVERY_MS`; `flush` calls it
 * whatever the time, for the last figures.
 * @param {() => void} report
 */
function throttled(report) {
  let last = 0;
  return {
    tick() {
      const now = performance.now();
      if (now - last >= PROGRESS_EVERY_MS) {
        last = now;
        report();
      }
    },
    flush: report,
  };
}


/**
 * A promise's `resolve`, kept to be called (with nothing) later.
 * @typedef {(value?: unknown) => void} Wake
 */

/**
 * A running transfer, as the page's `pause`, `resume` and `cancel` reach it.
 * @typedef {object} Job
 * @property {boolean} paused
 * @property {boolean} cancelled
 * @property {AbortController} abort
 * @property {Wake[]} waiters Whoever waits in `gate` (or for a sink's credit).
 * @property {() => void} wake Wakes every waiter.
 * @property {() => Promise<void>} gate Resolves once the job may go on; throws once it is cancelled.
 */

/** @type {Map<number, Job>} */
const jobs = new Map();

// At most this many uploads (and, separately, downloads) run at once; the
// others wait their turn, so memory stays bounded however many files are
// dropped.
const MAX_ACTIVE = 2;
const active = { upload: 0, download: 0 };
/** @type {Record<"upload" | "download", Wake[]>} */
const queued = { upload: [], download: [] };

/** @param {"upload" | "download"} kind */
async function acquire(kind) {
  while (active[kind] >= MAX_ACTIVE) await new Promise((resolve) => queued[kind].push(resolve));
  active[kind] += 1;
}

/** @param {"upload" | "download"} kind */
function release(kind) {
  active[kind] -= 1;
  const next = queued[kind].shift();
  if (next) next();
}

/** @param {MessageEvent<ToWorker>} event */
self.onmessage = (event) => {
  const msg = event.data;
  const job = jobs.get(msg.job);
  switch (msg.type) {
    case "upload":
    case "download": {
      const state = newJob(msg.job);
      const kind = msg.type;
      const run = acquire(kind)
        .then(() => (msg.type === "upload" ? upload(msg, state) : download(msg, state)))
        .finally(() => release(kind));
      run
        .then((result) => post({ type: "done", job: msg.job, ...result }))
        .catch((error) => {
          if (state.cancelled) {
            post({ type: "cancelled", job: msg.job });
          } else {
            post({ type: "failed", job: msg.job, message: describe(error) });
          }
        })
        .finally(() => jobs.delete(msg.job));
      break;
    }
    case "pause":
      if (job) job.paused = true;
      break;
    case "resume":
      if (job) {
        job.paused = false;
        job.wake();
      }
      break;
    case "cancel":
      if (job) {
        job.cancelled = true;
        job.abort.abort();
        job.wake();
      }
      break;
  }
};

/**
 * @param {FromWorker} message
 * @param {Transferable[]} [transfer]
 */
function post(message, transfer) {
  self.postMessage(message, transfer || []);
}

/** @param {any} error */
function describe(error) {
  if (error instanceof Stop) return error.message;
  if (error && error.name === "AbortError") return "Cancelled.";
  return "The transfer failed: " + (error && error.message ? error.message : String(error));
}

/**
 * @param {number} id
 * @returns {Job}
 */
function newJob(id) {
  /** @type {Job} */
  const state = {
    paused: false,
    cancelled: false,
    abort: new AbortController(),
    waiters: [],
    wake() {
      const waiters = this.waiters;
      this.waiters = [];
      waiters.forEach((w) => w());
    },
    // Resolves once the job may go on; throws once it is cancelled.
    async gate() {
      while (this.paused && !this.cancelled) {
        await new Promise((resolve) => this.waiters.push(resolve));
      }
      if (this.cancelled) throw new DOMException("cancelled", "AbortError");
    },
  };
  jobs.set(id, state);
  return state;
}

/** @param {Response} response */
async function serverError(response) {
  try {
    const body = await response.json();
    if (body && body.message) return body.message;
  } catch {
    // not JSON: fall through
  }
  return `The server answered ${response.status}.`;
}

// ---------------------------------------------------------------- upload

/**
 * Encrypts `msg.file` and sends it as parts of the upload `msg.upload`.
 * `msg.received` lists the parts the server already holds (a resumed
 * upload): each is re-encrypted and its hash compared, so a different file
 * picked by mistake is refused instead of being spliced in.
 * @param {UploadRequest} msg
 * @param {Job} job
 * @returns {Promise<Outcome>}
 */
async function upload(msg, job) {
  await ready;
  /** @type {Set<Promise<void>>} */
  const inFlight = new Set();
  /** @type {ChunkCipher[]} */
  const owned = [];
  try {
    return await uploadParts(msg, job, inFlight, owned);
  } catch (error) {
    // Nothing of a failed upload keeps running: stop the parts in flight
    // and wait for them before the slot goes to the next file.
    job.abort.abort();
    await Promise.allSettled([...inFlight]);
    if (job.cancelled) await discard(msg.upload);
    throw error;
  } finally {
    owned.forEach((o) => o.free());
    msg.key.fill(0);
  }
}

/**
 * Cancels an upload on the server once nothing of it is in flight.
 * @param {string} id
 */
async function discard(id) {
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    try {
      const response = await fetch(`/api/uploads/${id}`, { method: "DELETE" });
      // 409: a part the server is still finishing; it will be free shortly.
      if (response.status !== 409) return;
    } catch {
      // offline: the server's expiry removes it within a day
    }
    await new Promise((resolve) => setTimeout(resolve, 500 * attempt));
  }
}

/**
 * @param {UploadRequest} msg
 * @param {Job} job
 * @param {Set<Promise<void>>} inFlight
 * @param {ChunkCipher[]} owned
 * @returns {Promise<Outcome>}
 */
async function uploadParts(msg, job, inFlight, owned) {
  const { file, key, header, upload: id, partSize, size } = msg;
  // The plaintext's length with its padding: zero bytes past the file's
  // end, sealed like the rest (the real length is in the sealed metadata).
  const plainLen = msg.plainLen ?? file.size;
  const received = new Map(
    (msg.received || []).map((p) => /** @type {[number, string]} */ ([p.index, p.sha256])),
  );
  const cs = chunk_size(header);
  const chunks = chunk_count(header, plainLen);
  const cipher = await chunkCipher(key, header, true);
  key.fill(0);
  owned.push(cipher);
  if (plainLen < file.size || ciphertext_len(header, plainLen) !== size) {
    throw new Stop("The picked file does not have the size this upload was started with.");
  }
  const parts = Math.max(1, Math.ceil(size / partSize));
  // Each part's SHA-256, taken before it is sent (`hashPart`); the finish
  // sends their digest, so no pass over the whole file is needed.
  /** @type {Promise<Uint8Array<ArrayBuffer>>[]} */
  const partHashes = new Array(parts);
  let sent = 0;
  let encrypted = 0;
  const progress = throttled(() => post({ type: "progress", job: msg.job, sent, encrypted, size }));
  // Part buffers whose sends are over, to fill again: a fresh 8 MiB buffer
  // per part cost its allocation and page faults on every part. Bounded
  // like the parts in flight.
  /** @type {Uint8Array<ArrayBuffer>[]} */
  const spare = [];

  /** @type {unknown} */
  let failure = null;
  /** @param {number} index @param {Uint8Array<ArrayBuffer>} part */
  const send = (index, part) => {
    // Hashed first (in a chunk worker where there are some, which hands
    // the buffer back), then sent.
    const hashed = hashPart(part);
    const hashing = hashed.then((h) => h.hash);
    hashing.catch(() => {});
    partHashes[index] = hashing;
    /** @type {Promise<void>} */
    const task = hashed
      .then(({ bytes }) =>
        sendPart(id, index, bytes, hashing, received.get(index), job).then(() => {
          sent += bytes.byteLength;
          progress.tick();
          // `fetch` copied the bytes when called, and the part is sent:
          // the buffer is free.
          if (bytes.byteLength === partSize) spare.push(bytes);
        }),
      )
      .catch((error) => {
        failure = failure || error;
      })
      .finally(() => inFlight.delete(task));
    inFlight.add(task);
  };

  let part = new Uint8Array(Math.min(partSize, size));
  let fill = 0;
  let index = 0;
  /** @param {Uint8Array<ArrayBuffer>} bytes */
  const append = async (bytes) => {
    let offset = 0;
    while (offset < bytes.byteLength) {
      const n = Math.min(part.byteLength - fill, bytes.byteLength - offset);
      part.set(bytes.subarray(offset, offset + n), fill);
      fill += n;
      offset += n;
      if (fill === part.byteLength) {
        while (inFlight.size >= IN_FLIGHT) await Promise.race(inFlight);
        if (failure) throw failure;
        await job.gate();
        send(index, part);
        index += 1;
        const remaining = size - index * partSize;
        const next = Math.max(0, Math.min(partSize, remaining));
        part = (next === partSize && spare.pop()) || new Uint8Array(next);
        fill = 0;
      }
    }
  };

  // The file is read a block of whole chunks at a time, the next block
  // while this one is sealed; blocks behind are dropped.
  const perBlock = Math.max(1, Math.floor(READ_BLOCK / cs));
  /** @type {Map<number, Promise<ArrayBuffer>>} */
  const blocks = new Map();
  /** @param {number} b */
  const block = (b) => {
    let reading = blocks.get(b);
    if (!reading) {
      const start = b * perBlock * cs;
      reading = file.slice(start, Math.min(start + perBlock * cs, file.size)).arrayBuffer();
      // Handled by whoever awaits it; never an unhandled rejection.
      reading.catch(() => {});
      blocks.set(b, reading);
    }
    return reading;
  };
  /** @param {number} i */
  const sealChunk = async (i) => {
    const b = Math.floor(i / perBlock);
    blocks.forEach((_, k) => {
      if (k < b) blocks.delete(k);
    });
    if ((b + 1) * perBlock < chunks) block(b + 1);
    const data = await block(b);
    const offset = Math.min((i - b * perBlock) * cs, data.byteLength);
    /** @type {Uint8Array<ArrayBuffer>} */
    let plain = new Uint8Array(data, offset, Math.min(cs, data.byteLength - offset));
    const want = Math.min(cs, plainLen - i * cs);
    if (plain.byteLength < want) {
      // Past the file's end: padding, zeros.
      const padded = new Uint8Array(want);
      padded.set(plain);
      plain = padded;
    }
    return cipher.seal(i, i === chunks - 1, plain);
  };
  await append(header);
  // The next chunks are read and sealed while this one is queued: several
  // at once with WebCrypto or the chunk workers (each chunk's nonce is its
  // own), one ahead with the stateful in-thread WASM sealer, so it still
  // sees its chunks in order.
  const ahead = cipher.parallel ? CHUNKS_AHEAD : 1;
  /** @type {Promise<Uint8Array<ArrayBuffer>>[]} */
  const pending = [];
  let nextChunk = 0;
  const refill = () => {
    while (pending.length < ahead && nextChunk < chunks) {
      const sealing = sealChunk(nextChunk++);
      // Handled when its turn comes; never an unhandled rejection meanwhile.
      sealing.catch(() => {});
      pending.push(sealing);
    }
  };
  refill();
  for (let i = 0; i < chunks; i++) {
    await job.gate();
    if (failure) throw failure;
    const sealed = await /** @type {Promise<Uint8Array<ArrayBuffer>>} */ (pending.shift());
    refill();
    encrypted += sealed.byteLength - cipher.tagLen;
    await append(sealed);
  }
  while (inFlight.size > 0) await Promise.race(inFlight);
  if (failure) throw failure;
  progress.flush();
  if (index !== parts) throw new Stop("Internal error: the parts did not add up.");
  const hashes = new Uint8Array(32 * parts);
  (await Promise.all(partHashes)).forEach((h, i) => hashes.set(h, 32 * i));
  const digest = parts_digest(size, partSize, hashes);
  const response = await retrying(job, () =>
    fetch(`/api/uploads/${id}/finish`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ size, digest }),
      signal: job.abort.signal,
    }),
  );
  return { file: await response.json() };
}

/**
 * PUTs one part, retrying transient failures with growing pauses.
 * @param {string} id
 * @param {number} index
 * @param {Uint8Array<ArrayBuffer>} bytes
 * @param {Promise<Uint8Array<ArrayBuffer>>} hashing The part's SHA-256, being taken.
 * @param {string | undefined} already The part's hash if the server has it.
 * @param {Job} job
 */
async function sendPart(id, index, bytes, hashing, already, job) {
  if (already !== undefined) {
    if (toHex(await hashing) === already) return;
    throw new Stop(
      "The picked file is not the one this upload started with (its contents differ). " +
        "Discard the interrupted upload to send it as a new file.",
    );
  }
  await retrying(job, () =>
    fetch(`/api/uploads/${id}/parts/${index}`, {
      method: "PUT",
      headers: { "content-type": "application/octet-stream" },
      body: bytes,
      signal: job.abort.signal,
    }),
  );
}

/**
 * Waits before a retry: 1, 2, 4, 8 s (or what the server asked, at most a minute), or until cancelled.
 * @param {number} attempt
 * @param {Job} job
 * @param {number} [wanted]
 * @returns {Promise<void>}
 */
function backoff(attempt, job, wanted) {
  const ms = Math.min(60_000, Math.max(wanted || 0, 1000 * 2 ** (attempt - 1)));
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    job.abort.signal.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/**
 * Sends `request()` until it answers, retrying what may pass on a second try.
 * @param {Job} job
 * @param {() => Promise<Response>} request
 * @returns {Promise<Response>}
 */
async function retrying(job, request) {
  for (let attempt = 1; ; attempt++) {
    await job.gate();
    let response;
    try {
      response = await request();
    } catch (error) {
      if (job.cancelled || attempt >= ATTEMPTS) throw error;
      await backoff(attempt, job);
      continue;
    }
    if (response.ok) return response;
    const transient = [408, 409, 429, 500, 502, 503, 504].includes(response.status);
    if (!transient || attempt >= ATTEMPTS) throw new Stop(await serverError(response));
    const after = Number(response.headers.get("retry-after"));
    await backoff(attempt, job, Number.isFinite(after) && after > 0 ? after * 1000 : 0);
  }
}

// -------------------------------------------------------------- download

/**
 * Streams `/api/files/{id}/content`, opens each chunk as it completes and
 * writes plaintext to the sink: a File System Access handle (the browser
 * writes a hidden swap file and moves it into place only on close, so a
 * failure leaves nothing), a MessagePort to the service worker's download
 * stream (a failure aborts the browser's download), or back to the page
 * for an in-memory Blob.
 * @param {DownloadRequest} msg
 * @param {Job} job
 * @returns {Promise<Outcome>}
 */
async function download(msg, job) {
  await ready;
  const { file: id, key, size } = msg;
  // A share page downloads from the link's URL with its claim.
  const url = msg.url || `/api/files/${id}/content`;
  const headers = msg.auth ? { Authorization: `Bearer ${msg.auth}` } : {};
  /** @type {ReadableStreamDefaultReader<Uint8Array<ArrayBuffer>> | null} */
  let reader = null;
  /** @type {ChunkCipher | null} */
  let opener = null;
  let sink;
  try {
    sink = await openSink(msg, job);
  } catch (error) {
    key.fill(0);
    throw error;
  }
  try {
    // `no-store`: no copy of the ciphertext stays in the browser's cache.
    const response = await fetch(url, {
      cache: "no-store",
      headers,
      signal: job.abort.signal,
    });
    if (!response.ok) throw new Stop(await serverError(response));
    reader = response.body.getReader();
    // A connection that breaks mid-download is picked up where it broke
    // (`Range`), up to five times with growing pauses; a share link's claim
    // survives such a break for its grace period.
    let received = 0;
    let breaks = 0;
    const read = async () => {
      for (;;) {
        try {
          if (reader === null) {
            // Everything arrived before the break: the stream is complete.
            if (received >= size) return { done: true, value: undefined };
            const again = await fetch(url, {
              cache: "no-store",
              headers: { ...headers, Range: `bytes=${received}-` },
              signal: job.abort.signal,
            });
            if (again.status !== 206) throw new Stop(await serverError(again));
            reader = again.body.getReader();
          }
          const chunk = await reader.read();
          if (!chunk.done) received += chunk.value.byteLength;
          return chunk;
        } catch (error) {
          if (error instanceof Stop || job.cancelled || job.abort.signal.aborted || breaks >= 5) {
            throw error;
          }
          breaks += 1;
          reader = null;
          await new Promise((r) => setTimeout(r, 1000 * 2 ** (breaks - 1)));
        }
      }
    };
    /** @type {Uint8Array<ArrayBuffer>[]} */
    let buffered = [];
    let bufferedLen = 0;
    let consumed = 0;
    /** @param {number} n */
    const take = (n) => {
      const out = new Uint8Array(n);
      let filled = 0;
      while (filled < n) {
        const head = buffered[0];
        const m = Math.min(n - filled, head.byteLength);
        out.set(head.subarray(0, m), filled);
        filled += m;
        if (m === head.byteLength) buffered.shift();
        else buffered[0] = head.subarray(m);
      }
      bufferedLen -= n;
      consumed += n;
      return out;
    };
    /** @param {number} n */
    const fill = async (n) => {
      while (bufferedLen < n) {
        const { value, done } = await read();
        if (done) return false;
        buffered.push(value);
        bufferedLen += value.byteLength;
      }
      return true;
    };
    const headerLen = header_len();
    if (!(await fill(headerLen))) throw new Stop(MODIFIED);
    const header = take(headerLen);
    let cipher;
    try {
      cipher = await chunkCipher(key, header, false);
      opener = cipher;
    } catch {
      throw new Stop(MODIFIED);
    }
    const sealedLen = sealed_chunk_len(header);
    const chunks = sealed_chunk_count(header, size);
    let written = 0;
    // Chunks opened ahead of the one being written: several at once with
    // WebCrypto or the chunk workers, one at a time with the in-thread WASM
    // opener. Memory stays bounded by `ahead` chunks.
    const ahead = cipher.parallel ? CHUNKS_AHEAD : 1;
    /** @type {Promise<Uint8Array<ArrayBuffer>>[]} */
    const opening = [];
    let nextChunk = 0;
    const refill = async () => {
      while (opening.length < ahead && nextChunk < chunks) {
        const i = nextChunk++;
        const last = i === chunks - 1;
        const want = last ? size - consumed : sealedLen;
        if (want < cipher.tagLen || !(await fill(want))) throw new Stop(MODIFIED);
        const opened = cipher.open(i, last, take(want));
        // Handled when its turn comes; never an unhandled rejection meanwhile.
        opened.catch(() => {});
        opening.push(opened);
      }
    };
    const progress = throttled(() => post({ type: "progress", job: msg.job, sent: consumed, size }));
    // Writes not yet finished, oldest first (several only where the sink
    // takes them at once).
    /** @type {Promise<void>[]} */
    const writing = [];
    for (let i = 0; i < chunks; i++) {
      await job.gate();
      await refill();
      const plain = await /** @type {Promise<Uint8Array<ArrayBuffer>>} */ (opening.shift());
      // A padded file ends at `plainSize`: the zeros after it were
      // authenticated with the rest and are dropped here.
      const keep = msg.plainSize === undefined ? plain.byteLength : Math.max(0, Math.min(plain.byteLength, msg.plainSize - written));
      if (keep > 0) {
        const write = sink.write(keep === plain.byteLength ? plain : plain.slice(0, keep));
        // Handled when its turn comes; never an unhandled rejection meanwhile.
        write.catch(() => {});
        writing.push(write);
        if (writing.length >= sink.ahead) await writing.shift();
      }
      written += keep;
      progress.tick();
    }
    while (writing.length > 0) await writing.shift();
    progress.flush();
    // Bytes beyond the declared size are an attack or damage as well.
    if (await fill(1)) throw new Stop(MODIFIED);
    await sink.close();
    return { written };
  } catch (error) {
    if (reader) reader.cancel().catch(() => {});
    await sink.abort(error);
    throw error;
  } finally {
    key.fill(0);
    if (opener) opener.free();
  }
}

/**
 * Where a download's plaintext goes.
 * @typedef {object} Sink
 * @property {number} ahead Writes it takes at once (queued in order).
 * @property {(bytes: Uint8Array<ArrayBuffer>) => Promise<void>} write
 * @property {() => Promise<void>} close
 * @property {(error: unknown) => Promise<void>} abort
 */

/**
 * @param {DownloadRequest} msg
 * @param {Job} job
 * @returns {Promise<Sink>}
 */
async function openSink(msg, job) {
  if (msg.handle) {
    const writable = await msg.handle.createWritable();
    // One writer for the whole file: its writes queue in order.
    const writer = writable.getWriter();
    return {
      ahead: WRITES_AHEAD,
      write: (bytes) => writer.write(bytes),
      close: () => writer.close(),
      // The swap file goes; so does the empty file the dialog created, so
      // nothing is left that could pass for the download.
      abort: async () => {
        await writer.abort().catch(() => {});
        if (msg.handle.remove) await msg.handle.remove().catch(() => {});
      },
    };
  }
  if (msg.port) {
    // The service worker asks for chunks as its stream drains.
    const port = msg.port;
    let credit = 0;
    /** @type {Wake | null} */
    let wake = null;
    /** @param {MessageEvent<StreamRequest>} event */
    port.onmessage = (event) => {
      if (event.data.pull) credit += event.data.pull;
      if (event.data.cancel) {
        job.cancelled = true;
        job.abort.abort();
      }
      if (wake) {
        wake();
        wake = null;
      }
    };
    return {
      // Each write waits for the service worker's credit.
      ahead: 1,
      async write(bytes) {
        while (credit === 0 && !job.cancelled) {
          // A message from the service worker, or a cancel from the page.
          await new Promise((resolve) => {
            wake = resolve;
            job.waiters.push(resolve);
          });
        }
        if (job.cancelled) throw new DOMException("cancelled", "AbortError");
        credit -= 1;
        /** @type {StreamMessage} */
        const message = { chunk: bytes.buffer };
        port.postMessage(message, [bytes.buffer]);
      },
      async close() {
        /** @type {StreamMessage} */
        const message = { done: true };
        port.postMessage(message);
      },
      async abort(error) {
        /** @type {StreamMessage} */
        const message = { error: describe(error) };
        port.postMessage(message);
      },
    };
  }
  // The page collects the chunks into a Blob; it only asks for this for
  // files small enough to hold in memory.
  return {
    ahead: 1,
    async write(bytes) {
      post({ type: "chunk", job: msg.job, chunk: bytes.buffer }, [bytes.buffer]);
    },
    async close() {},
    async abort() {},
  };
}
