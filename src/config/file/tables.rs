//! The file's `[[listen]]` tables: each becomes a `--listen=KIND=ADDRESS`, checked here so a
//! bad kind or address names its own line (the first reading of the file keeps only the spans of
//! top-level keys).

use std::collections::BTreeMap;
use std::path::Path;

use super::{line_of, LoadError};

/// Whether a value was written as `[[key]]` tables.
pub(super) fn is_array_of_tables(value: &toml::Value) -> bool {
    match value {
        toml::Value::Array(items) => !items.is_empty() && items.iter().all(toml::Value::is_table),
        _ => false,
    }
}

/// A `[[listen]]` table's keys, with their spans for errors that name the line.
type SpannedTable = BTreeMap<toml::Spanned<String>, toml::Spanned<toml::Value>>;

/// The file's `[[listen]]` tables, read again with their spans (the first reading keeps only
/// the top-level keys').
#[derive(serde::Deserialize)]
struct ListenTables {
    #[serde(default)]
    listen: Vec<toml::Spanned<SpannedTable>>,
}

/// Each `[[listen]]` table (`kind = "metrics"`, `address = "127.0.0.1:9100"`) as a
/// `--listen=KIND=ADDRESS`, its kind and address checked here so a mistake names its line.
pub(super) fn listen_flags(path: &Path, text: &str) -> Result<Vec<String>, LoadError> {
    let at = |offset: usize| line_of(text, offset);
    let fail = |line: usize, what: String| {
        LoadError::File(format!("{}:{line}: listen: {what}", path.display()))
    };
    let tables: ListenTables =
        toml::from_str(text).map_err(|e| LoadError::File(format!("{}: {e}", path.display())))?;
    let mut flags = Vec::new();
    for table in tables.listen {
        let mut kind = None;
        let mut address = None;
        for (key, value) in table.get_ref() {
            let line = at(value.span().start);
            let slot = match key.get_ref().as_str() {
                "kind" => &mut kind,
                "address" => &mut address,
                other => {
                    let line = at(key.span().start);
                    return Err(fail(
                        line,
                        format!("unknown key `{other}` (a [[listen]] has kind and address)"),
                    ));
                }
            };
            let Some(text) = value.get_ref().as_str() else {
                return Err(fail(line, format!("{}: expected a string", key.get_ref())));
            };
            *slot = Some((text.to_string(), line));
        }
        // A missing key is named at the table's `[[listen]]` line.
        let table_line = at(table.span().start);
        let (kind, kind_line) =
            kind.ok_or_else(|| fail(table_line, "a [[listen]] without kind".into()))?;
        let (address, address_line) =
            address.ok_or_else(|| fail(table_line, "a [[listen]] without address".into()))?;
        kind.parse::<crate::config::ListenKind>()
            .map_err(|e| fail(kind_line, format!("kind: {e}")))?;
        address
            .parse::<crate::config::ListenAddr>()
            .map_err(|e| fail(address_line, format!("address: {e}")))?;
        flags.push(format!("--listen={kind}={address}"));
    }
    Ok(flags)
}
