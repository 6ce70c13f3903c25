//! Graph's `$filter` as the audit log endpoints take it on their time property: clauses
//! `<property> ge|le|eq <date-time>` joined by `and`. `createdDateTime` and
//! `activityDateTime` support only `eq`, `ge` and `le` (<https://learn.microsoft.com/en-us/graph/api/resources/signin>),
//! so `lt`, `gt`, `or`, other properties and quoted values are refused, and a collector must
//! drop the items at exactly its window's end itself.

use crate::apis::feeds::{Bound, Window};
use crate::apis::times::parse_ns;

/// The window a filter on `property` selects (both ends inclusive), or `Err` for anything
/// Graph would answer with 400 "Invalid filter clause".
pub(crate) fn parse(filter: &str, property: &str) -> Result<Window, ()> {
    let words: Vec<&str> = filter.split_whitespace().collect();
    if words.is_empty() {
        return Err(());
    }
    let mut window = Window::default();
    for (index, clause) in words.chunks(4).enumerate() {
        let (name, operator, value) = match clause {
            [name, operator, value] | [name, operator, value, _] => (*name, *operator, *value),
            _ => return Err(()),
        };
        if let [.., joiner] = clause
            && clause.len() == 4
            && !joiner.eq_ignore_ascii_case("and")
        {
            return Err(());
        }
        // A trailing `and` with nothing after it.
        if clause.len() == 4 && (index + 1) * 4 >= words.len() {
            return Err(());
        }
        if name != property {
            return Err(());
        }
        let ns = parse_ns(value).ok_or(())?;
        let bound = Some(Bound {
            ns,
            inclusive: true,
        });
        match operator.to_ascii_lowercase().as_str() {
            "ge" => window.from = tighter(window.from, bound, i64::max),
            "le" => window.to = tighter(window.to, bound, i64::min),
            "eq" => {
                window.from = tighter(window.from, bound, i64::max);
                window.to = tighter(window.to, bound, i64::min);
            }
            _ => return Err(()),
        }
    }
    Ok(window)
}

/// Two clauses on the same side: the narrower wins.
fn tighter(held: Option<Bound>, new: Option<Bound>, pick: fn(i64, i64) -> i64) -> Option<Bound> {
    match (held, new) {
        (Some(a), Some(b)) => Some(Bound {
            ns: pick(a.ns, b.ns),
            inclusive: true,
        }),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T1: &str = "2026-11-22T10:00:00Z";
    const T2: &str = "2026-11-22T11:00:00.1234567Z";

    fn ns(text: &str) -> i64 {
        parse_ns(text).unwrap()
    }

    #[test]
    fn accepts_ge_le_eq_joined_by_and() {
        let window = parse(
            &format!("createdDateTime ge {T1} and createdDateTime le {T2}"),
            "createdDateTime",
        )
        .unwrap();
        assert_eq!(window.from.map(|b| b.ns), Some(ns(T1)));
        assert_eq!(window.to.map(|b| b.ns), Some(ns(T2)));
        assert!(window.from.unwrap().inclusive && window.to.unwrap().inclusive);

        let only_start = parse(&format!("activityDateTime ge {T1}"), "activityDateTime").unwrap();
        assert_eq!(
            (only_start.from.map(|b| b.ns), only_start.to),
            (Some(ns(T1)), None)
        );

        let exact = parse(&format!("createdDateTime eq {T2}"), "createdDateTime").unwrap();
        assert_eq!(exact.from, exact.to);

        let narrowed = parse(
            &format!("createdDateTime ge {T1} AND createdDateTime ge {T2}"),
            "createdDateTime",
        )
        .unwrap();
        assert_eq!(narrowed.from.map(|b| b.ns), Some(ns(T2)));
    }

    #[test]
    fn refuses_everything_else() {
        let bad = [
            String::new(),
            format!("createdDateTime lt {T1}"),
            format!("createdDateTime gt {T1}"),
            format!("createdDateTime ge {T1} or createdDateTime le {T2}"),
            format!("createdDateTime ge {T1} and"),
            format!("createdDateTime ge {T1} and createdDateTime"),
            format!("activityDateTime ge {T1}"),
            format!("createdDateTime ge '{T1}'"),
            "createdDateTime ge yesterday".to_owned(),
            "userPrincipalName eq 'a@b.c'".to_owned(),
            format!("createdDateTime ge {T1} createdDateTime le {T2}"),
        ];
        for filter in bad {
            assert_eq!(parse(&filter, "createdDateTime"), Err(()), "{filter}");
        }
    }
}
