//! A benchmarked agent process (server or client agent): its memory use (VmRSS, VmHWM) from
//! /proc/PID/status, and `kill -9` for the failover benchmark.

use serde::Serialize;

use crate::error::{BenchError, Result};

/// A benchmarked agent process, identified by pid.
#[derive(Debug, Clone, Copy)]
pub struct AgentProcess {
    pid: u32,
}

/// Resident memory of a process at one moment, in KiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MemoryUse {
    pub rss_kb: u64,
    pub hwm_kb: u64,
}

impl AgentProcess {
    pub fn new(pid: u32) -> Self {
        Self { pid }
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Sends SIGKILL, as `kill -9 PID` does.
    pub fn kill(&self) -> Result<()> {
        let pid = libc::pid_t::try_from(self.pid)
            .map_err(|_| self.error("pid out of range".to_string()))?;
        // SAFETY: kill(2) takes plain integers and touches no memory of ours.
        let sent = unsafe { libc::kill(pid, libc::SIGKILL) };
        if sent == 0 {
            Ok(())
        } else {
            Err(BenchError::Io(std::io::Error::last_os_error()))
        }
    }

    /// Reads the current VmRSS and VmHWM.
    pub fn memory(&self) -> Result<MemoryUse> {
        let path = format!("/proc/{}/status", self.pid);
        let status = std::fs::read_to_string(path).map_err(|e| self.error(e.to_string()))?;
        parse_status(&status).ok_or_else(|| self.error("no VmRSS/VmHWM lines".to_string()))
    }

    fn error(&self, reason: String) -> BenchError {
        BenchError::Proc {
            pid: self.pid,
            reason,
        }
    }
}

/// Samples memory when the agent's process is known; `None` otherwise.
pub fn sample(agent: Option<&AgentProcess>) -> Result<Option<MemoryUse>> {
    agent.map(AgentProcess::memory).transpose()
}

fn parse_status(status: &str) -> Option<MemoryUse> {
    Some(MemoryUse {
        rss_kb: field_kb(status, "VmRSS:")?,
        hwm_kb: field_kb(status, "VmHWM:")?,
    })
}

fn field_kb(status: &str, name: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(name))?;
    line[name.len()..].split_whitespace().next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_status_fields() {
        let status = "Name:\tsenate\nVmHWM:\t   20480 kB\nVmRSS:\t   10240 kB\n";
        assert_eq!(
            parse_status(status),
            Some(MemoryUse {
                rss_kb: 10240,
                hwm_kb: 20480
            })
        );
        assert_eq!(parse_status("Name: x\n"), None);
    }

    #[test]
    fn reads_own_process() {
        let me = AgentProcess::new(std::process::id()).memory().unwrap();
        assert!(me.rss_kb > 0 && me.hwm_kb >= me.rss_kb);
    }
}
