//! Organisations: the home org, the customer orgs a partner administrator manages, and the
//! switch that makes one org refuse event requests. Pure bookkeeping; the HTTP side is in
//! `orgs_api.rs` and `event_query.rs`.
//!
//! Webex: "Organizations may manage other organizations or be managed themselves"; a partner
//! administrator acts in the customer orgs assigned to them, an ordinary administrator only in
//! their own (<https://developer.webex.com/docs/api/v1/organizations>,
//! <https://developer.webex.com/admin/docs/partners-guide-to-using-the-webex-apis>).

use std::collections::HashMap;

use crate::config::Stream;
use crate::encoding::base64;
use crate::person::SimPerson;

/// 2024-01-01T00:00:00Z: when the home org was created; customer `n` came `n` days later.
const HOME_CREATED_MS: i64 = 1_704_067_200_000;
const DAY_MS: i64 = 86_400_000;

/// Display name of the home organisation (and of its events' `actorOrgName`).
pub(crate) const HOME_ORG_NAME: &str = "Sim Org Inc.";

/// A Webex organisation as `GET /organizations` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimOrg {
    pub id: String,
    pub display_name: String,
    pub created_ms: i64,
}

impl SimOrg {
    pub fn new(id: &str, display_name: &str, created_ms: i64) -> SimOrg {
        SimOrg {
            id: id.to_owned(),
            display_name: display_name.to_owned(),
            created_ms,
        }
    }

    /// Customer org number `n` (the `webex-sim --orgs N` binary makes 1..=N): id
    /// `org_id_for("sim-customer-{n:03}")`, name `Sim Customer {n:03}`.
    pub fn customer(n: u32) -> SimOrg {
        SimOrg {
            id: org_id_for(&format!("sim-customer-{n:03}")),
            display_name: format!("Sim Customer {n:03}"),
            created_ms: HOME_CREATED_MS + i64::from(n) * DAY_MS,
        }
    }

    /// The home organisation of a simulator whose `SimConfig::org_id` is `id`.
    pub(crate) fn home(id: &str) -> SimOrg {
        SimOrg::new(id, HOME_ORG_NAME, HOME_CREATED_MS)
    }
}

/// The id Webex gives the org `ciscospark://us/ORGANIZATION/{slug}` (base64 of that URI):
/// `org_id_for("sim-org")` is `DEFAULT_ORG_ID`.
pub fn org_id_for(slug: &str) -> String {
    base64(format!("ciscospark://us/ORGANIZATION/{slug}").as_bytes())
}

/// Who a partner administrator is: the same person whatever their display name.
type PersonKey = (String, String);

fn key(person: &SimPerson) -> PersonKey {
    (person.email.to_ascii_lowercase(), person.org_id.clone())
}

/// Every registered org, which orgs each partner administrator manages, and which orgs
/// refuse which streams.
#[derive(Debug)]
pub(crate) struct OrgDirectory {
    /// In registration order, the home org first.
    orgs: Vec<SimOrg>,
    managed: HashMap<PersonKey, Vec<String>>,
    refused: HashMap<String, Vec<Stream>>,
}

impl OrgDirectory {
    pub(crate) fn new(home: SimOrg) -> OrgDirectory {
        OrgDirectory {
            orgs: vec![home],
            managed: HashMap::new(),
            refused: HashMap::new(),
        }
    }

    /// Registers `org`. Registering it again is a no-op; another org under a registered id is
    /// refused, since its events already carry the first one's name.
    pub(crate) fn add(&mut self, org: SimOrg) -> Result<(), String> {
        match self.get(&org.id) {
            Some(known) if *known == org => Ok(()),
            Some(known) => Err(format!(
                "organization '{}' is already registered as {known:?}",
                org.id
            )),
            None => {
                self.orgs.push(org);
                Ok(())
            }
        }
    }

    pub(crate) fn get(&self, org_id: &str) -> Option<&SimOrg> {
        self.orgs.iter().find(|org| org.id == org_id)
    }

    pub(crate) fn all(&self) -> &[SimOrg] {
        &self.orgs
    }

    /// `partner` manages exactly `org_ids` from now on (none: an ordinary administrator).
    pub(crate) fn set_managed(
        &mut self,
        partner: &SimPerson,
        org_ids: Vec<String>,
    ) -> Result<(), String> {
        if let Some(unknown) = org_ids.iter().find(|id| self.get(id).is_none()) {
            return Err(format!(
                "organization '{unknown}' is not registered; add it with Simulator::add_org first"
            ));
        }
        if org_ids.is_empty() {
            self.managed.remove(&key(partner));
        } else {
            self.managed.insert(key(partner), org_ids);
        }
        Ok(())
    }

    /// Whether `person`'s tokens may name `org_id`: their own org or one they manage.
    pub(crate) fn may_see(&self, person: &SimPerson, org_id: &str) -> bool {
        person.org_id == org_id
            || self
                .managed
                .get(&key(person))
                .is_some_and(|orgs| orgs.iter().any(|id| id == org_id))
    }

    /// What `GET /organizations` lists for `person`: their own org, then the ones they
    /// manage, in registration order. An own org the simulator was never told about (a
    /// stranger signing in) is listed under a placeholder name.
    pub(crate) fn visible(&self, person: &SimPerson) -> Vec<SimOrg> {
        let own = self
            .get(&person.org_id)
            .cloned()
            .unwrap_or_else(|| SimOrg::new(&person.org_id, "Unregistered Org", HOME_CREATED_MS));
        let managed: Vec<SimOrg> = self
            .orgs
            .iter()
            .filter(|org| org.id != own.id && self.may_see(person, &org.id))
            .cloned()
            .collect();
        std::iter::once(own).chain(managed).collect()
    }

    /// Event requests for `org_id` on these streams answer 403 until `restore`.
    pub(crate) fn refuse(&mut self, org_id: &str, streams: &[Stream]) {
        let refused = self.refused.entry(org_id.to_owned()).or_default();
        for stream in streams {
            if !refused.contains(stream) {
                refused.push(*stream);
            }
        }
    }

    pub(crate) fn restore(&mut self, org_id: &str) {
        self.refused.remove(org_id);
    }

    pub(crate) fn refuses(&self, org_id: &str, stream: Stream) -> bool {
        self.refused
            .get(org_id)
            .is_some_and(|streams| streams.contains(&stream))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DEFAULT_ORG_ID;

    fn directory() -> OrgDirectory {
        let mut orgs = OrgDirectory::new(SimOrg::home(DEFAULT_ORG_ID));
        for n in 1..=3 {
            orgs.add(SimOrg::customer(n)).unwrap();
        }
        orgs
    }

    fn admin() -> SimPerson {
        SimPerson::new("Sim.Admin@example.com", "Sim Admin", DEFAULT_ORG_ID)
    }

    #[test]
    fn the_default_org_id_is_the_sim_org_slug() {
        assert_eq!(org_id_for("sim-org"), DEFAULT_ORG_ID);
        assert_ne!(SimOrg::customer(1).id, SimOrg::customer(2).id);
    }

    #[test]
    fn registering_twice_is_harmless_but_a_different_org_under_one_id_is_not() {
        let mut orgs = directory();
        assert!(orgs.add(SimOrg::customer(1)).is_ok());
        let impostor = SimOrg::new(&SimOrg::customer(1).id, "Other", 0);
        assert!(orgs.add(impostor).is_err());
        assert_eq!(orgs.all().len(), 4);
    }

    #[test]
    fn a_partner_sees_its_own_org_and_the_managed_ones_only() {
        let mut orgs = directory();
        let (one, two, three) = (
            SimOrg::customer(1).id,
            SimOrg::customer(2).id,
            SimOrg::customer(3).id,
        );
        assert_eq!(orgs.visible(&admin()), [SimOrg::home(DEFAULT_ORG_ID)]);
        assert!(!orgs.may_see(&admin(), &one));

        orgs.set_managed(&admin(), vec![three.clone(), one.clone()])
            .unwrap();
        let ids: Vec<String> = orgs.visible(&admin()).into_iter().map(|o| o.id).collect();
        assert_eq!(ids, [DEFAULT_ORG_ID.to_owned(), one.clone(), three.clone()]);
        let same_person = SimPerson::new("sim.admin@example.com", "Renamed", DEFAULT_ORG_ID);
        assert!(orgs.may_see(&same_person, &three));
        assert!(!orgs.may_see(&admin(), &two));
        let colleague = SimPerson::new("other@example.com", "Other", DEFAULT_ORG_ID);
        assert!(!orgs.may_see(&colleague, &one), "only the partner admin");

        assert!(orgs.set_managed(&admin(), vec!["nope".to_owned()]).is_err());
        orgs.set_managed(&admin(), Vec::new()).unwrap();
        assert!(!orgs.may_see(&admin(), &one));
    }

    #[test]
    fn a_stranger_sees_only_an_unregistered_own_org() {
        let orgs = directory();
        let eve = SimPerson::new("eve@evil.example", "Eve", "EVIL-ORG");
        let visible = orgs.visible(&eve);
        assert_eq!(visible.len(), 1);
        assert_eq!(visible[0].id, "EVIL-ORG");
        assert!(!orgs.may_see(&eve, DEFAULT_ORG_ID));
    }

    #[test]
    fn refusals_are_per_org_and_stream_until_restored() {
        let mut orgs = directory();
        let one = SimOrg::customer(1).id;
        orgs.refuse(&one, &[Stream::SecurityAudit]);
        assert!(orgs.refuses(&one, Stream::SecurityAudit));
        assert!(!orgs.refuses(&one, Stream::AdminAudit));
        assert!(!orgs.refuses(DEFAULT_ORG_ID, Stream::SecurityAudit));
        orgs.refuse(&one, &Stream::ALL);
        assert!(Stream::ALL.iter().all(|s| orgs.refuses(&one, *s)));
        orgs.restore(&one);
        assert!(!Stream::ALL.iter().any(|s| orgs.refuses(&one, *s)));
    }
}
