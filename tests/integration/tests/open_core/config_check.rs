//! `webexctl config check FILE`, the built binary as an operator runs it: the sample passes and
//! prints its units of work; a document with several mistakes names every key path and exits
//! with 2; a file that is not there is named.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use integration_tests::cli::{Printed, webexctl};

const ORG: &str =
    "Y2lzY29zcGFyazovL3VzL09SR0FOSVpBVElPTi8xZWI2NWZkZi05NjQzLTQxN2YtOTk3NC1hZDcyY2FlMGUxMGY";

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../infra/collector.sample.toml")
}

/// A file in the temporary directory, removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, text: &str) -> Result<Self> {
        let path = std::env::temp_dir().join(format!(
            "webexctl-config-{}-{}-{name}",
            std::process::id(),
            fastrand::u32(..)
        ));
        std::fs::write(&path, text)?;
        Ok(Self(path))
    }

    fn arg(&self) -> &str {
        self.0.to_str().unwrap_or_default()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

async fn config_check(args: &[&str]) -> Result<Printed> {
    let mut all = vec!["config", "check"];
    all.extend_from_slice(args);
    webexctl(&HashMap::new(), &all, "").await
}

#[tokio::test]
async fn the_sample_passes_and_prints_its_units_of_work() -> Result<()> {
    // GIVEN the sample document that ships in infra/
    let sample = sample();
    let sample = sample.to_str().unwrap_or_default();
    // WHEN an operator checks it
    let printed = config_check(&[sample]).await?;
    // THEN it is valid, and every unit of work is listed: the discovered one by its identity
    assert_eq!(printed.code, Some(0), "{}", printed.all());
    let out = &printed.stdout;
    assert!(
        out.contains("valid; 8 streams, 10 units of work, 8 identities"),
        "{out}"
    );
    for (stream, source, org) in [
        (
            "admin-audit-partner",
            "webex_admin_audit",
            "discover via admin-partner",
        ),
        ("security-audit", "webex_security_audit", ORG),
        ("compliance-events", "webex_compliance_events", ORG),
        ("entra-signins", "azure_graph", "-"),
        ("secure-endpoint", "cisco_secure_endpoint", "-"),
        ("http-logs", "http", "eu"),
    ] {
        assert!(
            out.lines()
                .any(|l| l.starts_with(stream) && l.contains(source) && l.contains(org)),
            "no unit {stream} {org}:\n{out}"
        );
    }
    assert!(printed.stderr.is_empty(), "{}", printed.stderr);

    // AND for scripts, the same as JSON
    let json = config_check(&[sample, "--json"]).await?;
    assert_eq!(json.code, Some(0), "{}", json.all());
    let report: serde_json::Value = serde_json::from_str(&json.stdout)?;
    let units = report["units"].as_array().cloned().unwrap_or_default();
    assert_eq!(units.len(), 10, "{report:#}");
    assert_eq!(units[0]["discover_via"], "admin-partner");
    assert_eq!(units[1]["org"], ORG);
    assert_eq!(units[1]["every_seconds"], 900);
    // AND each stream's query as it will be asked
    let streams = report["streams"].as_array().cloned().unwrap_or_default();
    let acme = streams
        .iter()
        .find(|s| s["name"] == "http-acme")
        .context("no http-acme")?;
    assert_eq!(
        acme["request"],
        "GET https://api.acme.example/v1/audit?kind=login&kind=admin&since={from}&until={to} · \
         next_url $.links.next · items $.data · id $.actor.id + $.uuid · time $.published \
         (rfc3339)",
        "{acme:#}"
    );
    Ok(())
}

#[tokio::test]
async fn a_document_with_several_mistakes_exits_2_naming_every_key_path() -> Result<()> {
    // GIVEN a document with a mistake in an identity and several in its streams
    let document = TempFile::new(
        "mistakes.toml",
        &format!(
            r#"
[identities.admin-partner]
kind = "oauth"
secret = "webex/partner"

[[streams]]
name = "admin-audit"
source = "webex_admin_audit"
identity = "partnr"
orgs = ["{ORG}", "abc d"]
evry = "5m"

[[streams]]
name = "admin-audit"
source = "webex_compliance_events"
identity = "admin-partner"
orgs = ["{ORG}"]
resources = ["chats"]
every = 5
"#
        ),
    )?;
    // WHEN an operator checks it
    let printed = config_check(&[document.arg()]).await?;
    // THEN it exits with 2 (a configuration error, not a failed run) and prints every mistake,
    // one per line, in document order
    assert_eq!(printed.code, Some(2), "{}", printed.all());
    let errors: Vec<&str> = printed
        .stderr
        .lines()
        .filter_map(|l| l.strip_prefix("error: "))
        .collect();
    let expected = [
        "identities.admin-partner.kind: unknown kind \"oauth\"; one of webex_oauth, oauth_client_credentials, basic, api_key",
        "streams[0].identity: no identity \"partnr\" (defined: admin-partner)",
        "streams[0].orgs[1]: \"abc d\" is not a Webex organisation id",
        "streams[0].evry: unknown key (did you mean every?)",
        "streams[1].name: \"admin-audit\" is already the name of streams[0]",
        "streams[1].resources[0]: \"chats\" is not a compliance resource",
        "streams[1].every: invalid type: integer `5`",
    ];
    assert_eq!(errors.len(), expected.len(), "{}", printed.stderr);
    for (line, start) in errors.iter().zip(expected) {
        assert!(line.starts_with(start), "expected {start:?}, got {line:?}");
    }
    assert!(
        printed
            .stderr
            .contains(&format!("{}: 7 errors", document.arg())),
        "{}",
        printed.stderr
    );

    // AND with --json, the same errors for a script, with the same status
    let json = config_check(&[document.arg(), "--json"]).await?;
    assert_eq!(json.code, Some(2), "{}", json.all());
    let report: serde_json::Value = serde_json::from_str(&json.stdout)?;
    assert_eq!(report["valid"], false);
    assert_eq!(report["errors"][0]["path"], "identities.admin-partner.kind");
    assert_eq!(report["errors"][0]["line"], 3);
    Ok(())
}

#[tokio::test]
async fn a_missing_file_is_named() -> Result<()> {
    let missing = std::env::temp_dir().join(format!(
        "webexctl-config-{}-not-there.toml",
        std::process::id()
    ));
    let printed = config_check(&[missing.to_str().unwrap_or_default()]).await?;
    assert!(!printed.ok, "{}", printed.all());
    assert!(
        printed
            .stderr
            .contains(&format!("cannot read {}", missing.display())),
        "the file is not named: {}",
        printed.stderr
    );
    Ok(())
}
