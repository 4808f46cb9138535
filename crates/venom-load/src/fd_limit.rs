//! Enough file descriptors for the run: every concurrent user holds a connection, so the
//! process's soft limit is raised towards its hard limit, and a run that would not fit even then
//! is refused before it starts (its connections would fail with "Too many open files", which is
//! no fault of the API).

/// Descriptors kept for everything but the users' connections (stdio, the runtime, reports).
const SPARE: u64 = 64;

/// Makes room for `connections` open connections: raises the soft `RLIMIT_NOFILE` when needed;
/// `Err((needed, hard))` when even the hard limit is too low.
pub(crate) fn make_room(connections: usize) -> Result<(), (u64, u64)> {
    let needed = u64::try_from(connections)
        .unwrap_or(u64::MAX)
        .saturating_add(SPARE);
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the limit into the struct we own; no other precondition.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Ok(()); // unknown: let the run try
    }
    let (soft, hard) = (limit.rlim_cur, limit.rlim_max);
    if needed <= soft {
        return Ok(());
    }
    if needed > hard {
        return Err((needed, hard));
    }
    limit.rlim_cur = needed;
    // SAFETY: setrlimit reads the struct we own; raising the soft limit up to the hard one is
    // allowed for any process.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
        return Err((needed, soft));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn more_connections_than_the_hard_limit_are_refused() {
        assert_eq!(make_room(1), Ok(()));
        let refused = make_room(usize::MAX).unwrap_err();
        assert!(refused.0 > refused.1, "{refused:?}");
    }
}
