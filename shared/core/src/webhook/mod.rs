//! Webex webhooks, the push path into the bucket (DESIGN §9): which deliveries are ours
//! ([`delivery`]: signature, size, shape, webhook and organisation) and what one becomes in S3
//! ([`line`]: a line that keeps the body's bytes, the digest that makes it land once, the key of
//! the object that holds it), how a batch of them is written once ([`write`]) and what the
//! registrar does to an organisation's webhooks ([`registrar`]). No AWS and no HTTP here: the receiver and writer functions wire
//! these to API Gateway, SQS, DynamoDB and S3.

pub mod delivery;
pub mod line;
pub mod registrar;
pub mod signature;
pub mod write;

pub use delivery::{Accepted, Receiver, Refusal};
pub use line::{Delivery, body_digest, digest_of_line, object_key};
pub use signature::{SignedWith, SigningSecrets};
pub use write::{Batch, Queued, write_batch};
