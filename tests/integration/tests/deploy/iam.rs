//! Just enough of IAM's policy evaluation to decide whether an identity policy allows a request:
//! action and resource wildcards and the condition operators the template uses. An operator it
//! does not know fails the check instead of being ignored.

use std::collections::BTreeMap;

use serde_yaml::Value;

#[derive(Clone, Debug)]
pub struct Statement {
    pub sid: String,
    pub allow: bool,
    pub actions: Vec<String>,
    pub resources: Vec<String>,
    pub conditions: Vec<Condition>,
}

#[derive(Clone, Debug)]
pub struct Condition {
    pub operator: String,
    pub key: String,
    pub values: Vec<String>,
}

/// One authorisation AWS makes for a call: an action on a resource, with the request's
/// condition keys (`dynamodb:LeadingKeys`, `s3:prefix`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Request {
    pub action: String,
    pub resource: String,
    pub context: BTreeMap<String, Vec<String>>,
}

impl Request {
    pub fn new(action: &str, resource: impl Into<String>) -> Self {
        Self {
            action: action.to_string(),
            resource: resource.into(),
            context: BTreeMap::new(),
        }
    }

    pub fn with(mut self, key: &str, value: impl Into<String>) -> Self {
        self.context
            .entry(key.to_string())
            .or_default()
            .push(value.into());
        self
    }
}

impl Statement {
    /// From a resolved statement (every intrinsic already evaluated).
    pub fn from_value(value: &Value) -> Result<Self, String> {
        let strings = |name: &str| -> Result<Vec<String>, String> {
            match value.get(name) {
                None => Ok(Vec::new()),
                Some(Value::String(s)) => Ok(vec![s.clone()]),
                Some(Value::Sequence(items)) => items
                    .iter()
                    .map(|i| {
                        i.as_str()
                            .map(str::to_string)
                            .ok_or_else(|| format!("{name}: {i:?} is not a string"))
                    })
                    .collect(),
                Some(other) => Err(format!("{name}: {other:?}")),
            }
        };
        for unsupported in ["NotAction", "NotResource", "Principal"] {
            if value.get(unsupported).is_some() {
                return Err(format!(
                    "{unsupported} in an identity policy is not supported"
                ));
            }
        }
        let mut conditions = Vec::new();
        if let Some(Value::Mapping(operators)) = value.get("Condition") {
            for (operator, keys) in operators {
                for (key, values) in keys.as_mapping().ok_or("Condition operator without keys")? {
                    let values = match values {
                        Value::Sequence(items) => items
                            .iter()
                            .filter_map(|v| v.as_str().map(str::to_string))
                            .collect(),
                        single => vec![single.as_str().unwrap_or_default().to_string()],
                    };
                    conditions.push(Condition {
                        operator: operator.as_str().unwrap_or_default().to_string(),
                        key: key.as_str().unwrap_or_default().to_string(),
                        values,
                    });
                }
            }
        }
        Ok(Self {
            sid: value
                .get("Sid")
                .and_then(Value::as_str)
                .unwrap_or("(no Sid)")
                .to_string(),
            allow: value.get("Effect").and_then(Value::as_str) == Some("Allow"),
            actions: strings("Action")?,
            resources: strings("Resource")?,
            conditions,
        })
    }

    pub fn allows(&self, request: &Request) -> bool {
        self.allow
            && self.actions.iter().any(|a| {
                glob(
                    &a.to_ascii_lowercase(),
                    &request.action.to_ascii_lowercase(),
                )
            })
            && self.resources.iter().any(|r| glob(r, &request.resource))
            && self.conditions.iter().all(|c| c.holds(request))
    }
}

impl Condition {
    fn holds(&self, request: &Request) -> bool {
        let given = request.context.get(&self.key);
        let like = |v: &String| self.values.iter().any(|p| glob(p, v));
        let equal = |v: &String| self.values.contains(v);
        match self.operator.as_str() {
            // A single-valued key: absent means the condition does not hold.
            "StringLike" => given.is_some_and(|v| v.len() == 1 && like(&v[0])),
            "StringEquals" => given.is_some_and(|v| v.len() == 1 && equal(&v[0])),
            "Bool" => given.is_some_and(|v| v.len() == 1 && equal(&v[0])),
            // IAM: a set-operator on a missing key holds, which is why the template only uses
            // it with dynamodb:LeadingKeys, present on every item-level call.
            "ForAllValues:StringLike" => given.is_none_or(|v| v.iter().all(like)),
            other => panic!("condition operator {other} is not supported by this evaluator"),
        }
    }
}

/// IAM wildcards: `*` any run of characters, `?` one character.
pub fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            backtrack = Some((pi, ti));
            pi += 1;
        } else if let Some((star, matched)) = backtrack {
            pi = star + 1;
            ti = matched + 1;
            backtrack = Some((star, matched + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// What is wrong with `statements` for a function that makes exactly `requests`: a request no
/// statement allows, an action or a condition key pattern a statement allows that no request
/// needs, or a wildcard action or resource.
pub fn check_policy(statements: &[Statement], requests: &[Request]) -> Vec<String> {
    let mut problems = Vec::new();
    for request in requests {
        if !statements.iter().any(|s| s.allows(request)) {
            problems.push(format!(
                "{} on {} {:?} is not allowed",
                request.action, request.resource, request.context
            ));
        }
    }
    for statement in statements.iter().filter(|s| s.allow) {
        for action in &statement.actions {
            if action.contains('*') {
                problems.push(format!(
                    "statement {}: wildcard action {action}",
                    statement.sid
                ));
            }
            let needed = requests.iter().any(|r| {
                glob(&action.to_ascii_lowercase(), &r.action.to_ascii_lowercase())
                    && statement.allows(r)
            });
            if !needed {
                problems.push(format!(
                    "statement {} allows {action}, which no call needs",
                    statement.sid
                ));
            }
        }
        if statement.resources.iter().any(|r| r == "*") {
            problems.push(format!("statement {}: resource *", statement.sid));
        }
        // A key pattern no call needs (a lock the function never takes, another stream's
        // cursor) is a permission too wide, as an unneeded action is.
        for condition in &statement.conditions {
            for pattern in &condition.values {
                let needed = requests.iter().any(|r| {
                    statement.allows(r)
                        && r.context
                            .get(&condition.key)
                            .is_some_and(|given| given.iter().any(|v| glob(pattern, v)))
                });
                if !needed {
                    problems.push(format!(
                        "statement {} allows {} {pattern}, which no call needs",
                        statement.sid, condition.key
                    ));
                }
            }
        }
    }
    problems.sort();
    problems.dedup();
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_like_iam() {
        let cases = [
            (
                "arn:aws:s3:::b/webex/admin-audit/*",
                "arn:aws:s3:::b/webex/admin-audit/x/y.gz",
                true,
            ),
            (
                "arn:aws:s3:::b/webex/admin-audit/*",
                "arn:aws:s3:::b/webex/security-audit/x",
                false,
            ),
            ("cursor#admin-audit#*", "cursor#admin-audit#ORG", true),
            ("lock#token#admin", "lock#token#admin2", false),
            ("s3:Get?bject", "s3:GetObject", true),
            ("a*b*c", "abbbc", true),
            ("a*b*c", "abbbd", false),
            ("*", "", true),
        ];
        for (pattern, text, expected) in cases {
            assert_eq!(glob(pattern, text), expected, "{pattern} ~ {text}");
        }
    }
}
