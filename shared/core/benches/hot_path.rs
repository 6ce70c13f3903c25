//! The collector's hot path per page, in MiB/s of Webex JSON: split a page into raw events
//! (`PageShape::parse`, the bench's name `parse_page` kept so figures stay comparable), then write them as gzip NDJSON (`ObjectWriter`) into a sink that only counts
//! bytes, so what is timed is our CPU work and not S3.
//!
//! The pages are the simulator's own (`webex-sim` generates the events `make bench` collects),
//! so the JSON has the shape, field variety and compressibility of the end-to-end runs.
//! `make bench` runs this with `cargo bench -p collector-core --bench hot_path` and copies the
//! figures into docs/benchmarks.md.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use collector_core::object::{DEFAULT_PART_SIZE, ObjectWriter};
use collector_core::page::PageShape;
use collector_core::ports::{ObjectMeta, ObjectSink, PutOutcome, SinkError};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use webex_sim::{GenerateSpec, SimConfig, Simulator, Stream};

/// A sink that keeps nothing but the number of compressed bytes it was given.
#[derive(Debug, Default)]
struct CountingSink {
    bytes: AtomicU64,
}

impl CountingSink {
    fn take(&self, body: &Bytes) {
        self.bytes.fetch_add(body.len() as u64, Ordering::Relaxed);
    }
}

impl ObjectSink for CountingSink {
    type Upload = ();

    async fn get(&self, _key: &str) -> Result<Option<Bytes>, SinkError> {
        Ok(None)
    }

    async fn put_if_absent(
        &self,
        _key: &str,
        body: Bytes,
        _meta: &ObjectMeta,
    ) -> Result<PutOutcome, SinkError> {
        self.take(&body);
        Ok(PutOutcome::Written)
    }

    async fn start_upload(&self, _key: &str) -> Result<(), SinkError> {
        Ok(())
    }

    async fn upload_part(&self, _upload: &mut (), body: Bytes) -> Result<(), SinkError> {
        self.take(&body);
        Ok(())
    }

    async fn complete_upload(
        &self,
        _upload: (),
        _meta: &ObjectMeta,
    ) -> Result<PutOutcome, SinkError> {
        Ok(PutOutcome::Written)
    }

    async fn abort_upload(&self, _upload: ()) -> Result<(), SinkError> {
        Ok(())
    }

    async fn clean_up(&self, _key: &str) -> Result<(), SinkError> {
        Ok(())
    }

    async fn delete(&self, _key: &str) -> Result<(), SinkError> {
        Ok(())
    }
}

/// Full pages of `stream` exactly as the simulator serves them: `{"items":[...]}`.
fn sim_pages(runtime: &tokio::runtime::Runtime, stream: Stream, per_page: usize) -> Vec<Bytes> {
    const PAGES: usize = 4;
    runtime.block_on(async {
        let sim = Simulator::start(SimConfig::default())
            .await
            .expect("the simulator starts on a free port");
        let to_ms = sim.now_ms();
        let events = sim.generate(
            stream,
            GenerateSpec {
                shared_timestamp_fraction: 0.05,
                ..GenerateSpec::new(PAGES * per_page, to_ms - 86_400_000, to_ms)
            },
        );
        sim.stop().await;
        events
            .chunks(per_page)
            .map(|page| {
                let items: Vec<&str> = page.iter().map(|e| e.json.as_str()).collect();
                Bytes::from(format!("{{\"items\":[{}]}}", items.join(",")))
            })
            .collect()
    })
}

/// Parses every page and writes its events into one object, as a window of these pages does.
async fn write_object(sink: &CountingSink, pages: &[Bytes]) -> u64 {
    let mut writer = ObjectWriter::new(sink, "bench.ndjson.gz".to_owned(), DEFAULT_PART_SIZE);
    for page in pages {
        for event in PageShape::webex()
            .parse(page)
            .expect("simulator pages parse")
            .events
        {
            writer
                .write(&event.json)
                .await
                .expect("the counting sink never fails");
        }
    }
    let events = writer.events();
    writer
        .finish(&ObjectMeta::default())
        .await
        .expect("the counting sink never fails");
    events
}

fn hot_path(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime builds");
    let cases = [
        ("compliance-events", Stream::ComplianceEvents, 1000),
        ("admin-audit", Stream::AdminAudit, 200),
    ];
    for (name, stream, per_page) in cases {
        let pages = sim_pages(&runtime, stream, per_page);
        let bytes: usize = pages.iter().map(Bytes::len).sum();
        let mut group = c.benchmark_group(name);
        group.throughput(Throughput::Bytes(bytes as u64));

        group.bench_function("parse_page", |b| {
            b.iter(|| {
                pages
                    .iter()
                    .map(|p| {
                        PageShape::webex()
                            .parse(black_box(p))
                            .map_or(0, |page| page.events.len())
                    })
                    .sum::<usize>()
            });
        });
        group.bench_function("parse_ndjson_gzip", |b| {
            let sink = CountingSink::default();
            b.iter(|| runtime.block_on(write_object(&sink, black_box(&pages))));
        });
        group.finish();
    }
}

criterion_group!(benches, hot_path);
criterion_main!(benches);
