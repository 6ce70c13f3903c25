//! Who consents on the authorize page, and so whom `GET /people/me` describes for the tokens
//! that consent led to. By default the simulated organisation's administrator; a test can
//! have someone else sign in (another person of the org, or an account of another org).

use crate::config::SimConfig;
use crate::encoding::base64;
use crate::rng::{hash_str, rng_for, uuid};

/// A Webex user as `/people/me` shows them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimPerson {
    pub email: String,
    pub display_name: String,
    pub org_id: String,
}

impl SimPerson {
    pub fn new(email: &str, display_name: &str, org_id: &str) -> SimPerson {
        SimPerson {
            email: email.to_owned(),
            display_name: display_name.to_owned(),
            org_id: org_id.to_owned(),
        }
    }

    /// The simulated organisation's administrator: who signs in unless a test says otherwise.
    pub fn admin_of(config: &SimConfig) -> SimPerson {
        SimPerson::new("sim.admin@example.com", "Sim Admin", &config.org_id)
    }

    /// A person id in Webex's shape (base64 of `ciscospark://us/PEOPLE/{uuid}`), the same for
    /// the same address under the same seed.
    pub(crate) fn id(&self, seed: u64) -> String {
        let person_uuid = uuid(&mut rng_for(&[seed, 0x4D45, hash_str(&self.email)]));
        base64(format!("ciscospark://us/PEOPLE/{person_uuid}").as_bytes())
    }
}
