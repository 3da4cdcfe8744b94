//! Links the `rrun` binary as a non-PIE executable: its pointers are then
//! resolved at link time, so no page of relocated data is dirtied at every
//! start (about 0.8 MB less memory per process, a monitor per container).
//! A static build (`+crt-static`, the cgroup-v2 test VM's) stays static-pie:
//! adding `-no-pie` to rustc's `-static-pie` would ask for an interpreter.
fn main() {
    let linux = std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux");
    let features = std::env::var("CARGO_CFG_TARGET_FEATURE").unwrap_or_default();
    if linux && !features.split(',').any(|f| f == "crt-static") {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
    println!("cargo:rerun-if-changed=build.rs");
    // `rrun version`: the commit built and the compiler that built it
    let run = |cmd: &str, args: &[&str]| {
        std::process::Command::new(cmd)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let commit = std::env::var("RRUN_COMMIT").ok().or_else(|| run("git", &["rev-parse", "HEAD"]));
    println!("cargo:rustc-env=RRUN_COMMIT={}", commit.as_deref().unwrap_or("unknown"));
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let rustc_version = run(&rustc, &["--version"]).unwrap_or_default();
    println!("cargo:rustc-env=RRUN_RUSTC_VERSION={}", rustc_version.split_whitespace().nth(1).unwrap_or("unknown"));
    println!("cargo:rerun-if-env-changed=RRUN_COMMIT");
    // a new commit moves HEAD's log: only existing paths, or cargo reruns this every build
    for p in [".git/HEAD", ".git/logs/HEAD"] {
        if std::path::Path::new(p).exists() {
            println!("cargo:rerun-if-changed={p}");
        }
    }
}
