//! What the commands print: aligned tables, sparklines, JSON, and highlighting on a terminal.

use std::io::{IsTerminal, Write};

use serde_json::Value;

/// Where a command writes, and whether highlighting is wanted.
pub(crate) struct Out {
    json: bool,
    color: bool,
}

impl Out {
    /// JSON when `json`; highlighting only on a terminal and without `NO_COLOR`.
    pub(crate) fn new(json: bool) -> Self {
        let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        Self { json, color }
    }

    /// Whether the command should print JSON.
    pub(crate) fn json(&self) -> bool {
        self.json
    }

    /// With `--json` the API's answer; otherwise what `summary` prints of it.
    pub(crate) fn answer(&self, answer: &Value, summary: impl FnOnce(&Self)) {
        if self.json {
            self.print_json(answer);
        } else {
            summary(self);
        }
    }

    /// Pretty JSON on stdout.
    pub(crate) fn print_json(&self, value: &Value) {
        self.line(&serde_json::to_string_pretty(value).expect("JSON serializes"));
    }

    /// One line on stdout. A closed pipe (`| head`) ends the output quietly.
    pub(crate) fn line(&self, text: &str) {
        let mut stdout = std::io::stdout().lock();
        if writeln!(stdout, "{text}").is_err() {
            std::process::exit(0);
        }
    }

    /// A table on stdout; rows marked `highlight` stand out on a terminal.
    pub(crate) fn table(&self, table: &Table) {
        for line in table.render(self.color) {
            self.line(&line);
        }
    }
}

/// Rows under a header, printed with aligned columns.
#[derive(Debug, Default)]
pub(crate) struct Table {
    header: Vec<String>,
    rows: Vec<(Vec<String>, bool)>,
}

impl Table {
    /// A table with these column names.
    pub(crate) fn new(header: &[&str]) -> Self {
        Self {
            header: header.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    /// A row; `highlight` marks it (overdue, failed).
    pub(crate) fn row(&mut self, cells: Vec<String>, highlight: bool) {
        self.rows.push((cells, highlight));
    }

    /// Whether no row was added.
    pub(crate) fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The lines, columns padded to their widest cell (in characters, not bytes).
    pub(crate) fn render(&self, color: bool) -> Vec<String> {
        let columns = self.header.len();
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for (cells, _) in &self.rows {
            for (i, cell) in cells.iter().enumerate().take(columns) {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
        let format = |cells: &[String]| {
            let mut line = String::new();
            for (i, width) in widths.iter().enumerate() {
                let cell = cells.get(i).map_or("", String::as_str);
                if i + 1 == columns {
                    line.push_str(cell);
                } else {
                    line.push_str(cell);
                    line.push_str(&" ".repeat(width - cell.chars().count() + 2));
                }
            }
            line.trim_end().to_owned()
        };
        let mut lines = vec![format(&self.header)];
        for (cells, highlight) in &self.rows {
            let line = format(cells);
            lines.push(if *highlight && color {
                format!("\x1b[1;31m{line}\x1b[0m")
            } else {
                line
            });
        }
        lines
    }
}

/// Daily counts as a row of block characters, scaled to the largest; a zero day is `·`, so a
/// credential that has gone quiet reads as a trail of dots.
pub(crate) fn sparkline(counts: &[u64]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let max = counts.iter().copied().max().unwrap_or(0);
    counts
        .iter()
        .map(|&count| {
            if count == 0 {
                '·'
            } else {
                // Any use shows at least the lowest bar; the largest day is the full one.
                let step = (count * BARS.len() as u64).div_ceil(max) - 1;
                BARS[(step as usize).min(BARS.len() - 1)]
            }
        })
        .collect()
}

/// A JSON string field, or `-`.
pub(crate) fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "-".to_owned(),
        other => other.to_string(),
    }
}

/// An RFC 3339 timestamp cut to the minute (`2026-12-03 10:04`), or `-`.
pub(crate) fn when(value: &Value) -> String {
    match value.as_str() {
        Some(s) if s.len() >= 16 => s[..16].replacen('T', " ", 1),
        Some(s) => s.to_owned(),
        None => "-".to_owned(),
    }
}

/// A warning on stderr.
pub(crate) fn warn(text: &str) {
    eprintln!("agentctl: warning: {text}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_sparkline_scales_to_the_busiest_day_and_shows_quiet_days_as_dots() {
        assert_eq!(sparkline(&[0, 1, 4, 8, 0]), "·▁▄█·");
        assert_eq!(sparkline(&[5, 5]), "██");
        assert_eq!(sparkline(&[1, 1000]), "▁█");
        assert_eq!(sparkline(&[0; 14]).chars().count(), 14);
        assert_eq!(sparkline(&[]), "");
    }

    #[test]
    fn columns_align_on_characters_and_highlighting_is_only_for_terminals() {
        let mut table = Table::new(&["ID", "USAGE", "STATE"]);
        table.row(vec!["sa-a".into(), "·▁█".into(), "revoked".into()], false);
        table.row(
            vec!["sa-long".into(), "█".into(), "dual_writing".into()],
            true,
        );
        let plain = table.render(false);
        assert_eq!(
            plain,
            [
                "ID       USAGE  STATE",
                "sa-a     ·▁█    revoked",
                "sa-long  █      dual_writing",
            ]
        );
        let colored = table.render(true);
        assert!(colored[2].starts_with("\x1b[1;31m") && !colored[1].contains('\x1b'));
    }

    #[test]
    fn fields_print_as_text_or_a_dash() {
        assert_eq!(text(&json!("x")), "x");
        assert_eq!(text(&Value::Null), "-");
        assert_eq!(text(&json!(3)), "3");
        assert_eq!(when(&json!("2026-12-03T10:04:05.123Z")), "2026-12-03 10:04");
        assert_eq!(when(&Value::Null), "-");
    }
}
