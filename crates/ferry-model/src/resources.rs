//! Instance sizes and health checks, with App Runner's spellings, defaults and ranges.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ValidationError;

/// vCPUs per instance, one of App Runner's five sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Cpu {
    #[serde(rename = "0.25 vCPU")]
    Quarter,
    #[serde(rename = "0.5 vCPU")]
    Half,
    #[serde(rename = "1 vCPU")]
    One,
    #[serde(rename = "2 vCPU")]
    Two,
    #[serde(rename = "4 vCPU")]
    Four,
}

impl Cpu {
    pub const ALL: [Cpu; 5] = [Cpu::Quarter, Cpu::Half, Cpu::One, Cpu::Two, Cpu::Four];

    /// CPU units: 1024 per vCPU, App Runner's numeric spelling.
    pub fn units(self) -> u32 {
        match self {
            Cpu::Quarter => 256,
            Cpu::Half => 512,
            Cpu::One => 1024,
            Cpu::Two => 2048,
            Cpu::Four => 4096,
        }
    }

    /// Billionths of a CPU, the engine's limit unit.
    pub fn nano_cpus(self) -> i64 {
        i64::from(self.units()) * 1_000_000_000 / 1024
    }

    pub fn label(self) -> &'static str {
        match self {
            Cpu::Quarter => "0.25 vCPU",
            Cpu::Half => "0.5 vCPU",
            Cpu::One => "1 vCPU",
            Cpu::Two => "2 vCPU",
            Cpu::Four => "4 vCPU",
        }
    }

    /// Accepts `1 vCPU`, `1vcpu` and `1024` alike (App Runner's two spellings, any case).
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        let norm = s.trim().to_ascii_lowercase().replace(' ', "");
        let found = Cpu::ALL.into_iter().find(|c| {
            norm == c.units().to_string() || norm == c.label().to_ascii_lowercase().replace(' ', "")
        });
        found.ok_or_else(|| {
            ValidationError::new(
                "cpu",
                format!(
                    "{s:?} is not an instance CPU size; use one of 0.25 vCPU, 0.5 vCPU, 1 vCPU, 2 vCPU, 4 vCPU \
                     (or 256, 512, 1024, 2048, 4096)"
                ),
            )
        })
    }

    /// The memory sizes App Runner offers with this CPU size.
    pub fn memory_options(self) -> &'static [Memory] {
        use Memory::*;
        match self {
            Cpu::Quarter => &[Mb512, Gb1],
            Cpu::Half => &[Gb1],
            Cpu::One => &[Gb2, Gb3, Gb4],
            Cpu::Two => &[Gb4, Gb6],
            Cpu::Four => &[Gb8, Gb10, Gb12],
        }
    }
}

impl fmt::Display for Cpu {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// Memory per instance, one of App Runner's nine sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Memory {
    #[serde(rename = "0.5 GB")]
    Mb512,
    #[serde(rename = "1 GB")]
    Gb1,
    #[serde(rename = "2 GB")]
    Gb2,
    #[serde(rename = "3 GB")]
    Gb3,
    #[serde(rename = "4 GB")]
    Gb4,
    #[serde(rename = "6 GB")]
    Gb6,
    #[serde(rename = "8 GB")]
    Gb8,
    #[serde(rename = "10 GB")]
    Gb10,
    #[serde(rename = "12 GB")]
    Gb12,
}

impl Memory {
    pub const ALL: [Memory; 9] = [
        Memory::Mb512,
        Memory::Gb1,
        Memory::Gb2,
        Memory::Gb3,
        Memory::Gb4,
        Memory::Gb6,
        Memory::Gb8,
        Memory::Gb10,
        Memory::Gb12,
    ];

    /// Mebibytes, App Runner's numeric spelling.
    pub fn mib(self) -> u32 {
        match self {
            Memory::Mb512 => 512,
            Memory::Gb1 => 1024,
            Memory::Gb2 => 2048,
            Memory::Gb3 => 3072,
            Memory::Gb4 => 4096,
            Memory::Gb6 => 6144,
            Memory::Gb8 => 8192,
            Memory::Gb10 => 10240,
            Memory::Gb12 => 12288,
        }
    }

    pub fn bytes(self) -> i64 {
        i64::from(self.mib()) * 1024 * 1024
    }

    pub fn label(self) -> &'static str {
        match self {
            Memory::Mb512 => "0.5 GB",
            Memory::Gb1 => "1 GB",
            Memory::Gb2 => "2 GB",
            Memory::Gb3 => "3 GB",
            Memory::Gb4 => "4 GB",
            Memory::Gb6 => "6 GB",
            Memory::Gb8 => "8 GB",
            Memory::Gb10 => "10 GB",
            Memory::Gb12 => "12 GB",
        }
    }

    /// Accepts `2 GB`, `2gb` and `2048` alike.
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        let norm = s.trim().to_ascii_lowercase().replace(' ', "");
        let found = Memory::ALL
            .into_iter()
            .find(|m| norm == m.mib().to_string() || norm == m.label().to_ascii_lowercase().replace(' ', ""));
        found.ok_or_else(|| {
            ValidationError::new(
                "memory",
                format!(
                    "{s:?} is not an instance memory size; use one of 0.5 GB, 1 GB, 2 GB, 3 GB, 4 GB, 6 GB, \
                     8 GB, 10 GB, 12 GB (or 512, 1024, 2048, 3072, 4096, 6144, 8192, 10240, 12288)"
                ),
            )
        })
    }
}

impl fmt::Display for Memory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// CPU and memory of every instance, enforced as the container's limits. Only App Runner's pairs exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceConfiguration {
    cpu: Cpu,
    memory: Memory,
}

impl Default for InstanceConfiguration {
    /// 1 vCPU and 2 GB, App Runner's default.
    fn default() -> Self {
        Self { cpu: Cpu::One, memory: Memory::Gb2 }
    }
}

impl InstanceConfiguration {
    pub fn new(cpu: Cpu, memory: Memory) -> Result<Self, ValidationError> {
        let options = cpu.memory_options();
        if options.contains(&memory) {
            return Ok(Self { cpu, memory });
        }
        let allowed: Vec<&str> = options.iter().map(|m| m.label()).collect();
        Err(ValidationError::new(
            "memory",
            format!("{cpu} goes with {} of memory, not {memory}", join_or(&allowed)),
        ))
    }

    /// Parses either value, filling the other from App Runner's defaults: a CPU alone takes its smallest
    /// memory (`2 vCPU` → 4 GB), a memory alone takes the smallest CPU that offers it.
    pub fn parse(cpu: Option<&str>, memory: Option<&str>) -> Result<Self, ValidationError> {
        match (cpu, memory) {
            (None, None) => Ok(Self::default()),
            (Some(c), None) => {
                let cpu = Cpu::parse(c)?;
                let default = Self::default();
                let memory = if cpu == default.cpu { default.memory } else { cpu.memory_options()[0] };
                Self::new(cpu, memory)
            }
            (None, Some(m)) => {
                let memory = Memory::parse(m)?;
                let default = Self::default();
                if default.cpu.memory_options().contains(&memory) {
                    return Self::new(default.cpu, memory);
                }
                let cpu = Cpu::ALL.into_iter().find(|c| c.memory_options().contains(&memory));
                // Every memory size belongs to some CPU size (the table above covers all nine).
                Self::new(cpu.unwrap_or(default.cpu), memory)
            }
            (Some(c), Some(m)) => Self::new(Cpu::parse(c)?, Memory::parse(m)?),
        }
    }

    pub fn cpu(&self) -> Cpu {
        self.cpu
    }

    pub fn memory(&self) -> Memory {
        self.memory
    }
}

fn join_or(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum HealthCheckProtocol {
    /// A TCP connect to the app's port (App Runner's default).
    #[default]
    #[serde(rename = "TCP")]
    Tcp,
    /// A `GET` on `path`; any 2xx is healthy.
    #[serde(rename = "HTTP")]
    Http,
}

impl HealthCheckProtocol {
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        match s.trim().to_ascii_uppercase().as_str() {
            "TCP" => Ok(Self::Tcp),
            "HTTP" => Ok(Self::Http),
            _ => Err(ValidationError::new(
                "protocol",
                format!("{s:?} is not a health check protocol; use TCP or HTTP"),
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tcp => "TCP",
            Self::Http => "HTTP",
        }
    }
}

/// The longest health-check grace period, in seconds.
pub const MAX_GRACE_PERIOD: u32 = 3600;

/// How ferry decides an instance may take traffic: App Runner's `HealthCheckConfiguration`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthCheckConfiguration {
    pub protocol: HealthCheckProtocol,
    /// The path of an HTTP check; ignored for TCP.
    pub path: String,
    /// Seconds between checks, 1–20.
    pub interval: u32,
    /// Seconds a check may take, 1–20.
    pub timeout: u32,
    /// Consecutive successes that make an instance healthy, 1–20.
    pub healthy_threshold: u32,
    /// Consecutive failures that make an instance unhealthy, 1–20.
    pub unhealthy_threshold: u32,
    /// Seconds after an instance starts during which failed checks do not count, 0–3600 (ferry's
    /// addition: App Runner has none, and slow starters failed their deployments).
    #[serde(default)]
    pub grace_period: u32,
}

impl Default for HealthCheckConfiguration {
    fn default() -> Self {
        Self {
            protocol: HealthCheckProtocol::Tcp,
            path: "/".to_owned(),
            interval: 5,
            timeout: 2,
            healthy_threshold: 1,
            unhealthy_threshold: 5,
            grace_period: 0,
        }
    }
}

impl HealthCheckConfiguration {
    pub fn validate(&self) -> Result<(), ValidationError> {
        for (field, value) in [
            ("interval", self.interval),
            ("timeout", self.timeout),
            ("healthy_threshold", self.healthy_threshold),
            ("unhealthy_threshold", self.unhealthy_threshold),
        ] {
            if !(1..=20).contains(&value) {
                return Err(ValidationError::new(field, format!("{value} is out of range; use 1 to 20")));
            }
        }
        if self.grace_period > MAX_GRACE_PERIOD {
            return Err(ValidationError::new(
                "grace_period",
                format!("{} is out of range; use 0 to {MAX_GRACE_PERIOD} seconds", self.grace_period),
            ));
        }
        let path_ok = self.path.starts_with('/')
            && self.path.len() <= 1024
            && self.path.bytes().all(|b| b.is_ascii_graphic());
        if !path_ok {
            return Err(ValidationError::new(
                "path",
                format!(
                    "{:?} is not a usable health check path; use an absolute path such as /healthz",
                    self.path
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_app_runner_pair_is_accepted_and_nothing_else() {
        let valid = [
            ("0.25 vCPU", "0.5 GB"),
            ("0.25 vCPU", "1 GB"),
            ("0.5 vCPU", "1 GB"),
            ("1 vCPU", "2 GB"),
            ("1 vCPU", "3 GB"),
            ("1 vCPU", "4 GB"),
            ("2 vCPU", "4 GB"),
            ("2 vCPU", "6 GB"),
            ("4 vCPU", "8 GB"),
            ("4 vCPU", "10 GB"),
            ("4 vCPU", "12 GB"),
        ];
        let mut accepted = 0;
        for cpu in Cpu::ALL {
            for memory in Memory::ALL {
                let ok = InstanceConfiguration::new(cpu, memory).is_ok();
                assert_eq!(ok, valid.contains(&(cpu.label(), memory.label())), "{cpu} {memory}");
                accepted += usize::from(ok);
            }
        }
        assert_eq!(accepted, 11);
    }

    #[test]
    fn both_spellings_parse_and_defaults_fill_in() {
        assert_eq!(Cpu::parse("1024").unwrap(), Cpu::One);
        assert_eq!(Cpu::parse("0.25 vCPU").unwrap(), Cpu::Quarter);
        assert_eq!(Cpu::parse("2vcpu").unwrap(), Cpu::Two);
        assert_eq!(Memory::parse("3072").unwrap(), Memory::Gb3);
        assert_eq!(Memory::parse("0.5 GB").unwrap(), Memory::Mb512);
        let d = InstanceConfiguration::parse(None, None).unwrap();
        assert_eq!((d.cpu(), d.memory()), (Cpu::One, Memory::Gb2));
        let c = InstanceConfiguration::parse(Some("4 vCPU"), None).unwrap();
        assert_eq!(c.memory(), Memory::Gb8);
        let m = InstanceConfiguration::parse(None, Some("12 GB")).unwrap();
        assert_eq!(m.cpu(), Cpu::Four);
        assert_eq!(Cpu::One.nano_cpus(), 1_000_000_000);
        assert_eq!(Cpu::Quarter.nano_cpus(), 250_000_000);
    }

    #[test]
    fn invalid_sizes_name_the_allowed_values() {
        let e = Cpu::parse("3 vCPU").unwrap_err();
        assert_eq!(e.field, "cpu");
        assert!(e.message.contains("0.25 vCPU, 0.5 vCPU, 1 vCPU, 2 vCPU, 4 vCPU"), "{}", e.message);
        let e = InstanceConfiguration::parse(Some("1 vCPU"), Some("8 GB")).unwrap_err();
        assert_eq!(e.to_string(), "memory: 1 vCPU goes with 2 GB, 3 GB or 4 GB of memory, not 8 GB");
    }

    #[test]
    fn health_check_ranges_are_app_runners() {
        assert!(HealthCheckConfiguration::default().validate().is_ok());
        let bad = HealthCheckConfiguration { interval: 21, ..Default::default() };
        assert_eq!(bad.validate().unwrap_err().to_string(), "interval: 21 is out of range; use 1 to 20");
        let bad = HealthCheckConfiguration { unhealthy_threshold: 0, ..Default::default() };
        assert_eq!(bad.validate().unwrap_err().field, "unhealthy_threshold");
        let bad = HealthCheckConfiguration { path: "healthz".into(), ..Default::default() };
        assert_eq!(bad.validate().unwrap_err().field, "path");
        let bad = HealthCheckConfiguration { grace_period: 3601, ..Default::default() };
        assert_eq!(bad.validate().unwrap_err().field, "grace_period");
    }
}
