//! `infra/template.yaml` read the way CloudFormation would deploy it with every parameter at its
//! default. Resources resolve to symbolic physical names (a resource's logical id stands for its
//! name), so a test can compare what the template allows with what the code asked of AWS.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_yaml::{Mapping, Value};

use crate::iam::Statement;

pub const ACCOUNT: &str = "123456789012";
pub const REGION: &str = "us-east-1";
pub const STACK: &str = "webex-events";
/// The six random characters Secrets Manager appends (after a `-`) to a secret's name in its
/// ARN; here always these.
pub const SECRET_SUFFIX: &str = "AbCdEf";

/// The ARN of the secret called `name`, as Secrets Manager makes it: the name, `-` and six
/// random characters. So a policy must name a secret by `Ref` or with a trailing `*`: the name
/// alone does not match.
pub fn secret_arn(name: &str) -> String {
    format!("arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{name}-{SECRET_SUFFIX}")
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

pub struct Template {
    root: Mapping,
}

/// One `AWS::Serverless::Function` with what it is given at run time.
#[derive(Debug)]
pub struct Function {
    pub logical_id: String,
    /// The crate under `functions/` that `CodeUri` points at.
    pub crate_name: String,
    /// Resolved; variables whose value is `AWS::NoValue` are absent.
    pub env: BTreeMap<String, String>,
    /// The statements of every inline policy of the function's role.
    pub statements: Vec<Statement>,
    /// ARN of the log group the function writes to.
    pub log_group_arn: String,
}

impl Template {
    pub fn load() -> Self {
        let path = repo_root().join("infra/template.yaml");
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        Self::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        match serde_yaml::from_str(text).map_err(|e| e.to_string())? {
            Value::Mapping(root) => Ok(Self { root }),
            _ => Err("not a mapping".into()),
        }
    }

    fn section(&self, name: &str) -> Option<&Mapping> {
        self.root.get(name).and_then(Value::as_mapping)
    }

    /// The output `name`, resolved.
    pub fn output(&self, name: &str) -> Result<String, String> {
        let output = self
            .section("Outputs")
            .and_then(|o| o.get(name))
            .ok_or_else(|| format!("no output {name}"))?;
        self.string(&output["Value"])
    }

    /// `(logical id, resource)` of every resource of `kind`, in template order.
    pub fn resources(&self, kind: &str) -> Vec<(String, &Value)> {
        self.section("Resources")
            .into_iter()
            .flatten()
            .filter(|(_, r)| r.get("Type").and_then(Value::as_str) == Some(kind))
            .filter_map(|(id, r)| Some((id.as_str()?.to_string(), r)))
            .collect()
    }

    fn resource(&self, id: &str) -> Result<&Value, String> {
        self.section("Resources")
            .and_then(|r| r.get(id))
            .ok_or_else(|| format!("no resource {id}"))
    }

    fn kind(&self, id: &str) -> Result<&str, String> {
        self.resource(id)?
            .get("Type")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("{id} has no Type"))
    }

    /// A function property, falling back to `Globals.Function` as SAM does.
    pub fn function_property<'a>(&'a self, function: &'a Value, name: &str) -> Option<&'a Value> {
        function
            .get("Properties")
            .and_then(|p| p.get(name))
            .or_else(|| {
                self.section("Globals")
                    .and_then(|g| g.get("Function"))
                    .and_then(|f| f.get(name))
            })
    }

    pub fn functions(&self) -> Result<Vec<Function>, String> {
        self.resources("AWS::Serverless::Function")
            .into_iter()
            .map(|(id, resource)| {
                self.function(&id, resource)
                    .map_err(|e| format!("function {id}: {e}"))
            })
            .collect()
    }

    fn function(&self, id: &str, resource: &Value) -> Result<Function, String> {
        let code_uri = self.string(
            self.function_property(resource, "CodeUri")
                .ok_or("no CodeUri")?,
        )?;
        let crate_name = code_uri
            .trim_end_matches('/')
            .strip_prefix("../functions/")
            .ok_or_else(|| format!("CodeUri {code_uri} is not ../functions/<crate>"))?
            .to_string();
        let mut env = BTreeMap::new();
        for source in [
            self.section("Globals")
                .and_then(|g| g.get("Function"))
                .and_then(|f| f.get("Environment")),
            resource
                .get("Properties")
                .and_then(|p| p.get("Environment")),
        ]
        .into_iter()
        .flatten()
        {
            if let Some(Value::Mapping(vars)) = self.resolve(&source["Variables"])? {
                for (name, value) in vars {
                    env.insert(
                        name.as_str().unwrap_or_default().to_string(),
                        scalar(&value)?,
                    );
                }
            }
        }
        let role = resource
            .get("Properties")
            .and_then(|p| p.get("Role"))
            .ok_or("no Role: every function gets a role of its own, declared in the template")?;
        let role_id = match tagged(role) {
            Some((tag, Value::String(att))) if tag == "GetAtt" => att
                .strip_suffix(".Arn")
                .ok_or("Role must be !GetAtt <role>.Arn")?
                .to_string(),
            _ => return Err("Role must be !GetAtt <role>.Arn".into()),
        };
        let log_group = self.string(
            resource
                .get("Properties")
                .and_then(|p| p.get("LoggingConfig"))
                .and_then(|l| l.get("LogGroup"))
                .ok_or("no LoggingConfig.LogGroup")?,
        )?;
        Ok(Function {
            logical_id: id.to_string(),
            crate_name,
            env,
            statements: self.role_statements(&role_id)?,
            log_group_arn: format!("arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{log_group}:*"),
        })
    }

    fn role_statements(&self, role_id: &str) -> Result<Vec<Statement>, String> {
        if self.kind(role_id)? != "AWS::IAM::Role" {
            return Err(format!("{role_id} is not an AWS::IAM::Role"));
        }
        let properties = &self.resource(role_id)?["Properties"];
        for unsupported in ["ManagedPolicyArns", "PermissionsBoundary"] {
            if properties.get(unsupported).is_some() {
                return Err(format!(
                    "{role_id} has {unsupported}: its permissions cannot be checked here"
                ));
            }
        }
        let mut statements = Vec::new();
        for policy in properties["Policies"]
            .as_sequence()
            .ok_or_else(|| format!("{role_id} has no inline Policies"))?
        {
            let resolved = self
                .resolve(&policy["PolicyDocument"]["Statement"])?
                .ok_or("empty policy")?;
            for statement in resolved.as_sequence().ok_or("Statement is not a list")? {
                statements.push(Statement::from_value(statement)?);
            }
        }
        Ok(statements)
    }

    /// The value of a CloudFormation expression; `None` for `AWS::NoValue`.
    pub fn resolve(&self, value: &Value) -> Result<Option<Value>, String> {
        if let Some((tag, inner)) = tagged(value) {
            return self.intrinsic(&tag, inner);
        }
        Ok(Some(match value {
            Value::Sequence(items) => {
                let mut out = Vec::new();
                for item in items {
                    out.extend(self.resolve(item)?);
                }
                Value::Sequence(out)
            }
            Value::Mapping(map) => {
                let mut out = Mapping::new();
                for (k, v) in map {
                    if let Some(v) = self.resolve(v)? {
                        out.insert(k.clone(), v);
                    }
                }
                Value::Mapping(out)
            }
            other => other.clone(),
        }))
    }

    pub fn string(&self, value: &Value) -> Result<String, String> {
        scalar(
            &self
                .resolve(value)?
                .ok_or("AWS::NoValue where a value is needed")?,
        )
    }

    fn intrinsic(&self, tag: &str, inner: &Value) -> Result<Option<Value>, String> {
        let text = |s: String| Ok(Some(Value::String(s)));
        match tag {
            "Ref" => {
                let name = inner.as_str().ok_or("Ref of a non-string")?;
                if name == "AWS::NoValue" {
                    return Ok(None);
                }
                text(self.reference(name)?)
            }
            "GetAtt" => {
                let att = match inner {
                    Value::String(s) => s.clone(),
                    Value::Sequence(parts) => parts
                        .iter()
                        .map(|p| p.as_str().unwrap_or_default())
                        .collect::<Vec<_>>()
                        .join("."),
                    _ => return Err("GetAtt of neither string nor list".into()),
                };
                text(self.attribute(&att)?)
            }
            "Sub" => text(self.substitute(inner.as_str().ok_or("Sub takes a string here")?)?),
            "If" => {
                let [condition, then, otherwise] = inner
                    .as_sequence()
                    .map(Vec::as_slice)
                    .and_then(|s| <&[Value; 3]>::try_from(s).ok())
                    .ok_or("If takes [condition, then, else]")?;
                let chosen = if self.condition(condition.as_str().unwrap_or_default())? {
                    then
                } else {
                    otherwise
                };
                self.resolve(chosen)
            }
            other => Err(format!(
                "intrinsic !{other} is not supported by this reader"
            )),
        }
    }

    fn reference(&self, name: &str) -> Result<String, String> {
        let pseudo = match name {
            "AWS::Partition" => Some("aws"),
            "AWS::Region" => Some(REGION),
            "AWS::AccountId" => Some(ACCOUNT),
            "AWS::StackName" => Some(STACK),
            "AWS::URLSuffix" => Some("amazonaws.com"),
            _ => None,
        };
        if let Some(value) = pseudo {
            return Ok(value.to_string());
        }
        if let Some(parameter) = self.section("Parameters").and_then(|p| p.get(name)) {
            return scalar(
                parameter
                    .get("Default")
                    .ok_or_else(|| format!("parameter {name} has no default"))?,
            );
        }
        // Ref of a secret is its ARN, of a log group its name; of the others used here, their
        // logical id stands for their generated name.
        match self.kind(name)? {
            "AWS::SecretsManager::Secret" => Ok(secret_arn(&self.secret_name(name)?)),
            "AWS::Logs::LogGroup" => self.log_group_name(name),
            "AWS::SQS::Queue" => Ok(format!(
                "https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{name}"
            )),
            _ => Ok(name.to_string()),
        }
    }

    fn attribute(&self, att: &str) -> Result<String, String> {
        let (id, attribute) = att.split_once('.').ok_or("GetAtt without an attribute")?;
        match (self.kind(id)?, attribute) {
            ("AWS::S3::Bucket", "Arn") => Ok(format!("arn:aws:s3:::{id}")),
            ("AWS::DynamoDB::Table", "Arn") => {
                Ok(format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{id}"))
            }
            ("AWS::Logs::LogGroup", "Arn") => Ok(format!(
                "arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{}:*",
                self.log_group_name(id)?
            )),
            ("AWS::IAM::Role", "Arn") => Ok(format!("arn:aws:iam::{ACCOUNT}:role/{id}")),
            ("AWS::SQS::Queue", "Arn") => Ok(format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{id}")),
            ("AWS::SQS::Queue", "QueueName") => Ok(id.to_string()),
            (kind, attribute) => Err(format!("GetAtt {kind}.{attribute} is not supported")),
        }
    }

    /// The name of the secret `id`: its `Name`, or (as CloudFormation generates one that begins
    /// with it) its logical id.
    pub fn secret_name(&self, id: &str) -> Result<String, String> {
        match self
            .resource(id)?
            .get("Properties")
            .and_then(|p| p.get("Name"))
        {
            Some(name) => self.string(name),
            None => Ok(id.to_string()),
        }
    }

    fn log_group_name(&self, id: &str) -> Result<String, String> {
        match self
            .resource(id)?
            .get("Properties")
            .and_then(|p| p.get("LogGroupName"))
        {
            Some(name) => self.string(name),
            None => Err(format!("log group {id} has no LogGroupName")),
        }
    }

    /// `${Name}`, `${Resource.Attribute}` and `${!Literal}`.
    fn substitute(&self, template: &str) -> Result<String, String> {
        let mut out = String::new();
        let mut rest = template;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let end = rest[start..]
                .find('}')
                .ok_or_else(|| format!("unclosed ${{ in {template}"))?
                + start;
            let name = &rest[start + 2..end];
            match name.strip_prefix('!') {
                Some(literal) => out.push_str(&format!("${{{literal}}}")),
                None if name.contains('.') && !name.starts_with("AWS::") => {
                    out.push_str(&self.attribute(name)?)
                }
                None => out.push_str(&self.reference(name)?),
            }
            rest = &rest[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    pub fn condition(&self, name: &str) -> Result<bool, String> {
        let definition = self
            .section("Conditions")
            .and_then(|c| c.get(name))
            .ok_or_else(|| format!("no condition {name}"))?;
        self.evaluate(definition)
    }

    fn evaluate(&self, expression: &Value) -> Result<bool, String> {
        let (tag, inner) = tagged(expression).ok_or("a condition must be an intrinsic")?;
        let operands = inner.as_sequence();
        match (tag.as_str(), operands.map(Vec::as_slice)) {
            ("Equals", Some([a, b])) => Ok(self.string(a)? == self.string(b)?),
            ("Not", Some([a])) => Ok(!self.evaluate(a)?),
            ("And", Some(all)) => all
                .iter()
                .try_fold(true, |acc, c| Ok(acc && self.evaluate(c)?)),
            ("Or", Some(any)) => any
                .iter()
                .try_fold(false, |acc, c| Ok(acc || self.evaluate(c)?)),
            ("Condition", _) => self.condition(inner.as_str().unwrap_or_default()),
            (other, _) => Err(format!(
                "condition !{other} is not supported by this reader"
            )),
        }
    }
}

/// `!Tag value` as `(tag, value)`, also for the long forms `{"Fn::Tag": value}` and `{"Ref": x}`.
pub fn tagged(value: &Value) -> Option<(String, &Value)> {
    match value {
        Value::Tagged(t) => Some((
            t.tag.to_string().trim_start_matches('!').to_string(),
            &t.value,
        )),
        Value::Mapping(map) if map.len() == 1 => {
            let (key, inner) = map.iter().next()?;
            let key = key.as_str()?;
            if key == "Ref" || key == "Condition" {
                Some((key.to_string(), inner))
            } else {
                key.strip_prefix("Fn::")
                    .map(|name| (name.to_string(), inner))
            }
        }
        _ => None,
    }
}

fn scalar(value: &Value) -> Result<String, String> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        other => Err(format!("{other:?} is not a scalar")),
    }
}
