//! The Glue tables of the template, and a check of one NDJSON line against a table's columns
//! the way the Hive JSON SerDe reads it: keys matched without case, a declared type per value,
//! `null` for anything absent; or, for a table of raw lines, the way the text SerDe reads it:
//! one string column, the whole line. Also the few calls of Glue's JSON API the tests make on
//! the local stack to set up and read back a catalogue (the code under test uses the SDK).

use std::collections::BTreeMap;

use serde_json::Value as Json;

use crate::template::Template;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HiveType {
    String,
    Boolean,
    Int,
    BigInt,
    Double,
    Array(Box<HiveType>),
    Struct(Vec<(String, HiveType)>),
    Map(Box<HiveType>),
}

#[derive(Debug)]
pub struct Table {
    pub name: String,
    pub columns: Vec<(String, HiveType)>,
    pub partition_keys: Vec<String>,
    pub serde: String,
    /// The SerDe's parameters (`serialization.format`, ...).
    pub serde_parameters: BTreeMap<String, String>,
    pub location: String,
    pub parameters: BTreeMap<String, String>,
}

impl Table {
    /// Every `AWS::Glue::Table` of the template, resolved with the default parameters.
    pub fn all(template: &Template) -> Vec<Table> {
        template
            .resources("AWS::Glue::Table")
            .into_iter()
            .map(|(id, resource)| {
                let input = template
                    .resolve(&resource["Properties"]["TableInput"])
                    .and_then(|v| v.ok_or_else(|| "empty TableInput".to_string()))
                    .unwrap_or_else(|e| panic!("{id}: {e}"));
                Table::from_input(&input).unwrap_or_else(|e| panic!("{id}: {e}"))
            })
            .collect()
    }

    /// Every table of the Glue `database` on the local stack.
    pub async fn all_in(endpoint: &str, database: &str) -> Result<Vec<Table>, String> {
        let listed = call(
            endpoint,
            "GetTables",
            serde_json::json!({ "DatabaseName": database }),
        )
        .await?;
        let list = listed["TableList"].as_array().ok_or("no TableList")?;
        list.iter()
            .map(|table| {
                let input = serde_yaml::to_value(table).map_err(|e| e.to_string())?;
                Table::from_input(&input)
            })
            .collect()
    }

    fn from_input(input: &serde_yaml::Value) -> Result<Table, String> {
        let text = |v: &serde_yaml::Value| v.as_str().map(str::to_string).ok_or("not a string");
        let storage = &input["StorageDescriptor"];
        let columns = storage["Columns"]
            .as_sequence()
            .ok_or("no Columns")?
            .iter()
            .map(|c| Ok((text(&c["Name"])?, parse(&text(&c["Type"])?)?)))
            .collect::<Result<_, String>>()?;
        let partition_keys = input["PartitionKeys"]
            .as_sequence()
            .ok_or("no PartitionKeys")?
            .iter()
            .map(|c| text(&c["Name"]).map_err(String::from))
            .collect::<Result<_, String>>()?;
        let parameters = input["Parameters"]
            .as_mapping()
            .ok_or("no Parameters")?
            .iter()
            .map(|(k, v)| Ok((text(k)?, text(v)?)))
            .collect::<Result<_, &str>>()?;
        let serde_parameters = storage["SerdeInfo"]["Parameters"]
            .as_mapping()
            .into_iter()
            .flatten()
            .map(|(k, v)| Ok((text(k)?, text(v)?)))
            .collect::<Result<_, &str>>()?;
        Ok(Table {
            name: text(&input["Name"])?,
            columns,
            partition_keys,
            serde: text(&storage["SerdeInfo"]["SerializationLibrary"])?,
            serde_parameters,
            location: text(&storage["Location"])?,
            parameters,
        })
    }

    /// What the table would get wrong reading `line`.
    pub fn check_line(&self, line: &[u8]) -> Vec<String> {
        let mut problems = Vec::new();
        match serde_json::from_slice::<Json>(line) {
            Ok(value) => check(
                &value,
                &HiveType::Struct(self.columns.clone()),
                "",
                &mut problems,
            ),
            Err(e) => problems.push(format!("not JSON: {e}")),
        }
        problems
    }

    /// What a table of one string column, read by the text SerDe (`LazySimpleSerDe`), would get
    /// wrong reading `line` as one row: a byte that ends the column (its field delimiter) or the
    /// row (Hadoop's line reader ends one at `\r` too), or text the JSON functions cannot read.
    pub fn check_raw_line(&self, line: &[u8]) -> Vec<String> {
        let mut problems = Vec::new();
        if self.columns != [("line".to_string(), HiveType::String)] {
            problems.push(format!("{}: not one column `line string`", self.name));
        }
        let ends = [
            (self.field_delimiter(), "the field delimiter"),
            (b'\r', "a line end"),
            (b'\n', "a line end"),
        ];
        for (byte, what) in ends {
            if line.contains(&byte) {
                problems.push(format!(
                    "holds {what} ({byte:#04x}): the row would end there"
                ));
            }
        }
        if let Err(e) = serde_json::from_slice::<Json>(line) {
            problems.push(format!("not JSON: {e}"));
        }
        problems
    }

    /// The text SerDe's field delimiter: `field.delim`, else `serialization.format`, else
    /// `\001`; a number is the byte of that value, other text its first character (Hive's
    /// `LazyUtils.getByte`).
    fn field_delimiter(&self) -> u8 {
        let parameter = self
            .serde_parameters
            .get("field.delim")
            .or_else(|| self.serde_parameters.get("serialization.format"));
        match parameter {
            Some(text) => text
                .parse::<u8>()
                .unwrap_or_else(|_| text.bytes().next().unwrap_or(1)),
            None => 1,
        }
    }
}

/// One call of Glue's JSON API (`AWSGlue.{operation}`) on the local stack at `endpoint`.
pub async fn call(endpoint: &str, operation: &str, body: Json) -> Result<Json, String> {
    let answer = reqwest::Client::new()
        .post(endpoint)
        .header("X-Amz-Target", format!("AWSGlue.{operation}"))
        .header("Content-Type", "application/x-amz-json-1.1")
        // The emulator routes by the credential scope's service and checks no signature.
        .header(
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/glue/aws4_request, \
             SignedHeaders=host, Signature=0",
        )
        .body(body.to_string())
        .send()
        .await
        .map_err(|e| format!("Glue {operation}: {e}"))?;
    let status = answer.status();
    let text = answer.text().await.map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!("Glue {operation}: {status} {text}"));
    }
    serde_json::from_str(&text).map_err(|e| format!("Glue {operation}: {e}: {text}"))
}

/// A Hive type name as Glue stores it: `string`, `array<string>`, `struct<a:string,b:int>`, ...
pub fn parse(text: &str) -> Result<HiveType, String> {
    let (ty, rest) = parse_prefix(text.trim())?;
    if !rest.trim().is_empty() {
        return Err(format!("trailing {rest:?} in {text}"));
    }
    Ok(ty)
}

fn parse_prefix(text: &str) -> Result<(HiveType, &str), String> {
    let word_end = text
        .find(|c: char| !c.is_ascii_alphanumeric())
        .unwrap_or(text.len());
    let (word, rest) = text.split_at(word_end);
    let simple = match word {
        "string" => Some(HiveType::String),
        "boolean" => Some(HiveType::Boolean),
        "int" => Some(HiveType::Int),
        "bigint" => Some(HiveType::BigInt),
        "double" => Some(HiveType::Double),
        _ => None,
    };
    if let Some(ty) = simple {
        return Ok((ty, rest));
    }
    let inner = rest
        .strip_prefix('<')
        .ok_or_else(|| format!("unknown type {word}"))?;
    match word {
        "array" => {
            let (element, rest) = parse_prefix(inner)?;
            Ok((HiveType::Array(Box::new(element)), close(rest)?))
        }
        "map" => {
            let (key, rest) = parse_prefix(inner)?;
            if key != HiveType::String {
                return Err("map keys must be strings".into());
            }
            let (value, rest) = parse_prefix(rest.strip_prefix(',').ok_or("map<k,v>")?)?;
            Ok((HiveType::Map(Box::new(value)), close(rest)?))
        }
        "struct" => {
            let mut fields = Vec::new();
            let mut rest = inner;
            loop {
                let (name, after) = rest.split_once(':').ok_or("struct field without a type")?;
                let (ty, after) = parse_prefix(after)?;
                fields.push((name.to_string(), ty));
                match after.strip_prefix(',') {
                    Some(next) => rest = next,
                    None => return Ok((HiveType::Struct(fields), close(after)?)),
                }
            }
        }
        other => Err(format!("unknown type {other}")),
    }
}

fn close(rest: &str) -> Result<&str, String> {
    rest.strip_prefix('>')
        .ok_or_else(|| format!("expected > at {rest:?}"))
}

fn check(value: &Json, ty: &HiveType, path: &str, problems: &mut Vec<String>) {
    let mut wrong = |expected: &str| problems.push(format!("{path}: {value} is not {expected}"));
    match (ty, value) {
        (_, Json::Null) => {}
        (HiveType::String, Json::String(_)) => {}
        (HiveType::Boolean, Json::Bool(_)) => {}
        (HiveType::Int | HiveType::BigInt, Json::Number(n)) if n.is_i64() => {}
        (HiveType::Double, Json::Number(_)) => {}
        (HiveType::Array(element), Json::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                check(item, element, &format!("{path}[{i}]"), problems);
            }
        }
        (HiveType::Map(element), Json::Object(entries)) => {
            for (k, v) in entries {
                check(v, element, &format!("{path}.{k}"), problems);
            }
        }
        (HiveType::Struct(fields), Json::Object(entries)) => {
            let mut seen = BTreeMap::new();
            for (key, v) in entries {
                let lower = key.to_ascii_lowercase();
                // The SerDe lowercases keys: two that differ only in case collide.
                if let Some(other) = seen.insert(lower.clone(), key) {
                    problems.push(format!(
                        "{path}: keys {other} and {key} collide without case"
                    ));
                }
                match fields.iter().find(|(name, _)| *name == lower) {
                    Some((_, field_type)) => {
                        check(v, field_type, &format!("{path}.{key}"), problems)
                    }
                    None => problems.push(format!("{path}.{key} is not declared")),
                }
            }
        }
        (HiveType::String, _) => wrong("a string"),
        (HiveType::Boolean, _) => wrong("a boolean"),
        (HiveType::Int | HiveType::BigInt, _) => wrong("an integer"),
        (HiveType::Double, _) => wrong("a number"),
        (HiveType::Array(_), _) => wrong("an array"),
        (HiveType::Map(_) | HiveType::Struct(_), _) => wrong("an object"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_glue_type_names() {
        assert_eq!(
            parse("struct<a:string,b:array<struct<c:bigint>>,d:map<string,boolean>>"),
            Ok(HiveType::Struct(vec![
                ("a".into(), HiveType::String),
                (
                    "b".into(),
                    HiveType::Array(Box::new(HiveType::Struct(vec![(
                        "c".into(),
                        HiveType::BigInt
                    )])))
                ),
                ("d".into(), HiveType::Map(Box::new(HiveType::Boolean))),
            ]))
        );
        assert!(parse("struct<a:string").is_err());
        assert!(parse("varchar(10)").is_err());
    }

    #[test]
    fn lines_are_checked_as_the_serde_reads_them() {
        let table = Table {
            name: "t".into(),
            columns: vec![
                ("id".into(), HiveType::String),
                (
                    "data".into(),
                    parse("struct<actorname:string,roles:array<string>>").unwrap(),
                ),
            ],
            partition_keys: vec![],
            serde: String::new(),
            serde_parameters: BTreeMap::new(),
            location: String::new(),
            parameters: BTreeMap::new(),
        };
        let cases: [(&str, &[&str]); 5] = [
            (r#"{"id":"a","data":{"actorName":"x","roles":["r"]}}"#, &[]),
            (r#"{"id":"a","data":null}"#, &[]),
            (r#"{"id":1}"#, &[".id: 1 is not a string"]),
            (r#"{"id":"a","extra":true}"#, &[".extra is not declared"]),
            (
                r#"{"id":"a","data":{"roles":"r"}}"#,
                &[".data.roles: \"r\" is not an array"],
            ),
        ];
        for (line, expected) in cases {
            assert_eq!(table.check_line(line.as_bytes()), expected, "{line}");
        }
    }

    #[test]
    fn raw_lines_are_checked_as_the_text_serde_reads_them() {
        let table = Table {
            name: "raw".into(),
            columns: vec![("line".into(), HiveType::String)],
            partition_keys: vec![],
            serde: String::new(),
            serde_parameters: BTreeMap::from([("serialization.format".into(), "1".into())]),
            location: String::new(),
            parameters: BTreeMap::new(),
        };
        let cases: [(&[u8], usize); 4] = [
            (br#"{"id":"a","note":"a\tb \u0001 c"}"#, 0),
            // A raw control character: the delimiter, and not JSON either.
            (b"{\"id\":\"a\x01b\"}", 2),
            (b"{\"id\":1}\r", 1),
            (b"not json", 1),
        ];
        for (line, expected) in cases {
            let problems = table.check_raw_line(line);
            assert_eq!(
                problems.len(),
                expected,
                "{}: {problems:?}",
                String::from_utf8_lossy(line)
            );
        }
    }
}
