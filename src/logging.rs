//! The activity log: one line per event on stderr, and the same lines in `--log-file`.
//!
//! A line is the event's time (RFC 3339, local time with its offset), its level, a short fixed
//! message and the event's fields, as `key=value` pairs (logfmt, as Go's `slog` and Heroku write
//! it) or as one JSON object per line (`--log-format json`, for log shippers). Fields come from
//! the `log` crate's key-values (`info!(nick:% = nick; "logged in")`), so each call site names its
//! fields once and both formats show them.
//!
//! The file can be reopened (`reopen`, on SIGHUP), so logrotate can move it away and the server
//! writes a new one; the level is the `log` crate's global maximum and the format a global too,
//! so a reload changes both. Each line is written with one `write` call, so the storage thread's
//! lines never interleave with the reactor's.

use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use log::kv::{self, VisitSource, VisitValue};
use log::{LevelFilter, Log, Metadata, Record};

use crate::config::LogFormat;

/// The log file, if any: every line goes here too.
static LOG_FILE: Mutex<Option<File>> = Mutex::new(None);
/// `--log-format json`.
static JSON: AtomicBool = AtomicBool::new(false);

fn open(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

fn set_format(format: LogFormat) {
    JSON.store(format == LogFormat::Json, Ordering::Relaxed);
}

/// Opens the log file anew (or another one, or none) and takes the level and format: what a
/// reload does, so a rotated log is written again under its name. On an error the old file
/// stays in use (the level and format still change).
pub fn reopen(file: Option<&Path>, level: LevelFilter, format: LogFormat) -> std::io::Result<()> {
    log::set_max_level(level);
    set_format(format);
    let file = file.map(open).transpose()?;
    *LOG_FILE.lock().unwrap_or_else(|e| e.into_inner()) = file;
    Ok(())
}

/// Installs the global logger. Called once, before the reactor starts.
pub fn init(level: LevelFilter, file: Option<&Path>, format: LogFormat) -> std::io::Result<()> {
    *LOG_FILE.lock().unwrap_or_else(|e| e.into_inner()) = file.map(open).transpose()?;
    set_format(format);
    log::set_logger(&Logger).map_err(std::io::Error::other)?;
    log::set_max_level(level);
    Ok(())
}

/// Logs `msg` at info level with fields whose names are known only at run time (counters by
/// name: the shutdown statistics), where `info!` wants names written in the source.
pub fn info_fields(msg: &str, fields: &[(String, u64)]) {
    struct Pairs<'a>(&'a [(String, u64)]);
    impl kv::Source for Pairs<'_> {
        fn visit<'kvs>(&'kvs self, visitor: &mut dyn VisitSource<'kvs>) -> Result<(), kv::Error> {
            for (key, value) in self.0 {
                visitor.visit_pair(kv::Key::from_str(key), kv::Value::from(*value))?;
            }
            Ok(())
        }
    }
    if log::Level::Info <= log::max_level() {
        log::logger().log(
            &Record::builder()
                .level(log::Level::Info)
                .args(format_args!("{msg}"))
                .key_values(&Pairs(fields))
                .build(),
        );
    }
}

struct Logger;

impl Log for Logger {
    fn enabled(&self, metadata: &Metadata) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let time = chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, false);
        let line = if JSON.load(Ordering::Relaxed) {
            json_line(&time, record)
        } else {
            text_line(&time, record)
        };
        // A log line that cannot be written has nowhere else to go.
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
        if let Some(file) = LOG_FILE.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
            let _ = file.write_all(line.as_bytes());
        }
    }

    fn flush(&self) {
        let _ = std::io::stderr().flush();
        if let Some(file) = LOG_FILE.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
            let _ = file.flush();
        }
    }
}

/// `time=… level=INFO msg="logged in" nick=alice ip=203.0.113.7`, newline included.
fn text_line(time: &str, record: &Record) -> String {
    let mut line = format!("time={time} level={} msg=", record.level());
    push_logfmt_value(&mut line, &record.args().to_string());
    let mut fields = TextFields(&mut line);
    let _ = record.key_values().visit(&mut fields);
    line.push('\n');
    line
}

struct TextFields<'a>(&'a mut String);

impl<'kvs> VisitSource<'kvs> for TextFields<'_> {
    fn visit_pair(&mut self, key: kv::Key<'kvs>, value: kv::Value<'kvs>) -> Result<(), kv::Error> {
        let _ = write!(self.0, " {key}=");
        push_logfmt_value(self.0, &value.to_string());
        Ok(())
    }
}

/// A logfmt value: bare when it is a plain word, else quoted with Rust's string escapes (`\"`,
/// `\\`, `\n`, `\u{…}` for control characters), so a value can never start a field of its own
/// or a line. Printable text (Hangul included) stays as it is.
fn push_logfmt_value(line: &mut String, value: &str) {
    let bare = !value.is_empty()
        && !value
            .chars()
            .any(|c| c == '"' || c == '=' || c == '\\' || c.is_whitespace() || c.is_control());
    if bare {
        line.push_str(value);
    } else {
        let _ = write!(line, "{value:?}");
    }
}

/// `{"time":"…","level":"INFO","msg":"logged in","nick":"alice"}`, newline included, keys in
/// that order (a person reads the line too); numbers and booleans among the fields stay numbers
/// and booleans. serde_json writes every key and value, so escaping is its business.
fn json_line(time: &str, record: &Record) -> String {
    let mut line = String::with_capacity(128);
    let mut push = |key: &str, value: &serde_json::Value| {
        line.push(if line.is_empty() { '{' } else { ',' });
        line.push_str(&serde_json::Value::from(key).to_string());
        line.push(':');
        line.push_str(&value.to_string());
    };
    push("time", &time.into());
    push("level", &record.level().as_str().into());
    push("msg", &record.args().to_string().into());
    let _ = record.key_values().visit(&mut JsonFields(&mut push));
    line.push_str("}\n");
    line
}

struct JsonFields<'a, F: FnMut(&str, &serde_json::Value)>(&'a mut F);

impl<'kvs, F: FnMut(&str, &serde_json::Value)> VisitSource<'kvs> for JsonFields<'_, F> {
    fn visit_pair(&mut self, key: kv::Key<'kvs>, value: kv::Value<'kvs>) -> Result<(), kv::Error> {
        let mut json = JsonValue(serde_json::Value::Null);
        value.visit(&mut json)?;
        // A field may not take the place of the line's own time, level or message.
        match key.as_str() {
            key @ ("time" | "level" | "msg") => (self.0)(&format!("field.{key}"), &json.0),
            key => (self.0)(key, &json.0),
        }
        Ok(())
    }
}

struct JsonValue(serde_json::Value);

impl<'v> VisitValue<'v> for JsonValue {
    fn visit_any(&mut self, value: kv::Value) -> Result<(), kv::Error> {
        self.0 = value.to_string().into();
        Ok(())
    }
    fn visit_u64(&mut self, value: u64) -> Result<(), kv::Error> {
        self.0 = value.into();
        Ok(())
    }
    fn visit_i64(&mut self, value: i64) -> Result<(), kv::Error> {
        self.0 = value.into();
        Ok(())
    }
    fn visit_f64(&mut self, value: f64) -> Result<(), kv::Error> {
        self.0 = value.into();
        Ok(())
    }
    fn visit_bool(&mut self, value: bool) -> Result<(), kv::Error> {
        self.0 = value.into();
        Ok(())
    }
    fn visit_str(&mut self, value: &str) -> Result<(), kv::Error> {
        self.0 = value.into();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use log::{Level, Record};

    use super::{json_line, text_line};

    const TIME: &str = "2026-12-03T13:51:08.217+09:00";

    /// A record as `info!(nick = "앨리스", ip:% = …, count = 3; "logged in")` makes it.
    fn with_record<R>(msg: &str, pairs: &[(&str, log::kv::Value)], f: impl Fn(&Record) -> R) -> R {
        let pairs: Vec<(&str, log::kv::Value)> = pairs.to_vec();
        f(&Record::builder()
            .level(Level::Info)
            .args(format_args!("{msg}"))
            .key_values(&pairs)
            .build())
    }

    #[test]
    fn a_text_line_is_logfmt_with_quoting_only_where_a_value_needs_it() {
        let line = with_record(
            "logged in",
            &[
                ("nick", "앨리스".into()),
                ("reason", "said \"bye\"\nand=left".into()),
                ("count", 3u64.into()),
                ("empty", "".into()),
            ],
            |r| text_line(TIME, r),
        );
        assert_eq!(
            line,
            "time=2026-12-03T13:51:08.217+09:00 level=INFO msg=\"logged in\" nick=앨리스 \
             reason=\"said \\\"bye\\\"\\nand=left\" count=3 empty=\"\"\n"
        );
    }

    #[test]
    fn a_json_line_is_one_object_with_typed_fields() {
        let line = with_record(
            "stopped",
            &[
                ("connections", 12u64.into()),
                ("msg", "shadowed".into()),
                ("ok", true.into()),
            ],
            |r| json_line(TIME, r),
        );
        assert!(line.ends_with('\n') && line.matches('\n').count() == 1);
        assert!(line.starts_with(
            r#"{"time":"2026-12-03T13:51:08.217+09:00","level":"INFO","msg":"stopped","#
        ));
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["time"], TIME);
        assert_eq!(value["level"], "INFO");
        assert_eq!(value["msg"], "stopped");
        assert_eq!(value["connections"], 12);
        assert_eq!(value["ok"], true);
        assert_eq!(value["field.msg"], "shadowed");
    }
}
