//! CPU time from `/proc`: of a whole process (every thread, exited ones
//! included), for hookpost's nodes and the bench itself, and of the calling
//! thread, for the floor's measurements.

use std::time::Duration;

/// Clock ticks per second of the CPU times in `/proc/<pid>/stat`: the
/// kernel's `USER_HZ`, part of its ABI and 100 on x86 and ARM (what
/// `getconf CLK_TCK` prints), whatever the kernel's own tick rate.
const USER_HZ: u64 = 100;

/// CPU time (user and system) process `pid` has used so far; `None` when it
/// cannot be read (the process is gone).
pub fn of_process(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name, in parentheses, may hold spaces: count fields after it.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    // `utime` and `stime` are fields 14 and 15 of proc(5); the state, field 3, is first here.
    let tick = |i: usize| fields.get(i)?.parse::<u64>().ok();
    let ticks = tick(11)? + tick(12)?;
    Some(Duration::from_millis(ticks * 1000 / USER_HZ))
}

/// CPU time of the bench's own process so far (its load generator and receiver).
pub fn of_bench() -> Duration {
    of_process(std::process::id()).unwrap_or_default()
}

/// Time the calling thread has spent on a CPU, to the nanosecond
/// (`/proc/thread-self/schedstat`, first field); zero when unreadable.
pub fn of_this_thread() -> Duration {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    let ns = stat.split_whitespace().next().and_then(|n| n.parse().ok());
    Duration::from_nanos(ns.unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_thread_counts_its_time() {
        let (process, thread) = (of_bench(), of_this_thread());
        let started = std::time::Instant::now();
        let mut x = 0u64;
        while started.elapsed() < Duration::from_millis(60) {
            x = x.wrapping_mul(31).wrapping_add(1);
        }
        std::hint::black_box(x);
        assert!(of_this_thread() - thread >= Duration::from_millis(40));
        assert!(of_bench() - process >= Duration::from_millis(30));
    }
}
