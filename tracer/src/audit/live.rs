//! The live table on stderr while auditing: one row per target and syscall, with the action
//! that logged it, how often and when last. Only drawn on a terminal, and not with `--quiet`;
//! redrawn in place at most twice a second.

use std::{
    io::{IsTerminal as _, Write as _},
    time::{Duration, Instant, SystemTime},
};

/// One row: target, syscall, action(s), count, last time.
pub(crate) type Row = (String, String, String, u64, SystemTime);

pub(crate) struct LiveTable {
    enabled: bool,
    lines_drawn: usize,
    last_draw: Option<Instant>,
}

const REDRAW: Duration = Duration::from_millis(500);
/// Rows shown at most; the rest are summed up in one line.
const MAX_ROWS: usize = 20;

impl LiveTable {
    pub(crate) fn new(quiet: bool) -> Self {
        Self {
            enabled: !quiet && std::io::stderr().is_terminal(),
            lines_drawn: 0,
            last_draw: None,
        }
    }

    /// Redraws the table, unless it was drawn less than half a second ago.
    pub(crate) fn update(&mut self, rows: impl FnOnce() -> Vec<Row>) {
        if !self.enabled || self.last_draw.is_some_and(|t| t.elapsed() < REDRAW) {
            return;
        }
        self.last_draw = Some(Instant::now());
        let text = table(rows(), SystemTime::now());
        let mut err = std::io::stderr().lock();
        self.erase(&mut err);
        let _ = write!(err, "{text}");
        let _ = err.flush();
        self.lines_drawn = text.lines().count();
    }

    /// Removes the table before other output.
    pub(crate) fn finish(&mut self) {
        if self.enabled {
            let mut err = std::io::stderr().lock();
            self.erase(&mut err);
        }
    }

    fn erase(&mut self, err: &mut impl std::io::Write) {
        if self.lines_drawn > 0 {
            let _ = write!(err, "\x1b[{}A\r\x1b[J", self.lines_drawn);
            self.lines_drawn = 0;
        }
    }
}

/// The table's text, rows by most recent first, one line each, ending in a newline.
fn table(mut rows: Vec<Row>, now: SystemTime) -> String {
    rows.sort_by(|a, b| {
        b.4.cmp(&a.4)
            .then_with(|| a.0.cmp(&b.0))
            .then(a.1.cmp(&b.1))
    });
    let mut text = format!(
        "{:<14} {:<22} {:<22} {:>8} {:>10}\n",
        "CONTAINER", "SYSCALL", "ACTION", "COUNT", "LAST SEEN"
    );
    for (target, syscall, action, count, last) in rows.iter().take(MAX_ROWS) {
        let ago = now.duration_since(*last).unwrap_or_default().as_secs();
        let target: String = target.chars().take(14).collect();
        let action = action.replace("SCMP_ACT_", "");
        text.push_str(&format!(
            "{target:<14} {syscall:<22} {action:<22} {count:>8} {:>9}s\n",
            ago
        ));
    }
    if rows.len() > MAX_ROWS {
        text.push_str(&format!("… and {} more\n", rows.len() - MAX_ROWS));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_newest_first_and_capped() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(100);
        let mut rows: Vec<Row> = (0..25)
            .map(|i| {
                (
                    "3f1e0bd0a3c5a7e2".to_owned(),
                    format!("call{i}"),
                    "SCMP_ACT_LOG".to_owned(),
                    i,
                    SystemTime::UNIX_EPOCH + Duration::from_secs(i),
                )
            })
            .collect();
        rows.reverse();
        let text = table(rows, now);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("CONTAINER"), "{text}");
        assert!(lines[1].starts_with("3f1e0bd0a3c5a7 call24 "), "{text}");
        assert!(lines[1].contains(" LOG "), "{text}");
        assert!(lines[1].ends_with(" 76s"), "{text}");
        assert_eq!(lines.len(), 1 + MAX_ROWS + 1, "{text}");
        assert_eq!(lines[MAX_ROWS + 1], "… and 5 more");
    }
}
