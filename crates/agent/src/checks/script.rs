//! Script checks: run a program in its own process group, capture its combined stdout and stderr, and
//! map its exit code to a status (0 passing, 1 warning, anything else critical). A script that overruns
//! its timeout is killed with its whole process group.

use super::output::TailBuffer;
use super::spec::{ScriptCheck, ScriptCommand};
use senate_types::catalog::CheckStatus;
use std::io::ErrorKind;
use std::os::fd::OwnedFd;
use std::process::{ExitStatus, Stdio};
use tokio::io::AsyncReadExt;
use tokio::net::unix::pipe;
use tokio::process::{Child, Command};

/// Runs the script once and returns the resulting status and output.
pub(crate) async fn run_script(
    check: &ScriptCheck,
    output_max_size: usize,
) -> (CheckStatus, String) {
    let (mut child, reader) = match spawn(&check.command) {
        Ok(started) => started,
        Err(message) => return (CheckStatus::Critical, message),
    };
    let mut group = GroupKiller::new(&child);
    let mut output = TailBuffer::new(output_max_size);
    let finished = tokio::time::timeout(check.timeout, async {
        let ((), status) = tokio::join!(read_into(reader, &mut output), child.wait());
        status
    })
    .await;
    match finished {
        Ok(Ok(status)) => {
            group.disarm();
            (status_for_exit(status), output.text_with_note())
        }
        Ok(Err(error)) => (CheckStatus::Critical, error.to_string()),
        Err(_) => {
            group.kill();
            // Reap the script so that the next run never overlaps it.
            let _ = child.wait().await;
            (CheckStatus::Critical, timed_out_output(check, &output))
        }
    }
}

/// Starts the script with stdout and stderr both writing into one pipe, returned for reading.
fn spawn(command: &ScriptCommand) -> Result<(Child, pipe::Receiver), String> {
    let (reader, writer) = std::io::pipe().map_err(|error| error.to_string())?;
    let stderr = writer.try_clone().map_err(|error| error.to_string())?;
    let (program, mut cmd) = build_command(command)?;
    cmd.stdin(Stdio::null())
        .stdout(writer)
        .stderr(stderr)
        .process_group(0)
        .kill_on_drop(true);
    let child = cmd.spawn().map_err(|error| spawn_error(&program, &error))?;
    // The command holds our copies of the pipe's write end; drop them so the read sees end-of-file.
    drop(cmd);
    let reader =
        pipe::Receiver::from_owned_fd(OwnedFd::from(reader)).map_err(|error| error.to_string())?;
    Ok((child, reader))
}

fn build_command(command: &ScriptCommand) -> Result<(String, Command), String> {
    match command {
        ScriptCommand::Args(args) => {
            let (program, rest) = args
                .split_first()
                .ok_or_else(|| "script check has no program to run".to_string())?;
            let mut cmd = Command::new(program);
            cmd.args(rest);
            Ok((program.clone(), cmd))
        }
        ScriptCommand::Shell(line) => {
            let mut cmd = Command::new("/bin/sh");
            cmd.arg("-c").arg(line);
            Ok(("/bin/sh".to_string(), cmd))
        }
    }
}

/// Words a failure to start the program as Go's exec package does.
fn spawn_error(program: &str, error: &std::io::Error) -> String {
    if error.kind() == ErrorKind::NotFound {
        return format!("exec: {program:?}: executable file not found in $PATH");
    }
    format!("fork/exec {program}: {error}")
}

async fn read_into(mut reader: pipe::Receiver, output: &mut TailBuffer) {
    let mut chunk = [0u8; 4096];
    while let Ok(read @ 1..) = reader.read(&mut chunk).await {
        output.push(&chunk[..read]);
    }
}

fn status_for_exit(status: ExitStatus) -> CheckStatus {
    match status.code() {
        Some(0) => CheckStatus::Passing,
        Some(1) => CheckStatus::Warning,
        _ => CheckStatus::Critical,
    }
}

fn timed_out_output(check: &ScriptCheck, output: &TailBuffer) -> String {
    let timeout = senate_types::duration::format(check.timeout);
    let captured = output.text_with_note();
    if captured.is_empty() {
        return format!("Timed out ({timeout}) running check");
    }
    format!("Timed out ({timeout}) running check\n\n{captured}")
}

/// Kills a script's whole process group when asked or when dropped (the check stopped mid-run),
/// unless disarmed because the script finished on its own.
struct GroupKiller {
    group: Option<libc::pid_t>,
}

impl GroupKiller {
    fn new(child: &Child) -> Self {
        GroupKiller {
            group: child.id().and_then(|pid| libc::pid_t::try_from(pid).ok()),
        }
    }

    fn disarm(&mut self) {
        self.group = None;
    }

    fn kill(&mut self) {
        if let Some(group) = self.group.take() {
            // SAFETY: kill(2) takes plain integers and touches no memory of ours; a negative pid
            // addresses the process group the script leads (it was started with process_group(0)).
            unsafe {
                libc::kill(-group, libc::SIGKILL);
            }
        }
    }
}

impl Drop for GroupKiller {
    fn drop(&mut self) {
        self.kill();
    }
}
