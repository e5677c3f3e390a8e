//! The machine a run measured on: CPU model, cores, memory, kernel,
//! architecture, the CI's runner image or name, and a short stable
//! fingerprint of them all. Baselines prefer runs of the same fingerprint,
//! and `qod trend` tells a change of runner from a change of code by it.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What a run was measured on.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct Runner {
    /// 12 hex digits hashing everything below: runs with the same
    /// fingerprint ran on the same kind of machine.
    pub fingerprint: String,
    /// The CPU's model name, where the kernel tells it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<String>,
    /// Cores this process may use (its affinity and cgroup quota).
    pub cores: u32,
    /// Memory in GiB, rounded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_gib: Option<u64>,
    /// The kernel's release (`6.8.0-1017-azure`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel: Option<String>,
    /// `x86_64`, `aarch64`, …
    pub arch: String,
    /// The CI's runner image or name where it tells one (`ubuntu24/20241201.1`
    /// on GitHub, the runner's tags on GitLab, the build image on
    /// CodeBuild, the node on Jenkins).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// `QOD_RUNNER`: a name given to a class of machines the CI does not
    /// tell apart (self-hosted pools).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl Runner {
    /// This machine, with the CI's `image` and the user's `name`.
    pub fn this(image: Option<String>, name: Option<String>) -> Runner {
        let read = |p: &str| std::fs::read_to_string(p).ok();
        let cpu = first_cpu("/proc/cpuinfo").and_then(|t| cpu_model(&t));
        let memory_gib = read("/proc/meminfo").and_then(|t| memory_gib(&t));
        let kernel = read("/proc/sys/kernel/osrelease").map(|k| k.trim().to_owned());
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
        Runner::of(Runner {
            fingerprint: String::new(),
            cpu,
            cores,
            memory_gib,
            kernel,
            arch: std::env::consts::ARCH.to_owned(),
            image,
            name,
        })
    }

    /// `r` with its fingerprint computed.
    pub fn of(mut r: Runner) -> Runner {
        let text = format!(
            "{}\n{}\n{}\n{}\n{}\n{}\n{}",
            r.cpu.as_deref().unwrap_or(""),
            r.cores,
            r.memory_gib.unwrap_or(0),
            r.kernel.as_deref().unwrap_or(""),
            r.arch,
            r.image.as_deref().unwrap_or(""),
            r.name.as_deref().unwrap_or(""),
        );
        r.fingerprint = format!("{:012x}", fnv1a(text.as_bytes()) >> 16);
        r
    }

    /// "Intel Xeon 8375C, 2 cores, 8 GiB, ubuntu24/20241201.1": for a reason.
    pub fn describe(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        parts.extend(self.name.clone());
        parts.extend(self.cpu.clone());
        parts.push(format!(
            "{} core{}",
            self.cores,
            if self.cores == 1 { "" } else { "s" }
        ));
        parts.extend(self.memory_gib.map(|m| format!("{m} GiB")));
        parts.extend(self.image.clone());
        parts.join(", ")
    }
}

/// `/proc/cpuinfo` up to the end of its first processor's block: the
/// kernel writes the file one processor at a time, so on a machine of many
/// cores reading it whole would cost every gate's start-up for nothing.
fn first_cpu(path: &str) -> Option<String> {
    use std::io::BufRead;
    let file = std::io::BufReader::new(std::fs::File::open(path).ok()?);
    let mut block = String::new();
    for line in file.lines() {
        let line = line.ok()?;
        if line.trim().is_empty() && !block.is_empty() {
            break;
        }
        block.push_str(&line);
        block.push('\n');
    }
    Some(block)
}

/// The first `model name` (x86) or `Hardware`/`CPU part` line's value.
fn cpu_model(cpuinfo: &str) -> Option<String> {
    let value = |key: &str| {
        cpuinfo.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.trim() == key).then(|| v.split_whitespace().collect::<Vec<_>>().join(" "))
        })
    };
    value("model name")
        .or_else(|| value("Hardware"))
        .or_else(|| value("CPU part").map(|p| format!("CPU part {p}")))
        .filter(|v| !v.is_empty())
}

/// `MemTotal` in GiB, rounded.
fn memory_gib(meminfo: &str) -> Option<u64> {
    let kib: u64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some((kib + (1 << 19)) >> 20)
}

/// 64-bit FNV-1a: stable across builds and platforms, unlike `Hash`.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_cpu_and_memory_as_the_kernel_writes_them() {
        let x86 = "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R)  Platinum 8375C CPU @ 2.90GHz\n";
        assert_eq!(
            cpu_model(x86).as_deref(),
            Some("Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz")
        );
        let arm = "processor\t: 0\nBogoMIPS\t: 243.75\nCPU part\t: 0xd0c\n";
        assert_eq!(cpu_model(arm).as_deref(), Some("CPU part 0xd0c"));
        assert_eq!(
            memory_gib("MemTotal:       16365092 kB\nMemFree: 1 kB\n"),
            Some(16)
        );
        assert_eq!(memory_gib("MemTotal: 8000000 kB\n"), Some(8));
    }

    #[test]
    fn the_fingerprint_is_stable_and_moves_with_any_part() {
        let a = Runner::of(Runner {
            cpu: Some("Xeon".into()),
            cores: 2,
            arch: "x86_64".into(),
            ..Runner::default()
        });
        assert_eq!(a.fingerprint, Runner::of(a.clone()).fingerprint);
        assert_eq!(a.fingerprint.len(), 12);
        let b = Runner::of(Runner {
            image: Some("ubuntu24/20241201.1".into()),
            ..a.clone()
        });
        assert_ne!(a.fingerprint, b.fingerprint);
        assert_eq!(b.describe(), "Xeon, 2 cores, ubuntu24/20241201.1");
        let this = Runner::this(None, Some("pool-a".into()));
        assert!(this.cores >= 1 && !this.arch.is_empty());
        assert_eq!(this, Runner::this(None, Some("pool-a".into())));
    }
}
