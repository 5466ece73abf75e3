//! Where a transfer's time goes, for the benches: CPU time per thread of
//! every process involved (Chromium's and the server's, from
//! `/proc/<pid>/task/<tid>/schedstat`), the whole machine's from
//! `/proc/stat` (so kernel threads, interrupts and idle show too), and a
//! Chrome trace taken through the DevTools protocol and summarised per
//! thread (busy time, and self time by event name).
//!
//! Both are read-only observers: `/proc` costs nothing while the transfer
//! runs, so the measured runs carry it; tracing slows the browser a little,
//! so the bench takes its traces in separate, smaller runs.

use std::{
    collections::{BTreeMap, HashMap},
    path::Path,
};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async, tungstenite::Message};

// ------------------------------------------------------------ /proc CPU

/// Clock ticks per second of `/proc/stat` (USER_HZ, 100 on every Linux
/// this runs on).
const TICKS: f64 = 100.0;

/// Accumulated CPU time of every thread of a set of processes, in
/// nanoseconds, and the machine's counters beside it.
pub struct CpuSnapshot {
    threads: HashMap<(u32, u32), (String, u64)>,
    machine: Machine,
}

/// The `cpu` line of `/proc/stat`, in ticks: time every core spent
/// working, idle, waiting on I/O, serving interrupts, or taken by the
/// hypervisor.
#[derive(Clone, Copy, Default)]
struct Machine {
    busy: u64,
    idle: u64,
    iowait: u64,
    irq: u64,
    steal: u64,
}

impl Machine {
    fn take() -> Machine {
        let stat = read("/proc/stat").unwrap_or_default();
        let v: Vec<u64> = stat
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("cpu "))
            .map(|l| {
                l.split_whitespace()
                    .filter_map(|f| f.parse().ok())
                    .collect()
            })
            .unwrap_or_default();
        let at = |i: usize| v.get(i).copied().unwrap_or(0);
        Machine {
            busy: at(0) + at(1) + at(2),
            idle: at(3),
            iowait: at(4),
            irq: at(5) + at(6),
            steal: at(7),
        }
    }
}

/// What the whole machine did between two snapshots, in seconds.
pub struct MachineSpent {
    busy: f64,
    idle: f64,
    iowait: f64,
    irq: f64,
    steal: f64,
}

impl MachineSpent {
    /// CPU seconds the cores worked, interrupts included.
    pub fn working(&self) -> f64 {
        self.busy + self.irq
    }
}

fn read(path: &str) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

/// The fields after the `(comm)` of a stat line: state is `[0]`, the
/// parent pid `[1]`, utime `[11]`, stime `[12]`.
fn stat_fields(stat: &str) -> Vec<&str> {
    stat.rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default()
}

/// A process's role in the run, from its command line.
fn role(pid: u32, server: u32) -> String {
    if pid == server {
        return "server".into();
    }
    if pid == std::process::id() {
        return "bench-client".into();
    }
    let cmdline = read(&format!("/proc/{pid}/cmdline"))
        .unwrap_or_default()
        .replace('\0', " ");
    let kind = cmdline
        .split_whitespace()
        .find_map(|a| a.strip_prefix("--type="))
        .unwrap_or("");
    match kind {
        "" if cmdline.contains("chromedriver") => "chromedriver".into(),
        "" => "browser".into(),
        "renderer" => "renderer".into(),
        "utility" => {
            let sub = cmdline
                .split_whitespace()
                .find_map(|a| a.strip_prefix("--utility-sub-type="))
                .unwrap_or("utility");
            match sub {
                "network.mojom.NetworkService" => "network".into(),
                "storage.mojom.StorageService" => "storage".into(),
                other => other.rsplit('.').next().unwrap_or(other).to_owned(),
            }
        }
        other => other.to_owned(),
    }
}

impl CpuSnapshot {
    /// Every thread of `server` and of `root` and its descendants.
    pub fn take(root: u32, server: u32) -> CpuSnapshot {
        let mut parents: HashMap<u32, u32> = HashMap::new();
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            if let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse().ok())
                && let Some(stat) = read(&format!("/proc/{pid}/stat"))
                && let Some(ppid) = stat_fields(&stat).get(1).and_then(|p| p.parse().ok())
            {
                parents.insert(pid, ppid);
            }
        }
        let descends = |mut pid: u32| {
            while pid > 1 {
                if pid == root {
                    return true;
                }
                pid = parents.get(&pid).copied().unwrap_or(0);
            }
            false
        };
        let mut threads = HashMap::new();
        for &pid in parents.keys() {
            if pid != server && !descends(pid) {
                continue;
            }
            let role = role(pid, server);
            let tasks = std::fs::read_dir(format!("/proc/{pid}/task"));
            for task in tasks.into_iter().flatten().flatten() {
                let Some(tid) = task.file_name().to_str().and_then(|s| s.parse().ok()) else {
                    continue;
                };
                let Some(stat) = read(&format!("/proc/{pid}/task/{tid}/stat")) else {
                    continue;
                };
                // schedstat's first field is exact time on a core; stat's
                // utime and stime are whole ticks, which loses up to 10 ms
                // per thread, much of a second's run over twenty threads.
                let fields = stat_fields(&stat);
                let ticks_ns = || {
                    [11, 12]
                        .iter()
                        .filter_map(|&i| fields.get(i).and_then(|v| v.parse::<u64>().ok()))
                        .sum::<u64>()
                        * 10_000_000
                };
                let nanos = read(&format!("/proc/{pid}/task/{tid}/schedstat"))
                    .and_then(|s| s.split_whitespace().next()?.parse().ok())
                    .unwrap_or_else(ticks_ns);
                let name = read(&format!("/proc/{pid}/task/{tid}/comm"))
                    .unwrap_or_default()
                    .trim()
                    .to_owned();
                threads.insert((pid, tid), (format!("{role}/{name}"), nanos));
            }
        }
        CpuSnapshot {
            threads,
            machine: Machine::take(),
        }
    }

    /// The whole machine's time between `self` and `later`.
    pub fn machine_until(&self, later: &CpuSnapshot) -> MachineSpent {
        let (a, b) = (self.machine, later.machine);
        let secs = |x: u64, y: u64| y.saturating_sub(x) as f64 / TICKS;
        MachineSpent {
            busy: secs(a.busy, b.busy),
            idle: secs(a.idle, b.idle),
            iowait: secs(a.iowait, b.iowait),
            irq: secs(a.irq, b.irq),
            steal: secs(a.steal, b.steal),
        }
    }

    /// CPU seconds spent between `self` and `later`, per process role and
    /// thread name (threads of one name summed), largest first.
    pub fn spent_until(&self, later: &CpuSnapshot) -> Vec<(String, f64)> {
        let mut by: BTreeMap<String, u64> = BTreeMap::new();
        for (key, (name, nanos)) in &later.threads {
            let before = self.threads.get(key).map_or(0, |(_, t)| *t);
            *by.entry(name.clone()).or_default() += nanos.saturating_sub(before);
        }
        let mut out: Vec<(String, f64)> = by
            .into_iter()
            .filter(|(_, t)| *t > 0)
            .map(|(n, t)| (n, t as f64 / 1e9))
            .collect();
        out.sort_by(|a, b| b.1.total_cmp(&a.1));
        out
    }
}

impl CpuSnapshot {
    /// [`cpu_report`] from `self` to `later`, then [`machine_report`].
    pub fn report_until(&self, later: &CpuSnapshot, wall: f64) -> String {
        let spent = self.spent_until(later);
        let ours = spent.iter().map(|(_, s)| s).sum();
        format!(
            "{}\n{}",
            cpu_report(&spent, wall),
            machine_report(&self.machine_until(later), ours)
        )
    }
}

/// One line per thread group that used at least 2 % of the wall time,
/// then the totals against what the machine's cores could give.
pub fn cpu_report(spent: &[(String, f64)], wall: f64) -> String {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let total: f64 = spent.iter().map(|(_, s)| s).sum();
    let mut by_role: BTreeMap<&str, f64> = BTreeMap::new();
    for (name, secs) in spent {
        *by_role
            .entry(name.split('/').next().unwrap_or(name))
            .or_default() += secs;
    }
    let mut lines = vec![format!(
        "      CPU: {total:.1} s over {wall:.1} s wall = {:.0} % of {cores} cores; by process: {}",
        100.0 * total / (wall * cores as f64),
        by_role
            .iter()
            .map(|(r, s)| format!("{r} {s:.1} s"))
            .collect::<Vec<_>>()
            .join(", ")
    )];
    for (name, secs) in spent.iter().filter(|(_, s)| *s >= 0.02 * wall) {
        lines.push(format!(
            "        {name:<36} {secs:6.2} s  {:4.0} % of one core",
            100.0 * secs / wall
        ));
    }
    lines.join("\n")
}

/// One line: how busy the whole machine was, and where the rest went.
/// `ours` is the CPU time [`cpu_report`] accounted to the run's processes;
/// the remainder of `busy` is everyone else's (kernel threads such as
/// writeback, other processes).
pub fn machine_report(m: &MachineSpent, ours: f64) -> String {
    let total = (m.busy + m.idle + m.iowait + m.irq + m.steal).max(f64::EPSILON);
    let pct = |x: f64| 100.0 * x / total;
    format!(
        "      machine: {:.0} % busy ({:.0} % in interrupts, {:.0} % in other processes and kernel threads), {:.0} % idle, {:.0} % waiting on I/O, {:.0} % stolen by the hypervisor",
        pct(m.busy + m.irq),
        pct(m.irq),
        pct((m.busy - ours).max(0.0)),
        pct(m.idle),
        pct(m.iowait),
        pct(m.steal),
    )
}

// -------------------------------------------------------- DevTools trace

type Socket = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

/// A browser-wide DevTools connection, reached through the port Chromium
/// writes to `DevToolsActivePort` in its profile directory.
pub struct DevTools {
    socket: Socket,
    next: u64,
    /// Events read while waiting for a reply, for whoever asks next.
    events: Vec<Value>,
}

impl DevTools {
    pub async fn connect(profile: &Path) -> DevTools {
        let active = std::fs::read_to_string(profile.join("DevToolsActivePort"))
            .expect("Chromium writes DevToolsActivePort into its profile");
        let mut lines = active.lines();
        let port = lines.next().expect("port line").trim();
        let path = lines.next().expect("path line").trim();
        let (socket, _) = connect_async(format!("ws://127.0.0.1:{port}{path}"))
            .await
            .expect("connect to DevTools");
        DevTools {
            socket,
            next: 1,
            events: Vec::new(),
        }
    }

    /// Sends `method` and returns its result, keeping events for later.
    async fn call(&mut self, method: &str, params: Value) -> Value {
        self.call_in(None, method, params).await
    }

    /// Sends `method` to an attached target's session (or the browser).
    async fn call_in(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        let id = self.next;
        self.next += 1;
        let mut message = json!({ "id": id, "method": method, "params": params });
        if let Some(session) = session {
            message["sessionId"] = json!(session);
        }
        self.socket
            .send(Message::text(message.to_string()))
            .await
            .expect("send to DevTools");
        loop {
            let reply = self.receive().await;
            if reply["id"].as_u64() == Some(id) {
                assert!(reply.get("error").is_none(), "{method}: {reply}");
                return reply["result"].clone();
            }
            if reply.get("method").is_some() && self.events.len() < 10_000 {
                self.events.push(reply);
            }
        }
    }

    /// The next event named `method`, kept or still to come.
    async fn event(&mut self, method: &str) -> Value {
        if let Some(i) = self.events.iter().position(|e| e["method"] == method) {
            return self.events.remove(i);
        }
        loop {
            let event = self.receive().await;
            if event["method"] == method {
                return event;
            }
        }
    }

    /// Attaches to the file worker of the (only) page, and starts V8's
    /// sampling profiler in it; `stop_worker_profile` ends it.
    pub async fn start_worker_profile(&mut self) -> String {
        let targets = self.call("Target.getTargets", json!({})).await;
        let page = targets["targetInfos"]
            .as_array()
            .and_then(|t| t.iter().find(|t| t["type"] == "page"))
            .expect("a page")["targetId"]
            .clone();
        let attached = self
            .call(
                "Target.attachToTarget",
                json!({ "targetId": page, "flatten": true }),
            )
            .await;
        let page_session = attached["sessionId"].as_str().expect("session").to_owned();
        // Dedicated workers are reached through their page: auto-attach
        // announces the ones already running.
        self.call_in(
            Some(&page_session),
            "Target.setAutoAttach",
            json!({ "autoAttach": true, "waitForDebuggerOnStart": false, "flatten": true }),
        )
        .await;
        let worker = loop {
            let event = self.event("Target.attachedToTarget").await;
            let info = &event["params"]["targetInfo"];
            if info["url"]
                .as_str()
                .is_some_and(|u| u.ends_with("/file-worker.js"))
            {
                break event["params"]["sessionId"]
                    .as_str()
                    .expect("session")
                    .to_owned();
            }
        };
        self.call_in(Some(&worker), "Profiler.enable", json!({}))
            .await;
        self.call_in(
            Some(&worker),
            "Profiler.setSamplingInterval",
            json!({ "interval": 200 }),
        )
        .await;
        self.call_in(Some(&worker), "Profiler.start", json!({}))
            .await;
        worker
    }

    /// Stops the worker's profiler: self time by function, as text.
    pub async fn stop_worker_profile(&mut self, worker: &str, top: usize) -> String {
        let stopped = self.call_in(Some(worker), "Profiler.stop", json!({})).await;
        profile_report(&stopped["profile"], top)
    }

    async fn receive(&mut self) -> Value {
        loop {
            match self
                .socket
                .next()
                .await
                .expect("DevTools open")
                .expect("read")
            {
                Message::Text(text) => return serde_json::from_str(&text).expect("JSON"),
                Message::Binary(bytes) => return serde_json::from_slice(&bytes).expect("JSON"),
                _ => {}
            }
        }
    }

    /// Starts a trace of every process: tasks per thread, V8 execution and
    /// garbage collection, workers and fetches.
    pub async fn start_trace(&mut self) {
        self.call(
            "Tracing.start",
            json!({
                "transferMode": "ReturnAsStream",
                "traceConfig": {
                    "recordMode": "recordContinuously",
                    "includedCategories": [
                        "toplevel", "devtools.timeline", "v8.execute", "blink",
                        "blink.worker", "loading", "disabled-by-default-devtools.timeline",
                    ],
                },
            }),
        )
        .await;
    }

    /// Ends the trace and returns its events.
    pub async fn end_trace(&mut self) -> Vec<Value> {
        self.call("Tracing.end", json!({})).await;
        let handle = loop {
            let event = self.receive().await;
            if event["method"] == "Tracing.tracingComplete" {
                break event["params"]["stream"]
                    .as_str()
                    .expect("a trace stream")
                    .to_owned();
            }
        };
        let mut text = Vec::new();
        loop {
            let chunk = self
                .call("IO.read", json!({ "handle": handle, "size": 1 << 20 }))
                .await;
            let data = chunk["data"].as_str().unwrap_or("");
            if chunk["base64Encoded"].as_bool() == Some(true) {
                use base64::Engine as _;
                text.extend(
                    base64::engine::general_purpose::STANDARD
                        .decode(data)
                        .expect("base64"),
                );
            } else {
                text.extend_from_slice(data.as_bytes());
            }
            if chunk["eof"].as_bool() == Some(true) {
                break;
            }
        }
        self.call("IO.close", json!({ "handle": handle })).await;
        let trace: Value = serde_json::from_slice(&text).expect("trace JSON");
        match trace {
            Value::Array(events) => events,
            mut object => object["traceEvents"]
                .take()
                .as_array()
                .cloned()
                .unwrap_or_default(),
        }
    }
}

/// Per thread of the trace: the time it was busy (the union of its
/// outermost events) and the event names that took the most self time.
pub fn trace_report(events: &[Value], top: usize) -> String {
    let mut process_names: HashMap<u64, String> = HashMap::new();
    let mut thread_names: HashMap<(u64, u64), String> = HashMap::new();
    // (start, end, name) per thread, in microseconds.
    type Spans = Vec<(f64, f64, String)>;
    let mut spans: HashMap<(u64, u64), Spans> = HashMap::new();
    let mut open: HashMap<(u64, u64), Vec<(f64, String)>> = HashMap::new();
    let (mut first, mut last) = (f64::MAX, f64::MIN);
    for e in events {
        let pid = e["pid"].as_u64().unwrap_or(0);
        let tid = e["tid"].as_u64().unwrap_or(0);
        let name = e["name"].as_str().unwrap_or("?").to_owned();
        let ts = e["ts"].as_f64().unwrap_or(0.0);
        match e["ph"].as_str().unwrap_or("") {
            "M" if name == "process_name" => {
                process_names.insert(pid, e["args"]["name"].as_str().unwrap_or("?").into());
            }
            "M" if name == "thread_name" => {
                thread_names.insert((pid, tid), e["args"]["name"].as_str().unwrap_or("?").into());
            }
            "X" => {
                let dur = e["dur"].as_f64().unwrap_or(0.0);
                first = first.min(ts);
                last = last.max(ts + dur);
                spans
                    .entry((pid, tid))
                    .or_default()
                    .push((ts, ts + dur, name));
            }
            "B" => open.entry((pid, tid)).or_default().push((ts, name)),
            "E" => {
                if let Some((start, name)) = open.entry((pid, tid)).or_default().pop() {
                    first = first.min(start);
                    last = last.max(ts);
                    spans.entry((pid, tid)).or_default().push((start, ts, name));
                }
            }
            _ => {}
        }
    }
    let window = (last - first).max(1.0);
    let mut rows = Vec::new();
    for (key, mut list) in spans {
        // Outer events first at equal starts, so nesting is a stack.
        list.sort_by(|a, b| a.0.total_cmp(&b.0).then(b.1.total_cmp(&a.1)));
        let mut busy = 0.0;
        let mut selfs: HashMap<String, f64> = HashMap::new();
        let mut stack: Vec<(f64, String)> = Vec::new();
        for (start, end, name) in &list {
            while let Some((top_end, _)) = stack.last() {
                if *top_end <= *start {
                    stack.pop();
                } else {
                    break;
                }
            }
            let span = end.min(stack.last().map_or(f64::MAX, |t| t.0)) - start;
            if let Some((_, parent)) = stack.last() {
                *selfs.entry(parent.clone()).or_default() -= span;
            } else {
                busy += span;
            }
            *selfs.entry(name.clone()).or_default() += span;
            stack.push((start + span, name.clone()));
        }
        if busy < 0.02 * window {
            continue;
        }
        let mut names: Vec<_> = selfs.into_iter().filter(|(_, t)| *t > 0.0).collect();
        names.sort_by(|a, b| b.1.total_cmp(&a.1));
        let label = format!(
            "{}/{}",
            process_names.get(&key.0).map_or("?", String::as_str),
            thread_names.get(&key).map_or("?", String::as_str)
        );
        let detail = names
            .iter()
            .take(top)
            .map(|(n, t)| format!("{n} {:.0} %", 100.0 * t / window))
            .collect::<Vec<_>>()
            .join(", ");
        rows.push((busy, label, detail));
    }
    rows.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut out = vec![format!(
        "      trace: {:.2} s window; per thread, busy % and self time by event",
        window / 1e6
    )];
    for (busy, label, detail) in rows {
        out.push(format!(
            "        {label:<44} busy {:4.0} %: {detail}",
            100.0 * busy / window
        ));
    }
    out.join("\n")
}

/// A V8 CPU profile (`Profiler.Profile`): self time by function, the
/// largest first, as shares of the profile's duration.
fn profile_report(profile: &Value, top: usize) -> String {
    let empty = Vec::new();
    let nodes = profile["nodes"].as_array().unwrap_or(&empty);
    let samples = profile["samples"].as_array().unwrap_or(&empty);
    let deltas = profile["timeDeltas"].as_array().unwrap_or(&empty);
    let name_of: HashMap<u64, String> = nodes
        .iter()
        .map(|n| {
            let frame = &n["callFrame"];
            let function = frame["functionName"].as_str().unwrap_or("");
            let url = frame["url"].as_str().unwrap_or("");
            let file = url.rsplit('/').next().unwrap_or(url);
            let name = match (function, file) {
                ("", "") => "(anonymous)".to_owned(),
                (f, "") => f.to_owned(),
                ("", file) => format!(
                    "(anonymous) {file}:{}",
                    frame["lineNumber"].as_i64().unwrap_or(0) + 1
                ),
                (f, file) => format!(
                    "{f} {file}:{}",
                    frame["lineNumber"].as_i64().unwrap_or(0) + 1
                ),
            };
            (n["id"].as_u64().unwrap_or(0), name)
        })
        .collect();
    let mut by: HashMap<&str, f64> = HashMap::new();
    let mut total = 0.0;
    // A sample's time is the delta to the next one.
    for (i, sample) in samples.iter().enumerate() {
        let dt = deltas.get(i + 1).and_then(Value::as_f64).unwrap_or(0.0);
        total += dt;
        let name = name_of
            .get(&sample.as_u64().unwrap_or(0))
            .map_or("?", String::as_str);
        *by.entry(name).or_default() += dt;
    }
    let mut rows: Vec<_> = by.into_iter().collect();
    rows.sort_by(|a, b| b.1.total_cmp(&a.1));
    let mut out = vec![format!(
        "      file worker, V8 sampling profile over {:.2} s: self time by function",
        total / 1e6
    )];
    for (name, t) in rows.into_iter().take(top) {
        out.push(format!(
            "        {:5.1} %  {name}",
            100.0 * t / total.max(1.0)
        ));
    }
    out.join("\n")
}

/// Free memory and page cache from `/proc/meminfo`, one line.
pub fn meminfo_line() -> String {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let gib = |key: &str| {
        text.lines()
            .find_map(|l| {
                l.strip_prefix(key)?
                    .trim()
                    .strip_suffix("kB")?
                    .trim()
                    .parse()
                    .ok()
            })
            .map_or(f64::NAN, |kib: f64| kib / (1024.0 * 1024.0))
    };
    format!(
        "{:.1} GiB free, {:.1} GiB page cache, of {:.1} GiB (a full cache slows every write, cp's too: `echo 3 > /proc/sys/vm/drop_caches` first)",
        gib("MemFree:"),
        gib("Cached:"),
        gib("MemTotal:")
    )
}
