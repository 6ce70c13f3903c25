//! Plain aligned tables for people; scripts use `--json`.

use std::borrow::Cow;
use std::fmt::Write as _;

use collector_core::Timestamp;

/// Every cell is escaped: cells carry text from upstream (Webex error messages, org ids), and
/// a terminal obeys the control characters in what it is given (colours, cursor moves, a
/// rewritten title, a cleared screen).
pub fn render(headers: &[&str], rows: impl Iterator<Item = Vec<String>>) -> String {
    let rows: Vec<Vec<String>> = rows
        .map(|row| row.iter().map(|cell| escape(cell).into_owned()).collect())
        .collect();
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

/// `text` safe to print to a terminal: control characters (C0, DEL, C1) and the bidirectional
/// overrides that can make a line read differently from what it holds become visible escapes
/// (`\e`, `\n`, `\x07`, `\u{9b}`, `\u{202e}`); everything else is kept as it is.
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{1b}' => out.push_str("\\e"),
            c if needs_escape(c) && (c as u32) < 0x80 => {
                // Writing to a String cannot fail.
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if needs_escape(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

fn needs_escape(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
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

/// Org ids are long base64 of `ciscospark://us/ORGANIZATION/<id>`: every one starts alike, so
/// the end is what tells them apart in a table (`--json` has them whole).
pub fn short(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    if chars.len() > 16 {
        format!("…{}", chars[chars.len() - 15..].iter().collect::<String>())
    } else {
        id.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn org_ids_are_told_apart_by_their_end() {
        let a = short("Y2lzY29zcGFyazovL3VzL09SR0FOSVpBVElPTi9zaW0tY3VzdG9tZXItMDAx");
        let b = short("Y2lzY29zcGFyazovL3VzL09SR0FOSVpBVElPTi9zaW0tY3VzdG9tZXItMDAy");
        assert_ne!(a, b);
        assert_eq!(a, "…3VzdG9tZXItMDAx");
        assert_eq!(short("ORG1"), "ORG1");
    }

    #[test]
    fn aligns_columns() {
        let text = render(
            &["A", "BB"],
            vec![vec!["xxx".to_string(), "y".to_string()]].into_iter(),
        );
        assert_eq!(text, "A    BB\nxxx  y");
    }

    #[test]
    fn control_characters_reach_the_terminal_only_as_visible_escapes() {
        let cases = [
            ("plain text, unchanged", "plain text, unchanged"),
            ("\u{1b}[2J\u{1b}]0;pwned\u{7}", "\\e[2J\\e]0;pwned\\x07"),
            ("a\r\nb\tc", "a\\r\\nb\\tc"),
            ("nul\0del\u{7f}", "nul\\x00del\\x7f"),
            ("c1 csi \u{9b}31m", "c1 csi \\u{9b}31m"),
            ("bidi \u{202e}txt.exe", "bidi \\u{202e}txt.exe"),
            ("ünïcödé …", "ünïcödé …"),
        ];
        for (text, expected) in cases {
            assert_eq!(escape(text), expected, "{text:?}");
        }
    }

    #[test]
    fn a_cell_with_control_characters_is_escaped_and_aligned_by_what_is_shown() {
        let text = render(
            &["A", "B"],
            vec![vec!["\u{1b}[31mred".to_string(), "x".to_string()]].into_iter(),
        );
        assert_eq!(text, "A          B\n\\e[31mred  x");
        assert!(!text.contains('\u{1b}'));
    }

    #[test]
    fn durations_read_at_a_glance() {
        for (s, expected) in [(5, "5s"), (600, "10m"), (10_800, "3h"), (259_200, "3d")] {
            assert_eq!(duration(s), expected);
        }
    }
}
