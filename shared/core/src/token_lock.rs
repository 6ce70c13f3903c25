//! The per-identity token lock (`lock#token#{identity}`, DESIGN §4). Everything that writes an
//! identity's secret takes it: a collector's refresh, the OAuth callback and `webexctl auth
//! init`. Each re-reads the secret after taking it, changes only its own fields, renews the
//! lock right before saving and saves only if it still holds it. A write made from a stale read
//! would silently undo another's: a fresh authorisation replaced by a refresh of the old grant,
//! or a rotated client secret put back.

use std::time::Duration;

use tokio::time::Instant;

use crate::identity::IdentityName;
use crate::ports::{Clock, LeaseStore, StoreError};

/// How long the lock is held before another writer may take it over.
pub const LOCK_TTL: Duration = Duration::from_secs(30);
/// Work under the lock (a token request, say) ends this long before the lock would expire,
/// which leaves the time to renew it and save.
pub const SAVE_RESERVE: Duration = Duration::from_secs(5);
/// How often a writer waiting for the lock tries again.
pub const LOCK_POLL: Duration = Duration::from_millis(250);

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another writer held the {0} identity's token lock until the deadline")]
    Busy(IdentityName),
    #[error(
        "the {0} identity's token lock expired and was taken over before saving; nothing was saved"
    )]
    Lost(IdentityName),
    #[error("the token lock could not be read or written: {0}")]
    Store(#[from] StoreError),
}

/// The item name of an identity's token lock: for `admin` and `compliance` the item today's
/// profiles used, so that a deployment upgraded while running keeps one lock.
pub fn lock_name(identity: &IdentityName) -> String {
    format!("lock#token#{identity}")
}

/// An owner name unique to one writer: `kind` says which, for whoever reads the item. A
/// writer is one acquisition, not one process: the lock admits its own owner again (so that an
/// acquisition retried after a lost answer succeeds), so two tasks sharing an owner would both
/// hold it, and the first to release would free it under the other.
pub fn lock_owner(kind: &str) -> String {
    format!("{kind}-{:016x}", fastrand::u64(..))
}

/// A held token lock. Release it on every path: otherwise others wait until it expires.
#[derive(Debug)]
pub struct TokenLock<'a, St, Clk> {
    state: &'a St,
    clock: &'a Clk,
    identity: IdentityName,
    name: String,
    owner: String,
    /// Until when the lock is ours for certain, in real (monotonic) time: the store's clock
    /// may be a test's, and a slow call must be measured in real seconds.
    held_until: Instant,
}

impl<'a, St: LeaseStore, Clk: Clock> TokenLock<'a, St, Clk> {
    /// One attempt: the lock, or `None` when another writer holds it.
    pub async fn try_acquire(
        state: &'a St,
        clock: &'a Clk,
        identity: &IdentityName,
        owner: &str,
    ) -> Result<Option<Self>, StoreError> {
        let name = lock_name(identity);
        let started = Instant::now();
        let now = clock.now();
        if !state
            .acquire_lease(&name, owner, now.plus(LOCK_TTL), now)
            .await?
        {
            return Ok(None);
        }
        Ok(Some(Self {
            state,
            clock,
            identity: identity.clone(),
            name,
            owner: owner.to_string(),
            held_until: started + LOCK_TTL,
        }))
    }

    /// The lock, waiting for another holder to release it (or for its lock to expire) until
    /// `deadline`.
    pub async fn acquire(
        state: &'a St,
        clock: &'a Clk,
        identity: &IdentityName,
        owner: &str,
        deadline: Instant,
    ) -> Result<Self, LockError> {
        loop {
            if let Some(lock) = Self::try_acquire(state, clock, identity, owner).await? {
                return Ok(lock);
            }
            if Instant::now() + LOCK_POLL >= deadline {
                return Err(LockError::Busy(identity.clone()));
            }
            tokio::time::sleep(LOCK_POLL).await;
        }
    }

    pub fn identity(&self) -> &IdentityName {
        &self.identity
    }

    /// When work under the lock must be done, so that renewing and saving still fit in it.
    pub fn work_deadline(&self) -> Instant {
        self.held_until
            .checked_sub(SAVE_RESERVE)
            .unwrap_or(self.held_until)
    }

    /// Renews the lock, only if it is still this writer's; call it right before saving.
    /// `false` means another writer took it over after it expired: its write wins, so do not
    /// save.
    pub async fn renew(&mut self) -> Result<bool, StoreError> {
        let started = Instant::now();
        let now = self.clock.now();
        match self
            .state
            .renew_lease(&self.name, &self.owner, now.plus(LOCK_TTL))
            .await
        {
            Ok(true) => {
                self.held_until = started + LOCK_TTL;
                Ok(true)
            }
            Ok(false) => Ok(false),
            // The store could not say, but the lock has not expired yet, so nobody can have
            // taken it over: saving is safe, and not saving could lose a rotated refresh token.
            Err(e) if Instant::now() + SAVE_RESERVE < self.held_until => {
                tracing::debug!(error = %e, "renewing the token lock failed; it is still held");
                Ok(true)
            }
            Err(e) => Err(e),
        }
    }

    /// Gives the lock back. A failure is only logged: the write is done, and the lock expires
    /// by itself within `LOCK_TTL`.
    pub async fn release(self) {
        if let Err(e) = self.state.release_lease(&self.name, &self.owner).await {
            tracing::warn!(
                identity = %self.identity,
                error = %e,
                "releasing the token lock failed; it expires by itself"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{ManualClock, MemoryState};
    use crate::time::Timestamp;

    fn clock() -> ManualClock {
        ManualClock::new(Timestamp::from_millis(1_795_000_000_000))
    }

    #[test]
    fn todays_profiles_keep_their_lock_items_and_every_identity_has_its_own() {
        assert_eq!(lock_name(&IdentityName::ADMIN), "lock#token#admin");
        assert_eq!(
            lock_name(&IdentityName::COMPLIANCE),
            "lock#token#compliance"
        );
        assert_eq!(
            lock_name(&IdentityName::parse("partner").unwrap()),
            "lock#token#partner"
        );
    }

    #[tokio::test]
    async fn a_lock_taken_over_after_it_expired_is_not_confirmed() {
        let leases = MemoryState::default();
        let clock = clock();
        let mut lock = TokenLock::try_acquire(&leases, &clock, &IdentityName::ADMIN, "a")
            .await
            .unwrap()
            .expect("free");
        assert!(lock.renew().await.unwrap(), "still held");
        leases.take_over_lease("lock#token#admin", "b");
        assert!(!lock.renew().await.unwrap(), "taken over");
        lock.release().await;
        assert_eq!(
            leases.lease_holder("lock#token#admin").as_deref(),
            Some("b"),
            "releasing a lost lock leaves the new holder's"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_writer_waits_for_the_lock_no_longer_than_its_deadline() {
        let leases = MemoryState::default();
        let clock = clock();
        leases.take_over_lease("lock#token#compliance", "collector");
        let started = Instant::now();
        let outcome = TokenLock::acquire(
            &leases,
            &clock,
            &IdentityName::COMPLIANCE,
            "callback",
            started + Duration::from_millis(600),
        )
        .await;
        assert!(matches!(outcome, Err(LockError::Busy(name)) if name == IdentityName::COMPLIANCE));
        assert!(started.elapsed() < Duration::from_millis(900));
        leases
            .release_lease("lock#token#compliance", "collector")
            .await
            .unwrap();
        let lock = TokenLock::acquire(
            &leases,
            &clock,
            &IdentityName::COMPLIANCE,
            "callback",
            Instant::now() + Duration::from_secs(1),
        )
        .await
        .expect("free again");
        assert!(lock.work_deadline() + SAVE_RESERVE <= Instant::now() + LOCK_TTL);
        lock.release().await;
        assert_eq!(leases.lease_holder("lock#token#compliance"), None);
    }
}
