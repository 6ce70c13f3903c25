//! Query parameters as Webex reads them: single values, comma-separated lists, integers in a
//! range. Every failure is a message for a 400 that names the parameter.

use axum::extract::Query;
use axum::http::Uri;

use crate::rng::{hash_str, mix};
use crate::timefmt::parse_ms;

#[derive(Debug)]
pub(crate) struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    pub(crate) fn from_uri(uri: &Uri) -> Result<Params, String> {
        Query::<Vec<(String, String)>>::try_from_uri(uri)
            .map(|Query(pairs)| Params { pairs })
            .map_err(|e| format!("The query string could not be parsed: {e}"))
    }

    /// The first value of `name`; an empty value counts as absent.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(key, value)| key == name && !value.is_empty())
            .map(|(_, value)| value.as_str())
    }

    pub(crate) fn has(&self, name: &str) -> bool {
        self.pairs.iter().any(|(key, _)| key == name)
    }

    pub(crate) fn required(&self, name: &str) -> Result<&str, String> {
        self.get(name)
            .ok_or_else(|| format!("Missing required query parameter '{name}'."))
    }

    pub(crate) fn time(&self, name: &str) -> Result<Option<i64>, String> {
        self.get(name)
            .map(|text| parse_ms(text).map_err(|e| format!("Invalid '{name}': {e}.")))
            .transpose()
    }

    pub(crate) fn required_time(&self, name: &str) -> Result<i64, String> {
        parse_ms(self.required(name)?).map_err(|e| format!("Invalid '{name}': {e}."))
    }

    /// An integer in `min..=max`, or `default` when absent.
    pub(crate) fn integer(
        &self,
        name: &str,
        default: u64,
        min: u64,
        max: u64,
    ) -> Result<u64, String> {
        let Some(text) = self.get(name) else {
            return Ok(default);
        };
        match text.parse::<u64>() {
            Ok(value) if (min..=max).contains(&value) => Ok(value),
            _ => Err(format!(
                "Invalid '{name}': '{text}'. It must be an integer between {min} and {max}."
            )),
        }
    }

    /// All values of a list parameter, given comma-separated and/or repeated.
    /// `None` when the parameter is absent.
    pub(crate) fn list(&self, name: &str) -> Option<Vec<String>> {
        self.has(name).then(|| {
            self.pairs
                .iter()
                .filter(|(key, _)| key == name)
                .flat_map(|(_, value)| value.split(','))
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .map(str::to_owned)
                .collect()
        })
    }

    /// Identifies the query without its paging parameters: the same query gives the same key
    /// on every page, whatever order the client wrote its parameters in.
    pub(crate) fn query_key(&self, seed: u64, paging: &[&str]) -> u64 {
        let mut pairs: Vec<&(String, String)> = self
            .pairs
            .iter()
            .filter(|(key, _)| !paging.contains(&key.as_str()))
            .collect();
        pairs.sort();
        let parts: Vec<u64> = std::iter::once(seed)
            .chain(
                pairs
                    .iter()
                    .map(|(key, value)| mix(&[hash_str(key), hash_str(value)])),
            )
            .collect();
        mix(&parts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(query: &str) -> Params {
        let uri: Uri = format!("/v1/events?{query}").parse().unwrap();
        Params::from_uri(&uri).unwrap()
    }

    #[test]
    fn single_values_and_required() {
        let p = params("orgId=o&from=&to=2026-01-01T00%3A00%3A00.000Z");
        assert_eq!(p.get("orgId"), Some("o"));
        assert_eq!(p.get("from"), None, "empty counts as absent");
        assert!(p.required("from").unwrap_err().contains("'from'"));
        assert_eq!(p.required_time("to"), Ok(1_767_225_600_000));
        assert!(p.time("orgId").unwrap_err().contains("'orgId'"));
        assert_eq!(p.time("nope"), Ok(None));
    }

    #[test]
    fn integers_are_range_checked() {
        let p = params("a=0&b=1&c=200&d=201&e=-1&f=1.5&g=x");
        assert_eq!(p.integer("missing", 100, 1, 200), Ok(100));
        assert_eq!(p.integer("b", 100, 1, 200), Ok(1));
        assert_eq!(p.integer("c", 100, 1, 200), Ok(200));
        for bad in ["a", "d", "e", "f", "g"] {
            let message = p.integer(bad, 100, 1, 200).unwrap_err();
            assert!(message.contains(&format!("'{bad}'")), "{message}");
        }
    }

    #[test]
    fn lists_split_on_commas_and_repeats() {
        let p = params("c=LOGINS,%20LOGOUT&c=EventCategory.USERS&e=");
        assert_eq!(
            p.list("c"),
            Some(vec![
                "LOGINS".into(),
                "LOGOUT".into(),
                "EventCategory.USERS".into()
            ])
        );
        assert_eq!(p.list("e"), Some(vec![]));
        assert_eq!(p.list("x"), None);
    }

    #[test]
    fn query_key_ignores_paging_and_parameter_order() {
        let key = |q: &str| params(q).query_key(1, &["offset", "max", "cursor"]);
        assert_eq!(key("a=1&b=2&max=5"), key("b=2&a=1&offset=10&max=7"));
        assert_ne!(key("a=1&b=2"), key("a=1&b=3"));
        assert_ne!(
            params("a=1").query_key(1, &[]),
            params("a=1").query_key(2, &[])
        );
    }
}
