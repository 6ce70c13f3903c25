//! `local-stack`: sets up and shows the demo's resources in the local AWS emulator
//! (`AWS_ENDPOINT_URL`). Not for real accounts: the SAM template creates those.

use anyhow::Result;
use clap::{Parser, Subcommand};
use collector_core::StreamId;
use integration_tests::aws;
use integration_tests::verify::StoredObject;

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Creates the bucket and the state table (the secrets come from `webexctl auth init`).
    Setup {
        #[arg(long)]
        bucket: String,
        #[arg(long)]
        table: String,
    },
    /// Creates a function's fan-out queue (and its dead-letter queue); prints the queue's URL.
    Queue {
        #[arg(long)]
        name: String,
    },
    /// Lambda's SQS event source mapping for one function: invokes it through the Lambda
    /// runtime emulator's invoke API with every message of the queue, deletes what it
    /// finished, until the queue is empty.
    Drain {
        #[arg(long)]
        queue_url: String,
        #[arg(long)]
        function: String,
        /// The emulator's invoke port (`cargo lambda watch --invoke-port`).
        #[arg(long)]
        invoke_port: u16,
    },
    /// Prints what landed: objects per stream, a few lines, and the cursors.
    Show {
        #[arg(long)]
        bucket: String,
        #[arg(long)]
        table: String,
    },
}

#[tokio::main]
async fn main() -> Result<()> {
    let sdk = aws::sdk_config(&aws::endpoint()?).await;
    match Cli::parse().command {
        Command::Setup { bucket, table } => {
            aws::create_bucket(&sdk, &bucket).await?;
            aws::create_table(&sdk, &table).await?;
            println!("bucket {bucket} and table {table} created");
        }
        Command::Queue { name } => {
            let (url, _) =
                aws::create_fanout_queue(&sdk, &name, std::time::Duration::from_secs(60)).await?;
            println!("{url}");
        }
        Command::Drain {
            queue_url,
            function,
            invoke_port,
        } => {
            let http = reqwest::Client::new();
            let url = format!(
                "http://127.0.0.1:{invoke_port}/2015-03-31/functions/{function}/invocations"
            );
            let sqs = aws_sdk_sqs::Client::new(&sdk);
            // One process serves the function in the emulator: one invocation at a time.
            let drained = integration_tests::event_source::drain(
                &sqs,
                &queue_url,
                1,
                1,
                std::time::Duration::from_secs(600),
                |event| {
                    let request = http
                        .post(&url)
                        .header("content-type", "application/json")
                        .body(event.to_string());
                    async move {
                        let response = request.send().await.map_err(|e| e.to_string())?;
                        let mut failed = response.headers().contains_key("x-amz-function-error");
                        let body = response.bytes().await.map_err(|e| e.to_string())?;
                        let answer: serde_json::Value =
                            serde_json::from_slice(&body).map_err(|e| e.to_string())?;
                        failed |= answer.get("errorType").is_some();
                        println!("   queued unit -> {answer}");
                        if failed {
                            Err(answer.to_string())
                        } else {
                            Ok(answer)
                        }
                    }
                },
            )
            .await?;
            println!(
                "{function}: {} queued units collected, {} left to come back",
                drained.deleted, drained.returned
            );
        }
        Command::Show { bucket, table } => show(&sdk, &bucket, &table).await?,
    }
    Ok(())
}

async fn show(sdk: &aws_config::SdkConfig, bucket: &str, table: &str) -> Result<()> {
    let s3 = aws::s3(sdk);
    for stream in StreamId::ALL {
        let listed = s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(format!("webex/{}/", stream.name()))
            .send()
            .await?;
        let keys: Vec<String> = listed
            .contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_string))
            .collect();
        if keys.is_empty() {
            continue;
        }
        let mut total = 0usize;
        println!("\n== {} : {} objects", stream.name(), keys.len());
        for (i, key) in keys.iter().enumerate() {
            let out = s3.get_object().bucket(bucket).key(key).send().await?;
            let object = StoredObject {
                key: key.clone(),
                metadata: out.metadata().cloned().unwrap_or_default(),
                content_type: out.content_type().unwrap_or_default().to_string(),
                content_encoding: out.content_encoding().unwrap_or_default().to_string(),
                e_tag: String::new(),
                body: out.body.collect().await?.into_bytes().to_vec(),
            };
            let lines = object.lines();
            total += lines.len();
            if i < 3 || i + 1 == keys.len() {
                println!(
                    "  {key}  events={} bytes={}",
                    object.metadata.get("event-count").map_or("?", |s| s),
                    object.body.len()
                );
            } else if i == 3 {
                println!("  ...");
            }
            if i == 0 {
                for line in lines.iter().take(2) {
                    let text = String::from_utf8_lossy(line);
                    println!(
                        "    {}{}",
                        text.chars().take(160).collect::<String>(),
                        if text.len() > 160 { "..." } else { "" }
                    );
                }
            }
        }
        println!("  total events: {total}");
    }
    let store = aws_adapters::DynamoStateStore::new(aws_sdk_dynamodb::Client::new(sdk), table);
    println!("\n== cursors");
    for (key, cursor) in store.list_cursors().await? {
        println!(
            "  {}\n    committed_until={} status={} pending={:?} recent_ids={} ({}) last_run={:?}",
            key.item_key(),
            cursor
                .committed_until
                .map(|t| t.to_rfc3339())
                .unwrap_or_else(|| "-".into()),
            cursor.status.name(),
            cursor.pending,
            cursor.digest.ids(),
            cursor.digest.object_key().unwrap_or("in the item"),
            cursor.last_run,
        );
        if let Some(e) = cursor.last_error {
            println!("    last_error: {} {}", e.kind.name(), e.message);
        }
    }
    Ok(())
}
