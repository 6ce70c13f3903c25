//! The template against the workspace: a resource per function crate and back, built and run
//! as the functions need, each given exactly the environment it reads, and watched by alarms on
//! the metrics the collectors emit.

use std::collections::BTreeSet;

use collector_app::metrics::{emf_line, enqueued_line, refresh_line, units_line};
use collector_app::units::{Selection, UnitsOutcome};
use collector_core::{IdentityName, RunSummary, StopReason, Timestamp};
use serde_yaml::Value;

use crate::environment::{check_environment, cold_start, selection_of};
use crate::template::{Template, repo_root, tagged};

fn function_crates() -> BTreeSet<String> {
    std::fs::read_dir(repo_root().join("functions"))
        .expect("functions/")
        .filter_map(Result::ok)
        .filter(|e| e.path().join("Cargo.toml").exists())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

/// Whether a collector's scheduled run sends its units to a queue of its own: a Webex preset's
/// over several organisations, and `http-sources`, whose document names several streams.
fn fans_out(selection: Selection) -> bool {
    match selection {
        Selection::Webex(stream) => stream.spec().takes_org_id,
        Selection::OtherSources => true,
    }
}

#[test]
fn every_function_crate_has_a_template_resource_and_every_resource_a_crate() {
    let template = Template::load();
    let deployed: BTreeSet<String> = template
        .functions()
        .expect("functions")
        .into_iter()
        .map(|f| f.crate_name)
        .collect();
    assert_eq!(
        deployed,
        function_crates(),
        "infra/template.yaml (left) and functions/ (right) disagree"
    );
}

#[test]
fn functions_are_built_by_cargo_lambda_for_arm64_and_wired_to_their_triggers() {
    let template = Template::load();
    for (id, resource) in template.resources("AWS::Serverless::Function") {
        let property = |name: &str| {
            template
                .function_property(resource, name)
                .map(|v| template.resolve(v).expect("resolves").expect("a value"))
        };
        let crate_name = template
            .functions()
            .expect("functions")
            .into_iter()
            .find(|f| f.logical_id == id)
            .expect("function")
            .crate_name;
        assert_eq!(
            resource["Metadata"]["BuildMethod"], "rust-cargolambda",
            "{id}"
        );
        assert_eq!(
            resource["Metadata"]["BuildProperties"]["Binary"],
            crate_name.as_str(),
            "{id}: the binary is the crate's"
        );
        assert_eq!(property("Runtime"), Some("provided.al2023".into()), "{id}");
        assert_eq!(property("Handler"), Some("bootstrap".into()), "{id}");
        assert_eq!(
            property("Architectures"),
            Some(Value::Sequence(vec!["arm64".into()])),
            "{id}"
        );
        let events = resource["Properties"]["Events"]
            .as_mapping()
            .expect("Events");
        let kinds: Vec<&str> = events.values().filter_map(|e| e["Type"].as_str()).collect();
        if let Some(selection) = selection_of(&crate_name) {
            if fans_out(selection) {
                // Several units: the schedule sends them to the function's own queue, which
                // hands them back one per run, at most FanOutConcurrency at once.
                assert_eq!(
                    kinds,
                    ["Schedule", "SQS"],
                    "{id}: schedule and fan-out queue"
                );
                let queue = &events.values().nth(1).expect("SQS event")["Properties"];
                let queue_id = format!("{}Queue", id.trim_end_matches("Function"));
                assert_eq!(
                    template.resolve(&queue["Queue"]).expect("resolves"),
                    Some(format!("arn:aws:sqs:us-east-1:123456789012:{queue_id}").into()),
                    "{id}"
                );
                let env = &resource["Properties"]["Environment"]["Variables"];
                assert_eq!(
                    template
                        .resolve(&env["FANOUT_QUEUE_URL"])
                        .expect("resolves"),
                    Some(
                        format!("https://sqs.us-east-1.amazonaws.com/123456789012/{queue_id}")
                            .into()
                    ),
                    "{id}: it sends to the queue it is triggered by"
                );
                assert_eq!(queue["BatchSize"], 1, "{id}: one unit per run");
                assert_eq!(
                    queue["FunctionResponseTypes"],
                    Value::Sequence(vec!["ReportBatchItemFailures".into()]),
                    "{id}: a failed unit comes back, the others do not"
                );
                let bound = template
                    .resolve(&queue["ScalingConfig"]["MaximumConcurrency"])
                    .expect("resolves");
                assert_eq!(property("ReservedConcurrentExecutions"), bound, "{id}");
                let visibility = &template.resources("AWS::SQS::Queue");
                let (_, queue_resource) = visibility
                    .iter()
                    .find(|(q, _)| *q == queue_id)
                    .expect("queue resource");
                let timeout_max = 900;
                assert!(
                    queue_resource["Properties"]["VisibilityTimeout"]
                        .as_u64()
                        .expect("visibility timeout")
                        >= 6 * timeout_max,
                    "{id}: a message is not handed out again while a run may hold it"
                );
                assert!(
                    !queue_resource["Properties"]["RedrivePolicy"]["deadLetterTargetArn"].is_null(),
                    "{id}: failed units go to a dead-letter queue"
                );
            } else {
                assert_eq!(kinds, ["Schedule"], "{id}: a collector runs on a schedule");
                assert_eq!(
                    property("ReservedConcurrentExecutions"),
                    Some(1.into()),
                    "{id}"
                );
            }
        } else if crate_name == "webhook-registrar" {
            assert_eq!(
                kinds,
                ["Schedule"],
                "{id}: the registrar runs on a schedule"
            );
            assert_eq!(
                property("ReservedConcurrentExecutions"),
                Some(1.into()),
                "{id}: one run at a time, or two would create the same webhook"
            );
        } else if crate_name == "webhook-writer" {
            assert_eq!(
                kinds,
                ["SQS"],
                "{id}: the writer drains the receiver's queue"
            );
            let queue = &events.values().next().expect("SQS event")["Properties"];
            assert_eq!(
                template.resolve(&queue["Queue"]).expect("resolves"),
                Some("arn:aws:sqs:us-east-1:123456789012:WebhookQueue".into()),
                "{id}"
            );
            assert_eq!(
                queue["FunctionResponseTypes"],
                Value::Sequence(vec!["ReportBatchItemFailures".into()]),
                "{id}: a delivery not yet durable comes back, the batch's others do not"
            );
            let number = |value: &Value| {
                let resolved = template.resolve(value).expect("resolves").expect("a value");
                resolved
                    .as_u64()
                    .or_else(|| resolved.as_str().and_then(|s| s.parse().ok()))
                    .expect("a number")
            };
            // Lambda refuses a batch over ten messages without a batching window.
            assert!(
                number(&queue["BatchSize"]) <= 10
                    || number(&queue["MaximumBatchingWindowInSeconds"]) >= 1,
                "{id}"
            );
            let timeout = number(property("Timeout").as_ref().expect("Timeout"));
            let lease =
                number(&resource["Properties"]["Environment"]["Variables"]["CLAIM_LEASE_SECONDS"]);
            let queues = template.resources("AWS::SQS::Queue");
            let (_, queue_resource) = queues
                .iter()
                .find(|(q, _)| q == "WebhookQueue")
                .expect("WebhookQueue");
            let visibility = number(&queue_resource["Properties"]["VisibilityTimeout"]);
            assert!(
                timeout < lease && lease < visibility && visibility >= 6 * timeout,
                "{id}: a run ({timeout} s) outlives no claim ({lease} s), and a message handed \
                 back ({visibility} s) finds its claim lapsed"
            );
        } else {
            assert_eq!(kinds, ["HttpApi"], "{id}");
            let route = &events.values().next().expect("event")["Properties"];
            let expected = match crate_name.as_str() {
                "oauth-callback" => ("GET", "/oauth/callback"),
                "webhook-receiver" => ("POST", "/webhooks"),
                other => panic!("{other}: which route does it serve?"),
            };
            assert_eq!(
                (route["Method"].as_str(), route["Path"].as_str()),
                (Some(expected.0), Some(expected.1)),
                "{id}"
            );
            assert_eq!(route["PayloadFormatVersion"], "2.0");
        }
    }
}

#[test]
fn each_function_is_set_exactly_the_variables_it_reads_and_accepts_their_defaults() {
    let template = Template::load();
    let mut problems = Vec::new();
    for function in template.functions().expect("functions") {
        problems.extend(check_environment(&function.crate_name, &function.env));
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

/// The metrics a collector run emits in embedded metric format: namespace, and each metric
/// with the names of the dimensions of each set it is emitted under, read off real lines.
pub fn emitted_metrics(selection: Selection) -> (String, Vec<(Vec<String>, String)>) {
    let now = Timestamp::from_millis(1_795_000_000_000);
    let function = selection.name();
    // A document's stream of the function, under a name of its own.
    let summary = RunSummary {
        stream: format!("{function}-partner"),
        org_id: "O".into(),
        windows: 1,
        events: 1,
        objects: 1,
        pages: 1,
        committed_until: Some(now),
        stopped: StopReason::CaughtUp,
    };
    // A run through several units adds one line of its own; each Webex identity one line (the
    // other sources' identities hold no refresh token).
    let mut lines = vec![
        emf_line(&summary, function, now),
        units_line(function, &UnitsOutcome::default(), now),
        enqueued_line(function, 2, now),
    ];
    if let Selection::Webex(stream) = selection {
        let identity = IdentityName::from_static(stream.spec().default_identity);
        lines.push(refresh_line(function, &identity, now, now));
    }
    let mut namespace = String::new();
    let mut metrics = Vec::new();
    for line in lines {
        let line: serde_json::Value = serde_json::from_str(&line).expect("EMF is JSON");
        for directive in line["_aws"]["CloudWatchMetrics"]
            .as_array()
            .expect("directives")
        {
            namespace = directive["Namespace"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            for set in directive["Dimensions"].as_array().into_iter().flatten() {
                let dimensions: Vec<String> = set
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect();
                for dimension in &dimensions {
                    assert!(
                        line.get(dimension).is_some_and(|v| v.is_string()),
                        "{function}: the line declares the dimension {dimension} without its value"
                    );
                }
                metrics.extend(
                    directive["Metrics"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|m| m["Name"].as_str())
                        .map(|name| (dimensions.clone(), name.to_string())),
                );
            }
        }
    }
    (namespace, metrics)
}

struct Alarm {
    namespace: String,
    metric: String,
    /// `(name, value)`; a `Ref` value stands for the logical id it names.
    dimensions: Vec<(String, String)>,
}

fn alarms(template: &Template) -> Vec<Alarm> {
    template
        .resources("AWS::CloudWatch::Alarm")
        .into_iter()
        .map(|(id, alarm)| {
            let p = &alarm["Properties"];
            let dimensions = p["Dimensions"]
                .as_sequence()
                .unwrap_or_else(|| panic!("{id}: no Dimensions"))
                .iter()
                .map(|d| {
                    let value = match tagged(&d["Value"]) {
                        Some((tag, Value::String(target))) if tag == "Ref" => target.clone(),
                        _ => d["Value"].as_str().unwrap_or_default().to_string(),
                    };
                    (d["Name"].as_str().unwrap_or_default().to_string(), value)
                })
                .collect();
            let text = |name: &str| p[name].as_str().unwrap_or_default().to_string();
            Alarm {
                namespace: text("Namespace"),
                metric: text("MetricName"),
                dimensions,
            }
        })
        .collect()
}

/// Lag, failed-unit and refresh-token alarms per collector on the metrics its runs really emit,
/// and an errors alarm per function.
#[test]
fn every_collector_is_watched_on_the_metrics_it_emits_and_every_function_on_its_errors() {
    let template = Template::load();
    let alarms = alarms(&template);
    let has = |namespace: &str, metric: &str, dimensions: &[(String, String)]| {
        alarms
            .iter()
            .any(|a| a.namespace == namespace && a.metric == metric && a.dimensions == dimensions)
    };
    for function in template.functions().expect("functions") {
        assert!(
            has(
                "AWS/Lambda",
                "Errors",
                &[("FunctionName".into(), function.logical_id.clone())]
            ),
            "{}: no errors alarm",
            function.logical_id
        );
        let Some(selection) = selection_of(&function.crate_name) else {
            continue;
        };
        let (namespace, metrics) = emitted_metrics(selection);
        let name = selection.name();
        // Lag, failed units and (Webex identities') refresh tokens per function, whatever
        // streams and identities a document gives it (the alarms cannot know their names).
        let mut watched = vec![
            ("LagSeconds", "Function", name),
            ("UnitsFailed", "Function", name),
        ];
        let refresh = ("RefreshTokenDaysLeft", "Function", name);
        if matches!(selection, Selection::Webex(_)) {
            watched.push(refresh);
        } else {
            // It would wait for data forever: no identity of these sources reports one.
            assert!(
                !has(
                    &namespace,
                    refresh.0,
                    &[(refresh.1.to_string(), refresh.2.to_string())]
                ),
                "{name}: a refresh-token alarm, and its identities hold no refresh token"
            );
        }
        for (metric, dimension, value) in watched {
            assert!(
                metrics
                    .iter()
                    .any(|(dims, m)| m == metric && dims.as_slice() == [dimension]),
                "runs do not emit {metric} by {dimension}"
            );
            assert!(
                has(
                    &namespace,
                    metric,
                    &[(dimension.to_string(), value.to_string())]
                ),
                "{name}: no {metric} alarm on {dimension} {value} in {namespace}"
            );
        }
        // Its own alarms (and any not per function) are on what its runs emit.
        let its_own = |a: &&Alarm| {
            a.namespace == namespace
                && a.dimensions
                    .iter()
                    .all(|(n, v)| n != "Function" || v == name)
        };
        for alarm in alarms.iter().filter(its_own) {
            let names: Vec<String> = alarm.dimensions.iter().map(|(n, _)| n.clone()).collect();
            assert!(
                metrics
                    .iter()
                    .any(|(dims, m)| *m == alarm.metric && *dims == names),
                "an alarm on {} by {names:?}, which no run emits",
                alarm.metric
            );
        }
    }
}

/// Each metric an embedded-metric line declares, once per dimension set it is emitted by, with
/// the dimensions' values on the line: `(metric, [(dimension, value)])`.
pub fn declared(line: &str) -> Vec<(String, Vec<(String, String)>)> {
    let line: serde_json::Value = serde_json::from_str(line).expect("EMF is JSON");
    let directive = &line["_aws"]["CloudWatchMetrics"][0];
    let sets: Vec<Vec<String>> =
        serde_json::from_value(directive["Dimensions"].clone()).expect("dimensions");
    let mut declared = Vec::new();
    for metric in directive["Metrics"].as_array().into_iter().flatten() {
        let name = metric["Name"].as_str().unwrap_or_default();
        for set in &sets {
            let dims = set
                .iter()
                .map(|d| (d.clone(), line[d].as_str().unwrap_or_default().to_string()))
                .collect();
            declared.push((name.to_string(), dims));
        }
    }
    declared
}

/// The webhook functions' alarms in our namespace are on metrics they emit, by the dimensions
/// they emit them with: the receiver's refusals and unqueued deliveries, the registrar's gaps.
#[test]
fn every_webhook_alarm_is_on_a_metric_the_webhook_functions_emit() {
    let template = Template::load();
    let report = collector_app::registrar::SyncReport::default();
    let now = Timestamp::from_millis(1_795_000_000_000);
    let lines = [
        collector_app::metrics::webhook_line("not_queued", now),
        collector_app::metrics::registrar_line(&report, now),
    ];
    let emitted: Vec<(String, Vec<(String, String)>)> =
        lines.iter().flat_map(|line| declared(line)).collect();
    let webhook_alarms: Vec<Alarm> = alarms(&template)
        .into_iter()
        .filter(|a| {
            a.namespace == collector_app::metrics::NAMESPACE
                && a.dimensions
                    .iter()
                    .any(|(n, v)| n == "Function" && v.starts_with("webhook-"))
        })
        .collect();
    assert!(
        webhook_alarms.len() >= 2,
        "the receiver's unqueued deliveries and the registrar's gaps are watched"
    );
    for alarm in webhook_alarms {
        // An alarm's fixed dimension values (Outcome=not_queued) must be ones a line carries
        // when it happens; the emitted line here carries the values the alarm names.
        assert!(
            emitted.iter().any(|(metric, dims)| {
                *metric == alarm.metric
                    && dims.len() == alarm.dimensions.len()
                    && dims
                        .iter()
                        .zip(&alarm.dimensions)
                        .all(|((n, v), (an, av))| n == an && v == av)
            }),
            "an alarm on {} by {:?}, which no webhook function emits",
            alarm.metric,
            alarm.dimensions
        );
    }
}

/// Every fan-out queue hands failed units to a dead-letter queue, and that queue has an alarm.
#[test]
fn every_fan_out_queue_has_a_watched_dead_letter_queue() {
    let template = Template::load();
    let queues = template.resources("AWS::SQS::Queue");
    let sources: Vec<&(String, &Value)> = queues
        .iter()
        .filter(|(_, q)| !q["Properties"]["RedrivePolicy"].is_null())
        .collect();
    assert_eq!(
        sources.len(),
        4,
        "admin audit, security audit and http-sources each have a queue, and the webhooks one"
    );
    for (id, queue) in sources {
        let target = template
            .resolve(&queue["Properties"]["RedrivePolicy"]["deadLetterTargetArn"])
            .expect("resolves")
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_else(|| panic!("{id}: no dead-letter queue"));
        let dead_letters = target.rsplit(':').next().expect("queue name").to_string();
        let watched = template
            .resources("AWS::CloudWatch::Alarm")
            .into_iter()
            .any(|(_, alarm)| {
                let p = &alarm["Properties"];
                p["Namespace"] == "AWS/SQS"
                    && p["MetricName"] == "ApproximateNumberOfMessagesVisible"
                    && p["Dimensions"].as_sequence().is_some_and(|d| {
                        d.iter().any(|d| {
                            d["Name"] == "QueueName"
                                && template.resolve(&d["Value"]).ok().flatten()
                                    == Some(dead_letters.clone().into())
                        })
                    })
            });
        assert!(
            watched,
            "{id}: its dead-letter queue {dead_letters} has no alarm"
        );
    }
}

/// Every bucket keeps its objects private, encrypted and off plain HTTP; the two whose objects
/// cannot be made again (the events; the collector document, whose earlier versions are its
/// rollback) keep every version and outlive the stack.
#[test]
fn every_bucket_is_private_encrypted_and_tls_only_and_the_lasting_ones_are_versioned() {
    let template = Template::load();
    let policies = template.resources("AWS::S3::BucketPolicy");
    let buckets = template.resources("AWS::S3::Bucket");
    for (id, bucket) in &buckets {
        let p = &bucket["Properties"];
        for setting in [
            "BlockPublicAcls",
            "BlockPublicPolicy",
            "IgnorePublicAcls",
            "RestrictPublicBuckets",
        ] {
            assert_eq!(
                p["PublicAccessBlockConfiguration"][setting],
                Value::Bool(true),
                "{id}: {setting}"
            );
        }
        assert_eq!(
            p["OwnershipControls"]["Rules"][0]["ObjectOwnership"], "BucketOwnerEnforced",
            "{id}: no ACLs"
        );
        assert!(
            p["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
                ["ServerSideEncryptionByDefault"]["SSEAlgorithm"]
                .is_string(),
            "{id}: encrypted by default"
        );
        let arn = format!("arn:aws:s3:::{id}");
        let tls_only = policies.iter().any(|(_, policy)| {
            let policy = &policy["Properties"];
            if template.resolve(&policy["Bucket"]).ok().flatten() != Some(id.as_str().into()) {
                return false;
            }
            let statements = template
                .resolve(&policy["PolicyDocument"]["Statement"])
                .expect("resolves")
                .unwrap_or_default();
            statements.as_sequence().into_iter().flatten().any(|s| {
                let resources = s["Resource"].as_sequence().cloned().unwrap_or_default();
                s["Effect"] == "Deny"
                    && s["Principal"] == "*"
                    && s["Action"] == "s3:*"
                    && resources.contains(&arn.as_str().into())
                    && resources.contains(&format!("{arn}/*").into())
                    && s["Condition"]["Bool"]["aws:SecureTransport"] == "false"
            })
        });
        assert!(
            tls_only,
            "{id}: no policy refuses plain HTTP on the bucket and its objects"
        );
    }
    for lasting in ["EventsBucket", "ConfigBucket"] {
        let (_, bucket) = buckets
            .iter()
            .find(|(id, _)| id == lasting)
            .unwrap_or_else(|| panic!("no {lasting}"));
        assert_eq!(bucket["DeletionPolicy"], "Retain", "{lasting}");
        assert_eq!(bucket["UpdateReplacePolicy"], "Retain", "{lasting}");
        assert_eq!(
            bucket["Properties"]["VersioningConfiguration"]["Status"], "Enabled",
            "{lasting}"
        );
    }
}

/// `webexctl config push` writes where the functions read: the `CollectorConfig` output is the
/// `COLLECTOR_CONFIG` of every function that reads the document (all but the webhook
/// functions), an object of the template's `ConfigBucket`.
#[test]
fn every_function_reads_the_document_where_the_collector_config_output_says() {
    let template = Template::load();
    let output = template.output("CollectorConfig").expect("CollectorConfig");
    assert_eq!(output, "s3://ConfigBucket/collector.toml");
    for function in template.functions().expect("functions") {
        let reads = cold_start(&function.crate_name, &function.env)
            .expect("a config reader")
            .read
            .contains("COLLECTOR_CONFIG");
        assert_eq!(
            function.env.get("COLLECTOR_CONFIG"),
            reads.then_some(&output),
            "{}",
            function.crate_name
        );
    }
}
