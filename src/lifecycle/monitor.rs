//! Detached containers (`run -d`, `start`) and their monitor: a small
//! process of its own session, forked from rrun, that starts the container,
//! writes its output to the log, records how it ended, restarts it as its
//! policy says, removes it with `--rm`, and exits. Nothing stays resident
//! once the container is gone.

use super::{Container, STOP_MARKER};
use crate::container::{self, ContainerRecord};
use crate::launcher::detach::{spawn_detached, Notifier};
use crate::launcher::{StdioMode, Stream};
use crate::logs::LogWriter;
use crate::spec::RunOptions;
use crate::{Error, Rrun};
use std::time::Duration;
use tracing::info;

impl Rrun {
    /// `run -d`: creates the container and starts it under a monitor; returns
    /// once it runs (or with the reason it could not start).
    pub fn run_detached(&self, image_name: &str, opts: &RunOptions) -> Result<ContainerRecord, Error> {
        let c = self.create(image_name, opts)?;
        if let Err(e) = self.start_detached(&c) {
            if opts.remove {
                let _ = self.store().remove_dir(&c.dir);
                self.remove_anonymous_volumes(&c.record.volumes);
            }
            return Err(e);
        }
        Ok(container::read_record(&c.dir).map(ContainerRecord::resolved).unwrap_or(c.record))
    }

    /// Starts a created or exited container again, detached, on the same
    /// rootfs (its upper layer kept). A running container is left as it is.
    pub fn start(&self, name_or_id: &str) -> Result<ContainerRecord, Error> {
        let c = self.open_container(name_or_id)?;
        if c.record.is_running() {
            return Ok(c.record);
        }
        self.cleanup_stale(&c.record);
        self.start_detached(&c)?;
        self.container(&c.record.id)
    }

    /// Starts a created or exited container in the foreground (`start -a`).
    pub fn start_attached(&self, name_or_id: &str, interactive: bool) -> Result<i32, Error> {
        let c = self.open_container(name_or_id)?;
        if c.record.is_running() {
            return Err(Error::ContainerRunning(name_or_id.to_string()));
        }
        self.cleanup_stale(&c.record);
        let _ = std::fs::remove_file(c.dir.join(STOP_MARKER));
        let code = self.start_foreground(&c, interactive);
        if c.record.auto_remove {
            self.store().remove_dir(&c.dir)?;
            self.remove_anonymous_volumes(&c.record.volumes);
        }
        code
    }

    fn start_detached(&self, c: &Container) -> Result<(), Error> {
        let _ = std::fs::remove_file(c.dir.join(STOP_MARKER));
        spawn_detached(|notifier| self.monitor(c, notifier))?;
        info!(id = %c.record.id, "container started detached");
        Ok(())
    }

    /// The monitor's whole life; returns its exit status.
    fn monitor(&self, c: &Container, notifier: Notifier) -> i32 {
        let mut notifier = Some(notifier);
        if let Err(e) = self.claim_monitor(c).and_then(|_| {
            self.update(&c.dir, |r| r.restart_count = 0)?;
            Ok(())
        }) {
            if let Some(n) = notifier.take() {
                n.failed(125, &e.to_string());
            }
            return 125;
        }
        let log_path = c.dir.join("container.log");
        let mut log = match LogWriter::open(&log_path, c.record.log_max_size) {
            Ok(l) => l,
            Err(e) => {
                if let Some(n) = notifier.take() {
                    n.failed(125, &format!("{}: {e}", log_path.display()));
                }
                return 125;
            }
        };
        let mut restarts = 0u32;
        loop {
            let result = self.run_to_exit(
                c,
                StdioMode::Capture,
                || {
                    if let Some(n) = notifier.take() {
                        n.ready();
                    }
                    // from here on the monitor only relays output: keep its footprint to what that uses
                    // SAFETY: malloc_trim only releases free memory of this process's allocator.
                    unsafe { libc::malloc_trim(0) };
                    crate::launcher::process::release_clean_mappings();
                },
                |child| {
                    child.wait_capturing(&mut |stream, bytes| {
                        // a full disk must not stop the container: its output is dropped then
                        let _ = log.write(stream, bytes);
                    })
                },
            );
            let _ = log.flush_partial();
            let code = match result {
                Ok(code) => code,
                Err(e) => {
                    match notifier.take() {
                        Some(n) => n.failed(e.exit_code(), &e.to_string()),
                        None => {
                            let _ = log.write(Stream::Stderr, format!("rrun: restart failed: {e}\n").as_bytes());
                        }
                    }
                    break;
                }
            };
            let stopped = || c.dir.join(STOP_MARKER).exists() || !c.dir.exists();
            if stopped() || !c.record.restart_policy.restarts(code, restarts) {
                break;
            }
            restarts += 1;
            // Docker's back-off: 100 ms, doubling, at most about 6 s
            std::thread::sleep(Duration::from_millis(100 << restarts.min(6)));
            if stopped() || self.update(&c.dir, |r| r.restart_count = restarts).ok().flatten().is_none() {
                break;
            }
            info!(id = %c.record.id, restarts, "restarting the container as its policy says");
        }
        if c.record.auto_remove {
            let _ = self.store().remove_dir(&c.dir);
            self.remove_anonymous_volumes(&c.record.volumes);
        }
        0
    }
}
