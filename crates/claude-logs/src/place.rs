//! Where a thread runs: letting a thread just spawned start at once beside its parent.

/// Moves the calling thread to another processor than the one it runs on (among those it is
/// allowed), then allows it every one of them again, so that a thread it has just spawned
/// starts at once. For a parent that waits for what it spawned (the readers); a parent with
/// work of its own has the spawned thread move instead ([`Parent`]).
///
/// Linux puts a new thread on its parent's processor and, while the parent stays busy, moves
/// it to an idle one only at the next load balance: on the 2-core bench machine a thread
/// spawned beside a busy parent started after 1.4 to 1.8 ms (two 2 ms loops took 3.5 ms, not
/// 2), and after about 0.2 ms when the parent stepped aside (2.3 ms). The parent's allowed
/// processors are left as they were (`taskset` is respected); with only one allowed, or
/// where this cannot be done, nothing happens.
pub fn step_aside() {
    #[cfg(target_os = "linux")]
    {
        use rustix::thread::{sched_getaffinity, sched_getcpu, sched_setaffinity};
        let Ok(allowed) = sched_getaffinity(None) else {
            return;
        };
        let mut elsewhere = allowed;
        elsewhere.unset(sched_getcpu());
        if elsewhere.count() > 0 && sched_setaffinity(None, &elsewhere).is_ok() {
            let _ = sched_setaffinity(None, &allowed);
        }
    }
}

/// The processor a thread ran on when it spawned another, for the spawned thread to leave
/// ([`Parent::leave`]): for a parent that goes on with work of its own.
///
/// Such a parent should not step aside itself: moving needs the other processor to take it,
/// and on the 2-core bench virtual machine, whose other processor sat idle, that took about
/// 0.1 ms at times and 4 to 5.5 ms at others (the processor's wake-up), time in which the
/// parent did nothing (the ledger load that a warm run waits for started that much later).
/// The spawned thread moves instead, and only when it finds itself on its parent's processor;
/// the parent goes on either way. The spawned thread can only look once it runs: when it
/// started on its parent's processor by taking it over, it moves and any wait for the other
/// processor falls on it, not on the parent; when a load balance has moved it already, or the
/// parent has moved since, it stays where it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parent(Option<usize>);

impl Parent {
    /// The calling thread's processor, where that can be known.
    pub fn here() -> Parent {
        #[cfg(target_os = "linux")]
        {
            Parent(Some(rustix::thread::sched_getcpu()))
        }
        #[cfg(not(target_os = "linux"))]
        {
            Parent(None)
        }
    }

    /// Called first by the spawned thread: moves it to another processor (as [`step_aside`])
    /// when it runs on its parent's; else nothing.
    pub fn leave(self) {
        #[cfg(target_os = "linux")]
        if self.is(rustix::thread::sched_getcpu()) {
            step_aside();
        }
    }

    /// Whether processor `cpu` is the parent's (never when that is not known).
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    fn is(self, cpu: usize) -> bool {
        self.0 == Some(cpu)
    }
}

/// `f` as the body of a thread to spawn beside the caller, which goes on with work of its own:
/// the caller's processor is taken now ([`Parent::here`]), and the thread leaves it first
/// ([`Parent::leave`]).
pub fn beside<T>(f: impl FnOnce() -> T) -> impl FnOnce() -> T {
    let parent = Parent::here();
    move || {
        parent.leave();
        f()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Stepping aside leaves the allowed processors as they were.
    #[cfg(target_os = "linux")]
    #[test]
    fn the_allowed_processors_stay_the_same() {
        use rustix::thread::sched_getaffinity;
        let before = sched_getaffinity(None).unwrap();
        step_aside();
        let after = sched_getaffinity(None).unwrap();
        assert_eq!(before.count(), after.count());
        for cpu in 0..1024 {
            assert_eq!(before.is_set(cpu), after.is_set(cpu), "cpu {cpu}");
        }
    }

    /// A spawned thread leaves only its parent's processor, never one where the parent's is
    /// not known.
    #[test]
    fn only_the_parents_processor_is_left() {
        assert!(Parent(Some(1)).is(1));
        assert!(!Parent(Some(1)).is(0));
        assert!(!Parent(None).is(0));
    }

    /// Leaving, whether the spawned thread moves or not, leaves the allowed processors as they
    /// were.
    #[cfg(target_os = "linux")]
    #[test]
    fn leaving_keeps_the_allowed_processors() {
        use rustix::thread::sched_getaffinity;
        let before = sched_getaffinity(None).unwrap();
        let same = move || {
            let after = sched_getaffinity(None).unwrap();
            (0..1024).all(|cpu| before.is_set(cpu) == after.is_set(cpu))
        };
        let parent = Parent::here();
        assert!(parent.0.is_some_and(|cpu| before.is_set(cpu)));
        let spawned = std::thread::spawn(move || {
            // On the parent's processor or not, as the kernel placed it.
            parent.leave();
            Parent(None).leave();
            same()
        });
        assert!(spawned.join().unwrap());
        // The same through `beside`, which also hands back what the body returns.
        assert!(std::thread::spawn(beside(same)).join().unwrap());
        // A thread on the recorded processor moves, as `step_aside` does.
        Parent::here().leave();
        assert!(same());
    }
}
