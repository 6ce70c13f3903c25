//! Plain aligned tables for people; scripts use `--json`.

use collector_core::Timestamp;

pub fn render(headers: &[&str], rows: impl Iterator<Item = Vec<String>>) -> String {
    let rows: Vec<Vec<String>> = rows.collect();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        padded.join("  ").trim_end().to_string()
    };
    let mut out = vec![line(headers.iter().map(|h| h.to_string()).collect())];
    out.extend(rows.into_iter().map(line));
    out.join("\n")
}

pub fn time(t: Option<Timestamp>) -> String {
    t.map_or("-".into(), |t| t.to_rfc3339())
}

pub fn duration(seconds: i64) -> String {
    match seconds {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

/// Org ids are long base64; the start is enough to tell them apart in a table.
pub fn short(id: &str) -> String {
    if id.chars().count() > 16 {
        format!("{}…", id.chars().take(15).collect::<String>())
    } else {
        id.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns_columns() {
        let text = render(
            &["A", "BB"],
            vec![vec!["xxx".to_string(), "y".to_string()]].into_iter(),
        );
        assert_eq!(text, "A    BB\nxxx  y");
    }

    #[test]
    fn durations_read_at_a_glance() {
        for (s, expected) in [(5, "5s"), (600, "10m"), (10_800, "3h"), (259_200, "3d")] {
            assert_eq!(duration(s), expected);
        }
    }
}
