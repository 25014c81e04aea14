//! Log streaming for `/v1/agent/monitor`: a tracing layer that captures each event once (time,
//! level, module, message, fields) and hands it to the agent's current watchers, each of which
//! renders it as a text line or, with `?logjson`, as hclog's JSON. It is enabled only for the levels some watcher
//! asked for, so a watcher may see debug lines while the agent logs at info, and no watcher
//! costs nothing.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::filter::DynFilterFn;
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

/// How many lines a slow watcher may fall behind before it skips some.
const BACKLOG: usize = 1024;

/// One log event, captured once for every watcher.
#[derive(Clone, Debug)]
pub struct LogLine {
    pub level: Level,
    /// RFC 3339, UTC.
    pub timestamp: String,
    /// The module that logged it (the tracing target).
    pub module: &'static str,
    pub message: String,
    /// The event's other fields, in the order they were logged.
    pub fields: Vec<(&'static str, String)>,
}

impl LogLine {
    /// `<time> [LEVEL] <module>: <message> key=value ...`
    pub fn text(&self) -> String {
        let mut line = format!(
            "{} [{}] {}: {}",
            self.timestamp, self.level, self.module, self.message
        );
        for (key, value) in &self.fields {
            let _ = write!(line, " {key}={value}");
        }
        line
    }

    /// One JSON object as hclog writes it: `@timestamp`, `@level` (lower case), `@module`,
    /// `@message`, then the fields.
    pub fn json(&self) -> String {
        let mut object = serde_json::Map::new();
        object.insert("@timestamp".into(), self.timestamp.clone().into());
        object.insert(
            "@level".into(),
            self.level.as_str().to_ascii_lowercase().into(),
        );
        object.insert("@module".into(), self.module.into());
        object.insert("@message".into(), self.message.clone().into());
        for (key, value) in &self.fields {
            object.insert((*key).to_string(), value.clone().into());
        }
        serde_json::Value::Object(object).to_string()
    }
}

/// The agent's log watchers.
pub struct LogMonitor {
    lines: broadcast::Sender<LogLine>,
    /// How many watchers want each level, indexed by [`rank`] (error 0 … trace 4).
    wanted: [AtomicUsize; 5],
    /// Serializes changes to `wanted`.
    changing: Mutex<()>,
}

/// A watcher's subscription; dropping it stops the lines it asked for.
pub struct Watch {
    monitor: Arc<LogMonitor>,
    level: Level,
    pub lines: broadcast::Receiver<LogLine>,
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _guard = self.monitor.lock();
        self.monitor.wanted[rank(self.level)].fetch_sub(1, Ordering::Release);
    }
}

/// Parses a monitor log level as Consul names them (`err` and `warn` included).
pub fn parse_level(text: &str) -> Option<Level> {
    match text.to_ascii_lowercase().as_str() {
        "trace" => Some(Level::TRACE),
        "debug" => Some(Level::DEBUG),
        "info" => Some(Level::INFO),
        "warn" | "warning" => Some(Level::WARN),
        "err" | "error" => Some(Level::ERROR),
        _ => None,
    }
}

/// Error 0, warn 1, info 2, debug 3, trace 4.
fn rank(level: Level) -> usize {
    match level {
        Level::ERROR => 0,
        Level::WARN => 1,
        Level::INFO => 2,
        Level::DEBUG => 3,
        Level::TRACE => 4,
    }
}

impl LogMonitor {
    pub fn new() -> Arc<Self> {
        Arc::new(LogMonitor {
            lines: broadcast::channel(BACKLOG).0,
            wanted: Default::default(),
            changing: Mutex::new(()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ()> {
        self.changing.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts watching lines at `level` and above.
    pub fn watch(self: &Arc<Self>, level: Level) -> Watch {
        let _guard = self.lock();
        self.wanted[rank(level)].fetch_add(1, Ordering::Release);
        Watch {
            monitor: self.clone(),
            level,
            lines: self.lines.subscribe(),
        }
    }

    /// Whether some watcher wants events of `level`.
    fn is_wanted(&self, level: &Level) -> bool {
        self.wanted[rank(*level)..]
            .iter()
            .any(|count| count.load(Ordering::Acquire) > 0)
    }

    /// The tracing layer feeding the watchers.
    pub fn layer<S>(self: &Arc<Self>) -> impl Layer<S>
    where
        S: Subscriber + for<'span> LookupSpan<'span>,
    {
        let filter = self.clone();
        LineLayer {
            monitor: self.clone(),
        }
        .with_filter(DynFilterFn::new(move |metadata: &Metadata<'_>, _| {
            filter.is_wanted(metadata.level())
        }))
    }
}

struct LineLayer {
    monitor: Arc<LogMonitor>,
}

impl<S: Subscriber> Layer<S> for LineLayer {
    fn on_event(&self, event: &Event<'_>, _context: Context<'_, S>) {
        let metadata = event.metadata();
        let mut fields = Fields::default();
        event.record(&mut fields);
        let _no_watchers_is_fine = self.monitor.lines.send(LogLine {
            level: *metadata.level(),
            timestamp: senate_types::time::rfc3339(std::time::SystemTime::now()),
            module: metadata.target(),
            message: fields.message,
            fields: fields.rest,
        });
    }
}

/// An event's message and its other fields.
#[derive(Default)]
struct Fields {
    message: String,
    rest: Vec<(&'static str, String)>,
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            self.rest.push((field.name(), format!("{value:?}")));
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            self.rest.push((field.name(), value.to_string()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::layer::SubscriberExt;

    #[test]
    fn a_watcher_gets_its_level_and_above_and_nothing_is_formatted_without_one() {
        let monitor = LogMonitor::new();
        let subscriber = tracing_subscriber::registry().with(monitor.layer());
        tracing::subscriber::with_default(subscriber, || {
            assert!(!monitor.is_wanted(&Level::ERROR), "no watcher, no lines");
            let mut watch = monitor.watch(Level::INFO);
            tracing::debug!("too verbose");
            tracing::info!(peer = "s2", "joined");
            tracing::error!("broken");
            let first = watch.lines.try_recv().expect("the info line");
            assert_eq!(first.level, Level::INFO);
            let text = first.text();
            assert!(text.contains("[INFO]"), "{text}");
            assert!(text.ends_with("joined peer=s2"), "{text}");
            let json: serde_json::Value = serde_json::from_str(&first.json()).expect("JSON");
            assert_eq!(json["@level"], "info");
            assert_eq!(json["@message"], "joined");
            assert_eq!(json["peer"], "s2");
            assert!(json["@timestamp"]
                .as_str()
                .is_some_and(|t| t.ends_with('Z')));
            assert_eq!(
                watch.lines.try_recv().map(|l| l.level).ok(),
                Some(Level::ERROR)
            );
            assert!(
                watch.lines.try_recv().is_err(),
                "the debug line was not sent"
            );
            drop(watch);
            assert!(!monitor.is_wanted(&Level::ERROR));
        });
    }

    #[test]
    fn levels_parse_as_consul_names_them() {
        assert_eq!(parse_level("err"), Some(Level::ERROR));
        assert_eq!(parse_level("WARN"), Some(Level::WARN));
        assert_eq!(parse_level("trace"), Some(Level::TRACE));
        assert_eq!(parse_level("loud"), None);
    }
}
