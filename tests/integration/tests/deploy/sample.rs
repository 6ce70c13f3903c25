//! The consistency checks on a small template that is right, then with one thing taken away or
//! added: each change must be caught, or the checks prove nothing.

use crate::environment::check_environment;
use crate::iam::{Request, check_policy};
use crate::template::Template;

const SAMPLE: &str = r#"
Parameters:
  Prefix: { Type: String, Default: webex/ }
Resources:
  Bucket: { Type: AWS::S3::Bucket }
  Config: { Type: AWS::S3::Bucket }
  Table: { Type: AWS::DynamoDB::Table }
  Secret: { Type: AWS::SecretsManager::Secret }
  Logs:
    Type: AWS::Logs::LogGroup
    Properties: { LogGroupName: /sample/admin-audit }
  Role:
    Type: AWS::IAM::Role
    Properties:
      Policies:
        - PolicyName: collect
          PolicyDocument:
            Statement:
              - Sid: Logs
                Effect: Allow
                Action: [logs:CreateLogStream, logs:PutLogEvents]
                Resource: !GetAtt Logs.Arn
              - Sid: Tokens
                Effect: Allow
                Action: [secretsmanager:GetSecretValue]
                Resource: !Ref Secret
              - Sid: State
                Effect: Allow
                Action: [dynamodb:GetItem]
                Resource: !GetAtt Table.Arn
                Condition:
                  ForAllValues:StringLike:
                    dynamodb:LeadingKeys: ["cursor#admin-audit#*"]
              - Sid: Objects
                Effect: Allow
                Action: [s3:PutObject]
                Resource: !Sub arn:${AWS::Partition}:s3:::${Bucket}/${Prefix}admin-audit/*
  Function:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: ../functions/admin-audit
      Role: !GetAtt Role.Arn
      LoggingConfig: { LogGroup: !Ref Logs }
      Environment:
        Variables:
          TOKEN_SECRET_ID: !Ref Secret
          STATE_TABLE: !Ref Table
          OUTPUT_BUCKET: !Ref Bucket
          OUTPUT_PREFIX: !Ref Prefix
          WEBEX_API_URL: https://webexapis.com/v1
          SETTLE_LAG_SECONDS: 300
          OVERLAP_SECONDS: 900
          MAX_WINDOW_SECONDS: 3600
          INITIAL_LOOKBACK_DAYS: 7
          BACKFILL_WINDOWS: 4
          MAX_WINDOW_EVENTS: 100000
          MAX_REQUESTS_PER_MINUTE: 280
          EVENT_CATEGORIES: ""
          ORG_IDS: ""
          FANOUT_QUEUE_URL: ""
          COLLECTOR_CONFIG: !Sub s3://${Config}/collector.toml
"#;

/// What a small admin-audit run asks of AWS, as `aws_calls` maps it.
fn calls() -> Vec<Request> {
    let arn = |rest: &str| format!("arn:aws:{rest}");
    vec![
        Request::new(
            "secretsmanager:GetSecretValue",
            arn("secretsmanager:us-east-1:123456789012:secret:Secret-AbCdEf"),
        ),
        Request::new(
            "dynamodb:GetItem",
            arn("dynamodb:us-east-1:123456789012:table/Table"),
        )
        .with("dynamodb:LeadingKeys", "cursor#admin-audit#ORG"),
        Request::new(
            "s3:PutObject",
            arn("s3:::Bucket/webex/admin-audit/org=ORG/dt=2026-11-22/hour=10/x.ndjson.gz"),
        ),
        Request::new(
            "logs:PutLogEvents",
            arn("logs:us-east-1:123456789012:log-group:/sample/admin-audit:log-stream:s"),
        ),
        Request::new(
            "logs:CreateLogStream",
            arn("logs:us-east-1:123456789012:log-group:/sample/admin-audit:log-stream:s"),
        ),
    ]
}

fn problems(text: &str) -> Vec<String> {
    let template = Template::parse(text).expect("sample parses");
    let mut functions = template.functions().expect("sample function");
    let function = functions.pop().expect("one function");
    let mut problems = check_environment(&function.crate_name, &function.env);
    problems.extend(check_policy(&function.statements, &calls()));
    problems
}

fn changed(from: &str, to: &str) -> String {
    assert!(SAMPLE.contains(from), "the sample has no {from:?}");
    SAMPLE.replacen(from, to, 1)
}

#[test]
fn the_sample_passes() {
    assert_eq!(problems(SAMPLE), Vec::<String>::new());
}

#[test]
fn a_variable_removed_or_added_is_caught() {
    let cases = [
        (
            changed("          OVERLAP_SECONDS: 900\n", ""),
            "admin-audit reads OVERLAP_SECONDS, which the template does not set",
        ),
        (
            changed("          TOKEN_SECRET_ID: !Ref Secret\n", ""),
            "admin-audit reads TOKEN_SECRET_ID, which the template does not set",
        ),
        (
            changed(
                "          EVENT_CATEGORIES: \"\"\n",
                "          RESOURCES: \"\"\n",
            ),
            "admin-audit is set RESOURCES, which it does not read",
        ),
        (
            changed("OVERLAP_SECONDS: 900", "OVERLAP_SECONDS: fifteen minutes"),
            "admin-audit refuses the template's values: environment variable OVERLAP_SECONDS",
        ),
        (
            changed(
                "          COLLECTOR_CONFIG: !Sub s3://${Config}/collector.toml\n",
                "",
            ),
            "admin-audit reads COLLECTOR_CONFIG, which the template does not set",
        ),
        (
            changed("s3://${Config}/collector.toml", "/etc/collector.toml"),
            "admin-audit refuses the template's values: COLLECTOR_CONFIG: /etc/collector.toml is a file",
        ),
        (
            changed("s3://${Config}/collector.toml", "s3://${Config}"),
            "admin-audit refuses the template's values: environment variable COLLECTOR_CONFIG",
        ),
    ];
    for (text, expected) in cases {
        let found = problems(&text);
        assert!(
            found.iter().any(|p| p.starts_with(expected)),
            "expected {expected:?} in {found:#?}"
        );
    }
}

#[test]
fn a_permission_removed_narrowed_or_widened_is_caught() {
    let cases = [
        (
            changed("[dynamodb:GetItem]", "[]"),
            "dynamodb:GetItem on arn:aws:dynamodb:us-east-1:123456789012:table/Table",
        ),
        (
            changed("\"cursor#admin-audit#*\"", "\"cursor#security-audit#*\""),
            "dynamodb:GetItem on arn:aws:dynamodb:us-east-1:123456789012:table/Table",
        ),
        (
            changed("${Prefix}admin-audit/*", "${Prefix}security-audit/*"),
            "s3:PutObject on arn:aws:s3:::Bucket/webex/admin-audit/",
        ),
        (
            changed(
                "[secretsmanager:GetSecretValue]",
                "[secretsmanager:GetSecretValue, secretsmanager:PutSecretValue]",
            ),
            "statement Tokens allows secretsmanager:PutSecretValue, which no call needs",
        ),
        (
            changed(
                "[\"cursor#admin-audit#*\"]",
                "[\"cursor#admin-audit#*\", \"lock#token#admin\"]",
            ),
            "statement State allows dynamodb:LeadingKeys lock#token#admin, which no call needs",
        ),
        (
            changed("[s3:PutObject]", "[\"s3:*\"]"),
            "statement Objects: wildcard action s3:*",
        ),
        (
            changed("Resource: !Ref Secret", "Resource: \"*\""),
            "statement Tokens: resource *",
        ),
        // A secret named without the six characters Secrets Manager adds to its ARN.
        (
            changed(
                "Resource: !Ref Secret",
                "Resource: !Sub arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:Secret",
            ),
            "secretsmanager:GetSecretValue on arn:aws:secretsmanager:us-east-1:123456789012:secret:Secret-AbCdEf",
        ),
    ];
    for (text, expected) in cases {
        let found = problems(&text);
        assert!(
            found.iter().any(|p| p.starts_with(expected)),
            "expected {expected:?} in {found:#?}"
        );
    }
}
