//! A resilience layer around any [`KeyProvider`]: limited retries with backoff, an overall
//! deadline per call, and a circuit breaker, so a key manager that is down, slow or
//! flapping costs each request a bounded wait and then a KMS error, never a hang.
//!
//! - **Retries** only for [`KeyError::is_retryable`] errors (the key service could not
//!   answer). Every other error is the key service's answer and is returned at once.
//!   Issuing and unwrapping change no key state, so repeating a call is harmless.
//! - **Backoff**: exponential from [`Resilience::backoff`], doubling per retry up to
//!   [`MAX_BACKOFF`], with jitter (each wait drawn from its upper half) so that
//!   requests failing together do not retry in lockstep.
//! - **Deadline**: the whole call, retries and waits included, ends within
//!   [`Resilience::deadline`]; an attempt still running then is dropped and the call fails
//!   as [`KeyError::Timeout`]. This is the documented maximum a client waits on the KMS.
//! - **Circuit breaker**: after [`Resilience::breaker_threshold`] consecutive retryable
//!   failures (attempts, not calls) the circuit opens: calls fail at once with
//!   [`KeyError::Unavailable`] for [`Resilience::breaker_cooldown`], sparing the clients
//!   their wait and the key service a retry storm. Then one trial call goes through
//!   (half-open); its success closes the circuit, its failure opens it for another
//!   cool-down. A call the key service answered, even with a refusal, counts as a sign
//!   of life and closes the circuit.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use coffer_crypto::{DataKey, Envelope, SseMethod};
use tokio::time::Instant;

use crate::sse::{CachedUse, IssuedKey, KeyContext, KeyError, KeyProvider};

/// Longest wait between two attempts, however many retries.
pub const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// How a [`ResilientKeys`] retries and when its circuit opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resilience {
    /// Attempts after the first, for retryable errors only.
    pub retries: u32,
    /// Wait before the first retry; each further retry doubles it (jittered).
    pub backoff: Duration,
    /// Bound on one whole call, retries and waits included.
    pub deadline: Duration,
    /// Consecutive retryable failures that open the circuit (0: never opens).
    pub breaker_threshold: u32,
    /// How long an open circuit fails calls at once before letting a trial through.
    pub breaker_cooldown: Duration,
}

impl Default for Resilience {
    fn default() -> Self {
        Resilience {
            retries: 2,
            backoff: Duration::from_millis(50),
            deadline: Duration::from_secs(10),
            breaker_threshold: 5,
            breaker_cooldown: Duration::from_secs(5),
        }
    }
}

/// The breaker's state. `HalfOpen` means one trial call is in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Circuit {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen,
}

/// What the breaker lets a call do.
enum Admission {
    /// A normal call, retries allowed.
    Normal,
    /// The one trial after a cool-down: a single attempt.
    Trial,
}

/// Wraps `inner` with retries, a deadline and a circuit breaker (see the module docs).
pub struct ResilientKeys {
    inner: Arc<dyn KeyProvider>,
    policy: Resilience,
    circuit: Mutex<Circuit>,
}

impl ResilientKeys {
    pub fn new(inner: Arc<dyn KeyProvider>, policy: Resilience) -> Self {
        ResilientKeys {
            inner,
            policy,
            circuit: Mutex::new(Circuit::Closed { failures: 0 }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Circuit> {
        self.circuit.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Lets a call through, or refuses it at once while the circuit is open.
    fn admit(&self) -> Result<Admission, KeyError> {
        let mut circuit = self.lock();
        match *circuit {
            Circuit::Closed { .. } => Ok(Admission::Normal),
            Circuit::Open { until } if Instant::now() >= until => {
                *circuit = Circuit::HalfOpen;
                Ok(Admission::Trial)
            }
            Circuit::Open { until } => Err(open_error(until)),
            // Another call is the trial; this one must not pile onto a sick service.
            Circuit::HalfOpen => Err(KeyError::Unavailable(
                "circuit open: a trial call is checking whether the key service is back".into(),
            )),
        }
    }

    /// Records one attempt's outcome. Returns whether the circuit is (still) closed, i.e.
    /// whether a retry may follow.
    fn record(&self, outcome: Result<(), &KeyError>) -> bool {
        let mut circuit = self.lock();
        let failed = outcome.is_err_and(KeyError::is_retryable);
        *circuit = match (*circuit, failed) {
            (_, false) => Circuit::Closed { failures: 0 },
            (Circuit::Closed { failures }, true) => {
                let failures = failures.saturating_add(1);
                if self.policy.breaker_threshold > 0 && failures >= self.policy.breaker_threshold {
                    tracing::warn!(
                        failures,
                        cooldown = ?self.policy.breaker_cooldown,
                        "key service failing: circuit open"
                    );
                    self.opened()
                } else {
                    Circuit::Closed { failures }
                }
            }
            (Circuit::HalfOpen | Circuit::Open { .. }, true) => self.opened(),
        };
        matches!(*circuit, Circuit::Closed { .. })
    }

    fn opened(&self) -> Circuit {
        Circuit::Open {
            until: Instant::now() + self.policy.breaker_cooldown,
        }
    }

    /// Runs `attempt` under the policy: admitted by the breaker, retried with backoff
    /// while it fails retryably, bounded by the deadline.
    async fn run<T, F, Fut>(&self, mut attempt: F) -> Result<T, KeyError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, KeyError>>,
    {
        let admission = self.admit()?;
        // Dropped unfinished (deadline, or the client went away), a trial must not leave
        // the circuit half-open for good: the guard reopens it.
        let trial = TrialGuard {
            keys: self,
            armed: matches!(admission, Admission::Trial),
        };
        let retries = match admission {
            Admission::Normal => self.policy.retries,
            Admission::Trial => 0,
        };
        let calls = async {
            let mut wait = self.policy.backoff;
            let mut tries = 0;
            loop {
                let result = attempt().await;
                let closed = self.record(result.as_ref().map(|_| ()));
                match result {
                    Err(e) if e.is_retryable() && closed && tries < retries => {
                        tries += 1;
                        tracing::debug!(error = %e, tries, "key service call failed; retrying");
                        tokio::time::sleep(jittered(wait)).await;
                        wait = (wait * 2).min(MAX_BACKOFF);
                    }
                    other => return other,
                }
            }
        };
        let outcome = match tokio::time::timeout(self.policy.deadline, calls).await {
            Ok(result) => result,
            Err(_) => {
                let e = KeyError::Timeout(self.policy.deadline);
                self.record(Err(&e));
                Err(e)
            }
        };
        trial.disarm();
        outcome
    }
}

/// Reopens the circuit if a trial call is dropped before it records an outcome.
struct TrialGuard<'a> {
    keys: &'a ResilientKeys,
    armed: bool,
}

impl TrialGuard<'_> {
    fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for TrialGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            let mut circuit = self.keys.lock();
            if *circuit == Circuit::HalfOpen {
                // The cool-down already passed: the next call may be the trial.
                *circuit = Circuit::Open {
                    until: Instant::now(),
                };
            }
        }
    }
}

fn open_error(until: Instant) -> KeyError {
    let left = until.saturating_duration_since(Instant::now());
    KeyError::Unavailable(format!(
        "circuit open after repeated failures; next trial in {} ms",
        left.as_millis()
    ))
}

/// A wait drawn from the upper half of `wait`: spread out, never much shorter.
fn jittered(wait: Duration) -> Duration {
    let half = wait / 2;
    let spread = u64::try_from(half.as_micros()).unwrap_or(u64::MAX);
    half + Duration::from_micros(rand::random_range(0..=spread))
}

#[async_trait::async_trait]
impl KeyProvider for ResilientKeys {
    async fn issue(
        &self,
        method: SseMethod,
        kms_key_id: Option<&str>,
        context: &KeyContext,
        caller: &str,
    ) -> Result<IssuedKey, KeyError> {
        self.run(|| self.inner.issue(method, kms_key_id, context, caller))
            .await
    }

    async fn unwrap(
        &self,
        envelope: &Envelope,
        context: &KeyContext,
        caller: &str,
    ) -> Result<DataKey, KeyError> {
        self.run(|| self.inner.unwrap(envelope, context, caller))
            .await
    }

    /// Answered locally by the provider (no key-service call), so not retried or broken.
    async fn cached_use(&self, used: &CachedUse<'_>) -> Result<(), KeyError> {
        self.inner.cached_use(used).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// Answers each call with the next scripted result (the last one repeats), after
    /// `delay`; counts the calls.
    struct Scripted {
        calls: AtomicU32,
        script: Mutex<Vec<Result<(), KeyError>>>,
        delay: Duration,
    }

    impl Scripted {
        fn new(script: Vec<Result<(), KeyError>>, delay: Duration) -> Arc<Self> {
            Arc::new(Scripted {
                calls: AtomicU32::new(0),
                script: Mutex::new(script),
                delay,
            })
        }

        fn calls(&self) -> u32 {
            self.calls.load(Ordering::SeqCst)
        }

        fn set(&self, script: Vec<Result<(), KeyError>>) {
            *self.script.lock().unwrap() = script;
        }
    }

    #[async_trait::async_trait]
    impl KeyProvider for Scripted {
        async fn issue(
            &self,
            _: SseMethod,
            _: Option<&str>,
            _: &KeyContext,
            _: &str,
        ) -> Result<IssuedKey, KeyError> {
            Err(KeyError::InvalidParameter("unused".into()))
        }

        async fn unwrap(&self, _: &Envelope, _: &KeyContext, _: &str) -> Result<DataKey, KeyError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(self.delay).await;
            let next = {
                let mut script = self.script.lock().unwrap();
                if script.len() > 1 {
                    script.remove(0)
                } else {
                    script[0].clone()
                }
            };
            next.map(|()| DataKey::from_bytes([7; 32]))
        }
    }

    fn down() -> Result<(), KeyError> {
        Err(KeyError::Unavailable("down".into()))
    }

    fn envelope() -> Envelope {
        Envelope {
            format: Envelope::FORMAT,
            method: SseMethod::Kms,
            suite: coffer_crypto::CipherSuite::Aes256Gcm,
            key_id: "k".into(),
            key_version: 1,
            wrapped_key: vec![1],
            salt: vec![0; 16],
            bucket: "b".into(),
            object: String::new(),
            key_verifier: None,
        }
    }

    async fn unwrap(keys: &ResilientKeys) -> Result<(), KeyError> {
        keys.unwrap(&envelope(), &KeyContext::new(), "c")
            .await
            .map(|_| ())
    }

    fn policy() -> Resilience {
        Resilience {
            retries: 2,
            backoff: Duration::from_millis(100),
            deadline: Duration::from_secs(10),
            breaker_threshold: 5,
            breaker_cooldown: Duration::from_secs(30),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn retries_only_errors_a_retry_can_cure() {
        let inner = Scripted::new(vec![down(), down(), Ok(())], Duration::ZERO);
        let keys = ResilientKeys::new(inner.clone(), policy());
        assert_eq!(unwrap(&keys).await, Ok(()));
        assert_eq!(inner.calls(), 3, "two retries, then success");

        for answer in [
            KeyError::Disabled,
            KeyError::AccessDenied,
            KeyError::InvalidCiphertext,
        ] {
            let inner = Scripted::new(vec![Err(answer.clone())], Duration::ZERO);
            let keys = ResilientKeys::new(inner.clone(), policy());
            assert_eq!(unwrap(&keys).await, Err(answer));
            assert_eq!(inner.calls(), 1, "the key service's answer is final");
        }

        let inner = Scripted::new(vec![down()], Duration::ZERO);
        let keys = ResilientKeys::new(inner.clone(), policy());
        assert_eq!(unwrap(&keys).await, down());
        assert_eq!(inner.calls(), 3, "at most `retries` retries");
    }

    #[tokio::test(start_paused = true)]
    async fn backoff_grows_with_jitter() {
        let inner = Scripted::new(vec![down()], Duration::ZERO);
        let keys = ResilientKeys::new(inner.clone(), policy());
        let started = Instant::now();
        let _ = unwrap(&keys).await;
        // Waits of 50-100 ms then 100-200 ms.
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(150), "{waited:?}");
        assert!(waited <= Duration::from_millis(300), "{waited:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_hung_key_service_costs_at_most_the_deadline() {
        let inner = Scripted::new(vec![Ok(())], Duration::from_secs(3600));
        let deadline = Duration::from_secs(2);
        let keys = ResilientKeys::new(
            inner.clone(),
            Resilience {
                deadline,
                ..policy()
            },
        );
        let started = Instant::now();
        assert_eq!(unwrap(&keys).await, Err(KeyError::Timeout(deadline)));
        assert_eq!(started.elapsed(), deadline);

        // Slow failures: the retries stop at the deadline too.
        let inner = Scripted::new(vec![down()], Duration::from_millis(1500));
        let keys = ResilientKeys::new(
            inner.clone(),
            Resilience {
                deadline,
                ..policy()
            },
        );
        let started = Instant::now();
        assert_eq!(unwrap(&keys).await, Err(KeyError::Timeout(deadline)));
        assert_eq!(started.elapsed(), deadline);
        assert_eq!(inner.calls(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn the_breaker_opens_half_opens_and_closes() {
        let inner = Scripted::new(vec![down()], Duration::ZERO);
        let cooldown = policy().breaker_cooldown;
        let keys = ResilientKeys::new(inner.clone(), policy());
        // 3 attempts, then 2 more: the fifth consecutive failure opens the circuit.
        assert!(unwrap(&keys).await.is_err());
        assert!(unwrap(&keys).await.is_err());
        assert_eq!(inner.calls(), 5);

        // Open: refused at once, without asking the key service.
        let started = Instant::now();
        let Err(KeyError::Unavailable(why)) = unwrap(&keys).await else {
            panic!("an open circuit refuses");
        };
        assert!(why.starts_with("circuit open"), "{why}");
        assert_eq!(started.elapsed(), Duration::ZERO);
        assert_eq!(inner.calls(), 5);

        // After the cool-down one trial goes through; its failure reopens the circuit.
        tokio::time::advance(cooldown).await;
        assert_eq!(unwrap(&keys).await, down());
        assert_eq!(inner.calls(), 6, "the trial is a single attempt");
        assert!(unwrap(&keys).await.is_err());
        assert_eq!(inner.calls(), 6, "open again");

        // The service is back: the next trial succeeds and closes the circuit.
        inner.set(vec![Ok(())]);
        tokio::time::advance(cooldown).await;
        assert_eq!(unwrap(&keys).await, Ok(()));
        assert_eq!(unwrap(&keys).await, Ok(()));
        assert_eq!(inner.calls(), 8);
    }

    #[tokio::test(start_paused = true)]
    async fn only_one_trial_at_a_time_and_a_dropped_trial_does_not_wedge_the_circuit() {
        let inner = Scripted::new(vec![down(), Ok(())], Duration::from_secs(1));
        let cooldown = policy().breaker_cooldown;
        let policy = Resilience {
            breaker_threshold: 1,
            ..policy()
        };
        let keys = ResilientKeys::new(inner.clone(), policy);
        assert!(unwrap(&keys).await.is_err());
        assert_eq!(inner.calls(), 1, "opened by the first failure: no retry");
        tokio::time::advance(cooldown).await;

        // A slow trial, abandoned (its client went away) while a second call arrives.
        let mut trial = Box::pin(unwrap(&keys));
        let abandoned = tokio::time::timeout(Duration::from_millis(10), &mut trial).await;
        assert!(abandoned.is_err(), "the trial is still running");
        let Err(KeyError::Unavailable(_)) = unwrap(&keys).await else {
            panic!("refused while the trial runs");
        };
        assert_eq!(inner.calls(), 2);
        drop(trial);
        assert_eq!(unwrap(&keys).await, Ok(()), "the next call is the trial");
        assert_eq!(unwrap(&keys).await, Ok(()), "closed");
    }

    #[tokio::test(start_paused = true)]
    async fn a_refusal_is_a_sign_of_life() {
        let inner = Scripted::new(
            vec![down(), down(), Err(KeyError::Disabled)],
            Duration::ZERO,
        );
        let keys = ResilientKeys::new(
            inner.clone(),
            Resilience {
                breaker_threshold: 4,
                ..policy()
            },
        );
        assert_eq!(unwrap(&keys).await, Err(KeyError::Disabled));
        inner.set(vec![down()]);
        // Without the reset the circuit would open at this call's second attempt.
        assert_eq!(unwrap(&keys).await, down());
        assert_eq!(inner.calls(), 6, "three attempts, the circuit still closed");
        assert!(matches!(*keys.lock(), Circuit::Closed { failures: 3 }));
    }
}
