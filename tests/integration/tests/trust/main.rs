//! The trust fixes: what a hostile upstream, a leaked link, a careless operator or a fresh
//! machine must not be able to do. One test binary, so that the AWS SDK is linked once more,
//! not once a module; each test is named after what it prevents.

mod callback;
mod hostile_upstream;
mod lambda_entry;
mod secrets_in_logs;
mod terminal_output;
mod token_lock;
mod webhook_lambdas;
mod webhook_registrar;
mod webhooks;
