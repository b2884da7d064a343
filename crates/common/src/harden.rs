//! What every tool does to the process before anything else, since its
//! memory holds secrets (access keys, passwords, private keys): no core
//! dump (`RLIMIT_CORE` 0, soft and hard) and not dumpable (`PR_SET_DUMPABLE`
//! 0: no core even if a limit is raised, no ptrace attach by other
//! processes of the user, `/proc/<pid>/environ` and `mem` readable by root
//! only). Children started with exec (ssh for a tunnel) get their own.

use rustix::process::{Resource, Rlimit, setrlimit};

/// Hardens this process (see the module's doc). A refusal is returned,
/// not fatal: the caller warns and goes on.
pub fn no_core_dumps() -> std::io::Result<()> {
    setrlimit(Resource::Core, Rlimit { current: Some(0), maximum: Some(0) })?;
    #[cfg(target_os = "linux")]
    rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use rustix::process::{Resource, getrlimit};

    use super::*;

    // nextest runs each test in its own process: this one changes only itself.
    #[test]
    fn no_core_and_not_dumpable() {
        no_core_dumps().unwrap();
        let core = getrlimit(Resource::Core);
        assert_eq!((core.current, core.maximum), (Some(0), Some(0)));
        #[cfg(target_os = "linux")]
        assert_eq!(rustix::process::dumpable_behavior().unwrap(), rustix::process::DumpableBehavior::NotDumpable);
        assert!(no_core_dumps().is_ok(), "a second call (limits already 0) is fine");
    }
}
