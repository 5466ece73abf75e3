// Nocturne's crypto worker: runs the expensive key derivation (Argon2id,
// 64 MiB) off the page's main thread, with the same WASM the page uses.
// One worker per derivation: terminating it gives Argon2id's memory back.
import init, { derive_account_keys } from "/pkg/nocturne.js";

const ready = init({ module_or_path: "/pkg/nocturne.wasm" });

self.onmessage = async (event) => {
  const { password, salt, m_kib, t, p } = event.data;
  try {
    await ready;
    const keys = derive_account_keys(password, salt, m_kib, t, p);
    self.postMessage({ keys }, [keys.buffer]);
  } catch (error) {
    self.postMessage({ error: String(error) });
  }
};
