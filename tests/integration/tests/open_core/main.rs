//! The open core (DESIGN §7): sources, identities and organisations as data. One test binary
//! for its end-to-end checks; each module holds one part.

mod config_check;
mod document;
mod due;
mod fanout;
mod sources;
mod state;
mod units;
