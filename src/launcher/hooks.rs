//! OCI hooks: programs the runtime runs at points of a container's life,
//! each given the container's state JSON on stdin (runtime-spec
//! config.md#posix-platform-hooks). Where each kind runs:
//!
//! | hook | by | namespaces | when |
//! | --- | --- | --- | --- |
//! | `prestart`, `createRuntime` | rrun | the runtime's | mounts done, before pivot_root |
//! | `createContainer` | the container's init | the container's | just after, still before pivot_root |
//! | `startContainer` | the container's init | the container's | `start` (own run: its start), just before exec |
//! | `poststart` | rrun `start` (own run: rrun) | the runtime's | after the process started |
//! | `poststop` | rrun `delete` (own run: rrun) | the runtime's | after the container is gone |

use oci_spec::runtime::Hook;
use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Who a container is, for the state its hooks read on stdin (runtime-spec
/// runtime.md#state). rrun's own containers are bundles too: their directory
/// holds the `config.json` that hooks such as `nvidia-ctk hook …` read.
#[derive(Debug, Clone, Default)]
pub struct HookIdentity {
    pub id: String,
    pub bundle: std::path::PathBuf,
    pub annotations: BTreeMap<String, String>,
}

impl HookIdentity {
    /// The state JSON: `pid` while the container has a process, `status` as the runtime spec names it.
    pub fn state(&self, pid: Option<i32>, status: &str) -> String {
        let mut v = serde_json::json!({
            "ociVersion": "1.0.2",
            "id": self.id,
            "status": status,
            "bundle": self.bundle,
            "annotations": self.annotations,
        });
        if let Some(pid) = pid {
            v["pid"] = pid.into();
        }
        v.to_string()
    }
}

/// Runs `hooks` in order with `state` on stdin; the first that fails (exit
/// code, signal, timeout, cannot start) stops the rest and names itself, in
/// runc's words ("error running createRuntime hook #0: error running hook: …").
pub fn run(hooks: &[Hook], state: &str, phase: &str) -> Result<(), String> {
    for (i, hook) in hooks.iter().enumerate() {
        run_one(hook, state, phase).map_err(|e| failed(phase, i, hook, &e))?;
    }
    Ok(())
}

fn failed(phase: &str, i: usize, hook: &Hook, e: &str) -> String {
    format!("error running {phase} hook #{i}: error running hook: {}: {e}", hook.path().display())
}

/// Runs every hook of `hooks`, a failing one included: the runtime spec asks
/// `poststart` and `poststop` failures to be logged as warnings while the
/// rest of the hooks and the lifecycle go on. Returns the failures.
pub fn run_all(hooks: &[Hook], state: &str, phase: &str) -> Vec<String> {
    hooks
        .iter()
        .enumerate()
        .filter_map(|(i, hook)| run_one(hook, state, phase).err().map(|e| failed(phase, i, hook, &e)))
        .collect()
}

/// Runs `f` with SIGPIPE ignored (a write to a closed pipe then fails with
/// EPIPE instead of ending rrun), and puts the disposition back.
fn without_sigpipe<T>(f: impl FnOnce() -> T) -> T {
    use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
    let ignore = SigAction::new(SigHandler::SigIgn, SaFlags::empty(), SigSet::empty());
    // SAFETY: installs SIG_IGN, and later the disposition that was there; no handler code runs.
    let old = unsafe { sigaction(Signal::SIGPIPE, &ignore) };
    let out = f();
    if let Ok(old) = old {
        // SAFETY: as above.
        let _ = unsafe { sigaction(Signal::SIGPIPE, &old) };
    }
    out
}

fn run_one(hook: &Hook, state: &str, phase: &str) -> Result<(), String> {
    let args = hook.args().clone().unwrap_or_default();
    let mut cmd = Command::new(hook.path());
    if let Some((arg0, rest)) = args.split_first() {
        cmd.arg0(arg0).args(rest);
    }
    // the hook's environment is exactly the one the Spec gives it
    cmd.env_clear();
    for kv in hook.env().iter().flatten() {
        if let Some((k, v)) = kv.split_once('=') {
            cmd.env(k, v);
        }
    }
    cmd.stdin(Stdio::piped());
    crate::step!(
        super::steps::HOOK,
        hook = phase,
        path = %hook.path().display(),
        args = %serde_json::to_string(&args).unwrap_or_default()
    );
    let mut child = cmd.spawn().map_err(|e| format!("cannot start it: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        // a hook that does not read its state is not an error: nor may its closed pipe kill rrun
        let _ = without_sigpipe(|| stdin.write_all(state.as_bytes()));
    }
    let deadline = hook.timeout().filter(|t| *t > 0).map(|t| Instant::now() + Duration::from_secs(t as u64));
    loop {
        match child.try_wait().map_err(|e| e.to_string())? {
            Some(status) if status.success() => return Ok(()),
            Some(status) => return Err(format!("it failed: {status}")),
            None => {}
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("it timed out after {} s", hook.timeout().unwrap_or(0)));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::HookBuilder;

    fn hook(script: &str, timeout: Option<i64>) -> Hook {
        let mut b = HookBuilder::default()
            .path("/bin/sh")
            .args(vec!["sh".to_string(), "-c".to_string(), script.to_string()])
            .env(vec!["HOOKVAR=yes".to_string()]);
        if let Some(t) = timeout {
            b = b.timeout(t);
        }
        b.build().unwrap()
    }

    #[test]
    fn hooks_get_the_state_and_their_environment_and_fail_clearly() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("out");
        let h = hook(&format!("cat > {}; echo $HOOKVAR >> {}", out.display(), out.display()), None);
        run(&[h], "{\"id\":\"x\"}", "createRuntime").unwrap();
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "{\"id\":\"x\"}yes\n");
        let err = run(&[hook("exit 3", None)], "{}", "poststop").unwrap_err();
        assert!(err.contains("poststop hook #0") && err.contains("error running hook") && err.contains('3'), "{err}");
        // run_all goes on after a failure
        let both = dir.join("both");
        let touch = hook(&format!("echo ran >> {}", both.display()), None);
        let errs = run_all(&[hook("exit 1", None), touch.clone(), hook("exit 2", None), touch], "{}", "poststart");
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert!(errs[1].starts_with("error running poststart hook #2"), "{errs:?}");
        assert_eq!(std::fs::read_to_string(&both).unwrap(), "ran\nran\n");
        let t = Instant::now();
        let err = run(&[hook("sleep 5", Some(1))], "{}", "prestart").unwrap_err();
        assert!(err.contains("timed out") && t.elapsed() < Duration::from_secs(4), "{err}");
        let missing = HookBuilder::default().path("/no/such/hook").build().unwrap();
        assert!(run(&[missing], "{}", "poststart").unwrap_err().contains("cannot start"));
    }
}
