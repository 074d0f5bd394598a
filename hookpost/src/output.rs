//! What the shell commands print: the API's answer as pretty JSON (the
//! default, the same on a terminal and in a pipe), as an aligned table, or one
//! field of it as plain text for `$(…)` in scripts.

use crate::cli::{Format, OutputArgs};
use crate::client::ClientError;
use serde_json::{Map, Value};

/// The columns a list's table shows, in this order, when its items have them;
/// the rest of an item is one `show` away.
const COLUMNS: &[&str] = &[
    "id",
    "name",
    "status",
    "state",
    "event_type",
    "category",
    "profile_id",
    "url",
    "description",
    "created_at",
];

/// The answer as `--print` or `--output` ask.
pub fn render(value: &Value, how: &OutputArgs) -> Result<String, ClientError> {
    if let Some(name) = &how.print {
        return field(value, name);
    }
    Ok(match (how.output, value) {
        // A text answer (`/metrics`) prints as it came.
        (_, Value::String(text)) => text.clone(),
        (Format::Json, _) => serde_json::to_string_pretty(value).unwrap_or_default(),
        (Format::Table, _) => table(value),
    })
}

/// One field of the answer as plain text (strings without quotes).
pub fn field(value: &Value, name: &str) -> Result<String, ClientError> {
    match value.get(name) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Ok(other.to_string()),
        None => Err(ClientError(format!("the answer has no field `{name}`"))),
    }
}

/// A list (`{"data": [...]}`) one row per item under a header; any other
/// object one row per field.
fn table(value: &Value) -> String {
    match (value.get("data").and_then(Value::as_array), value) {
        (Some(items), _) => list(items, value.get("next_cursor")),
        (None, Value::Array(items)) => list(items, None),
        (None, Value::Object(fields)) => {
            let rows = fields.iter().map(|(k, v)| vec![k.clone(), cell(v)]);
            aligned(rows.collect())
        }
        (None, other) => cell(other),
    }
}

/// Items under a header of the [`COLUMNS`] they have (all of the first
/// item's, when they have none of those), then the next page's cursor.
fn list(items: &[Value], next_cursor: Option<&Value>) -> String {
    let has = |name: &str| items.iter().any(|item| item.get(name).is_some());
    let mut columns: Vec<String> = COLUMNS
        .iter()
        .filter(|c| has(c))
        .map(|c| c.to_string())
        .collect();
    if columns.is_empty() {
        let first = items.first().and_then(Value::as_object);
        columns = first
            .map(Map::keys)
            .into_iter()
            .flatten()
            .cloned()
            .collect();
    }
    let header = columns.iter().map(|c| c.to_uppercase()).collect();
    let rows = items
        .iter()
        .map(|item| columns.iter().map(|c| cell(&item[c.as_str()])).collect());
    let mut text = aligned(std::iter::once(header).chain(rows).collect());
    if let Some(Value::String(cursor)) = next_cursor {
        text.push_str(&format!("\nnext_cursor: {cursor}"));
    }
    text
}

/// One value in a cell: text as is, nothing as `-`, a list of scalars
/// comma-separated, anything else as compact JSON.
fn cell(value: &Value) -> String {
    match value {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        Value::Array(items) if items.iter().all(|i| !i.is_object() && !i.is_array()) => {
            items.iter().map(cell).collect::<Vec<_>>().join(",")
        }
        other => other.to_string(),
    }
}

/// Rows with each column padded to its widest cell, two spaces apart.
fn aligned(rows: Vec<Vec<String>>) -> String {
    let mut widths: Vec<usize> = Vec::new();
    for row in &rows {
        for (i, cell) in row.iter().enumerate() {
            let width = cell.chars().count();
            match widths.get_mut(i) {
                Some(w) => *w = (*w).max(width),
                None => widths.push(width),
            }
        }
    }
    let line = |row: &Vec<String>| {
        let cells = row.iter().zip(&widths);
        let padded: Vec<String> = cells.map(|(c, w)| format!("{c:<w$}")).collect();
        padded.join("  ").trim_end().to_string()
    };
    rows.iter().map(line).collect::<Vec<_>>().join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn as_table() -> OutputArgs {
        OutputArgs {
            output: Format::Table,
            ..Default::default()
        }
    }

    #[test]
    fn one_field_prints_as_plain_text() {
        let v = json!({"api_key": "hp_x", "n": 3});
        assert_eq!(field(&v, "api_key").unwrap(), "hp_x");
        assert_eq!(field(&v, "n").unwrap(), "3");
        assert!(field(&v, "nope").is_err());
    }

    #[test]
    fn a_list_is_one_aligned_row_per_item() {
        let page = json!({"data": [
            {"id": "e1", "status": "delivered", "event_type": "fax.delivered", "payload": {}},
            {"id": "event-2", "status": "failed", "event_type": "x", "payload": {}},
        ], "next_cursor": null});
        assert_eq!(
            render(&page, &as_table()).unwrap(),
            "ID       STATUS     EVENT_TYPE\n\
             e1       delivered  fax.delivered\n\
             event-2  failed     x"
        );
    }

    #[test]
    fn an_object_is_one_row_per_field() {
        let egress = json!({"networks": ["203.0.113.0/28", "::1/128"], "note": null});
        assert_eq!(
            render(&egress, &as_table()).unwrap(),
            "networks  203.0.113.0/28,::1/128\nnote      -"
        );
    }

    #[test]
    fn text_prints_as_it_came() {
        let metrics = json!("hookpost_events_accepted_total 3\n");
        assert_eq!(
            render(&metrics, &OutputArgs::default()).unwrap(),
            "hookpost_events_accepted_total 3\n"
        );
    }
}
