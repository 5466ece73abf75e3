//! Uploads and downloads, run by the file worker (`public/file-worker.js`).
//!
//! The page keeps the account's keys and the list of transfers; the worker
//! does the heavy part (reading the `File`, encrypting or decrypting each
//! chunk, the HTTP traffic) and reports progress. For each transfer the page
//! hands the worker one file's data key, never the master key.
//!
//! Uploads: the page generates the data key and the format header, seals
//! both the name and the header into the upload's metadata (so the upload
//! can be resumed after a reload by re-encrypting to the same bytes), wraps
//! the data key under the master key and creates the upload; the worker
//! sends the parts and finishes it.
//!
//! Downloads go to the best sink the browser has: the File System Access
//! API (written to a swap file the browser moves into place only when
//! complete), else the service worker (`public/sw.js`), which turns the
//! decrypted stream into a normal browser download, else an in-memory Blob
//! for files up to [`BLOB_LIMIT`].
//!
//! Everything here runs only in the browser: it is called from event
//! handlers and effects, which the server never runs.

use std::{cell::RefCell, collections::HashMap};

use leptos::prelude::*;
use noctis::format::{CipherId, HEADER_LEN, Header, ciphertext_len, padded_len};
use wasm_bindgen::{JsCast, JsValue, closure::Closure};
use zeroize::Zeroizing;

use super::{
    api,
    keys::{FileMeta, Keyring, b64, new_header, unb64},
};

mod save;

pub(crate) use save::{FileRef, Sink, register_service_worker, save, save_all};
use save::{click_link, save_blob, service_worker_download};

/// Ciphertext bytes per uploaded part (the server takes 256 KiB to 16 MiB).
pub(crate) const PART_SIZE: u64 = 8 << 20;
/// Uploads of one tab open on the server at once (the worker runs two; the
/// others are created and waiting, so the next starts without a round trip).
pub(crate) const OPEN_UPLOADS: usize = 4;
/// The largest file the in-memory fallback will assemble.
pub(crate) const BLOB_LIMIT: u64 = 256 << 20;

/// Which way a transfer goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    Upload,
    Download,
}

/// Where a transfer is.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Phase {
    Running,
    Paused,
    Done,
    Failed(String),
    Cancelled,
}

/// One upload or download, as the page shows it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Transfer {
    pub(crate) job: u32,
    pub(crate) direction: Direction,
    pub(crate) name: String,
    /// Bytes to move (ciphertext).
    pub(crate) size: u64,
    /// Bytes moved so far.
    pub(crate) done: u64,
    pub(crate) phase: Phase,
    /// The upload's id on the server, to discard it when cancelled.
    pub(crate) upload: Option<String>,
    /// When it started and the bytes per second, smoothed.
    started_ms: f64,
    last_ms: f64,
    last_done: u64,
    pub(crate) speed: f64,
}

impl Transfer {
    /// Seconds left at the current speed.
    pub(crate) fn eta(&self) -> Option<f64> {
        (self.speed > 0.0 && self.phase == Phase::Running)
            .then(|| (self.size.saturating_sub(self.done)) as f64 / self.speed)
    }
}

/// An upload the server holds unfinished (for example after a reload).
pub(crate) use ::api::files::UploadView as PendingUpload;
use ::api::{
    B64,
    files::{CreateUpload, PartView as ReceivedPart, UploadView},
};

/// The transfers of this tab, and a counter bumped whenever an upload
/// finishes (the file list reloads on it).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Transfers {
    pub(crate) list: RwSignal<Vec<Transfer>>,
    pub(crate) finished: RwSignal<u32>,
}

thread_local! {
    static WORKER: RefCell<Option<web_sys::Worker>> = const { RefCell::new(None) };
    /// The dashboard mounted now: the worker's messages go to its list (a
    /// dashboard mounted earlier may have been disposed with its signals).
    static CURRENT: RefCell<Option<Transfers>> = const { RefCell::new(None) };
    /// Decrypted chunks of Blob-sink downloads, by job.
    static BLOBS: RefCell<HashMap<u32, (String, js_sys::Array)>> = RefCell::new(HashMap::new());
    static NEXT_JOB: RefCell<u32> = const { RefCell::new(1) };
}

fn now_ms() -> f64 {
    js_sys::Date::now()
}

fn set(object: &js_sys::Object, key: &str, value: &JsValue) {
    let _ = js_sys::Reflect::set(object, &JsValue::from_str(key), value);
}

fn get(object: &JsValue, key: &str) -> JsValue {
    js_sys::Reflect::get(object, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

impl Transfers {
    pub(crate) fn new() -> Self {
        let this = Transfers {
            list: RwSignal::new(Vec::new()),
            finished: RwSignal::new(0),
        };
        CURRENT.with(|c| *c.borrow_mut() = Some(this));
        this
    }

    /// Stops every transfer and the worker, and forgets what it held: at
    /// logout no data key may go on being used.
    pub(crate) fn shutdown(&self) {
        if let Some(worker) = WORKER.with(|w| w.borrow_mut().take()) {
            worker.terminate();
        }
        BLOBS.with(|b| b.borrow_mut().clear());
        self.list.update(|l| {
            for t in l.iter_mut() {
                if matches!(t.phase, Phase::Running | Phase::Paused) {
                    t.phase = Phase::Cancelled;
                }
            }
        });
    }

    fn add(&self, direction: Direction, name: String, size: u64, upload: Option<String>) -> u32 {
        let job = NEXT_JOB.with(|n| {
            let mut n = n.borrow_mut();
            *n += 1;
            *n
        });
        let now = now_ms();
        self.list.update(|l| {
            l.push(Transfer {
                job,
                direction,
                name,
                size,
                done: 0,
                phase: Phase::Running,
                upload,
                started_ms: now,
                last_ms: now,
                last_done: 0,
                speed: 0.0,
            });
        });
        job
    }

    fn update(&self, job: u32, f: impl FnOnce(&mut Transfer)) {
        self.list.update(|l| {
            if let Some(t) = l.iter_mut().find(|t| t.job == job) {
                f(t);
            }
        });
    }

    fn fail(&self, job: u32, message: String) {
        self.update(job, |t| t.phase = Phase::Failed(message));
    }

    /// Clears finished, failed and cancelled transfers from the panel.
    pub(crate) fn clear_finished(&self) {
        self.list
            .update(|l| l.retain(|t| matches!(t.phase, Phase::Running | Phase::Paused)));
    }

    /// The worker, started on first use; its messages update the list.
    fn worker(&self) -> Result<web_sys::Worker, String> {
        if let Some(w) = WORKER.with(|w| w.borrow().clone()) {
            return Ok(w);
        }
        let options = web_sys::WorkerOptions::new();
        options.set_type(web_sys::WorkerType::Module);
        let worker =
            web_sys::Worker::new_with_options(&super::build_script("file-worker.js"), &options)
                .map_err(|_| "This browser could not start the file worker.".to_owned())?;
        let on_message =
            Closure::<dyn FnMut(web_sys::MessageEvent)>::new(|event: web_sys::MessageEvent| {
                if let Some(t) = CURRENT.with(|c| *c.borrow()) {
                    t.on_message(&event.data());
                }
            });
        worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        // A worker that fails to load (or crashes) fails every transfer
        // rather than leaving them "running" for ever.
        let on_error = Closure::<dyn FnMut(web_sys::Event)>::new(|_event: web_sys::Event| {
            WORKER.with(|w| w.borrow_mut().take());
            if let Some(t) = CURRENT.with(|c| *c.borrow()) {
                t.list.update(|l| {
                    for job in l.iter_mut() {
                        if matches!(job.phase, Phase::Running | Phase::Paused) {
                            job.phase = Phase::Failed("The file worker stopped; try again.".into());
                        }
                    }
                });
            }
        });
        worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        // The worker lives until logout; its handlers are tiny and live on.
        on_message.forget();
        on_error.forget();
        WORKER.with(|w| *w.borrow_mut() = Some(worker.clone()));
        Ok(worker)
    }

    fn on_message(&self, data: &JsValue) {
        let job = get(data, "job").as_f64().unwrap_or(0.0) as u32;
        let kind = get(data, "type").as_string().unwrap_or_default();
        match kind.as_str() {
            "progress" => {
                let sent = get(data, "sent").as_f64().unwrap_or(0.0) as u64;
                let now = now_ms();
                self.update(job, |t| {
                    t.done = sent.min(t.size);
                    let dt = (now - t.last_ms) / 1000.0;
                    if dt >= 0.25 {
                        let rate = (t.done.saturating_sub(t.last_done)) as f64 / dt;
                        t.speed = if t.speed == 0.0 {
                            rate
                        } else {
                            0.7 * t.speed + 0.3 * rate
                        };
                        t.last_ms = now;
                        t.last_done = t.done;
                    }
                });
            }
            "chunk" => {
                let chunk = get(data, "chunk");
                BLOBS.with(|b| {
                    if let Some((_, parts)) = b.borrow_mut().get_mut(&job) {
                        parts.push(&js_sys::Uint8Array::new(&chunk));
                    }
                });
            }
            "done" => {
                self.update(job, |t| {
                    t.done = t.size;
                    t.phase = Phase::Done;
                    let secs = (now_ms() - t.started_ms) / 1000.0;
                    if secs > 0.0 {
                        t.speed = t.size as f64 / secs;
                    }
                });
                if let Some((name, parts)) = BLOBS.with(|b| b.borrow_mut().remove(&job)) {
                    save_blob(&name, &parts);
                }
                // A new file: the list reloads. (Downloads change nothing.)
                let upload = self.list.with_untracked(|l| {
                    l.iter()
                        .any(|t| t.job == job && t.direction == Direction::Upload)
                });
                if upload {
                    self.finished.update(|n| *n += 1);
                }
            }
            "failed" => {
                BLOBS.with(|b| b.borrow_mut().remove(&job));
                let message = get(data, "message")
                    .as_string()
                    .unwrap_or_else(|| "The transfer failed.".into());
                self.fail(job, message);
            }
            "cancelled" => {
                BLOBS.with(|b| b.borrow_mut().remove(&job));
                self.update(job, |t| t.phase = Phase::Cancelled);
            }
            _ => {}
        }
    }

    fn post(&self, message: &js_sys::Object, transfer: &js_sys::Array) -> Result<(), String> {
        self.worker()?
            .post_message_with_transfer(message, transfer)
            .map_err(|_| "The file worker refused the transfer.".to_owned())
    }

    /// Pauses, resumes or cancels a running transfer.
    pub(crate) fn control(&self, job: u32, action: &'static str) {
        let message = js_sys::Object::new();
        set(&message, "type", &JsValue::from_str(action));
        set(&message, "job", &JsValue::from(job));
        let _ = self.post(&message, &js_sys::Array::new());
        match action {
            "pause" => self.update(job, |t| t.phase = Phase::Paused),
            "resume" => self.update(job, |t| {
                t.phase = Phase::Running;
                t.last_ms = now_ms();
                t.last_done = t.done;
            }),
            // The worker discards a cancelled upload on the server itself,
            // once none of its parts is still in flight.
            "cancel" => self.update(job, |t| t.phase = Phase::Cancelled),
            _ => {}
        }
    }

    /// Waits until fewer than [`OPEN_UPLOADS`] uploads of this tab are
    /// running or paused (checked four times a second). `false` once the
    /// dashboard is gone.
    pub(crate) async fn wait_for_room(&self) -> bool {
        loop {
            let Some(open) = self.list.try_with_untracked(|l| {
                l.iter()
                    .filter(|t| {
                        t.direction == Direction::Upload
                            && matches!(t.phase, Phase::Running | Phase::Paused)
                    })
                    .count()
            }) else {
                return false;
            };
            if open < OPEN_UPLOADS {
                return true;
            }
            let tick = js_sys::Promise::new(&mut |resolve, _reject| {
                if let Some(w) = web_sys::window() {
                    let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, 250);
                }
            });
            let _ = wasm_bindgen_futures::JsFuture::from(tick).await;
        }
    }

    /// Encrypts and uploads `file` as a new file under `cipher`; with `pad`,
    /// its content padded to Padmé's length (`noctis::format::padded_len`)
    /// so the stored size tells less about the real one.
    pub(crate) async fn upload(
        &self,
        keyring: &Keyring,
        file: web_sys::File,
        cipher: CipherId,
        pad: bool,
    ) {
        let name = file.name();
        let plain = file.size() as u64;
        let encrypted = if pad { padded_len(plain) } else { plain };
        let Some(header) = new_header(cipher) else {
            let job = self.add(Direction::Upload, name, 0, None);
            self.fail(
                job,
                "This browser has no usable random number generator.".into(),
            );
            return;
        };
        let size = ciphertext_len(&header, encrypted);
        let header_bytes = header.to_bytes();
        let meta = FileMeta {
            name: name.clone(),
            mime: file.type_(),
            size: Some(plain),
            modified: Some(file.last_modified() as u64),
            header: Some(b64(&header_bytes)),
            padded: pad,
            other: serde_json::Map::new(),
        };
        let new = keyring.new_file(&meta);
        let job = self.add(Direction::Upload, name, size, None);
        let body = match (unb64(&new.metadata), unb64(&new.wrapped_key)) {
            (Ok(metadata), Ok(wrapped_key)) => CreateUpload {
                size,
                part_size: Some(PART_SIZE),
                metadata: B64(metadata),
                wrapped_key: B64(wrapped_key),
            },
            _ => return self.fail(job, "This file could not be prepared for upload.".into()),
        };
        let created: Result<UploadView, _> = api::post("/api/uploads", &body).await;
        let id = match created {
            Ok(c) => c.id,
            Err(e) => return self.fail(job, e.message),
        };
        self.update(job, |t| t.upload = Some(id.clone()));
        self.send(
            job,
            &file,
            encrypted,
            &new.data_key,
            &header_bytes,
            &id,
            size,
            &[],
        );
    }

    /// Resumes `pending` from `file`, which the user picked again. The
    /// worker re-encrypts it to the same bytes (same key and header) and
    /// checks each part the server holds against its hash, so a different
    /// file is refused rather than spliced in.
    pub(crate) fn resume(&self, keyring: &Keyring, pending: &PendingUpload, file: web_sys::File) {
        let opened = keyring.open_file(&b64(&pending.wrapped_key.0), &b64(&pending.metadata.0));
        let name = opened
            .as_ref()
            .map(|(_, m)| m.name.clone())
            .unwrap_or_default();
        let job = self.add(
            Direction::Upload,
            name,
            pending.size,
            Some(pending.id.clone()),
        );
        let Some((key, meta)) = opened else {
            return self.fail(
                job,
                "This upload cannot be decrypted with your keys.".into(),
            );
        };
        let header = meta
            .header
            .as_deref()
            .and_then(|h| unb64(h).ok())
            .filter(|h| h.len() == HEADER_LEN && Header::parse(h).is_ok());
        let Some(header) = header else {
            return self.fail(job, "This upload cannot be resumed; discard it.".into());
        };
        // Re-encrypting changed content under the same key and nonces would
        // leak it: the file must be the same size with the same modification
        // time, and each part the server holds is checked by hash as well.
        if meta.size != Some(file.size() as u64)
            || meta
                .modified
                .is_some_and(|m| m != file.last_modified() as u64)
        {
            return self.fail(
                job,
                "The picked file is not the one this upload started with (its size or \
                 modification time differs). Discard the interrupted upload to send it as \
                 a new file."
                    .into(),
            );
        }
        if pending.part_size != PART_SIZE {
            return self.fail(job, "This upload cannot be resumed; discard it.".into());
        }
        let plain = file.size() as u64;
        self.send(
            job,
            &file,
            if meta.padded {
                padded_len(plain)
            } else {
                plain
            },
            &key,
            &header,
            &pending.id,
            pending.size,
            &pending.received,
        );
    }

    #[expect(clippy::too_many_arguments, reason = "one call site per entry point")]
    fn send(
        &self,
        job: u32,
        file: &web_sys::File,
        plain_len: u64,
        key: &[u8; 32],
        header: &[u8],
        upload: &str,
        size: u64,
        received: &[ReceivedPart],
    ) {
        let message = js_sys::Object::new();
        let key = js_sys::Uint8Array::from(&key[..]);
        let header = js_sys::Uint8Array::from(header);
        let received = serde_wasm(received);
        for (k, v) in [
            ("type", JsValue::from_str("upload")),
            ("job", JsValue::from(job)),
            ("file", file.into()),
            ("key", key.clone().into()),
            ("header", header.into()),
            ("upload", JsValue::from_str(upload)),
            ("partSize", JsValue::from_f64(PART_SIZE as f64)),
            // The plaintext's length with its padding (zeros past the file).
            ("plainLen", JsValue::from_f64(plain_len as f64)),
            ("size", JsValue::from_f64(size as f64)),
            ("received", received),
        ] {
            set(&message, k, &v);
        }
        // The key's buffer moves to the worker: none of it stays here.
        let transfer = js_sys::Array::of1(&key.buffer());
        if let Err(e) = self.post(&message, &transfer) {
            self.fail(job, e);
        }
    }

    /// Downloads and decrypts a file into `sink` with its data `key`.
    pub(crate) async fn download(
        &self,
        key: Zeroizing<[u8; 32]>,
        file: &FileRef,
        sink: Sink,
    ) -> Result<(), String> {
        let job = self.add(Direction::Download, file.name.clone(), file.size, None);
        let message = js_sys::Object::new();
        let key = js_sys::Uint8Array::from(&key[..]);
        for (k, v) in [
            ("type", JsValue::from_str("download")),
            ("job", JsValue::from(job)),
            ("file", JsValue::from_str(&file.id)),
            ("url", JsValue::from_str(&file.content_url)),
            ("key", key.clone().into()),
            ("size", JsValue::from_f64(file.size as f64)),
        ] {
            set(&message, k, &v);
        }
        if let Some(bearer) = &file.bearer {
            set(&message, "auth", &JsValue::from_str(bearer));
        }
        // A padded file keeps its first `plain_size` bytes; the rest is
        // padding (authenticated like the rest, then dropped).
        if let (true, Some(plain)) = (file.padded, file.plain_size) {
            set(&message, "plainSize", &JsValue::from_f64(plain as f64));
        }
        let transfer = js_sys::Array::of1(&key.buffer());
        match sink {
            Sink::Handle(handle) => set(&message, "handle", &handle),
            Sink::ServiceWorker => {
                let port = match service_worker_download(file).await {
                    Ok(p) => p,
                    Err(e) => {
                        self.fail(job, e.clone());
                        return Err(e);
                    }
                };
                set(&message, "port", &port.0);
                transfer.push(&port.0);
                if let Err(e) = self.post(&message, &transfer) {
                    self.fail(job, e.clone());
                    return Err(e);
                }
                // The service worker answers this navigation with the
                // decrypted stream as an attachment: the page stays.
                click_link(&format!("/__download/{}", port.1), None);
                return Ok(());
            }
            Sink::Blob => {
                if file.size > BLOB_LIMIT {
                    let e = "This browser can only save files up to 256 MiB from here. \
                             Use a Chromium-based browser, or `nocturne decrypt`."
                        .to_owned();
                    self.fail(job, e.clone());
                    return Err(e);
                }
                BLOBS.with(|b| {
                    b.borrow_mut()
                        .insert(job, (file.name.clone(), js_sys::Array::new()))
                });
            }
        }
        self.post(&message, &transfer).inspect_err(|e| {
            self.fail(job, e.clone());
        })
    }
}

fn serde_wasm(received: &[ReceivedPart]) -> JsValue {
    let array = js_sys::Array::new();
    for part in received {
        let o = js_sys::Object::new();
        set(&o, "index", &JsValue::from_f64(part.index as f64));
        set(&o, "sha256", &JsValue::from_str(&part.sha256));
        array.push(&o);
    }
    array.into()
}
