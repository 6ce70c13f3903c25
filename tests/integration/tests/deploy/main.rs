//! The deployment contract: `infra/template.yaml` against the code it deploys. Every function
//! crate is deployed and given exactly the environment it reads; each role allows exactly what
//! its function's runs ask of AWS; the Glue tables read what the collectors write.

mod aws_calls;
mod consistency;
mod dashboard;
mod environment;
mod glue;
mod iam;
mod policies;
mod sample;
mod schema;
mod template;
