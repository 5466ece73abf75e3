//! Looking at a page the way a person does: at a desktop and a phone
//! width, a screenshot of each saved under `target/screenshots/`, layout
//! facts checked in the page (nothing wider than the viewport, dialogs
//! inside it), and axe-core's accessibility rules run on it.
//!
//! axe-core comes from npm (`cargo xtask test` installs it into
//! `target/tools`; `NOCTURNE_AXE` can name another `axe.min.js`). Without it
//! these tests fail rather than skip.

use std::path::PathBuf;

use fantoccini::Client;
use serde_json::Value;

/// The widths every page is looked at: a laptop and a phone.
pub const VIEWPORTS: [(&str, u32, u32); 2] = [("desktop", 1280, 800), ("phone", 390, 844)];

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default()
}

/// Where screenshots go: `target/screenshots/`.
pub fn screenshot_dir() -> PathBuf {
    workspace().join("target").join("screenshots")
}

fn axe_source() -> String {
    let path = std::env::var_os("NOCTURNE_AXE").map_or_else(
        || workspace().join("target/tools/node_modules/axe-core/axe.min.js"),
        PathBuf::from,
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "axe-core not found at {} ({e}): run through `cargo xtask test`, which installs it",
            path.display()
        )
    })
}

/// A browser that looks at pages.
pub struct Looker {
    pub browser: Client,
    axe: String,
    /// Screenshots taken so far, for the test's report.
    pub shots: Vec<PathBuf>,
    /// The window's size minus the viewport's, measured once.
    chrome: Option<(i64, i64)>,
}

impl Looker {
    pub fn new(browser: Client) -> Looker {
        Looker {
            browser,
            axe: axe_source(),
            shots: Vec::new(),
            chrome: None,
        }
    }

    pub async fn script(&self, js: &str) -> Result<Value, String> {
        self.browser
            .execute(js, vec![])
            .await
            .map_err(|e| format!("script failed: {e}"))
    }

    /// Makes the viewport exactly `width` × `height` CSS pixels.
    ///
    /// The window's chrome (its size minus the viewport's) is measured on
    /// the first call; a resize that had not settled when it was measured
    /// shows up as a wrong viewport, and then it is measured again (at most
    /// three times in all).
    pub async fn viewport(&mut self, width: u32, height: u32) -> Result<(), String> {
        let mut got = Value::Null;
        for _ in 0..3 {
            let (dw, dh) = match self.chrome {
                Some(d) => d,
                None => {
                    self.browser
                        .set_window_size(width, height)
                        .await
                        .map_err(|e| format!("resize: {e}"))?;
                    let v = self
                        .script("return [window.innerWidth, window.innerHeight]")
                        .await?;
                    let d = (
                        i64::from(width) - v[0].as_i64().unwrap_or(0),
                        i64::from(height) - v[1].as_i64().unwrap_or(0),
                    );
                    self.chrome = Some(d);
                    d
                }
            };
            let outer = |v: u32, d: i64| u32::try_from(i64::from(v) + d).unwrap_or(v);
            self.browser
                .set_window_size(outer(width, dw), outer(height, dh))
                .await
                .map_err(|e| format!("resize: {e}"))?;
            got = self
                .script("return [window.innerWidth, window.innerHeight]")
                .await?;
            if got[0].as_u64() == Some(u64::from(width))
                && got[1].as_u64() == Some(u64::from(height))
            {
                return Ok(());
            }
            self.chrome = None;
        }
        Err(format!(
            "asked for a {width}×{height} viewport, got {}×{}",
            got[0], got[1]
        ))
    }

    /// Looks at the page as it is now, at each width: the page-wide layout
    /// checks, then `check` (a script returning `null` when the layout is
    /// right, else what is wrong), a screenshot `<name>-<width>.png`, and
    /// axe-core.
    pub async fn look(&mut self, name: &str, check: Option<&str>) -> Result<(), String> {
        for (label, width, height) in VIEWPORTS {
            self.viewport(width, height).await?;
            let at = format!("{name} at {label} width");
            // Layout settles within a frame of a resize; wait for two.
            self.browser
                .execute_async(
                    "const done = arguments[arguments.length - 1];
                     requestAnimationFrame(() => requestAnimationFrame(() => done(true)));",
                    vec![],
                )
                .await
                .map_err(|e| format!("{at}: {e}"))?;
            let wrong = self.script(PAGE_CHECKS).await?;
            if !wrong.is_null() {
                self.shoot(name, label).await?;
                return Err(format!("{at}: {wrong}"));
            }
            if let Some(check) = check {
                let wrong = self.script(check).await?;
                if !wrong.is_null() {
                    self.shoot(name, label).await?;
                    return Err(format!("{at}: {wrong}"));
                }
            }
            self.shoot(name, label).await?;
            self.axe(&at).await?;
        }
        Ok(())
    }

    async fn shoot(&mut self, name: &str, label: &str) -> Result<(), String> {
        let png = self
            .browser
            .screenshot()
            .await
            .map_err(|e| format!("screenshot: {e}"))?;
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let path = dir.join(format!("{name}-{label}.png"));
        std::fs::write(&path, png).map_err(|e| e.to_string())?;
        self.shots.push(path);
        Ok(())
    }

    /// Proves the accessibility check can fail: a button without a name,
    /// added to the page, must be reported, and is removed again.
    pub async fn axe_sees_a_nameless_button(&self) -> Result<(), String> {
        self.script(
            "const b = document.createElement('button'); b.id = 'axe-probe'; document.body.append(b);",
        )
        .await?;
        let seen = self.axe("the probe").await;
        self.script("document.getElementById('axe-probe').remove()")
            .await?;
        match seen {
            Err(e) if e.contains("button-name") => Ok(()),
            other => Err(format!(
                "axe-core did not report a nameless button: {other:?}"
            )),
        }
    }

    /// Runs axe-core's WCAG 2.1 A/AA rules and best practices on the page;
    /// any serious or critical violation is an error naming the rule and
    /// the elements.
    async fn axe(&self, at: &str) -> Result<(), String> {
        if self.script("return typeof window.axe").await? != "object" {
            self.browser
                .execute(&format!("{}\n;return true;", self.axe), vec![])
                .await
                .map_err(|e| format!("inject axe-core: {e}"))?;
        }
        let found = self
            .browser
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, {
                   runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] },
                   resultTypes: ['violations'],
                 }).then(r => done(r.violations
                     .filter(v => v.impact === 'serious' || v.impact === 'critical')
                     .map(v => v.id + ' (' + v.impact + '): ' + v.help + ' — ' +
                          v.nodes.slice(0, 4).map(n => n.target.join(' ')).join(', '))),
                   e => done(['axe failed: ' + e]));",
                vec![],
            )
            .await
            .map_err(|e| format!("{at}: axe: {e}"))?;
        match found.as_array() {
            Some(list) if list.is_empty() => Ok(()),
            _ => Err(format!("{at}: accessibility: {found}")),
        }
    }
}

/// Checks that hold on every page: nothing wider than the viewport, and
/// every open dialog inside it.
const PAGE_CHECKS: &str = r#"
const vw = document.documentElement.clientWidth;
if (document.documentElement.scrollWidth > vw + 1)
  return 'the page is ' + document.documentElement.scrollWidth + ' px wide in a ' + vw + ' px viewport';
const wide = [...document.querySelectorAll('body *')].find(e => {
  const r = e.getBoundingClientRect();
  if (r.width === 0 || r.height === 0) return false;
  // Inside something that clips or scrolls sideways is the container's business.
  for (let p = e.parentElement; p && p !== document.body; p = p.parentElement) {
    const o = getComputedStyle(p).overflowX;
    if (o === 'hidden' || o === 'auto' || o === 'scroll' || o === 'clip') return false;
  }
  return r.right > vw + 1 || r.left < -1;
});
if (wide) return 'sticks out of the viewport: <' + wide.tagName.toLowerCase() + ' class="' + wide.className + '"> ' + (wide.textContent || '').slice(0, 40);
for (const d of document.querySelectorAll('dialog[open]')) {
  const r = d.getBoundingClientRect();
  if (r.top < 0 || r.left < 0 || r.bottom > innerHeight + 1 || r.right > innerWidth + 1)
    return 'the open dialog is not inside the viewport: ' + JSON.stringify(r);
}
return null;
"#;
