//! The CPU's instruction counter through `perf_event_open`, counted in
//! the children a thread forks.

/// A user-space instruction counter on the calling thread that children
/// forked later inherit, enabled when they exec.
pub struct PerfCounter {
    fd: libc::c_int,
}

/// `struct perf_event_attr` as of its first version (64 bytes), which every
/// kernel with perf events accepts.
#[repr(C)]
#[derive(Default)]
struct PerfEventAttr {
    kind: u32,
    size: u32,
    config: u64,
    sample_period: u64,
    sample_type: u64,
    read_format: u64,
    flags: u64,
    wakeup_events: u32,
    bp_type: u32,
    config1: u64,
}

const PERF_TYPE_HARDWARE: u32 = 0;
const PERF_COUNT_HW_INSTRUCTIONS: u64 = 1;
const FLAG_DISABLED: u64 = 1 << 0;
const FLAG_INHERIT: u64 = 1 << 1;
const FLAG_EXCLUDE_KERNEL: u64 = 1 << 5;
const FLAG_EXCLUDE_HV: u64 = 1 << 6;
const FLAG_ENABLE_ON_EXEC: u64 = 1 << 12;
const PERF_FLAG_FD_CLOEXEC: libc::c_ulong = 1 << 3;

impl PerfCounter {
    /// Opens the counter, or says why the machine has none.
    pub fn open() -> Result<PerfCounter, String> {
        Self::open_event(PERF_TYPE_HARDWARE, PERF_COUNT_HW_INSTRUCTIONS)
    }

    /// Opens a counter of event `config` of type `kind`, counted in the
    /// children forked after this and enabled when they exec.
    fn open_event(kind: u32, config: u64) -> Result<PerfCounter, String> {
        let attr = PerfEventAttr {
            kind,
            size: std::mem::size_of::<PerfEventAttr>() as u32,
            config,
            flags: FLAG_DISABLED
                | FLAG_INHERIT
                | FLAG_EXCLUDE_KERNEL
                | FLAG_EXCLUDE_HV
                | FLAG_ENABLE_ON_EXEC,
            ..Default::default()
        };
        // SAFETY: `attr` is a valid perf_event_attr of the size it states;
        // pid 0 and cpu -1 count the calling thread (and, inherited, its
        // children) on any CPU; no group.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_perf_event_open,
                &attr as *const PerfEventAttr,
                0 as libc::pid_t,
                -1 as libc::c_int,
                -1 as libc::c_int,
                PERF_FLAG_FD_CLOEXEC,
            )
        };
        if fd < 0 {
            let e = std::io::Error::last_os_error();
            let why = match e.raw_os_error() {
                Some(libc::ENOENT) | Some(libc::EOPNOTSUPP) | Some(libc::ENODEV) => {
                    "the machine exposes no hardware instruction counter (usual in virtual machines)".to_owned()
                }
                Some(libc::EACCES) | Some(libc::EPERM) => format!(
                    "the kernel refuses user-space counters ({e}); lower /proc/sys/kernel/perf_event_paranoid to 2 or less"
                ),
                Some(libc::ENOSYS) => "the kernel has no perf events".to_owned(),
                _ => format!("perf_event_open failed: {e}"),
            };
            return Err(why);
        }
        Ok(PerfCounter {
            fd: fd as libc::c_int,
        })
    }

    /// The instructions counted so far by the children that have exited.
    pub fn read(&self) -> std::io::Result<u64> {
        let mut value: u64 = 0;
        // SAFETY: reads 8 bytes into a live u64 from an fd this owns.
        let n = unsafe {
            libc::read(
                self.fd,
                &mut value as *mut u64 as *mut libc::c_void,
                std::mem::size_of::<u64>(),
            )
        };
        if n != std::mem::size_of::<u64>() as isize {
            return Err(std::io::Error::last_os_error());
        }
        Ok(value)
    }
}

impl Drop for PerfCounter {
    fn drop(&mut self) {
        // SAFETY: the fd is this counter's own and closed once.
        unsafe { libc::close(self.fd) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The counter's wiring (inherited by children, enabled at their exec,
    /// summed when they exit) checked with a software event, which every
    /// Linux machine has, where the hardware instruction event may be absent.
    #[test]
    fn counter_counts_the_child_and_not_the_parent() {
        const PERF_TYPE_SOFTWARE: u32 = 1;
        const PERF_COUNT_SW_TASK_CLOCK: u64 = 1;
        let Ok(idle) = PerfCounter::open_event(PERF_TYPE_SOFTWARE, PERF_COUNT_SW_TASK_CLOCK) else {
            // perf_event_paranoid 3 (some distributions) forbids even this.
            assert!(PerfCounter::open().is_err());
            return;
        };
        let spin = std::time::Instant::now();
        while spin.elapsed() < std::time::Duration::from_millis(30) {
            std::hint::black_box(0);
        }
        assert_eq!(
            idle.read().expect("reads"),
            0,
            "the parent's own work is not counted"
        );

        let counter = PerfCounter::open_event(PERF_TYPE_SOFTWARE, PERF_COUNT_SW_TASK_CLOCK)
            .expect("opened once already");
        // Forked from this thread (as `measure` does), so the counter
        // inherited by the child counts it.
        let sink = tempfile::tempfile().expect("a temporary file");
        let usage = crate::supervise::Cmd::new("sh")
            .args(["-c", "i=0; while [ $i -lt 30000 ]; do i=$((i+1)); done"])
            .measure(sink)
            .expect("sh runs");
        assert_eq!(usage.status, 0);
        let ns = counter.read().expect("reads");
        assert!(
            ns > 1_000_000,
            "the child's 30,000 loop turns took {ns} ns of CPU"
        );
    }
}
